"""The two worlds the portal's port contract runs in: the in-memory fakes of tests/portal/fakes.py, and
the real HTTP adapters (adapters/api.py) against real alerts and scoring processes, fed by pulses
through ingest as in production. Each world arranges the same situations its own way; the cases in
this package then ask both the same questions and expect the same answers.

Adding a port method (another branch): give `World` what the case needs to arrange (a method on both
classes below), and write the case in test_<port>.py, in a block of your own at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import uuid4

import httpx

from tempen_portal.ports import AlertsApi, ScoresApi
from tests.portal.fakes import FakeAlertsApi, FakeScoresApi
from tests.portal.test_pages import _alert

TENANT = "testkommun"  # tests/fixtures/config
UNIT = "grupp-a1"  # the unit the pulses make alerts for
MODEL, DIMENSION = "test-model", "ledarskap"
MANAGER = "bo@testkommun.example"  # the next level above grupp-a1, told of each of its alerts


@dataclass(frozen=True)
class KnownAlert:
    alert_id: str
    notification_id: str  # of the e-mail to MANAGER


class World(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def alerts(self) -> AlertsApi: ...

    @property
    def scores(self) -> ScoresApi: ...

    def open_alert(self) -> KnownAlert:
        """An open alert about UNIT that no other case has acted on."""
        ...

    def any_alert(self) -> KnownAlert:
        """An alert about UNIT, in whatever state earlier cases left it."""
        ...

    async def revoke_link(self, notification_id: str) -> None:
        """What `tempen links revoke` does."""
        ...


def series_answer() -> dict[str, Any]:
    """The fake's answer for UNIT's series, as the page tests write it."""
    return {
        "tenant": TENANT,
        "unit": UNIT,
        "unit_name": "Grupp A1",
        "min_group_size": 5,
        "series": [
            {
                "model": MODEL,
                "instrument": "test-puls",
                "dimension": DIMENSION,
                "scope": "unit",
                "points": [
                    {"period": "2026-01", "index": 25.0, "suppressed": False},
                    {"period": "2026-02", "suppressed": True, "reason": "below_min_group_size"},
                ],
            }
        ],
    }


def tenant_scores_unit() -> dict[str, Any]:
    """UNIT in the fake's tenant-wide answer: published, then too few answers, then published again."""

    def published(period: str, index: float) -> dict[str, Any]:
        cells = {d: {"index": index, "respondents": 8} for d in (DIMENSION, "motivation", "total")}
        return {"period": period, "published": True, "dimensions": cells, "respondents": 8, "response_rate": 0.67}

    hidden = {d: {"suppressed": True, "reason": "below_min_group_size"} for d in (DIMENSION, "motivation", "total")}
    return {
        "unit": UNIT,
        "unit_name": "Grupp A1",
        "scope": "unit",
        "periods": [
            published("2025-12", 30.0),
            {"period": "2026-01", "published": False, "dimensions": hidden},
            published("2026-02", 25.0),
        ],
    }


def hidden_answer() -> dict[str, Any]:
    """The fake's hidden-units report: nothing hidden over three measured months."""
    return {
        "tenant": TENANT,
        "min_group_size": 5,
        "sustained_periods": 2,
        "reports": [
            {
                "instrument": "test-puls",
                "model": MODEL,
                "cadence": "monthly",
                "periods": [{"period": p, "measured": True} for p in ("2025-12", "2026-01", "2026-02")],
                "units": [],
            }
        ],
    }


@dataclass
class FakeWorld:
    name: str = "fake"
    alerts: FakeAlertsApi = field(default_factory=FakeAlertsApi)
    scores: FakeScoresApi = field(default_factory=FakeScoresApi)

    def __post_init__(self) -> None:
        self.scores.series[(TENANT, UNIT)] = series_answer()
        neighbour = {**tenant_scores_unit(), "unit": "enhet-a", "unit_name": "Enhet A"}
        self.scores.tenant_answers[TENANT] = {"units": [tenant_scores_unit(), neighbour]}
        self.scores.org_units[TENANT] = {"kommun", "forv", "enhet-a", UNIT}
        self.scores.hidden[TENANT] = hidden_answer()

    def open_alert(self) -> KnownAlert:
        known = KnownAlert(f"fake-{uuid4().hex[:8]}", str(uuid4()))
        alert = _alert(known.alert_id, UNIT, {known.notification_id: MANAGER})
        notifications = alert["notifications"]
        assert isinstance(notifications, list)
        for n in notifications:
            n["link_revoked_at"] = None
        self.alerts.add(TENANT, alert)
        return known

    def any_alert(self) -> KnownAlert:
        return self.open_alert()

    async def revoke_link(self, notification_id: str) -> None:
        self.alerts.revoke_link(TENANT, notification_id, datetime.now(UTC))


@dataclass
class RealWorld:
    alerts: AlertsApi
    scores: ScoresApi
    alerts_url: str
    admin_token: str
    opened: list[KnownAlert]
    name: str = "real"
    _taken: int = 0

    def open_alert(self) -> KnownAlert:
        if self._taken >= len(self.opened):
            raise AssertionError("the real world has no untouched alert left: make more pulses in conftest.py")
        self._taken += 1
        return self.opened[self._taken - 1]

    def any_alert(self) -> KnownAlert:
        return self.opened[-1]

    async def revoke_link(self, notification_id: str) -> None:
        async with httpx.AsyncClient(
            base_url=self.alerts_url, headers={"authorization": f"Bearer {self.admin_token}"}
        ) as api:
            answer = await api.post(
                f"/v1/tenants/{TENANT}/admin/links/{notification_id}/revoke",
                json={"reason": "contract test", "revoked_by": "contract"},
            )
            answer.raise_for_status()
