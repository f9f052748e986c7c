"""The limits every input is held to before it reaches a domain function or PostgreSQL.

One home for them (docs/api.md "Limits"), so that the HTTP APIs, the intake topic, webhooks and the
CLI refuse the same things with the same reasons:

* **Timestamps** and **dates** lie in [`EARLIEST`, `LATEST`): no employee survey was answered before 2000, and a
  year far ahead is a typing slip. Dates at the edge of the calendar (year 1, year 9999 with an
  offset) are where Python's arithmetic and PostgreSQL's types stop agreeing, so they never get in.
  "Not in the future" is checked where the clock is known (ingest's validation).
* **Text** holds no NUL (PostgreSQL's text type cannot store it) and no other control character
  except tab, newline and carriage return; identifiers hold none at all.
* **JSON** is parsed by orjson only, which refuses nesting deeper than 1,024, NaN and infinite
  numbers (`1e999`) and unpaired surrogates; a NUL in any string is refused with its location.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, AwareDatetime

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_timestamp(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"must lie between {EARLIEST.date()} and {LATEST.date()}")
    return value


def check_date(value: date) -> date:
    if not EARLIEST.date() <= value < LATEST.date():
        raise ValueError(f"must lie between {EARLIEST.date()} and {LATEST.date()}")
    return value


def check_identifier(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def check_text(value: str) -> str:
    if _CONTROL_IN_TEXT.search(value):
        raise ValueError("must not contain NUL or other control characters")
    return value


Timestamp = Annotated[AwareDatetime, AfterValidator(check_timestamp)]
CalendarDate = Annotated[date, AfterValidator(check_date)]
IdentifierText = Annotated[str, AfterValidator(check_identifier)]
FreeText = Annotated[str, AfterValidator(check_text)]


class InputError(ValueError):
    """An input that breaks a limit: `field` says where ("(body)", "answers.q1", "line 3"), `reason` why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def parse_json(data: bytes | str, *, where: str = "(body)", refuse_nul: bool = True) -> Any:
    """A JSON document within the limits above, or InputError naming the first place it breaks one.

    `refuse_nul=False` leaves NUL characters to the caller's models (`IdentifierText`, `FreeText`),
    where a batch refuses only the item holding one.
    """
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(where, f"not valid JSON: {exc}") from None
    spelt = b"\\u0000" in data if isinstance(data, bytes) else "\\u0000" in data
    if refuse_nul and spelt:  # cheap: only a body that spells a NUL is walked
        location = nul_location(document)
        if location is not None:
            field = f"{where}.{location}" if where != "(body)" and location else location or where
            raise InputError(field, "must not contain the NUL character")
    return document


def nul_location(document: Any) -> str | None:
    """Where the first NUL character in a parsed JSON document is (a dotted path; "" for the root)."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return path
        elif isinstance(value, dict):
            for key, item in value.items():
                shown = key.replace("\x00", "\\u0000")
                child = f"{path}.{shown}" if path else shown
                if "\x00" in key:
                    return child
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]" if path else f"[{i}]", item) for i, item in enumerate(value))
    return None
