"""In-memory stand-ins for the portal's ports, for testing the pages' own logic (sign-in, CSRF, who sees
what, error pages). They follow what alerts' and scoring's APIs answer; the browser test in
tests/e2e/test_portal_browser.py runs the same pages against the real services."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tempen_portal.ports import Outcome, Refusal, UpstreamUnavailableError


class FakeAlertsApi:
    def __init__(self) -> None:
        self.alerts: dict[tuple[str, str], dict[str, Any]] = {}
        self.acknowledged: list[tuple[str, str, str, str]] = []  # tenant, alert, by, plan
        self.down = False
        self.languages: list[str | None] = []  # the language each alert was asked for in
        self.revocation_polls = 0
        self.plans: list[tuple[str, str, str, dict[str, Any]]] = []  # tenant, alert, by, revision written
        # Field errors the next plan revision is refused with, as alerts' body validation can name several at
        # once; without them the fake refuses as alerts' domain rules do, the first part out of bounds only.
        self.plan_refusal: tuple[dict[str, str], ...] = ()

    def add(self, tenant: str, alert: dict[str, Any]) -> None:
        # Alerts' answer always carries the plan, empty until someone writes one.
        alert.setdefault("plan", {"current": None, "revisions": [], "comments": [], "takes_changes": True})
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
        if alert["state"] == "resolved":  # alerts takes a new plan for an acknowledged alert; only resolved is over
            return Outcome(done=False, not_active=True)
        alert.update(state="acknowledged", action_plan=action_plan, acknowledged_at="2026-03-03T10:00:00+00:00")
        self.acknowledged.append((tenant, alert_id, by, action_plan))
        # Alerts makes the acknowledgement a plan revision: the first is owned by whoever acknowledged.
        plan = alert.setdefault("plan", {"current": None, "revisions": [], "comments": [], "takes_changes": True})
        current = plan["current"] or {"owner": by, "status": "planned", "due_date": None}
        revision = {
            **current,
            "revision": len(plan["revisions"]) + 1,
            "what": action_plan.strip(),
            "due_date": follow_up_date or current["due_date"],
            "written_by": by,
            "written_at": "2026-03-03T10:00:00+00:00",
        }
        plan["revisions"].append(revision)
        plan["current"] = revision
        return Outcome(done=True)

    async def ready(self) -> bool:
        return not self.down

    # Revoked personal links (deploy branch)
    def revoke_link(self, tenant: str, notification_id: str, at: datetime) -> None:
        """What `tempen links revoke` does through alerts' API: the notification shows when its link was revoked."""
        for (owner, _), alert in self.alerts.items():
            for n in alert["notifications"] if owner == tenant else ():
                if n["notification_id"] == notification_id:
                    n["link_revoked_at"] = at.isoformat()

    async def revoked_links(self, tenant: str, *, since: datetime) -> Sequence[str]:
        if self.down:
            raise UpstreamUnavailableError("alerts is down")
        self.revocation_polls += 1
        return [
            n["notification_id"]
            for (owner, _), alert in self.alerts.items()
            if owner == tenant
            for n in alert["notifications"]
            if n.get("link_revoked_at") and datetime.fromisoformat(n["link_revoked_at"]) >= since
        ]

    # Action plans: as alerts' POST .../plan and .../plan/comments answer (domain/plans.py has the rules)

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
        if self.down:
            raise UpstreamUnavailableError("alerts is down")
        alert = self.alerts.get((tenant, alert_id))
        if alert is None:
            return Outcome(done=False, not_found=True)
        plan = alert.setdefault("plan", {"current": None, "revisions": [], "comments": [], "takes_changes": True})
        if not plan["takes_changes"]:
            return Outcome(done=False, not_active=True)
        if self.plan_refusal:
            return Outcome(done=False, errors=self.plan_refusal)
        current = plan["current"] or {}
        proposed = {
            "what": current.get("what") if what is None else what.strip(),
            "owner": current.get("owner") if owner is None else " ".join(owner.split()),
            "due_date": current.get("due_date") if due_date is None else due_date,
            "status": status or current.get("status") or "planned",
        }
        # As alerts' domain/plans.py `revise`: the first part out of bounds is named, one at a time.
        opened_on = alert["opened_at"][:10]
        if what is not None and not 3 <= len(proposed["what"] or "") <= 5000:
            return Outcome(done=False, errors=({"field": "what", "reason": "write 3 to 5000 characters"},))
        if owner is not None and not proposed["owner"]:
            return Outcome(done=False, errors=({"field": "owner", "reason": "name the person who owns the plan"},))
        if due_date is not None and due_date != current.get("due_date") and due_date < opened_on:
            # Alerts also refuses a date more than two years ahead of today; the fake has no clock.
            return Outcome(
                done=False, errors=({"field": "due_date", "reason": "give a date from the day the alert opened"},)
            )
        if status is not None and status not in ("planned", "in_progress", "done"):
            return Outcome(done=False, errors=({"field": "status", "reason": "planned, in_progress or done"},))
        for part in ("what", "owner", "due_date"):
            if not proposed[part]:
                return Outcome(
                    done=False, errors=({"field": part, "reason": "a new plan needs what, owner and due date"},)
                )
        if current and all(current.get(k) == v for k, v in proposed.items()):
            return Outcome(done=True)  # alerts: a form sent twice adds no revision
        revision = {
            "revision": len(plan["revisions"]) + 1,
            **proposed,
            "written_by": by,
            "written_at": "2026-03-04T09:00:00+00:00",
        }
        plan["revisions"].append(revision)
        plan["current"] = revision
        self.plans.append((tenant, alert_id, by, revision))
        return Outcome(done=True)

    async def comment_on_plan(self, tenant: str, alert_id: str, *, text: str, by: str) -> Outcome:
        if self.down:
            raise UpstreamUnavailableError("alerts is down")
        alert = self.alerts.get((tenant, alert_id))
        if alert is None:
            return Outcome(done=False, not_found=True)
        plan = alert.setdefault("plan", {"current": None, "revisions": [], "comments": [], "takes_changes": True})
        if not plan["takes_changes"]:
            return Outcome(done=False, not_active=True)
        if not 2 <= len(text.strip()) <= 2000:
            return Outcome(done=False, errors=({"field": "text", "reason": "write 2 to 2000 characters"},))
        plan["comments"].append({"text": text.strip(), "written_by": by, "written_at": "2026-03-05T09:00:00+00:00"})
        return Outcome(done=True)

    # Overview pages (start page, HR overview)
    async def alerts_in_state(self, tenant: str, state: str) -> Sequence[Mapping[str, Any]]:
        if self.down:
            raise UpstreamUnavailableError("alerts is down")
        # As alerts' list: the alert without its history, notifications and plan, with the plan's current status.
        return [
            {
                **{k: v for k, v in a.items() if k not in ("history", "notifications", "plan")},
                "plan_status": ((a.get("plan") or {}).get("current") or {}).get("status"),
            }
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
        # The units of each tenant's organisation, where a test says: scoring refuses others by name.
        self.org_units: dict[str, set[str]] = {}
        self.closed = ("2026-02", "2026-01", "2025-12")  # the periods the fake treats as closed
        self.down = False

    async def unit_series(
        self, tenant: str, unit: str, *, model: str, dimension: str, scope: str
    ) -> Mapping[str, Any] | None:
        return self.series.get((tenant, unit))

    async def ready(self) -> bool:
        return True

    # HME report (hme branch). Kept out of __init__ so that the block merges on its own.
    hme_down = False
    hme_rounds_asked: int | None = None

    @property
    def hme_reports(self) -> dict[str, dict[str, Any]]:
        """Scoring's report per tenant, as GET .../reports/hme answers it."""
        if not hasattr(self, "_hme_reports"):
            self._hme_reports: dict[str, dict[str, Any]] = {}
        return self._hme_reports

    async def hme_report(self, tenant: str, *, rounds: int) -> Mapping[str, Any] | None:
        if self.hme_down:
            raise UpstreamUnavailableError("scoring is down")
        self.hme_rounds_asked = rounds
        return self.hme_reports.get(tenant)

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
        unknown = [u for u in units or () if tenant in self.org_units and u not in self.org_units[tenant]]
        if unknown:
            return Refusal(({"field": "units", "reason": f"not in this tenant's organisation: {', '.join(unknown)}"},))
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
        return self.hidden.get(tenant, {"tenant": tenant, "min_group_size": 5, "sustained_periods": 2, "reports": []})
