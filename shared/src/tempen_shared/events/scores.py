from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from tempen_shared.bounds import parse_json
from tempen_shared.events.base import Event


class UnitScoredV1(Event):
    """A publishable score of one unit, period and dimension, as it stands after the latest submission.

    Only groups at or above the tenant's minimum group size (and not suppressed against
    differencing) are ever published. `sequence` grows with every change of the same
    (tenant, unit, scope, model, dimension, period), so a consumer keeps only the newest.
    `standard_error` is the standard error of the respondent-level dimension score, for rules that
    must not fire on noise. `period_closed` tells whether the period had ended when this was computed.
    """

    schema_version: Literal[1] = 1
    tenant: str
    unit: str
    scope: Literal["unit", "subtree"]
    model: str
    model_version: str
    instrument: str
    dimension: str
    period: str
    period_start: AwareDatetime
    period_end: AwareDatetime
    index: float = Field(ge=0, le=100)
    respondents: int = Field(ge=0)
    standard_error: float | None = None
    favourable_pct: float | None = None
    tenant_index: float | None = None
    sequence: int = Field(ge=1)


class DimensionScore(BaseModel):
    """One dimension's figures in a UnitScoredV2 (the V1 event's per-dimension fields)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    index: float = Field(ge=0, le=100)
    standard_error: float | None = None
    favourable_pct: float | None = None
    tenant_index: float | None = None


class UnitScoredV2(Event):
    """The publishable scores of one group (a unit, or its subtree) in one model and period, every
    dimension at once, as they stand after the latest submissions.

    V1 carried one dimension per event; a group's dimensions change together (the same respondents
    answer them), so one event now carries them all: a sixth of the records, outbox rows and
    deliveries. Only groups at or above the tenant's minimum group size (and not suppressed against
    differencing) are ever published, and `dimensions` holds only dimensions with an index.
    `sequence` grows with every change of the group, so for each (tenant, unit, scope, model,
    dimension, period) a consumer keeps only the newest. `respondents` counts the group's respondents.
    """

    schema_version: Literal[2] = 2
    tenant: str
    unit: str
    scope: Literal["unit", "subtree"]
    model: str
    model_version: str
    instrument: str
    period: str
    period_start: AwareDatetime
    period_end: AwareDatetime
    respondents: int = Field(ge=0)
    sequence: int = Field(ge=1)
    dimensions: dict[str, DimensionScore] = Field(min_length=1, max_length=100)


UnitScored = UnitScoredV2  # what consumers program against


def _v1_to_v2(document: dict[str, Any]) -> dict[str, Any]:
    figures = {k: document.get(k) for k in ("index", "standard_error", "favourable_pct", "tenant_index")}
    rest = {k: v for k, v in document.items() if k not in figures and k != "dimension"}
    return {**rest, "schema_version": 2, "dimensions": {document.get("dimension"): figures}}


def parse_unit_scored(value: bytes | str) -> UnitScoredV2:
    """Validate a record of `tempen.scores` of any known version into the current event.

    A V1 event (one dimension) is upcast to a V2 event holding that one dimension, so records still on
    the topic from before an upgrade are read as they were meant.

    Raises:
        pydantic.ValidationError: the record is no known version of the event.
        ValueError: the record is not JSON (tempen_shared.bounds.InputError).
    """
    document = parse_json(value)
    if isinstance(document, dict) and document.get("schema_version", 1) == 1 and "dimension" in document:
        document = _v1_to_v2(document)
    return UnitScoredV2.model_validate(document)
