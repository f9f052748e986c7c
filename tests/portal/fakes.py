"""In-memory stand-ins for the portal's ports, for testing the pages' own logic (sign-in, CSRF, who sees
what, error pages). They follow what alerts' and scoring's APIs answer; the browser test in
tests/e2e/test_portal_browser.py runs the same pages against the real services."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tempen_portal.ports import Outcome, Refusal, UpstreamUnavailableError


class FakeAlertsApi:
    def __init__(self) -> None:
        self.alerts: dict[tuple[str, str], dict[str, Any]] = {}
        self.acknowledged: list[tuple[str, str, str, str]] = []  # tenant, alert, by, plan
        self.down = False
        self.languages: list[str | None] = []  # the language each alert was asked for in

    def add(self, tenant: str, alert: dict[str, Any]) -> None:
        self.alerts[(tenant, alert["alert_id"])] = alert

    async def alert(self, tenant: str, alert_id: str, *, language: str | None = None) -> Mapping[str, Any] | None:
        if self.down:
            raise UpstreamUnavailableError("alerts is down")
        self.languages.append(language)
        return self.alerts.get((tenant, alert_id))

    async def acknowledge(
        self, tenant: str, alert_id: str, *, action_plan: str, follow_up_date: str | None, by: str
    ) -> Outcome:
        if self.down:
            raise UpstreamUnavailableError("alerts is down")
        alert = self.alerts.get((tenant, alert_id))
        if alert is None:
            return Outcome(done=False, not_found=True)
        if not 3 <= len(action_plan.strip()) <= 5000:  # alerts' AcknowledgeBody: min_length 3, max_length 5000
            return Outcome(done=False, errors=({"field": "action_plan", "reason": "too short"},))
        if alert["state"] not in ("open", "escalated"):
            return Outcome(done=False, not_active=True)
        alert.update(state="acknowledged", action_plan=action_plan, acknowledged_at="2026-03-03T10:00:00+00:00")
        self.acknowledged.append((tenant, alert_id, by, action_plan))
        return Outcome(done=True)

    async def ready(self) -> bool:
        return not self.down

    # Overview pages (start page, HR overview)
    async def alerts_in_state(self, tenant: str, state: str) -> Sequence[Mapping[str, Any]]:
        if self.down:
            raise UpstreamUnavailableError("alerts is down")
        # As alerts' list: the alert without its history and notifications.
        return [
            {k: v for k, v in a.items() if k not in ("history", "notifications")}
            for (t, _), a in self.alerts.items()
            if t == tenant and a["state"] == state
        ]


class FakeScoresApi:
    def __init__(self) -> None:
        self.series: dict[tuple[str, str], dict[str, Any]] = {}
        # Overview pages: scoring's tenant-wide answer per tenant, as GET .../scores gives it for every
        # unit (the fake answers with the units asked for), and its hidden-units report.
        self.tenant_answers: dict[str, dict[str, Any]] = {}
        self.hidden: dict[str, dict[str, Any]] = {}
        self.asked_units: list[Sequence[str] | None] = []
        self.closed = ("2026-02", "2026-01", "2025-12")  # the periods the fake treats as closed
        self.down = False

    async def unit_series(
        self, tenant: str, unit: str, *, model: str, dimension: str, scope: str
    ) -> Mapping[str, Any] | None:
        return self.series.get((tenant, unit))

    async def ready(self) -> bool:
        return True

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
        if self.down:
            raise UpstreamUnavailableError("scoring is down")
        self.asked_units.append(units)
        if period is not None and period not in self.closed:
            return Refusal(({"field": "period", "reason": f"{period} has not closed yet"},))
        answer = self.tenant_answers.get(tenant, {"units": []})
        last = period or self.closed[0]
        keys = sorted(k for k in self.closed if k <= last)[-periods:]
        wanted = None if units is None else set(units)
        return {
            "tenant": tenant,
            "model": model,
            "period": last,
            "periods": keys,
            "scored_periods": list(self.closed),
            "min_group_size": 5,
            "units": [
                {**u, "periods": [p for p in u["periods"] if p["period"] in keys]}
                for u in answer["units"]
                if u["scope"] == scope and (wanted is None or u["unit"] in wanted)
            ],
        }

    async def hidden_units(self, tenant: str, *, model: str) -> Mapping[str, Any]:
        if self.down:
            raise UpstreamUnavailableError("scoring is down")
        return self.hidden.get(tenant, {"reports": []})
