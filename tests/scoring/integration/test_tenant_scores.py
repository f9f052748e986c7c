"""The tenant-wide scores the portal's overview pages read (`GET /v1/tenants/{t}/scores`), through the real
scoring app on real PostgreSQL: publishable figures only, hidden cells with their reason and nothing else,
response rates where the org gives a headcount, clear refusals of bad queries, and on the adversarial
trees of the anonymity tests nothing a reader could subtract their way to a small group from.

The six months of support.py, read on 7 December 2026 (the app's clock): Grupp B1 is a small team every
month; Enhet B's own group is hidden to protect it; Grupp A1 has 8 a month but 4 in September.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from fractions import Fraction
from itertools import combinations
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from tempen_scoring.adapters.postgres import SCHEMA, PostgresScoreReader, PostgresScoringStore
from tempen_scoring.domain.anonymity import visibility
from tempen_scoring.entrypoints.http import routes
from tempen_scoring.metrics import ScoringMetrics
from tests.scoring.integration.support import CATALOG, TODAY, read_only_headers, submissions
from tests.scoring.unit.test_anonymity import Case, _in_row_space, adversarial_org
from tests.support import serving

pytestmark = pytest.mark.integration

SCORES = "/v1/tenants/testkommun/scores"
DIMENSIONS = ("ledarskap", "motivation", "total")


@pytest.fixture
async def scoring(six_months: tuple[str, PostgresScoringStore], database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the scoring app serving the six months, with a read-only token of the tenant."""
    base, _ = six_months
    async with httpx.AsyncClient(base_url=base, headers=await read_only_headers(database_url)) as http:
        yield http


