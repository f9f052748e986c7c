"""What the portal needs from the other services, as Protocols: it owns no survey data and reads and
writes only through scoring's and alerts' HTTP APIs (`adapters/api.py`). Entry points never import an
adapter; `app.py` wires them in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class UpstreamUnavailableError(Exception):
    """A service the page needs did not answer (or answered 5xx): the page says so, with Retry-After."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What alerts said to an action: done, refused with field errors, or not possible in this state."""

    done: bool
    errors: Sequence[Mapping[str, str]] = field(default_factory=tuple)  # problem+json `errors`: field and reason
    not_active: bool = False
    not_found: bool = False


class AlertsApi(Protocol):
    async def alert(self, tenant: str, alert_id: str, *, language: str | None = None) -> Mapping[str, Any] | None:
        """The alert with its history and notifications (alerts' GET .../alerts/{id}), its explanation in
        `language` (None: the tenant's); None if unknown."""
        ...

    async def acknowledge(
        self, tenant: str, alert_id: str, *, action_plan: str, follow_up_date: str | None, by: str
    ) -> Outcome:
        """Acknowledge with an action plan, recorded under `by` (the signed-in person)."""
        ...

    async def ready(self) -> bool: ...

    # Revoked personal links (deploy branch)
    async def revoked_links(self, tenant: str, *, since: datetime) -> Sequence[str]:
        """The notification ids whose e-mail links were revoked at or after `since` (alerts' GET
        .../admin/links/revoked). Raises UpstreamUnavailableError."""

    # Action plans (entrypoints/plans.py)

    async def revise_plan(
        self,
        tenant: str,
        alert_id: str,
        *,
        what: str | None,
        owner: str | None,
        due_date: str | None,
        status: str | None,
        by: str,
    ) -> Outcome:
        """Write the alert's plan or its next revision, recorded under `by`; a None part stays as it was.
        `not_active`: the plan no longer takes changes (the alert resolved long ago)."""
        ...

    async def comment_on_plan(self, tenant: str, alert_id: str, *, text: str, by: str) -> Outcome:
        """Add a follow-up comment to the alert's plan, recorded under `by`."""

    # Overview pages (start page, HR overview)
    async def alerts_in_state(self, tenant: str, state: str) -> Sequence[Mapping[str, Any]]:
        """The tenant's alerts in one state, newest change first, without history (alerts' GET .../alerts)."""
        ...


class ScoresApi(Protocol):
    async def unit_series(
        self, tenant: str, unit: str, *, model: str, dimension: str, scope: str
    ) -> Mapping[str, Any] | None:
        """Scoring's series of one unit and dimension (GET .../units/{unit}/scores); None if unknown."""
        ...

    async def ready(self) -> bool: ...

    # HME report (hme branch)
    async def hme_report(self, tenant: str, *, rounds: int) -> Mapping[str, Any] | None:
        """Scoring's HME report over the last `rounds` closed rounds (GET .../reports/hme): published
        figures only. None if the tenant is unknown there or has no HME instrument."""
        ...

    # Overview pages (my units, HR overview)
    async def tenant_scores(
        self,
        tenant: str,
        *,
        model: str,
        period: str | None,
        periods: int,
        scope: str,
        units: Sequence[str] | None,
    ) -> Mapping[str, Any] | Refusal:
        """Scoring's publishable figures of every unit (or of `units`) for a closed period, or the last
        `periods` of them (GET .../scores); a Refusal when scoring refuses the query (a period not closed)."""
        ...

    async def hidden_units(self, tenant: str, *, model: str) -> Mapping[str, Any]:
        """Scoring's report of the units the anonymity rules hide, why, and whether they can alert."""
        ...


@dataclass(frozen=True, slots=True)
class Refusal:
    """A service refused the query: problem+json `errors`, field and reason."""

    errors: Sequence[Mapping[str, str]]
