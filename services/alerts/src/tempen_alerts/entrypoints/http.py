"""Alerts' HTTP API: list alerts, one alert with its evidence, history and action plan, acknowledge,
resolve, write the plan and comment on it; backtest the rules on a stored history."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tempen_alerts.domain.backtest import History, backtest_json
from tempen_alerts.domain.explain import Explanation, Language, describe
from tempen_alerts.domain.plans import (
    COMMENT_MAX,
    OWNER_MAX,
    WHAT_MAX,
    Plan,
    PlanChange,
    PlanClosedError,
    PlanError,
    may_change,
)
from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.ports import (
    AlertReader,
    AlertsStore,
    PeriodScoreReader,
    ScoringRefusedError,
    ScoringScores,
    ScoringUnavailableError,
    StoredAlert,
)
from tempen_alerts.service import VERBS, AlertNotActiveError, AlertsService, InvalidPolicyError, UnknownUnitsError
from tempen_shared import correlation
from tempen_shared.bounds import CalendarDate, FreeText, IdentifierText
from tempen_shared.http import JSONResponse, problem, service_unavailable, validated_body
from tempen_shared.http import measured as timed
from tempen_shared.tenancy.loader import Tenant
from tempen_shared.tenancy.models import AlertPolicy

logger: structlog.typing.FilteringBoundLogger = structlog.get_logger("tempen.alerts.transitions")


def _log_by_hand(stored: StoredAlert, *, tenant: str, rule: str) -> None:
    # No submission caused this, so the alert id alone; never who did it (a person's name) or why.
    with correlation.bound(None, alert_id=stored.alert_id):
        logger.info(VERBS[stored.snapshot.state], tenant=tenant, alert_level=stored.snapshot.level, rule=rule)


class AcknowledgeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action_plan: FreeText = Field(min_length=3, max_length=5000)
    follow_up_date: CalendarDate | None = None
    acknowledged_by: IdentifierText = Field(default="", max_length=200)


class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: FreeText = Field(min_length=3, max_length=2000)
    resolved_by: IdentifierText = Field(default="", max_length=200)


class PlanBody(BaseModel):
    """A plan or its next revision: a part left out stays as the current revision has it."""

    model_config = ConfigDict(extra="forbid")
    what: FreeText | None = Field(default=None, max_length=WHAT_MAX)
    owner: IdentifierText | None = Field(default=None, max_length=OWNER_MAX)
    due_date: CalendarDate | None = None
    status: Literal["planned", "in_progress", "done"] | None = None
    written_by: IdentifierText = Field(min_length=1, max_length=200)


class CommentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: FreeText = Field(max_length=COMMENT_MAX)
    written_by: IdentifierText = Field(min_length=1, max_length=200)


def routes(
    store: Callable[[], AlertsStore], reader: AlertReader, service: AlertsService, metrics: AlertsMetrics
) -> list[Route]:
    def measured(route: str, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Any]:
        return timed(metrics, route, handler)

    def tenant_or_problem(request: Request) -> str | Response:
        tenant = request.path_params["tenant"]
        if tenant not in service.catalog.tenants:
            return problem(404, "Unknown tenant", errors=[{"field": "tenant", "reason": "unknown tenant"}])
        return str(tenant)

    async def list_alerts(request: Request) -> Response:
        tenant = tenant_or_problem(request)
        if isinstance(tenant, Response):
            return tenant
        q = request.query_params
        rows = await reader.alerts(tenant, status=q.get("status"), unit=q.get("unit"), recipient=q.get("recipient"))
        return JSONResponse({"alerts": [_alert_json(r) for r in rows]})

    async def get_alert(request: Request) -> Response:
        tenant = tenant_or_problem(request)
        if isinstance(tenant, Response):
            return tenant
        language = _language(
            request.query_params.get("language", service.catalog.tenants[tenant].config.notifications.language)
        )
        if language is None:
            return problem(
                422,
                "Unknown language",
                errors=[{"field": "language", "reason": "use sv or en, or leave it out for the tenant's language"}],
            )
        alert_id = request.path_params["alert_id"]
        row = await reader.alert(tenant, alert_id)
        if row is None:
            return problem(404, "Unknown alert", errors=[{"field": "alert_id", "reason": "no such alert"}])
        history = await reader.transitions(alert_id)
        notes = await reader.notifications(alert_id)
        body = _alert_json(row)
        body["history"] = [
            {
                **dict(h),
                "created_at": h["created_at"].isoformat(),
                "explanation": _explanation_json(h["explanation"], language),
            }
            for h in history
        ]
        # Why the alert stands as it does: the latest transition the rules explained (an acknowledgement
        # changes nothing about why). None when it was closed without one (by hand, or because alert_on no
        # longer covers it): the opening's explanation would describe a state the alert is no longer in.
        latest = body["history"][-1] if body["history"] else None
        closed_unexplained = latest is not None and latest["to_state"] == "resolved" and not latest["explanation"]
        body["explanation"] = (
            None
            if closed_unexplained
            else next((h["explanation"] for h in reversed(body["history"]) if h["explanation"]), None)
        )
        body["plan"] = {
            **_plan_json(await reader.plan(alert_id)),
            "takes_changes": _takes_changes(row, now=service.clock()),
        }
        body["notifications"] = [
            {
                "notification_id": str(n["notification_id"]),
                "recipient": n["recipient"],
                "recipient_role": n["recipient_role"],
                "channel": n["channel"],
                "state": n["state"],
                "created_at": n["created_at"].isoformat(),
                "sent_at": n["sent_at"].isoformat() if n["sent_at"] else None,
                # Set once an operator revoked this e-mail's personal link: the portal refuses the link
                # and ends the sessions it opened.
                "link_revoked_at": n["link_revoked_at"].isoformat() if n["link_revoked_at"] else None,
            }
            for n in notes
        ]
        return JSONResponse(body)

    async def acknowledge(request: Request) -> Response:
        tenant = tenant_or_problem(request)
        if isinstance(tenant, Response):
            return tenant
        body = await validated_body(request, AcknowledgeBody, title="Invalid acknowledgement")
        if isinstance(body, Response):
            return body
        try:
            async with store().transaction() as repo:
                stored = await service.acknowledge(
                    repo,
                    tenant_id=tenant,
                    alert_id=request.path_params["alert_id"],
                    action_plan=body.action_plan,
                    follow_up=body.follow_up_date,
                    actor=body.acknowledged_by or "manager",
                )
        except AlertNotActiveError as exc:
            return problem(409, "Alert not active", f"the alert is {exc.state}")
        except PlanError as exc:
            return problem(422, "Invalid acknowledgement", errors=[{"field": exc.field, "reason": exc.reason}])
        if stored is None:
            return problem(404, "Unknown alert", errors=[{"field": "alert_id", "reason": "no such alert"}])
        metrics.transitions.labels("acknowledged").inc()
        _log_by_hand(stored, tenant=tenant, rule="acknowledged")
        return JSONResponse({"alert_id": stored.alert_id, "state": stored.snapshot.state})

    async def resolve(request: Request) -> Response:
        tenant = tenant_or_problem(request)
        if isinstance(tenant, Response):
            return tenant
        body = await validated_body(request, ResolveBody, title="Invalid resolution")
        if isinstance(body, Response):
            return body
        try:
            async with store().transaction() as repo:
                stored = await service.resolve_by_hand(
                    repo,
                    tenant_id=tenant,
                    alert_id=request.path_params["alert_id"],
                    reason=body.reason,
                    actor=body.resolved_by or "manager",
                )
        except AlertNotActiveError as exc:
            return problem(409, "Alert not active", f"the alert is {exc.state}")
        if stored is None:
            return problem(404, "Unknown alert", errors=[{"field": "alert_id", "reason": "no such alert"}])
        metrics.transitions.labels("resolved").inc()
        _log_by_hand(stored, tenant=tenant, rule="resolved_by_hand")
        return JSONResponse({"alert_id": stored.alert_id, "state": stored.snapshot.state})

    # Action plans (domain/plans.py)

    async def write_plan(request: Request) -> Response:
        tenant = tenant_or_problem(request)
        if isinstance(tenant, Response):
            return tenant
        body = await validated_body(request, PlanBody, title="Invalid action plan")
        if isinstance(body, Response):
            return body
        change = PlanChange(what=body.what, owner=body.owner, due=body.due_date, status=body.status)
        try:
            async with store().transaction() as repo:
                plan = await service.revise_plan(
                    repo,
                    tenant_id=tenant,
                    alert_id=request.path_params["alert_id"],
                    change=change,
                    actor=body.written_by,
                )
        except PlanError as exc:
            return problem(422, "Invalid action plan", errors=[{"field": exc.field, "reason": exc.reason}])
        except PlanClosedError as exc:
            return _plan_closed(exc)
        if plan is None:
            return problem(404, "Unknown alert", errors=[{"field": "alert_id", "reason": "no such alert"}])
        return JSONResponse(_plan_json(plan))

    async def comment_on_plan(request: Request) -> Response:
        tenant = tenant_or_problem(request)
        if isinstance(tenant, Response):
            return tenant
        body = await validated_body(request, CommentBody, title="Invalid comment")
        if isinstance(body, Response):
            return body
        try:
            async with store().transaction() as repo:
                written = await service.comment_on_plan(
                    repo,
                    tenant_id=tenant,
                    alert_id=request.path_params["alert_id"],
                    text=body.text,
                    actor=body.written_by,
                )
        except PlanError as exc:
            return problem(422, "Invalid comment", errors=[{"field": exc.field, "reason": exc.reason}])
        except PlanClosedError as exc:
            return _plan_closed(exc)
        if written is None:
            return problem(404, "Unknown alert", errors=[{"field": "alert_id", "reason": "no such alert"}])
        return JSONResponse(
            {"text": written.text, "written_by": written.written_by, "written_at": written.written_at.isoformat()},
            status_code=201,
        )

    plans = "/v1/tenants/{tenant}/alerts/{alert_id}/plan"
    plan_routes = [
        Route(plans, measured(plans, write_plan), methods=["POST"]),
        Route(
            plans + "/comments",
            measured(plans + "/comments", comment_on_plan),
            methods=["POST"],
        ),
    ]
    base = "/v1/tenants/{tenant}/alerts"
    return [
        Route(base, measured(base, list_alerts), methods=["GET"]),
        Route(base + "/{alert_id}", measured(base + "/{alert_id}", get_alert), methods=["GET"]),
        Route(
            base + "/{alert_id}/acknowledge", measured(base + "/{alert_id}/acknowledge", acknowledge), methods=["POST"]
        ),
        Route(base + "/{alert_id}/resolve", measured(base + "/{alert_id}/resolve", resolve), methods=["POST"]),
        *plan_routes,
    ]


def _language(value: str) -> Language | None:
    return "sv" if value == "sv" else "en" if value == "en" else None


def _explanation_json(stored: Mapping[str, Any] | None, language: Language) -> dict[str, Any] | None:
    """A transition's explanation: its words in `language` (lines; period lines indented) and its numbers."""
    if not stored:
        return None
    lines = describe(Explanation.from_json(stored), language)
    return {"language": language, "text": "\n".join(lines), "facts": dict(stored)}


