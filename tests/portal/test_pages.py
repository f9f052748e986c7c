"""The portal's pages with in-memory services behind them: signing in by an e-mail's link, seeing only
what one may, acknowledging under one's own name, CSRF, and clear pages when something is wrong."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import pytest
from pydantic import SecretStr

from tempen_portal.app import CONTENT_SECURITY_POLICY, create_app
from tempen_portal.config import PortalSettings
from tempen_shared.links import AlertLink, sign_link
from tempen_shared.tenancy.loader import load_catalog
from tests.portal.fakes import FakeAlertsApi, FakeScoresApi

SECRET = "link-secret-for-the-page-tests"
NOW = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
BO, CECILIA, DAN = "bo@testkommun.example", "cecilia@testkommun.example", "dan@testkommun.example"


def _alert(alert_id: str, unit: str, recipients: dict[str, str], state: str = "open") -> dict[str, object]:
    return {
        "alert_id": alert_id,
        "unit": unit,
        "instrument": "test-puls",
        "model": "test-model",
        "dimension": "ledarskap",
        "state": state,
        "level": 1,
        "opened_period": "2026-02",
        "baseline_period": "2026-02",
        "baseline_index": 25.0,
        "action_plan": None,
        "opened_at": "2026-03-02T08:00:00+00:00",
        "acknowledged_at": None,
        "last_escalated_at": None,
        "resolved_at": None,
        "updated_at": "2026-03-02T08:00:00+00:00",
        "follow_up_date": None,
        "history": [
            {
                "from_state": None,
                "to_state": "open",
                "level": 1,
                "rule": "sustained_challenge",
                "reason": "two periods below 50",
                "period": "2026-02",
                "actor": "tempen",
                "evidence": [{"period": "2026-01", "index": 25.0}, {"period": "2026-02", "index": 25.0}],
                "created_at": "2026-03-02T08:00:00+00:00",
            }
        ],
        "notifications": [
            {
                "notification_id": nid,
                "recipient": who,
                "recipient_role": "next_level",
                "channel": "email",
                "state": "sent",
                "created_at": "2026-03-02T08:00:00+00:00",
                "sent_at": "2026-03-02T08:00:01+00:00",
            }
            for nid, who in recipients.items()
        ],
    }


@pytest.fixture
def services() -> tuple[FakeAlertsApi, FakeScoresApi]:
    alerts, scores = FakeAlertsApi(), FakeScoresApi()
    scores.series[("testkommun", "grupp-a1")] = {
        "series": [
            {
                "model": "test-model",
                "dimension": "ledarskap",
                "scope": "unit",
                "points": [
                    {"period": "2025-12", "index": 70.0, "suppressed": False},
                    {"period": "2026-01", "index": 25.0, "suppressed": False},
                    {"period": "2026-02", "suppressed": True, "reason": "below_min_group_size"},
                ],
            }
        ]
    }
    return alerts, scores


@pytest.fixture
async def portal(
    services: tuple[FakeAlertsApi, FakeScoresApi], fixture_config: Path
) -> AsyncIterator[httpx.AsyncClient]:
    alerts, scores = services
    settings = PortalSettings(api_token=SecretStr("unused"), link_secret=SecretStr(SECRET))
    app = create_app(settings, catalog=load_catalog(fixture_config), clock=lambda: NOW, alerts=alerts, scores=scores)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
        yield client


def _link(alert_id: str, notification_id: str, *, issued: datetime = NOW - timedelta(days=1)) -> str:
    return "/l/" + sign_link(SECRET.encode(), AlertLink("testkommun", alert_id, UUID(notification_id), issued))


async def _bo_signed_in(portal: httpx.AsyncClient, alerts: FakeAlertsApi) -> str:
    """Bo, the next level above Grupp A1, opens the link in his e-mail about alert a1; returns the
    page's CSRF token."""
    nid = str(uuid4())
    alerts.add("testkommun", _alert("a1", "grupp-a1", {nid: BO}))
    await portal.get(_link("a1", nid))
    return _csrf((await portal.get("/t/testkommun/alerts/a1")).text)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "every form carries a CSRF token"
    return found.group(1)


