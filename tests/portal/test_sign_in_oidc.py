"""Signing in to the portal through a real OpenID Connect provider (oidc-provider, run with node): the code
flow end to end, roles from the claims as the tenant maps them, and a clear page for every failure."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import uuid4

import httpx
import pytest
from pydantic import SecretStr

from tempen_portal.app import create_app
from tempen_portal.config import PortalSettings
from tempen_portal.entrypoints import sign_in
from tempen_shared.tenancy.loader import load_catalog
from tests.portal.fakes import FakeAlertsApi, FakeScoresApi
from tests.portal.oidc_provider import running_provider, sign_in_at_provider

PORTAL = "http://portal.test"
CALLBACK = f"{PORTAL}/oidc/callback"
SECRET_ENV = "TEMPEN_TEST_OIDC_CLIENT_SECRET"
CLIENT_SECRET = "a-client-secret-for-the-sign-in-tests"
NOW = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
ACCOUNTS: dict[str, dict[str, object]] = {
    # HR by the role the provider gives, though not the tenant's hr_email
    "hanna": {"email": "Hanna.HR@testkommun.example", "roles": ["tempen.hr", "other.role"]},
    # a manager in the org tree (Enhet A and Grupp A1), matched by e-mail whatever its case
    "cecilia": {"email": "CECILIA@testkommun.example", "roles": ["other.role"]},
    # nobody in the tree, but in the group the tenant maps to Enhet B
    "erik": {"email": "erik@testkommun.example", "groups": ["g-enhet-b", "g-unmapped"]},
    "nobody": {"email": "nobody@testkommun.example"},
    "anonymous": {"name": "No Address"},
}


def _tenant_yaml(tenant_id: str, issuer: str, client_id: str) -> str:
    return f"""\
id: {tenant_id}
name: {tenant_id.capitalize()}
hr_email: hr@testkommun.example
instruments: [test-puls]
org_file: org/testkommun.csv
portal:
  oidc:
    issuer: {issuer}
    client_id: {client_id}
    client_secret: {{env: {SECRET_ENV}}}
    scopes: [openid, email, profile, roles, groups]
    hr_values: [tempen.hr]
    unit_groups:
      g-enhet-b: [enhet-b]
