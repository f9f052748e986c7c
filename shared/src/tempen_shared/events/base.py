from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict


class Event(BaseModel):
    """Base of every message on the bus.

    Frozen, because events are facts. Unknown fields are ignored, so producers may add optional
    fields without breaking older consumers (tolerant reader). A payload of a newer
    `schema_version` than the consumer knows fails the `Literal` check and is dead-lettered.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: UUID  # stable across redelivery and re-publishing; consumers deduplicate on it
    occurred_at: AwareDatetime  # naive timestamps are rejected
