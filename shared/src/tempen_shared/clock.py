"""The one source of "now" for every service, command and test.

Code that needs the current time takes a `Clock` (use cases, the notifier, the token store) or calls
`utc_now` at an adapter's edge; nothing else reads the system clock. Tests pass a settable clock
where a use case takes one, and `make test-dates` pins the clock of whole runs (services, broker and
PostgreSQL included) with libfaketime. `tests/shared/test_clock.py` fails on any other
`datetime.now()`, `date.today()` or `time.time()` in the source trees.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


def today_in(zone: tzinfo, clock: Clock = utc_now) -> date:
    """Today's date where `zone` is (a tenant's day starts at its own midnight, not UTC's)."""
    return clock().astimezone(zone).date()