def _groups(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    return {(u["unit"], u["scope"]): {p["period"]: p for p in u["periods"]} for u in body["units"]}


async def test_every_unit_of_the_latest_closed_period_with_only_what_may_be_shown(
    scoring: httpx.AsyncClient,
) -> None:
    response = await scoring.get(SCORES, params={"model": "test-model"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["period"], body["periods"], body["min_group_size"]) == ("2026-11", ["2026-11"], 5)
    assert body["scored_periods"] == ["2026-11", "2026-10", "2026-09", "2026-08", "2026-07", "2026-06"]
    groups = _groups(body)
    tree = CATALOG.tenants["testkommun"].org
    counts = {"grupp-b1": 2, "enhet-b": 6, "grupp-a1": 8}
    expected = visibility(tree, counts, 5, complement="fewest_people")
    with_answers = {
        g
        for g in expected
        if (sum(counts.get(u, 0) for u in tree.subtree(g[0])) if g[1] == "subtree" else counts.get(g[0], 0))
    }
    assert set(groups) == with_answers, "every group with answers, and none without"
    for group, periods in groups.items():
        point = periods["2026-11"]
        seen = expected[group]
        assert point["published"] is seen.publishable, group
        assert set(point["dimensions"]) == set(DIMENSIONS)
        for cell in point["dimensions"].values():
            if seen.publishable:
                assert set(cell) == {"index", "respondents"}
                assert 0 <= cell["index"] <= 100
            else:
                # The reason, never the index or the size.
                assert cell == {"suppressed": True, "reason": seen.reason}, group
                assert "respondents" not in point
                assert "response_rate" not in point

    assert groups[("grupp-b1", "unit")]["2026-11"]["dimensions"]["ledarskap"]["reason"] == "below_minimum"
    assert groups[("enhet-b", "unit")]["2026-11"]["dimensions"]["ledarskap"]["reason"] == "differencing"
    a1 = groups[("grupp-a1", "unit")]["2026-11"]
    assert (a1["respondents"], a1["response_rate"]) == (8, round(8 / 12, 4))  # headcount 12 in the org file
    top = groups[("kommun", "subtree")]["2026-11"]
    assert top["respondents"] == 16
    assert top["response_rate"] is None


async def test_the_last_periods_for_a_trend_one_scope_and_some_units(scoring: httpx.AsyncClient) -> None:
    response = await scoring.get(
        SCORES,
        params={
            "model": "test-model",
            "period": "2026-10",
            "periods": "3",
            "scope": "unit",
            "units": "grupp-a1,grupp-b1",
        },
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["periods"] == ["2026-08", "2026-09", "2026-10"]
    groups = _groups(body)
    assert set(groups) == {("grupp-a1", "unit"), ("grupp-b1", "unit")}
    a1 = groups[("grupp-a1", "unit")]
    assert [a1[p]["published"] for p in body["periods"]] == [True, False, True]  # 4 answered in September
    assert a1["2026-09"]["dimensions"]["total"] == {"suppressed": True, "reason": "below_minimum"}


@pytest.mark.parametrize(
    ("params", "field", "reason"),
    [
        ({}, "model", "required; one of: test-model"),
        ({"model": "nope"}, "model", "not a model"),
        ({"model": "test-model", "period": "2026-13"}, "period", "is not a period key"),
        (
            {"model": "test-model", "period": "2026-12"},
            "period",
            "has not closed yet; the latest closed one is 2026-11",
        ),
        ({"model": "test-model", "period": "2026-Q3"}, "period", "test-puls is measured monthly"),
        ({"model": "test-model", "periods": "25"}, "periods", "from 1 to 24"),
        ({"model": "test-model", "periods": "-1"}, "periods", "from 1 to 24"),
        ({"model": "test-model", "scope": "all"}, "scope", "must be unit or subtree"),
        ({"model": "test-model", "units": "grupp-a1,ingen"}, "units", "not in this tenant's organisation: ingen"),
        (
            {"model": "test-model", "units": ",".join(["grupp-a1"] * 2 + [f"x{n}" for n in range(501)])},
            "units",
            "1 to 500",
        ),
        ({"model": "test-model", "units": ""}, "units", "1 to 500"),
    ],
)
async def test_a_bad_query_is_refused_naming_the_field(
    scoring: httpx.AsyncClient, params: dict[str, str], field: str, reason: str
) -> None:
    response = await scoring.get(SCORES, params=params)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    (error,) = response.json()["errors"]
    assert error["field"] == field, error
    assert reason in error["reason"], error


async def test_another_tenant_is_unknown(scoring: httpx.AsyncClient) -> None:
    response = await scoring.get("/v1/tenants/nowhere/scores", params={"model": "test-model"})

    assert response.status_code in (403, 404), response.text


ADVERSARIAL_CASES = 30


def _adversarial_cases() -> list[Case]:
    """The anonymity tests' adversarial trees (chains, stars, counts crowded around the minimum), a fixed
    set drawn once: each is scored on the real database, which is too slow for hypothesis's shrinking."""
    cases: list[Case] = []

    @settings(
        max_examples=ADVERSARIAL_CASES,
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(adversarial_org())
    def collect(case: Case) -> None:
        cases.append(case)

    collect()
    return cases


def _indicator(units: set[str], members: list[str]) -> list[Fraction]:
    return [Fraction(1 if u in units else 0) for u in members]


async def test_on_adversarial_trees_nothing_read_reveals_a_small_group(scoring_pool: asyncpg.Pool) -> None:
    base_tenant = CATALOG.tenants["testkommun"]
    checked = 0
    for number, (tree, direct, minimum) in enumerate(_adversarial_cases()):
        tenant = dataclasses.replace(
            base_tenant,
            org=tree,
            config=base_tenant.config.model_copy(update={"min_group_size": minimum}),
        )
        catalog = dataclasses.replace(CATALOG, tenants={"testkommun": tenant})
        await scoring_pool.execute(
            f"TRUNCATE {SCHEMA}.score_groups, {SCHEMA}.unit_totals, {SCHEMA}.slice_versions, {SCHEMA}.ledger"
        )
        store = PostgresScoringStore(
            scoring_pool, catalog=catalog, topic=lambda n: n, on_commit=lambda: None, slice_cache=0
        )
        batch = [c for unit, n in direct.items() for c in submissions(unit, 11, 0, n, catalog)]
        if batch:
            await store.apply(batch, [])
        app = Starlette(
            routes=routes(
                PostgresScoreReader(lambda: scoring_pool),
                catalog,
                ScoringMetrics(CollectorRegistry()),
                clock=lambda: TODAY,
            )
        )
        async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
            response = await http.get(SCORES, params={"model": "test-model"})
        assert response.status_code == 200, response.text
        groups = _groups(response.json())

        expected = visibility(tree, direct, minimum, complement=tenant.config.complementary_suppression)
        published: list[tuple[str, str, int]] = []
        for (unit, scope), periods in groups.items():
            point = periods["2026-11"]
            seen = expected[(unit, scope)]
            assert point["published"] is seen.publishable, (number, unit, scope)
            for cell in point["dimensions"].values():
                if seen.publishable:
                    assert set(cell) == {"index", "respondents"}, (number, unit, scope)
                else:
                    assert cell == {"suppressed": True, "reason": seen.reason}, (number, unit, scope)
            if seen.publishable:
                published.append((unit, scope, point["respondents"]))
        # An attacker holds every published group's size (and sums): no set of members with 1..min-1
        # respondents is a combination of them.
        members = sorted(u for u in tree.units if direct.get(u, 0))
        rows = [
            _indicator({unit} if scope == "unit" else set(tree.subtree(unit)), members) for unit, scope, _ in published
        ]
        for unit, scope, respondents in published:
            group = {unit} if scope == "unit" else set(tree.subtree(unit))
            assert respondents == sum(direct.get(u, 0) for u in group)
        for size in range(1, len(members) + 1):
            for chosen in combinations(members, size):
                if 0 < sum(direct[u] for u in chosen) < minimum:
                    assert not _in_row_space(rows, _indicator(set(chosen), members)), (number, chosen)
        checked += len(groups)
    assert checked > ADVERSARIAL_CASES, "the trees had groups to check"
