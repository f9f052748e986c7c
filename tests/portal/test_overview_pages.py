"""The start page, My units and HR's overview with in-memory services behind them: who sees which units,
HR-only pages refused to managers, hidden cells shown as "för få svar" with no figure anywhere, and on the
anonymity tests' adversarial trees nothing on the heatmap that scoring did not mark publishable."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr

from tempen_portal.app import create_app
from tempen_portal.config import PortalSettings
from tempen_portal.domain.words import number
from tempen_scoring.domain.anonymity import visibility
from tempen_shared.links import AlertLink, sign_link
from tempen_shared.tenancy.loader import Catalog, load_catalog
from tempen_shared.tenancy.org import OrgTree
from tests.portal.fakes import FakeAlertsApi, FakeScoresApi
from tests.portal.test_pages import BO, CECILIA, DAN, NOW, SECRET, _alert
from tests.scoring.unit.test_anonymity import Case, adversarial_org

HR = "hr@testkommun.example"
PERIODS = ("2025-12", "2026-01", "2026-02")


def _published(index: float, respondents: int, rate: float | None = None) -> dict[str, Any]:
    dims = {
        d: {"index": index + n, "respondents": respondents} for n, d in enumerate(("total", "ledarskap", "motivation"))
    }
    return {"published": True, "dimensions": dims, "respondents": respondents, "response_rate": rate}


def _hidden(reason: str) -> dict[str, Any]:
    return {
        "published": False,
        "dimensions": {d: {"suppressed": True, "reason": reason} for d in ("total", "ledarskap", "motivation")},
    }


def _unit(unit: str, points: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "unit": unit,
        "unit_name": unit,
        "scope": "subtree",
        "periods": [{"period": p, **v} for p, v in points.items()],
    }


@pytest.fixture
def services() -> tuple[FakeAlertsApi, FakeScoresApi]:
    alerts, scores = FakeAlertsApi(), FakeScoresApi()
    scores.tenant_answers["testkommun"] = {
        "units": [
            _unit("kommun", {p: _published(72.5, 16) for p in PERIODS}),
            _unit("forv", {p: _published(71.0, 16) for p in PERIODS}),
            _unit("enhet-a", {p: _published(80.5, 8, 0.25) for p in PERIODS}),
            _unit(
                "grupp-a1",
                {
                    "2025-12": _published(61.5, 8, 0.6667),
                    "2026-01": _hidden("below_minimum"),
                    "2026-02": _published(63.5, 8, 0.6667),
                },
            ),
            _unit("enhet-b", {p: _hidden("differencing") for p in PERIODS}),
            _unit("grupp-b1", {p: _hidden("below_minimum") for p in PERIODS}),
        ]
    }
    scores.hidden["testkommun"] = {
        "reports": [
            {
                "instrument": "test-puls",
                "model": "test-model",
                "periods": [{"period": p, "measured": True} for p in PERIODS],
                "units": [
                    {
                        "unit": "grupp-b1",
                        "unit_name": "Grupp B1",
                        "scope": "unit",
                        "reasons": {"below_minimum": 3},
                        "hidden_periods": 3,
                        "measured_periods": 3,
                        "protects": [],
                        "alerts": {
                            "can_alert": False,
                            "needed": 2,
                            "published_periods": 0,
                            "measured_periods": 3,
                            "periods_to_alert": None,
                        },
                        "explanation": "Grupp B1 is hidden in 2026-02: fewer than 5 answered.",
                        "actions": [{"action": "merge_team", "text": "Merge Grupp B1 with a sibling"}],
                    },
                    {
                        "unit": "enhet-b",
                        "unit_name": "Enhet B",
                        "scope": "unit",
                        "reasons": {"differencing": 3},
                        "hidden_periods": 3,
                        "measured_periods": 3,
                        "protects": [{"unit": "enhet-b", "unit_name": "Enhet B"}],
                        "alerts": {
                            "can_alert": False,
                            "needed": 2,
                            "published_periods": 0,
                            "measured_periods": 3,
                            "periods_to_alert": None,
                        },
                        "explanation": "Enhet B is hidden",
                        "actions": [{"action": "merge_small_group", "text": "Enhet B is large enough itself"}],
                    },
                ],
            }
        ]
    }
    return alerts, scores


def _app(catalog: Catalog, services: tuple[FakeAlertsApi, FakeScoresApi]) -> Any:
    settings = PortalSettings(api_token=SecretStr("unused"), link_secret=SecretStr(SECRET))
    alerts, scores = services
    return create_app(settings, catalog=catalog, clock=lambda: NOW, alerts=alerts, scores=scores)


@pytest.fixture
async def portal(
    services: tuple[FakeAlertsApi, FakeScoresApi], fixture_config: Path
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(load_catalog(fixture_config), services), client=("203.0.113.8", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
        yield client


async def _sign_in(portal: httpx.AsyncClient, alerts: FakeAlertsApi, who: str, unit: str, alert_id: str) -> None:
    """`who` opens the link of an e-mail about an alert on `unit`, as every recipient signs in today."""
    nid = str(uuid4())
    alerts.add("testkommun", _alert(alert_id, unit, {nid: who}))
    link = sign_link(SECRET.encode(), AlertLink("testkommun", alert_id, UUID(nid), NOW - timedelta(days=1)))
    assert (await portal.get(f"/l/{link}")).status_code == 303


class _Cells(HTMLParser):
    """Each table row's header and cells as text, per table caption."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            # A förvaltning's heading row has no cells of its own.
            self._row = None if dict(attrs).get("class") == "group" else []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "svg":
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        elif tag == "svg":
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._cell is not None and not self._skip:
            self._cell.append(data)


