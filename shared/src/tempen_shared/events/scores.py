from typing import Literal

from pydantic import AwareDatetime, Field

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


UnitScored = UnitScoredV1