"""


@pytest.fixture
def config(tmp_path: Path, fixture_config: Path) -> Path:
    directory = tmp_path / "config"
    shutil.copytree(fixture_config, directory)
    return directory


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[str]:
    with running_provider(tmp_path, clients=_clients(), accounts=ACCOUNTS) as url:
        yield url


def _portal(config: Path, issuer: str, alerts: FakeAlertsApi) -> httpx.AsyncClient:
    (config / "tenants" / "testkommun.yaml").write_text(_tenant_yaml("testkommun", issuer, "tempen-testkommun"))
    (config / "tenants" / "annan.yaml").write_text(_tenant_yaml("annan", issuer, "tempen-annan"))
    settings = PortalSettings(
        api_token=SecretStr("unused"), link_secret=SecretStr("link-secret-for-the-oidc-tests"), public_url=PORTAL
    )
    app = create_app(settings, catalog=load_catalog(config), clock=lambda: NOW, alerts=alerts, scores=FakeScoresApi())
    portal = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
    return httpx.AsyncClient(mounts={PORTAL: portal}, timeout=20)


@pytest.fixture
def alerts() -> FakeAlertsApi:
    fake = FakeAlertsApi()
    for alert_id, unit in (("a-kommun", "kommun"), ("a-a1", "grupp-a1"), ("a-b1", "grupp-b1")):
        fake.add("testkommun", _alert(alert_id, unit))
    return fake


@pytest.fixture
async def browser(
    config: Path, issuer: str, alerts: FakeAlertsApi, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    async with _portal(config, issuer, alerts) as client:
        yield client


async def _signed_in(browser: httpx.AsyncClient, login: str, tenant: str = "testkommun") -> httpx.Response:
    callback = await sign_in_at_provider(browser, f"{PORTAL}/t/{tenant}/sign-in", login=login, callback_prefix=CALLBACK)
    return await browser.get(callback)


async def _sees(browser: httpx.AsyncClient) -> dict[str, int]:
    return {
        alert_id: (await browser.get(f"{PORTAL}/t/testkommun/alerts/{alert_id}")).status_code
        for alert_id in ("a-kommun", "a-a1", "a-b1")
    }


async def test_an_hr_role_in_the_claims_makes_an_hr_viewer_of_the_whole_tenant(browser: httpx.AsyncClient) -> None:
    finished = await _signed_in(browser, "hanna")
    assert finished.status_code == 303
    assert finished.headers["location"] == "/t/testkommun/"
    assert await _sees(browser) == {"a-kommun": 200, "a-a1": 200, "a-b1": 200}
    page = await browser.get(f"{PORTAL}/t/testkommun/alerts/a-a1")
    assert "hanna.hr@testkommun.example" in page.text  # the person is the lower-cased e-mail claim


async def test_a_manager_by_e_mail_sees_their_subtree_only(browser: httpx.AsyncClient) -> None:
    assert (await _signed_in(browser, "cecilia")).status_code == 303
    assert await _sees(browser) == {"a-kommun": 403, "a-a1": 200, "a-b1": 403}


async def test_a_group_mapped_to_a_unit_grants_that_unit_and_those_below(browser: httpx.AsyncClient) -> None:
    assert (await _signed_in(browser, "erik")).status_code == 303
    assert await _sees(browser) == {"a-kommun": 403, "a-a1": 403, "a-b1": 200}


async def test_groups_granting_more_units_than_a_session_holds_are_refused_with_a_page_saying_so(
    browser: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sign_in, "MAX_SESSION_UNITS", 0)
    refused = await _signed_in(browser, "erik")
    assert refused.status_code == 403
    assert "för många enheter" in refused.text
    assert (await browser.get(f"{PORTAL}/t/testkommun/alerts/a-b1")).status_code == 401


async def test_another_tenant_is_never_open_to_someone_signed_in_to_one(
    browser: httpx.AsyncClient, alerts: FakeAlertsApi
) -> None:
    alerts.add("annan", _alert("a-annan", "kommun"))
    assert (await _signed_in(browser, "hanna")).status_code == 303
    assert (await browser.get(f"{PORTAL}/t/annan/alerts/a-annan")).status_code == 401
    assert (await browser.get(f"{PORTAL}/t/testkommun/alerts/a-kommun")).status_code == 200


async def test_an_answer_meant_for_another_browsers_sign_in_is_refused(config: Path, issuer: str) -> None:
    """A code issued to testkommun's sign-in in one browser, opened in a browser that started annan's."""
    alerts = FakeAlertsApi()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_ENV, CLIENT_SECRET)
        async with _portal(config, issuer, alerts) as first, _portal(config, issuer, alerts) as second:
            callback = await sign_in_at_provider(
                first, f"{PORTAL}/t/testkommun/sign-in", login="hanna", callback_prefix=CALLBACK
            )
            assert (await second.get(f"{PORTAL}/t/annan/sign-in")).status_code == 302
            refused = await second.get(callback)
            assert refused.status_code == 400
            assert "hörde inte till den här webbläsarens inloggning" in refused.text
            assert (await second.get(f"{PORTAL}/t/testkommun/alerts/x")).status_code == 401


async def test_a_tampered_state_is_refused_and_signs_nobody_in(browser: httpx.AsyncClient) -> None:
    callback = await sign_in_at_provider(
        browser, f"{PORTAL}/t/testkommun/sign-in", login="hanna", callback_prefix=CALLBACK
    )
    parts = urlsplit(callback)
    query = dict(parse_qsl(parts.query))
    query["state"] = query["state"][:-2] + ("AA" if not query["state"].endswith("AA") else "BB")
    refused = await browser.get(urlunsplit(parts._replace(query=urlencode(query))))
    assert refused.status_code == 400
    assert "Börja om från startsidan" in refused.text
    assert (await browser.get(f"{PORTAL}/t/testkommun/alerts/a-a1")).status_code == 401


async def test_a_person_who_cancels_at_the_provider_gets_a_page_saying_so(browser: httpx.AsyncClient) -> None:
    callback = await sign_in_at_provider(
        browser, f"{PORTAL}/t/testkommun/sign-in", login="hanna", callback_prefix=CALLBACK, cancel=True
    )
    assert "error=access_denied" in callback
    denied = await browser.get(callback)
    assert denied.status_code == 403
    assert "avbröts eller nekades" in denied.text


async def test_someone_neither_hr_nor_a_manager_is_told_so_and_not_signed_in(browser: httpx.AsyncClient) -> None:
    refused = await _signed_in(browser, "nobody")
    assert refused.status_code == 403
    assert "varken HR eller chef" in refused.text
    assert (await browser.get(f"{PORTAL}/t/testkommun/alerts/a-kommun")).status_code == 401


async def test_claims_without_an_address_sign_nobody_in(browser: httpx.AsyncClient) -> None:
    refused = await _signed_in(browser, "anonymous")
    assert refused.status_code == 403
    assert "ingen e-postadress" in refused.text


async def test_the_start_page_offers_sign_in_for_each_tenant_with_a_provider(browser: httpx.AsyncClient) -> None:
    home = (await browser.get(f"{PORTAL}/")).text
    assert 'href="/t/testkommun/sign-in"' in home
    assert 'href="/t/annan/sign-in"' in home


async def test_a_provider_that_is_down_gives_503_with_retry_after_never_500(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    with ExitStack() as provider:
        issuer = provider.enter_context(running_provider(tmp_path, clients=_clients(), accounts=ACCOUNTS))
        async with _portal(config, issuer, FakeAlertsApi()) as browser:
            provider.close()
            down = await browser.get(f"{PORTAL}/t/testkommun/sign-in")
            assert down.status_code == 503
            assert down.headers["retry-after"] == "30"
            assert "försök igen" in down.text.lower()


async def test_a_provider_that_goes_down_before_the_code_is_redeemed_gives_503(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    with ExitStack() as provider:
        issuer = provider.enter_context(running_provider(tmp_path, clients=_clients(), accounts=ACCOUNTS))
        async with _portal(config, issuer, FakeAlertsApi()) as browser:
            callback = await sign_in_at_provider(
                browser, f"{PORTAL}/t/testkommun/sign-in", login="hanna", callback_prefix=CALLBACK
            )
            provider.close()  # between the person's login and the portal redeeming the code
            down = await browser.get(callback)
            assert down.status_code == 503
            assert down.headers["retry-after"] == "30"
            assert (await browser.get(f"{PORTAL}/t/testkommun/alerts/x")).status_code == 401


def _clients() -> list[dict[str, object]]:
    return [
        {"client_id": client_id, "client_secret": CLIENT_SECRET, "redirect_uris": [CALLBACK]}
        for client_id in ("tempen-testkommun", "tempen-annan")
    ]


async def test_failed_callbacks_are_rate_limited(browser: httpx.AsyncClient) -> None:
    for _ in range(10):
        assert (await browser.get(f"{CALLBACK}?code=guess&state=guess")).status_code == 400
    blocked = await browser.get(f"{CALLBACK}?code=guess&state=guess")
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == "60"


def _alert(alert_id: str, unit: str) -> dict[str, object]:
    return {
        "alert_id": alert_id,
        "unit": unit,
        "instrument": "test-puls",
        "model": "test-model",
        "dimension": "ledarskap",
        "state": "open",
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
        "history": [],
        "notifications": [
            {
                "notification_id": str(uuid4()),
                "recipient": "someone.else@testkommun.example",
                "recipient_role": "next_level",
                "channel": "email",
                "state": "sent",
                "created_at": "2026-03-02T08:00:00+00:00",
                "sent_at": "2026-03-02T08:00:01+00:00",
            }
        ],
    }