def _alert_json(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in (
        "alert_id",
        "unit",
        "instrument",
        "model",
        "dimension",
        "state",
        "level",
        "opened_period",
        "baseline_period",
        "baseline_index",
        "action_plan",
    ):
        out[key] = row[key]
    for key in ("opened_at", "acknowledged_at", "last_escalated_at", "resolved_at", "updated_at", "follow_up_date"):
        out[key] = row[key].isoformat() if row[key] else None
    if "plan_status" in row:  # the list's rows: the current plan revision's status, None without a plan
        out["plan_status"] = row["plan_status"]
    return out


# --- Backtests (`tempen alerts backtest`): the rules replayed over a stored history, notifying nobody.

BACKTEST_ROUTE = "/v1/tenants/{tenant}/alerts/backtest"
MAX_BACKTEST_BODY = 256 << 10  # a policy and up to a few thousand unit ids
MAX_BACKTEST_UNITS = 5000


class BacktestBody(BaseModel):
    """What to replay: the tenant's policy or `policy` (the tenant files' `alert_policy`, validated by the
    same model), with or without acknowledgements, from scoring's scores or alerts' copy of them."""

    model_config = ConfigDict(extra="forbid")
    policy: AlertPolicy | None = None
    assume_acknowledged: bool = True
    source: Literal["scoring", "alerts"] = "scoring"
    units: list[IdentifierText] | None = Field(default=None, min_length=1, max_length=MAX_BACKTEST_UNITS)


def backtest_routes(
    service: AlertsService,
    metrics: AlertsMetrics,
    *,
    copy: PeriodScoreReader,
    scoring: ScoringScores,
    scoring_url: str,
) -> list[Route]:
    """`POST /v1/tenants/{tenant}/alerts/backtest` (read scope). Scoring is asked with the caller's own token,
    so the caller reads nothing through alerts that scoring would not show them."""

    async def run_backtest(request: Request) -> Response:
        tenant_id = request.path_params["tenant"]
        tenant = service.catalog.tenants.get(tenant_id)
        if tenant is None:
            return problem(404, "Unknown tenant", errors=[{"field": "tenant", "reason": "unknown tenant"}])
        body = await validated_body(
            request,
            BacktestBody,
            title="Invalid backtest",
            detail="fix the fields named and send it again",
            max_bytes=MAX_BACKTEST_BODY,
        )
        if isinstance(body, Response):
            return body
        token = _bearer(request)

        async def from_scoring(of: Tenant, *, closed_by: datetime, units: frozenset[str] | None) -> History:
            return await scoring.history(of, closed_by=closed_by, units=units, token=token)

        try:
            result = await service.backtest(
                from_scoring if body.source == "scoring" else copy.period_history,
                tenant_id,
                policy=body.policy,
                assume_acknowledged=body.assume_acknowledged,
                units=frozenset(body.units) if body.units else None,
            )
        except InvalidPolicyError as exc:
            return problem(
                422,
                "Invalid policy",
                "the policy names models or dimensions this tenant does not have",
                errors=[
                    {"field": ".".join(map(str, ("policy", *loc))), "reason": f"{message} ({hint})"}
                    for loc, message, hint in exc.problems
                ],
            )
        except UnknownUnitsError as exc:
            shown = ", ".join(exc.units[:20]) + (f" and {len(exc.units) - 20} more" if len(exc.units) > 20 else "")
            return problem(
                422,
                "Invalid backtest",
                "name units of the tenant's org as it stands today",
                errors=[{"field": "units", "reason": f"not in {tenant_id}'s org: {shown}"}],
            )
        except ScoringRefusedError as exc:
            return problem(
                502,
                "Scoring refused the token",
                f"{exc}: use a token scoring accepts for this tenant (read scope), or source alerts",
            )
        except ScoringUnavailableError as exc:
            return service_unavailable(f"{exc}; start scoring, check TEMPEN_ALERTS_SCORING_URL, or use source alerts")
        answer = backtest_json(tenant, result)
        answer["source"] = "alerts.period_scores" if body.source == "alerts" else f"scoring at {scoring_url}"
        answer["policy"] = "given" if body.policy is not None else "tenant"
        return JSONResponse(answer)

    return [Route(BACKTEST_ROUTE, timed(metrics, BACKTEST_ROUTE, run_backtest), methods=["POST"])]


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _plan_closed(exc: PlanClosedError) -> Response:
    return problem(
        409,
        "Plan closed",
        f"the alert resolved on {exc.resolved_at.date().isoformat()} and its plan is part of the record now; "
        "if the problem is back, a new alert opens when the results show it",
    )


def _takes_changes(row: Mapping[str, Any], *, now: datetime) -> bool:
    """Whether the alert's plan takes revisions and comments now (`domain.plans.may_change`)."""
    try:
        may_change(is_active=row["state"] != "resolved", resolved_at=row["resolved_at"], now=now)
    except PlanClosedError:
        return False
    return True


def _plan_json(plan: Plan) -> dict[str, Any]:
    """The plan as the API shows it: the current revision, every revision and every comment, oldest first."""
    revisions = [
        {
            "revision": r.revision,
            "what": r.what,
            "owner": r.owner,
            "due_date": r.due.isoformat() if r.due else None,
            "status": r.status,
            "written_by": r.written_by,
            "written_at": r.written_at.isoformat(),
        }
        for r in plan.revisions
    ]
    comments = [
        {"text": c.text, "written_by": c.written_by, "written_at": c.written_at.isoformat()} for c in plan.comments
    ]
    return {"current": revisions[-1] if revisions else None, "revisions": revisions, "comments": comments}
