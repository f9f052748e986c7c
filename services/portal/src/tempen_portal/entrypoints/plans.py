"""The alert page's action plan: write or revise it (what, owner, due date, status) and add follow-up
comments, each recorded by alerts under the signed-in person, never a typed name. The plan and its
history are shown on the alert page itself (templates/plan.html), so a manager one level up, who sees
the unit through the tree or was sent the escalation, reads what was promised before deciding.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tempen_portal.domain.words import Language
from tempen_portal.entrypoints.web import (
    Pages,
    _alert_context,  # the alert page's own context: a refused form is shown on the same page
    checked_form,
    language_of,
    message,
    render,
    signed_in,
    unavailable,
    visible_alert,
)
from tempen_portal.ports import Outcome, UpstreamUnavailableError

audit: structlog.typing.FilteringBoundLogger = structlog.get_logger("tempen.portal.audit")

PLAN_FIELDS = ("what", "owner", "due_date", "status")

# Alerts owns the rules (domain/plans.py there); the portal says them in the person's language.
FIELD_MESSAGES: dict[Language, dict[str, str]] = {
    "sv": {
        "what": "Skriv vad som ska göras, 3 till 5 000 tecken.",
        "owner": "Skriv vem som är ansvarig, på en rad och med högst 200 tecken.",
        "due_date": "Ange ett datum som ÅÅÅÅ-MM-DD, tidigast dagen signalen öppnades och högst två år framåt.",
        "status": "Välj ett läge: planerad, pågår eller klar.",
        "text": "Skriv en kommentar på 2 till 2 000 tecken.",
    },
    "en": {
        "what": "Write what will be done, 3 to 5,000 characters.",
        "owner": "Write who owns the plan, on one line and in at most 200 characters.",
        "due_date": "Give a date as YYYY-MM-DD, no earlier than the day the alert opened and at most two years ahead.",
        "status": "Choose a status: planned, in progress or done.",
        "text": "Write a comment of 2 to 2,000 characters.",
    },
}


def routes(pages: Pages, measured: Callable[[str, Callable[[Request], Awaitable[Response]]], Any]) -> list[Route]:
    async def act(
        request: Request,
        *,
        audited: str,
        flash: str,
        send: Callable[[str, str, str, dict[str, str]], Awaitable[Outcome]],
    ) -> Response:
        """Check who is signed in, the form and that they may see the alert, send the change to alerts under
        the signed-in person, and go back to the alert page, or show it again with the reasons."""
        tenant_id, alert_id = request.path_params["tenant"], request.path_params["alert_id"]
        viewer = signed_in(pages, request, tenant_id)
        if viewer is None:
            return message(pages, request, "sign_in_needed", status=401)
        form = await checked_form(pages, request)
        if isinstance(form, Response):
            return form
        language = language_of(request)
        try:
            alert = await visible_alert(pages, request, viewer, tenant_id, alert_id)
            if isinstance(alert, Response):
                return alert
            outcome = await send(tenant_id, alert_id, viewer.person, form)
            if outcome.done:
                audit.info(audited, tenant=tenant_id, alert_id=alert_id)  # never who or what: that is in alerts
                request.session["flash"] = flash
                return RedirectResponse(f"/t/{tenant_id}/alerts/{alert_id}#plan", status_code=303)
            if outcome.not_found:
                return message(pages, request, "not_found", status=404)
            alert = await pages.alerts.alert(tenant_id, alert_id, language=language) or alert
            series = await pages.scores.unit_series(
                tenant_id,
                str(alert["unit"]),
                model=str(alert["model"]),
                dimension=str(alert["dimension"]),
                scope="unit",
            )
        except UpstreamUnavailableError:
            return unavailable(pages, request)
        errors = _errors(outcome, language)
        context = _alert_context(pages.catalog.tenants[tenant_id], alert, series, language)
        mine = (
            {"plan_form": form, "plan_errors": errors}
            if audited == "plan revised"
            else {
                "comment_form": form,
                "comment_errors": errors,
            }
        )
        return render(
            pages,
            request,
            "alert.html",
            status=409 if outcome.not_active else 422,
            **{**context, **mine, "plan_closed": outcome.not_active},
        )

    async def revise_plan(request: Request) -> Response:
        async def send(tenant: str, alert_id: str, person: str, form: dict[str, str]) -> Outcome:
            return await pages.alerts.revise_plan(
                tenant,
                alert_id,
                what=form.get("what"),
                owner=form.get("owner"),
                due_date=form.get("due_date"),
                status=form.get("status"),
                by=person,
            )

        return await act(request, audited="plan revised", flash="plan_saved", send=send)

    async def comment(request: Request) -> Response:
        async def send(tenant: str, alert_id: str, person: str, form: dict[str, str]) -> Outcome:
            return await pages.alerts.comment_on_plan(tenant, alert_id, text=form.get("text", ""), by=person)

        return await act(request, audited="plan commented", flash="comment_saved", send=send)

    plan_route = "/t/{tenant}/alerts/{alert_id}/plan"
    return [
        Route(plan_route, measured(plan_route, revise_plan), methods=["POST"]),
        Route(plan_route + "/comments", measured(plan_route + "/comments", comment), methods=["POST"]),
    ]


def _errors(outcome: Outcome, language: Language) -> dict[str, str]:
    """Alerts' field errors as the page shows them: one message per field, in the person's language."""
    messages = FIELD_MESSAGES[language]
    out: dict[str, str] = {}
    for error in outcome.errors:
        field = str(error.get("field", ""))
        # A field the form does not have (written_by, from the session) keeps alerts' own reason in the summary.
        out.setdefault(field, messages.get(field, str(error.get("reason", ""))))
    return out
