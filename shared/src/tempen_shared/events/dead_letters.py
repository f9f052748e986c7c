from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict


class DeadLetterV1(BaseModel):
    """What `<topic>.dlq` carries: the original record, untouched, and why it could not be processed."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: Literal[1] = 1
    source_topic: str
    partition: int
    offset: int
    key: str | None
    value: str  # the original bytes, decoded as UTF-8 with replacement (payloads are JSON)
    reason: str  # a short machine-readable reason, also a metric label
    detail: str  # human-readable: which field, what was wrong
    consumer: str
    dead_lettered_at: AwareDatetime
    # The original record's `correlation_id` header (tenant:submission_id), so a dead letter can be
    # traced and a replay carries it again. Optional: older dead letters have none.
    correlation_id: str | None = None


DeadLetter = DeadLetterV1