async def test_the_e_mail_link_signs_its_recipient_in_and_shows_the_alert_with_its_trend(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    nid = str(uuid4())
    services[0].add("testkommun", _alert("a1", "grupp-a1", {nid: BO}))
    opened = await portal.get(_link("a1", nid))
    assert opened.status_code == 303
    assert opened.headers["location"] == "/t/testkommun/alerts/a1", "the token leaves the address at once"
    cookie = opened.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    page = await portal.get("/t/testkommun/alerts/a1")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="sv">' in html
    assert "Signal: Ledarskap i Grupp A1" in html
    assert f"Inloggad som {BO}" in html
    assert 'role="img"' in html, "the trend is drawn without script"
    assert "<svg" in html
    assert "för få svar" in html, "the hidden period is labelled, with no figure"
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script" not in CONTENT_SECURITY_POLICY.replace("default-src 'none'", "")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "<script" not in html


async def test_acknowledging_records_the_signed_in_person_never_a_typed_name(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    csrf = await _bo_signed_in(portal, services[0])
    done = await portal.post(
        "/t/testkommun/alerts/a1/acknowledge",
        data={"csrf": csrf, "action_plan": "Samtal med gruppen", "acknowledged_by": "someone else"},
    )
    assert done.status_code == 303
    assert services[0].acknowledged == [("testkommun", "a1", BO, "Samtal med gruppen")]
    after = await portal.get("/t/testkommun/alerts/a1")
    assert "Tack! Signalen är kvitterad" in after.text
    assert "Samtal med gruppen" in after.text


async def test_a_plan_too_short_is_shown_again_with_the_reason_next_to_the_field(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    csrf = await _bo_signed_in(portal, services[0])
    refused = await portal.post("/t/testkommun/alerts/a1/acknowledge", data={"csrf": csrf, "action_plan": "ok"})
    assert refused.status_code == 422
    assert 'aria-invalid="true"' in refused.text
    assert "minst 3" in refused.text
    assert services[0].acknowledged == []


async def test_a_form_without_the_session_s_csrf_token_is_refused(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    await _bo_signed_in(portal, services[0])
    for data in ({"action_plan": "Samtal med gruppen"}, {"csrf": "guessed", "action_plan": "Samtal med gruppen"}):
        refused = await portal.post("/t/testkommun/alerts/a1/acknowledge", data=data)
        assert refused.status_code == 403
    assert services[0].acknowledged == []


async def test_a_manager_cannot_open_an_alert_about_a_unit_outside_their_part_of_the_tree(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    mine, theirs = str(uuid4()), str(uuid4())
    services[0].add("testkommun", _alert("a1", "grupp-a1", {mine: CECILIA}))
    services[0].add("testkommun", _alert("b1", "grupp-b1", {theirs: DAN}))
    await portal.get(_link("a1", mine))
    assert (await portal.get("/t/testkommun/alerts/a1")).status_code == 200
    assert (await portal.get("/t/testkommun/alerts/b1")).status_code == 403
    assert (await portal.get("/t/othertenant/alerts/a1")).status_code == 401, "no session for another tenant"


async def test_expired_forged_and_unknown_links_get_a_page_that_says_what_to_do(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    nid = str(uuid4())
    services[0].add("testkommun", _alert("a1", "grupp-a1", {nid: BO}))
    expired = await portal.get(_link("a1", nid, issued=NOW - timedelta(days=31)))  # the tenant's default is 30
    assert expired.status_code == 400
    assert "Länken har gått ut" in expired.text
    forged = await portal.get(_link("a1", nid)[:-3] + "abc")
    assert forged.status_code == 400
    assert "Länken fungerar inte" in forged.text
    gone = await portal.get(_link("a1", str(uuid4())))  # signed, but no such notification
    assert gone.status_code == 400
    assert (await portal.get("/t/testkommun/alerts/a1")).status_code == 401, "none of them signed anyone in"


async def test_repeated_bad_links_from_one_address_are_slowed_down(portal: httpx.AsyncClient) -> None:
    statuses = [(await portal.get("/l/not-a-link")).status_code for _ in range(12)]
    assert statuses[:10] == [400] * 10
    assert statuses[10:] == [429, 429]


async def test_when_alerts_is_down_the_page_says_so_with_retry_after(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    await _bo_signed_in(portal, services[0])
    services[0].down = True
    page = await portal.get("/t/testkommun/alerts/a1")
    assert page.status_code == 503
    assert page.headers["retry-after"]
    assert "svarar inte" in page.text
    ready = await portal.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["alerts"] is False


async def test_the_language_switch_is_a_plain_link_and_never_leaves_the_site(portal: httpx.AsyncClient) -> None:
    switched = await portal.get("/lang/en?next=/")
    assert switched.status_code == 303
    assert switched.headers["location"] == "/"
    assert '<html lang="en">' in (await portal.get("/")).text
    away = await portal.get("/lang/sv?next=//evil.example/")
    assert away.headers["location"] == "/"


async def test_oversized_unreadable_and_control_character_forms_are_refused_and_nothing_is_acknowledged(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    csrf = await _bo_signed_in(portal, services[0])
    form = {"content-type": "application/x-www-form-urlencoded"}
    bodies = [
        f"csrf={csrf}&action_plan=" + "x" * 20_000,  # over the 16 KiB bound
        f"csrf={csrf}&action_plan=Samtal%00med%00gruppen",  # a NUL byte
        f"csrf={csrf}&action_plan=%ff%fe",  # not UTF-8
        "&".join(f"f{i}=1" for i in range(30)) + f"&csrf={csrf}",  # too many fields
    ]
    for body in bodies:
        refused = await portal.post("/t/testkommun/alerts/a1/acknowledge", content=body.encode(), headers=form)
        assert refused.status_code == 400, body[:60]
        assert "Formuläret gick inte att läsa" in refused.text
    as_json = await portal.post("/t/testkommun/alerts/a1/acknowledge", json={"csrf": csrf, "action_plan": "Samtal"})
    assert as_json.status_code == 400
    assert services[0].acknowledged == []


async def test_the_alert_page_says_why_in_alerts_own_words_in_the_viewers_language(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    alerts = services[0]
    nid = str(uuid4())
    alert = _alert("a1", "grupp-a1", {nid: BO})
    alert["explanation"] = {
        "language": "sv",
        "text": "Indexet har legat under gränsen 50 två månader i rad:\n  2026-01: 25,0 (8 svarande, ±9)\n"
        "  2026-02: för få svar, räknas inte\nAtt det är en slump är alltså <mycket> osannolikt.",
        "facts": {"kind": "opened"},
    }
    alerts.add("testkommun", alert)
    await portal.get(_link("a1", nid))

    html = (await portal.get("/t/testkommun/alerts/a1")).text

    assert "<p>Indexet har legat under gränsen 50 två månader i rad:</p>" in html
    assert "<ul>\n<li>2026-01: 25,0 (8 svarande, ±9)</li>\n<li>2026-02: för få svar, räknas inte</li>\n</ul>" in html
    assert "&lt;mycket&gt;" in html, "alerts' words are escaped like anything else"
    await portal.get("/lang/en?next=/")
    await portal.get("/t/testkommun/alerts/a1")
    assert alerts.languages[-2:] == ["sv", "en"], "the alert is asked for in the viewer's language"


# Action plans (entrypoints/plans.py)


async def test_a_plan_is_written_under_the_signed_in_person_and_shown_with_its_history_and_comments(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    csrf = await _bo_signed_in(portal, services[0])
    first = await portal.get("/t/testkommun/alerts/a1")
    assert "Ingen handlingsplan är skriven ännu." in first.text
    assert f'id="plan-owner" name="owner" type="text" value="{BO}"' in first.text, "the owner starts as oneself"
    written = await portal.post(
        "/t/testkommun/alerts/a1/plan",
        data={
            "csrf": csrf,
            "what": "Prata i APT om arbetsbelastningen",
            "owner": "Bo Ek",
            "due_date": "2026-05-01",
            "status": "planned",
            "written_by": "someone else",
        },
    )
    assert written.status_code == 303
    assert written.headers["location"] == "/t/testkommun/alerts/a1#plan"
    revised = await portal.post(
        "/t/testkommun/alerts/a1/plan",
        data={
            "csrf": csrf,
            "what": "Prata i APT om arbetsbelastningen",
            "owner": "Bo Ek",
            "due_date": "2026-05-01",
            "status": "in_progress",
        },
    )
    assert revised.status_code == 303
    commented = await portal.post(
        "/t/testkommun/alerts/a1/plan/comments", data={"csrf": csrf, "text": "Första APT <hållen>."}
    )
    assert commented.status_code == 303
    assert [(by, r["revision"], r["status"]) for _, _, by, r in services[0].plans] == [
        (BO, 1, "planned"),
        (BO, 2, "in_progress"),
    ], "recorded under the signed-in person, never the typed name"

    page = (await portal.get("/t/testkommun/alerts/a1")).text
    assert "Kommentaren är sparad." in page
    assert "<dt>Läge</dt><dd>Pågår</dd>" in page
    assert "<dt>Ansvarig</dt><dd>Bo Ek</dd>" in page
    assert f"Senast ändrad 2026-03-04 09:00 av {BO} (version 2)." in page
    assert "<caption>Planens historik, senaste först</caption>" in page
    history = re.findall(r'<tr><th scope="row">(\d)</th><td class="who">([^<]+)<br>', page)
    assert history == [("2", BO), ("1", BO)]
    assert f'<p class="plan">Första APT &lt;hållen&gt;.</p><small>{BO}, 2026-03-05 09:00</small>' in page
    assert 'value="in_progress" checked' in page, "the form starts from the current revision"
    assert "Ändra handlingsplanen" in page
    assert page.index('id="plan"') < page.index('id="plan-write"'), "the plan is read before the forms"


async def test_a_refused_plan_is_shown_again_with_each_reason_next_to_its_field(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    csrf = await _bo_signed_in(portal, services[0])
    # Alerts names one part out of bounds at a time by its rules, several at once by its body's validation.
    services[0].plan_refusal = tuple({"field": f, "reason": "out of bounds"} for f in ("what", "owner", "due_date"))
    refused = await portal.post(
        "/t/testkommun/alerts/a1/plan",
        data={"csrf": csrf, "what": "ok", "owner": "", "due_date": "2019-01-01", "status": "planned"},
    )
    assert refused.status_code == 422
    html = refused.text
    for field in ("what", "owner", "due_date"):
        assert f'id="plan-{field}-error"' in html, field
        assert re.search(rf'id="plan-{field}"[^>]*aria-describedby="plan-{field}-hint plan-{field}-error"', html)
        assert f'<a href="#plan-{field}">' in html, "the summary links to the field"
    assert "Skriv vad som ska göras, 3 till 5 000 tecken." in html
    assert "tidigast dagen signalen öppnades" in html
    assert ">ok</textarea>" in html, "what was typed is kept"
    assert services[0].plans == []
    empty = await portal.post("/t/testkommun/alerts/a1/plan/comments", data={"csrf": csrf, "text": " "})
    assert empty.status_code == 422
    assert 'id="plan-text-error"' in empty.text


async def test_plan_forms_need_the_session_s_csrf_token_and_a_session_for_the_tenant(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    data = {"what": "Prata i APT", "owner": "Bo", "due_date": "2026-05-01", "status": "planned"}
    nobody = await portal.post("/t/testkommun/alerts/a1/plan", data={**data, "csrf": "x"})
    assert nobody.status_code == 401
    await _bo_signed_in(portal, services[0])
    for path in ("/t/testkommun/alerts/a1/plan", "/t/testkommun/alerts/a1/plan/comments"):
        assert (await portal.post(path, data={**data, "text": "Hej hej"})).status_code == 403
        assert (await portal.post(path, data={**data, "text": "Hej hej", "csrf": "guessed"})).status_code == 403
    assert (await portal.post("/t/othertenant/alerts/a1/plan", data=data)).status_code == 401
    assert services[0].plans == []
    plan = services[0].alerts[("testkommun", "a1")]["plan"]
    assert (plan["revisions"], plan["comments"]) == ([], []), "nothing written"


async def test_a_manager_outside_the_unit_s_part_of_the_tree_cannot_write_its_plan(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    mine, theirs = str(uuid4()), str(uuid4())
    services[0].add("testkommun", _alert("a1", "grupp-a1", {mine: CECILIA}))
    services[0].add("testkommun", _alert("b1", "grupp-b1", {theirs: DAN}))
    await portal.get(_link("a1", mine))
    csrf = _csrf((await portal.get("/t/testkommun/alerts/a1")).text)
    data = {"csrf": csrf, "what": "Prata i APT", "owner": "Cecilia", "due_date": "2026-05-01", "status": "planned"}
    assert (await portal.post("/t/testkommun/alerts/b1/plan", data=data)).status_code == 403
    assert (await portal.post("/t/testkommun/alerts/b1/plan/comments", data={**data, "text": "Hej"})).status_code == 403
    assert services[0].plans == []


async def test_the_manager_one_level_up_sees_the_plan_history_from_the_escalation_s_link(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    bo, kim = str(uuid4()), str(uuid4())
    alert = _alert("a1", "grupp-a1", {bo: BO}, state="escalated")
    alert["notifications"].append(  # type: ignore[attr-defined]
        {
            "notification_id": kim,
            "recipient": "kim@testkommun.example",
            "recipient_role": "next_level",
            "channel": "email",
            "state": "sent",
            "created_at": "2026-03-16T08:00:00+00:00",
            "sent_at": "2026-03-16T08:00:01+00:00",
        }
    )
    revisions = [
        {
            "revision": n,
            "what": what,
            "owner": "Bo Ek",
            "due_date": "2026-05-01",
            "status": status,
            "written_by": BO,
            "written_at": f"2026-03-0{n + 2}T09:00:00+00:00",
        }
        for n, what, status in ((1, "Prata i APT", "planned"), (2, "Prata i APT och boka samtal", "in_progress"))
    ]
    alert["plan"] = {
        "current": revisions[-1],
        "revisions": revisions,
        "comments": [{"text": "Första APT hållen.", "written_by": CECILIA, "written_at": "2026-03-06T10:00:00+00:00"}],
        "takes_changes": True,
    }
    services[0].add("testkommun", alert)
    await portal.get(_link("a1", kim))
    page = (await portal.get("/t/testkommun/alerts/a1")).text
    assert "Inloggad som kim@testkommun.example" in page
    assert "Prata i APT och boka samtal" in page
    assert '<td class="plan">Prata i APT</td>' in page, "the first revision too"
    assert "Första APT hållen." in page
    assert f"{CECILIA}, 2026-03-06 10:00" in page
    assert page.index('id="plan"') < page.index('id="acknowledge"'), "what was promised comes before acknowledging"


async def test_a_plan_closed_long_after_the_alert_resolved_offers_no_form_and_a_late_post_says_why(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    csrf = await _bo_signed_in(portal, services[0])
    alert = services[0].alerts[("testkommun", "a1")]
    alert["state"] = "resolved"
    alert["plan"] = {"current": None, "revisions": [], "comments": [], "takes_changes": False}
    page = (await portal.get("/t/testkommun/alerts/a1")).text
    assert 'action="/t/testkommun/alerts/a1/plan"' not in page
    assert 'action="/t/testkommun/alerts/a1/plan/comments"' not in page
    late = await portal.post("/t/testkommun/alerts/a1/plan/comments", data={"csrf": csrf, "text": "Följt upp."})
    assert late.status_code == 409
    assert "planen går inte längre att ändra" in late.text


async def test_the_plan_page_is_in_english_when_asked(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    await _bo_signed_in(portal, services[0])
    await portal.get("/lang/en?next=/t/testkommun/alerts/a1")
    page = (await portal.get("/t/testkommun/alerts/a1")).text
    assert "No action plan has been written yet." in page
    assert "Write the action plan" in page
    assert "Save the comment" in page


async def test_writing_a_plan_when_alerts_is_down_says_to_try_again_later(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    csrf = await _bo_signed_in(portal, services[0])
    services[0].down = True
    answer = await portal.post("/t/testkommun/alerts/a1/plan/comments", data={"csrf": csrf, "text": "Följt upp."})
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "30"


async def test_a_plan_reminder_opens_the_page_and_is_shown_among_who_was_told(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    opened, reminded = str(uuid4()), str(uuid4())
    alert = _alert("a1", "grupp-a1", {opened: BO})
    alert["notifications"].append(  # type: ignore[attr-defined]
        {
            "notification_id": reminded,
            "recipient": BO,
            "recipient_role": "plan_reminder",
            "channel": "email",
            "state": "sent",
            "created_at": "2026-05-02T05:00:00+00:00",
            "sent_at": "2026-05-02T05:00:01+00:00",
        }
    )
    services[0].add("testkommun", alert)
    assert (await portal.get(_link("a1", reminded))).status_code == 303, "the reminder's own link signs Bo in"
    page = (await portal.get("/t/testkommun/alerts/a1")).text
    assert f"<tr><td>{BO}</td><td>Påminnelse om handlingsplanen</td><td>2026-05-02 05:00</td></tr>" in page
    await portal.get("/lang/en?next=/t/testkommun/alerts/a1")
    assert "Reminder about the action plan" in (await portal.get("/t/testkommun/alerts/a1")).text