def _rows(html: str) -> dict[str, list[str]]:
    """Each row's cells by its header, the first table's where two tables have a row of one unit."""
    out: dict[str, list[str]] = {}
    for row in _all_rows(html):
        if row:
            out.setdefault(row[0], row[1:])
    return out


def _all_rows(html: str) -> list[list[str]]:
    parser = _Cells()
    parser.feed(html)
    return parser.rows


async def test_the_start_page_offers_what_this_person_may_open(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    assert (await portal.get("/t/testkommun/")).status_code == 401
    await _sign_in(portal, services[0], CECILIA, "grupp-a1", "a1")
    services[0].add("testkommun", _alert("b1", "grupp-b1", {str(uuid4()): DAN}))

    page = await portal.get("/t/testkommun/")

    assert page.status_code == 200
    assert 'href="/t/testkommun/units"' in page.text
    assert "/t/testkommun/overview" not in page.text, "a manager is not offered HR's overview"
    assert "/t/testkommun/report/hme" not in page.text
    assert 'href="/t/testkommun/alerts/a1"' in page.text
    assert "/t/testkommun/alerts/b1" not in page.text, "an alert outside her part of the tree is not listed"


async def test_hr_s_start_page_links_the_overview_and_the_hme_report(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    await _sign_in(portal, services[0], HR, "grupp-b1", "b1")

    page = await portal.get("/t/testkommun/")

    assert 'href="/t/testkommun/overview"' in page.text
    assert 'href="/t/testkommun/report/hme"' in page.text
    assert 'href="/t/testkommun/alerts/b1"' in page.text


async def test_my_units_shows_a_manager_only_their_units_and_asks_scoring_for_no_others(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    await _sign_in(portal, services[0], CECILIA, "grupp-a1", "a1")

    page = await portal.get("/t/testkommun/units")

    assert page.status_code == 200
    assert services[1].asked_units == [["enhet-a", "grupp-a1"]]
    rows = _rows(page.text)
    assert {"Enhet A", "Grupp A1"} <= rows.keys()
    for other in ("Testkommun", "Förvaltningen", "Enhet B", "Grupp B1"):
        assert other not in page.text, other
    assert rows["Enhet A"][:3] == ["80,5 ✓ (grön)", "81,5 ✓ (grön)", "82,5 ✓ (grön)"]
    assert rows["Grupp A1"][0] == "63,5 ! (röd)"
    # The trend: a sparkline per cell, drawn without script, read out with its hidden period as words.
    assert page.text.count('<svg class="spark" role="img"') == 6
    assert "2026-01 för få svar" in page.text
    assert "<script" not in page.text


async def test_a_hidden_cell_says_too_few_answers_and_shows_no_number_anywhere(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    await _sign_in(portal, services[0], DAN, "grupp-b1", "b1")

    page = await portal.get("/t/testkommun/units")

    rows = _rows(page.text)
    assert rows["Grupp B1"] == ["för få svar"] * 3 + ["–"], "no index and no count of answers"
    labels = re.findall(r'aria-label="([^"]*)"', page.text)
    spark = [label for label in labels if "Grupp B1" in label]
    assert len(spark) == 3
    for label in spark:
        read_out = re.sub(r"\d{4}-\d{2}", "", label.split(":", 1)[1])
        assert not re.search(r"\d", read_out), label
        assert read_out.count("för få svar") == 3


async def test_hr_only_pages_are_refused_to_a_manager_and_to_nobody_signed_in(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    for path in ("/t/testkommun/overview", "/t/testkommun/overview/hidden", "/t/testkommun/units"):
        assert (await portal.get(path)).status_code == 401
    await _sign_in(portal, services[0], BO, "grupp-a1", "a1")

    for path in ("/t/testkommun/overview", "/t/testkommun/overview/hidden"):
        refused = await portal.get(path)
        assert refused.status_code == 403
        assert "Sidan är bara för HR" in refused.text
        assert "Mina enheter" in refused.text, "the refusal says where to go instead"
    assert services[1].asked_units == [], "nothing was asked of scoring for a refused page"
    assert (await portal.get("/t/othertenant/units")).status_code == 401, "no session for another tenant"


async def test_someone_who_manages_no_unit_is_told_so(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    await _sign_in(portal, services[0], "eva@testkommun.example", "grupp-a1", "a1")

    page = await portal.get("/t/testkommun/units")

    assert page.status_code == 200
    assert "Du står inte som chef för någon enhet" in page.text
    assert services[1].asked_units == []


async def test_hr_sees_the_heatmap_grouped_by_forvaltning_with_bands_in_words_and_open_alerts(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    await _sign_in(portal, services[0], HR, "grupp-b1", "b1")
    acknowledged = _alert("a2", "grupp-a1", {str(uuid4()): CECILIA}, state="acknowledged")
    acknowledged.update(acknowledged_at="2026-03-03T10:00:00+00:00", level=2)
    services[0].add("testkommun", acknowledged)
    written = await services[0].revise_plan(
        "testkommun",
        "a2",
        what="Samtal varannan vecka",
        owner="Cecilia",
        due_date="2026-04-30",
        status="in_progress",
        by=CECILIA,
    )
    assert written.done

    page = await portal.get("/t/testkommun/overview")

    assert page.status_code == 200
    html = page.text
    rows = _rows(html)
    assert rows["Testkommun"][:3] == ["72,5 – (gul)", "73,5 – (gul)", "74,5 – (gul)"]
    assert rows["Förvaltningen"] == ["71,0 – (gul)", "72,0 – (gul)", "73,0 – (gul)", "16", "–"]
    assert rows["Grupp A1"] == ["63,5 ! (röd)", "64,5 ! (röd)", "65,5 – (gul)", "8", "67 %"]
    assert rows["Enhet B"] == ["för få svar"] * 3 + ["–", "–"]
    assert rows["Grupp B1"] == ["för få svar"] * 3 + ["–", "–"]
    assert '<th scope="rowgroup" colspan="6">Förvaltningen</th>' in html
    assert "grön: 75 eller mer" in html
    assert "röd: under 65" in html
    assert '<option value="2026-01">2026-01</option>' in html, "the periods scoring has, to choose from"
    # Open alerts: level, age, acknowledged or not, and the plan's status where alerts gives one.
    alert_rows = [r for r in _all_rows(html) if r and r[0] in ("Grupp A1", "Grupp B1") and len(r) == 6]
    assert ["Grupp A1", "Ledarskap", "2", "3", "ja", "pågår"] in alert_rows
    assert ["Grupp B1", "Ledarskap", "1", "3", "nej", "ingen plan än"] in alert_rows


async def test_the_heatmap_filters_by_forvaltning_dimension_and_period_and_refuses_unknown_ones(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    await _sign_in(portal, services[0], HR, "grupp-b1", "b1")

    one = await portal.get(
        "/t/testkommun/overview", params={"forvaltning": "forv", "dimension": "ledarskap", "period": "2026-01"}
    )

    assert one.status_code == 200
    assert services[1].asked_units[-1] == ["forv", "enhet-a", "grupp-a1", "enhet-b", "grupp-b1"]
    rows = _rows(one.text)
    assert "Testkommun" not in rows
    assert rows["Grupp A1"] == ["för få svar", "–", "–"], "January: hidden"
    assert rows["Enhet A"] == ["81,5 ✓ (grön)", "8", "25 %"]
    for query in (
        {"forvaltning": "nowhere"},
        {"dimension": "nothing"},
        {"period": "januari"},
        {"page": "0"},
        {"model": "x"},
    ):
        refused = await portal.get("/t/testkommun/overview", params=query)
        assert refused.status_code == 422, query
        assert "Välj" in refused.text
    not_closed = await portal.get("/t/testkommun/overview", params={"period": "2026-03"})
    assert not_closed.status_code == 422
    assert "Välj en avslutad period" in not_closed.text


async def test_hidden_units_are_listed_with_swedish_reasons_and_what_hr_can_do(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    await _sign_in(portal, services[0], HR, "grupp-b1", "b1")

    page = await portal.get("/t/testkommun/overview/hidden")

    assert page.status_code == 200
    rows = _rows(page.text)
    assert rows["Grupp B1"][0] == (
        "färre än 5 svarade: dold 3 av 3 mätta perioder. Kan aldrig larma: 2 visade perioder krävs, den hade 0 av 3."
    )
    assert "Slå ihop Grupp B1 med en syskonenhet" in rows["Grupp B1"][1]
    assert rows["Enhet B"][0].startswith("skyddar en mindre grupp i Enhet B")
    assert "Merge" not in page.text, "scoring's English texts are not shown; its codes are worded here"


async def test_when_scoring_is_down_the_pages_say_so_with_retry_after(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    await _sign_in(portal, services[0], HR, "grupp-b1", "b1")
    services[1].down = True
    for path in ("/t/testkommun/units", "/t/testkommun/overview", "/t/testkommun/overview/hidden"):
        page = await portal.get(path)
        assert page.status_code == 503, path
        assert page.headers["retry-after"] == "30"


ADVERSARIAL = settings(
    max_examples=60, database=None, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _answer(tree: OrgTree, direct: dict[str, int], minimum: int) -> tuple[dict[str, Any], dict[str, float]]:
    """Scoring's answer for the tree: publishable groups with an index, the others hidden with their reason;
    and every group's true index, hidden ones included, which must never reach a page."""
    shown = visibility(tree, direct, minimum, complement="fewest_people")
    truth: dict[str, float] = {}
    units = []
    for n, unit in enumerate(tree.units):
        size = sum(direct.get(u, 0) for u in tree.subtree(unit))
        if not size:
            continue
        truth[unit] = 30.0 + n * 3.7  # distinct per group: a leaked one would be recognisable
        seen = shown[(unit, "subtree")]
        point = (
            {
                "published": True,
                "dimensions": {"total": {"index": truth[unit], "respondents": size}},
                "respondents": size,
            }
            if seen.publishable
            else {"published": False, "dimensions": {"total": {"suppressed": True, "reason": seen.reason}}}
        )
        units.append({"unit": unit, "unit_name": unit, "scope": "subtree", "periods": [{"period": "2026-02", **point}]})
    return {"units": units}, {u: truth[u] for u in truth if not shown[(u, "subtree")].publishable}


@ADVERSARIAL
@given(adversarial_org())
async def test_on_adversarial_trees_the_heatmap_shows_no_hidden_group_s_index_or_size(
    fixture_config: Path, case: Case
) -> None:
    tree, direct, minimum = case
    base = load_catalog(fixture_config)
    tenant = dataclasses.replace(
        base.tenants["testkommun"],
        org=tree,
        config=base.tenants["testkommun"].config.model_copy(update={"min_group_size": minimum}),
    )
    catalog = dataclasses.replace(base, tenants={"testkommun": tenant})
    alerts, scores = FakeAlertsApi(), FakeScoresApi()
    scores.tenant_answers["testkommun"], hidden = _answer(tree, direct, minimum)
    transport = httpx.ASGITransport(app=_app(catalog, (alerts, scores)), client=("203.0.113.9", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as portal:
        await _sign_in(portal, alerts, HR, tree.root, "x")
        page = await portal.get("/t/testkommun/overview", params={"dimension": "total"})
    assert page.status_code == 200
    rows = _rows(page.text)
    for unit, index in hidden.items():
        assert number(index, "sv") not in page.text, (unit, index)
        assert rows[unit] == ["för få svar", "–", "–"], unit


async def test_a_long_list_of_open_alerts_shows_the_most_pressing_and_says_how_many_there_are(
    portal: httpx.AsyncClient, services: tuple[FakeAlertsApi, FakeScoresApi]
) -> None:
    await _sign_in(portal, services[0], HR, "grupp-b1", "b1")
    for n in range(120):
        services[0].add("testkommun", _alert(f"many{n}", "grupp-a1", {str(uuid4()): CECILIA}))
    top = _alert("top", "enhet-a", {str(uuid4()): BO}, state="escalated")
    top["level"] = 3
    services[0].add("testkommun", top)

    page = await portal.get("/t/testkommun/overview")

    listed = [r for r in _all_rows(page.text) if len(r) == 6 and r[1] == "Ledarskap"]
    assert len(listed) == 100
    assert listed[0][:3] == ["Enhet A", "Ledarskap", "3"], "the highest level first"
    assert "Visar de 100 med högst nivå och längst öppna av 122." in page.text
