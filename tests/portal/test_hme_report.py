"""The HME report page and its CSV with in-memory services behind them: HR sees every row, a manager the
rows of their part of the tree, nobody another tenant's; hidden groups say "för få svar" and carry no
number, even when the upstream sent one."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from pydantic import SecretStr

from tempen_portal.app import create_app
from tempen_portal.config import PortalSettings
from tempen_portal.domain.hme import CSV_COLUMNS
from tempen_shared.tenancy.loader import load_catalog
from tests.portal.fakes import FakeAlertsApi, FakeScoresApi
from tests.portal.test_pages import BO, CECILIA, NOW, SECRET, _alert, _link

HR = "hr@testkommun.example"
PAGE, CSV = "/t/testkommun/report/hme", "/t/testkommun/report/hme.csv"
LEAKED = 41.7  # a figure a hidden row should never have carried: it must not appear anywhere


def _published(unit: str, name: str, level: str, respondents: int, rate: float | None, base: float) -> dict[str, Any]:
    return {
        "unit": unit,
        "unit_name": name,
        "level": level,
        "published": True,
        "respondents": respondents,
        "response_rate": rate,
        "indices": {"hme": base, "motivation": base + 1.25, "ledarskap": base - 2.5, "styrning": None},
    }


def _hidden(unit: str, name: str, level: str, reason: str) -> dict[str, Any]:
    # As a faulty upstream might send it: the portal must drop everything but the reason.
    return {
        "unit": unit,
        "unit_name": name,
        "level": level,
        "published": False,
        "reason": reason,
        "respondents": 3,
        "indices": {"hme": LEAKED},
    }


REPORT: dict[str, Any] = {
    "tenant": "testkommun",
    "tenant_name": "Testkommun",
    "model": "hme",
    "model_version": "2.0",
    "min_group_size": 5,
    "indices": [
        {"id": "hme", "name_sv": "HME totalindex", "name_en": "HME total index", "kolada_kpi": "U00200"},
        {"id": "motivation", "name_sv": "Motivation", "name_en": "Motivation", "kolada_kpi": "U00201"},
        {"id": "ledarskap", "name_sv": "Ledarskap", "name_en": "Leadership", "kolada_kpi": "U00202"},
        {"id": "styrning", "name_sv": "Styrning", "name_en": "Governance", "kolada_kpi": "U00203"},
    ],
    "reports": [
        {
            "instrument": "hme",
            "cadence": "annual",
            "rounds": [
                {"period": "2023", "measured": False, "rows": []},
                {
                    "period": "2024",
                    "measured": True,
                    "rows": [
                        _published("kommun", "Testkommun", "municipality", 22, 0.5641, 73.75),
                        _published("forv", "Förvaltningen", "forvaltning", 17, None, 71.0),
                        # A förvaltning of an earlier org version, gone from today's tree: HR's only.
                        _published("=forv-x", "=Gamla förvaltningen", "forvaltning", 5, 0.5, 80.0),
                    ],
                },
                {
                    "period": "2025",
                    "measured": True,
                    "rows": [
                        _published("kommun", "Testkommun", "municipality", 23, 0.5897, 75.5),
                        _hidden("forv", "Förvaltningen", "forvaltning", "differencing"),
                    ],
                },
            ],
        }
    ],
}


@pytest.fixture
def services() -> tuple[FakeAlertsApi, FakeScoresApi]:
    alerts, scores = FakeAlertsApi(), FakeScoresApi()
    scores.hme_reports["testkommun"] = REPORT
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


async def _sign_in(portal: httpx.AsyncClient, alerts: FakeAlertsApi, person: str) -> None:
    """`person` opens their link in an e-mail about an alert on Grupp A1."""
    nid, alert_id = str(uuid4()), f"a-{uuid4().hex[:8]}"
    alerts.add("testkommun", _alert(alert_id, "grupp-a1", {nid: person}))
    assert (await portal.get(_link(alert_id, nid))).status_code == 303


def _rows(html: str) -> list[str]:
    return [part.split("<br>")[0] for part in html.split('<th scope="row">')[1:]]


async def test_hr_sees_the_municipality_and_every_forvaltning_newest_round_first_in_swedish(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    await _sign_in(portal, services[0], HR)
    page = await portal.get(PAGE)
    assert page.status_code == 200, page.text
    html = page.text
    assert '<html lang="sv">' in html
    assert "<h1>HME-rapport</h1>" in html
    assert html.index("Mätomgång 2025") < html.index("Mätomgång 2024")
    assert "Mätomgång 2023" not in html, "a round nobody answered in is not a table"
    assert _rows(html) == ["Testkommun", "Förvaltningen", "Testkommun", "Förvaltningen", "=Gamla förvaltningen"]
    assert '<td class="num">75,5</td>' in html
    assert '<td class="num">58,97 %</td>' not in html
    assert '<td class="num">59,0 %</td>' in html
    assert '<td class="num">23</td>' in html
    assert '<td class="num">okänd</td>' in html, "no headcount: the rate is unknown, not 0"
    assert '<td colspan="6" class="hidden-cell">för få svar</td>' in html
    assert "41,7" not in html
    assert "41.7" not in html
    assert 'href="/t/testkommun/report/hme.csv"' in html
    assert "<script" not in html
    english = await portal.get("/lang/en", params={"next": PAGE}, follow_redirects=True)
    assert '<html lang="en">' in english.text
    assert "Survey round 2025" in english.text
    assert '<th scope="col">Leadership</th>' in english.text
    assert "too few answers" in english.text
    assert '<td class="num">75.5</td>' in english.text


async def test_a_manager_sees_only_the_rows_of_their_part_of_the_tree(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    await _sign_in(portal, services[0], BO)  # heads Förvaltningen, not the municipality
    page = await portal.get(PAGE)
    assert page.status_code == 200
    assert _rows(page.text) == ["Förvaltningen", "Förvaltningen"]
    assert "Testkommun</th>" not in page.text
    assert "Gamla" not in page.text
    lines = list(csv.DictReader(io.StringIO((await portal.get(CSV)).content.decode("utf-8-sig")), delimiter=";"))
    assert {line["enhet_id"] for line in lines} == {"forv"}


async def test_a_manager_below_the_forvaltningar_sees_no_rows_and_is_told_so(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    await _sign_in(portal, services[0], CECILIA)  # heads Enhet A, below Förvaltningen
    page = await portal.get(PAGE)
    assert page.status_code == 200
    assert _rows(page.text) == []
    assert "dina enheter ligger längre ner i organisationen" in page.text


async def test_someone_who_heads_no_unit_and_another_tenant_are_refused(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    assert (await portal.get(PAGE)).status_code == 401, "nobody signed in"
    assert (await portal.get(CSV)).status_code == 401
    await _sign_in(portal, services[0], "eva@testkommun.example")  # told about an alert, heads nothing
    refused = await portal.get(PAGE)
    assert refused.status_code == 403
    assert "Be HR om rapporten." in refused.text
    assert (await portal.get(CSV)).status_code == 403
    await _sign_in(portal, services[0], HR)
    for path in ("/t/othertenant/report/hme", "/t/othertenant/report/hme.csv"):
        assert (await portal.get(path)).status_code == 401, "a session belongs to one tenant"


async def test_the_csv_is_kolada_s_shape_in_utf_8_with_a_bom_semicolons_and_decimal_commas(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    await _sign_in(portal, services[0], HR)
    response = await portal.get(CSV)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="hme-testkommun.csv"'
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert text.splitlines()[0] == ";".join(CSV_COLUMNS)
    assert "\r\n" in text
    lines = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert len(lines) == 5 * 4, "2025: two units, 2024: three, four indices each"
    kommun = [(line["period"], line["kpi"], line["värde"]) for line in lines if line["enhet_id"] == "kommun"]
    assert kommun == [
        ("2025", "U00200", "75,5"),
        ("2025", "U00201", "76,8"),
        ("2025", "U00202", "73,0"),
        ("2025", "U00203", ""),  # nobody answered styrning's questions: no value, not 0
        ("2024", "U00200", "73,8"),
        ("2024", "U00201", "75,0"),
        ("2024", "U00202", "71,3"),
        ("2024", "U00203", ""),
    ]
    first = lines[0]
    assert (first["kön"], first["nivå"], first["svarande"], first["svarsfrekvens_procent"], first["status"]) == (
        "T",
        "kommun",
        "23",
        "59,0",
        "publicerad",
    )
    hidden = [line for line in lines if line["enhet_id"] == "forv" and line["period"] == "2025"]
    assert len(hidden) == 4
    for line in hidden:
        assert (line["kpi"], line["värde"], line["svarande"], line["svarsfrekvens_procent"]) == ("", "", "", "")
        assert (line["status"], line["orsak"]) == ("för få svar", "differencing")
    assert all(line["kpi"] == "" for line in lines if line["nivå"] == "förvaltning")
    assert "41,7" not in text
    assert "41.7" not in text
    # A name from the org file that starts like a formula stays text in a spreadsheet.
    assert {line["enhet"] for line in lines if line["enhet_id"] == "'=forv-x"} == {"'=Gamla förvaltningen"}


async def test_the_number_of_rounds_is_bounded_and_passed_on(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    await _sign_in(portal, services[0], HR)
    assert (await portal.get(PAGE, params={"rounds": "3"})).status_code == 200
    assert services[1].hme_rounds_asked == 3
    for bad in ("0", "21", "tre", "9" * 30, "-1"):
        refused = await portal.get(PAGE, params={"rounds": bad})
        assert refused.status_code == 400, bad
        assert "heltal från 1 till 20" in refused.text
    assert (await portal.get(CSV, params={"rounds": "0"})).status_code == 400


async def test_scoring_down_and_a_tenant_without_hme_get_pages_that_say_what_to_do(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    await _sign_in(portal, services[0], HR)
    services[1].hme_down = True
    down = await portal.get(PAGE)
    assert down.status_code == 503
    assert down.headers["retry-after"] == "30"
    services[1].hme_down = False
    del services[1].hme_reports["testkommun"]
    missing = await portal.get(PAGE)
    assert missing.status_code == 404
    assert "config/instruments/hme.yaml" in missing.text
