"""The HME report through the real scoring app on real PostgreSQL: the municipality and each förvaltning
per round, published figures only, and nothing a hidden group's size could be worked out from
(tests/scoring/hme_support.py describes the two rounds)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from tempen_scoring.adapters.postgres import PostgresScoringStore
from tempen_scoring.entrypoints import report
from tempen_scoring.metrics import ScoringMetrics
from tempen_shared.access.tokens import Scope
from tempen_shared.tenancy.loader import Catalog, load_catalog
from tests.auth.helpers import admin_headers, issue_token
from tests.conftest import FIXTURE_CONFIG, Infra
from tests.scoring.hme_support import expected_indices, hme_scoring, hme_submissions

pytestmark = pytest.mark.integration

REPORT = "/v1/tenants/testkommun/reports/hme"


@pytest.fixture
async def scoring(
    infra: Infra, database_url: str, topic_prefix: str, tmp_path: Path
) -> AsyncIterator[tuple[str, PostgresScoringStore, Catalog]]:
    """The scoring app serving a database with both HME rounds scored; the store and catalog to add more."""
    async with hme_scoring(
        tmp_path, bootstrap_servers=infra.bootstrap_servers, database_url=database_url, topic_prefix=topic_prefix
    ) as (base, store, catalog, _):
        yield base, store, catalog


def _rounds(body: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    (report,) = [r for r in body["reports"] if r["instrument"] == "hme"]
    return {r["period"]: {row["unit"]: row for row in r["rows"]} for r in report["rounds"]}


async def test_the_municipality_and_each_forvaltning_per_round_with_respondents_and_response_rates(
    scoring: tuple[str, PostgresScoringStore, Catalog], database_url: str
) -> None:
    base, _, _ = scoring
    read_only = await issue_token(database_url, tenant="testkommun", scopes={Scope.READ})
    async with httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {read_only}"}) as http:
        response = await http.get(REPORT, params={"rounds": "3", "instrument": "hme"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(i["id"], i["kolada_kpi"]) for i in body["indices"]] == [
        ("hme", "U00200"),
        ("motivation", "U00201"),
        ("ledarskap", "U00202"),
        ("styrning", "U00203"),
    ]
    (report,) = body["reports"]
    assert (report["instrument"], report["cadence"]) == ("hme", "annual")
    assert [(r["period"], r["measured"]) for r in report["rounds"]] == [
        ("2023", False),
        ("2024", True),
        ("2025", True),
    ]
    assert report["rounds"][0]["rows"] == []
    rounds = _rounds(body)

    early = rounds["2024"]
    assert list(early) == ["kommun", "forv-a", "forv-b", "forv-c"]
    assert [early[u]["level"] for u in early] == ["municipality", "forvaltning", "forvaltning", "forvaltning"]
    assert all(row["published"] for row in early.values())
    assert [early[u]["respondents"] for u in early] == [22, 12, 5, 5]
    # Headcounts: the municipality 0 + 22 + 8 + 9 (its own 0 and every förvaltning's subtree).
    assert [early[u]["response_rate"] for u in early] == [round(22 / 39, 4), round(12 / 22, 4), 0.625, 0.5556]
    whole = expected_indices({"enhet-a1": 6, "enhet-a2": 6, "forv-b": 5, "forv-c": 5})
    assert early["kommun"]["indices"] == pytest.approx(whole, abs=1e-9)
    assert early["forv-a"]["indices"] == pytest.approx(expected_indices({"enhet-a1": 6, "enhet-a2": 6}), abs=1e-9)
    assert whole["hme"] == pytest.approx((whole["motivation"] + whole["ledarskap"] + whole["styrning"]) / 3)

    late = rounds["2025"]
    assert (late["kommun"]["published"], late["kommun"]["respondents"]) == (True, 23)
    assert (late["forv-a"]["published"], late["forv-a"]["respondents"]) == (True, 15)
    # Förvaltning B's 2 are below the minimum; the municipality minus A and C would reveal them, so
    # Förvaltning C is hidden too. Neither says how many answered.
    assert late["forv-b"] == {
        "unit": "forv-b",
        "unit_name": "Förvaltning B",
        "level": "forvaltning",
        "published": False,
        "reason": "below_minimum",
    }
    assert late["forv-c"]["published"] is False
    assert late["forv-c"]["reason"] == "differencing"
    assert set(late["forv-c"]) == {"unit", "unit_name", "level", "published", "reason"}


async def test_no_round_s_rows_can_be_subtracted_down_to_a_small_group(
    scoring: tuple[str, PostgresScoringStore, Catalog], database_url: str
) -> None:
    base, store, catalog = scoring
    async with httpx.AsyncClient(base_url=base, headers=await admin_headers(database_url)) as http:
        before = _rounds((await http.get(REPORT)).json())
        # Förvaltning B grows from 2 to 4 in 2025: still hidden, and its row may not change at all.
        await store.apply(hme_submissions(catalog, "forv-b", 2025, 2, 2), [])
        after = _rounds((await http.get(REPORT)).json())
    assert after["2025"]["forv-b"] == before["2025"]["forv-b"]
    assert after["2025"]["forv-c"] == before["2025"]["forv-c"]
    assert after["2025"]["kommun"]["respondents"] == 25  # the report did read the new answers
    for rows in (before, after):
        assert len([by_unit for by_unit in rows.values() if by_unit]) == 2
        for period, by_unit in rows.items():
            if not by_unit:  # a round nobody answered in
                continue
            kommun = by_unit["kommun"]
            assert kommun["published"], period
            shown = sum(r["respondents"] for u, r in by_unit.items() if u != "kommun" and r["published"])
            rest = kommun["respondents"] - shown
            assert rest == 0 or rest >= 5, f"{period}: the municipality minus the förvaltningar shown leaves {rest}"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"rounds": "0"}, "rounds"),
        ({"rounds": "21"}, "rounds"),
        ({"rounds": "five"}, "rounds"),
        ({"rounds": "9" * 40}, "rounds"),
        ({"rounds": "\u0663"}, "rounds"),  # an Arabic-Indic 3: a digit to str.isdigit, not a number here
        ({"instrument": "nope"}, "instrument"),
    ],
)
async def test_a_bad_query_is_refused_naming_the_field(
    scoring: tuple[str, PostgresScoringStore, Catalog], database_url: str, params: dict[str, str], field: str
) -> None:
    base, _, _ = scoring
    async with httpx.AsyncClient(base_url=base, headers=await admin_headers(database_url)) as http:
        response = await http.get(REPORT, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    (error,) = response.json()["errors"]
    assert error["field"] == field


async def test_another_tenant_s_token_and_a_tenant_without_hme_are_refused(
    scoring: tuple[str, PostgresScoringStore, Catalog], database_url: str
) -> None:
    base, _, _ = scoring
    other = await issue_token(database_url, tenant="grannkommun", scopes={Scope.READ})
    async with httpx.AsyncClient(base_url=base) as http:
        foreign = await http.get(REPORT, headers={"authorization": f"Bearer {other}"})
        unknown = await http.get("/v1/tenants/nokommun/reports/hme", headers=await admin_headers(database_url))
    assert foreign.status_code == 403, foreign.text
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["field"] == "tenant"


async def test_a_tenant_without_an_hme_instrument_is_told_how_to_add_one() -> None:
    """Refused before anything is read: the suite's fixture tenant measures no HME."""

    class Unread:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the report read {name} for a tenant without HME")

    app = Starlette(routes=report.routes(Unread(), load_catalog(FIXTURE_CONFIG), ScoringMetrics(CollectorRegistry())))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://scoring.test") as http:
        response = await http.get(REPORT)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    (error,) = response.json()["errors"]
    assert error["field"] == "tenant"
    assert "config/instruments/hme.yaml" in error["reason"]
