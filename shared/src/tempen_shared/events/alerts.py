from typing import Literal

from pydantic import Field

from tempen_shared.events.base import Event

AlertState = Literal["open", "acknowledged", "escalated", "resolved"]


class AlertTransitionedV1(Event):
    """An alert changed state. Published on `tempen.alerts` for other systems to subscribe to.

    Carries no answers and no names: the unit, the dimension, the rule that fired and the
    management level the alert now sits with (1 = the next level above the unit's own manager).
    """

    schema_version: Literal[1] = 1
    alert_id: str
    tenant: str
    unit: str
    dimension: str
    model: str
    from_state: AlertState | None
    to_state: AlertState
    level: int = Field(ge=0)
    reason: str
    period: str


AlertTransitioned = AlertTransitionedV1
