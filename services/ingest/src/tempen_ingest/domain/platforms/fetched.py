"""Platforms whose webhook names a response instead of carrying it: the notice, and the request for the response."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from tempen_ingest.domain.platforms.delivery import DeliveryError

# Platforms' ids are short and plain (SurveyMonkey digits, Qualtrics R_... and SV_...); anything else
# would end up in a URL path, so it is refused here.
_PLAIN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class ResponseNotice:
    """A verified webhook that names one response: all SurveyMonkey and Qualtrics send."""

    response_id: str
    survey_id: str
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseRequest:
    """The GET that fetches one response from the platform's API."""

    url: str
    headers: Mapping[str, str]


def plain_id(value: object, *, field: str) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise DeliveryError(field, "missing", "no id")
    text = str(value).strip()
    if not _PLAIN_ID.match(text):
        raise DeliveryError(field, "malformed", "an id of at most 64 letters, digits, _ or -")
    return text
