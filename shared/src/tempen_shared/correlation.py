"""The correlation id: one submission's trace through ingest, scoring and alerts.

Ingest names every submission `tenant:submission_id` and puts that name in the `correlation_id`
header of everything it publishes about the submission. Each consumer reads the header from the
record it handles, logs it (`bound` puts it on every line logged meanwhile, through structlog's
contextvars) and carries it on to what it publishes because of that record:

* scoring's score events carry the id of the last submission of the batch that touched their unit
  (or a unit below it), see `stamping`;
* alerts' transition events, audit rows and notification log lines carry the id of the score event
  that caused the judgement; decisions the sweeper makes as time passes have none, only the alert id;
* dead letters keep the id of the record they hold, and `tempen dlq replay` publishes it again.

The id names a submission, never a person: it is the survey platform's response id under its tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

import structlog

HEADER = "correlation_id"
ALERT_HEADER = "alert_id"

Resolve = Callable[[bytes], str | None]  # an outbox message's key -> the correlation id it should carry


class _HasHeaders(Protocol):
    def header(self, name: str) -> str | None: ...


def submission_correlation_id(tenant: str, submission_id: str) -> str:
    """The correlation id of one submission, as ingest names it."""
    return f"{tenant}:{submission_id}"


def correlation_id_of(record: _HasHeaders) -> str | None:
    """The correlation id a Kafka record carries in its headers, if any."""
    return record.header(HEADER) or None


def shared_correlation_id(records: Iterable[_HasHeaders]) -> str | None:
    """The one correlation id every record carries; None when they differ or one has none.

    A batch of records of several submissions has no single id: binding one of them to every line
    about the batch would send someone tracing another submission down the wrong path.
    """
    found: str | None = None
    for record in records:
        current = correlation_id_of(record)
        if current is None or (found is not None and current != found):
            return None
        found = current
    return found


@contextmanager
def bound(correlation_id: str | None = None, **ids: str | None) -> Iterator[None]:
    """Put `correlation_id` (and other ids, e.g. `alert_id=`) on every log line emitted inside the block.

    Lines of structlog and of the standard library's `logging` alike (both merge structlog's
    contextvars, see `tempen_shared.logs`). Ids that are None are left out; the previous values are
    restored on exit, so nesting is safe.
    """
    values = {name: value for name, value in {HEADER: correlation_id, **ids}.items() if value is not None}
    if not values:
        yield
        return
    tokens = structlog.contextvars.bind_contextvars(**values)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


@dataclass(frozen=True, slots=True)
class _Stamp:
    topic: str
    resolve: Resolve


_STAMP: ContextVar[_Stamp | None] = ContextVar("tempen_outbox_correlation", default=None)


@contextmanager
def stamping(topic: str, resolve: Resolve) -> Iterator[None]:
    """Inside the block, messages to `topic` put in the outbox without a correlation id get one.

    `tempen_shared.outbox.enqueue` asks `resolve(key)` for each such message; a message that already
    has the header keeps it. This lets a consumer say which submissions caused the messages a store
    writes deep inside its transaction without the store knowing about tracing, the way an
    OpenTelemetry propagator injects the current context into outgoing headers.
    """
    token = _STAMP.set(_Stamp(topic, resolve))
    try:
        yield
    finally:
        _STAMP.reset(token)


def stamped(topic: str, key: bytes, headers: Mapping[str, str]) -> Mapping[str, str]:
    """`headers` with the correlation id `stamping` gives messages to `topic` with `key`, if any."""
    stamp = _STAMP.get()
    if stamp is None or stamp.topic != topic or HEADER in headers:
        return headers
    correlation_id = stamp.resolve(key)
    return headers if correlation_id is None else {**headers, HEADER: correlation_id}
