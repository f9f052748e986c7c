"""A configuration with SKR's HME for the HME report's tests: the suite's fixture tenant, with the
shipped HME model and instrument (config/models/hme.yaml, config/instruments/hme.yaml) and an org of
three förvaltningar whose headcounts are known, and HME answers per unit and year.

Two annual rounds, judged on 7 December 2026 (the latest closed round is 2025):

- 2024: Enhet A1 6, Enhet A2 6, Förvaltning B 5, Förvaltning C 5 answers: everything is shown.
- 2025: Enhet A1 8, Enhet A2 7, Förvaltning B 2, Förvaltning C 6. Förvaltning B is below the minimum;
  the municipality minus Förvaltning A and C would reveal its 2, so scoring hides Förvaltning C for
  differencing (`fewest_people`: hiding Förvaltning A's roll-up alone would not do, its two units still
  add up to it, and Förvaltning C's 6 are fewer than Enhet A1's 8).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from tempen_scoring.adapters.postgres import SCHEMA, PostgresScoringStore
from tempen_scoring.app import create_app
from tempen_scoring.domain.rescoring import IncomingContribution
from tempen_scoring.service import contributions_of
from tempen_shared.db import create_pool, migrate
from tempen_shared.events import SubmissionAccepted, submission_event_id
from tempen_shared.orgcopy import ORG_COPY
from tempen_shared.tenancy.loader import Catalog, load_catalog
from tests.conftest import FIXTURE_CONFIG
from tests.support import scoring_settings, serving

REPO = Path(__file__).parents[2]
TODAY = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
ORG = """unit_id,name,parent_id,manager_name,manager_email,headcount
kommun,Testkommun,,Kim Kommundirektör,kim@testkommun.example,0
forv-a,Förvaltning A,kommun,Bo Förvaltningschef,bo@testkommun.example,2
enhet-a1,Enhet A1,forv-a,Cecilia Chef,cecilia@testkommun.example,10
enhet-a2,Enhet A2,forv-a,Dan Gruppchef,dan@testkommun.example,10
forv-b,Förvaltning B,kommun,Eva Chef,eva@testkommun.example,8
forv-c,Förvaltning C,kommun,Fia Chef,fia@testkommun.example,9
"""
ANSWERS = {  # (unit, year): respondents
    ("enhet-a1", 2024): 6,
    ("enhet-a2", 2024): 6,
    ("forv-b", 2024): 5,
    ("forv-c", 2024): 5,
    ("enhet-a1", 2025): 8,
    ("enhet-a2", 2025): 7,
    ("forv-b", 2025): 2,
    ("forv-c", 2025): 6,
}


def hme_config(into: Path) -> Path:
    """A copy of the suite's fixture configuration with HME added to Testkommun, under `into`."""
    config = into / "config"
    shutil.copytree(FIXTURE_CONFIG, config)
    shutil.copy(REPO / "config" / "models" / "hme.yaml", config / "models" / "hme.yaml")
    shutil.copy(REPO / "config" / "instruments" / "hme.yaml", config / "instruments" / "hme.yaml")
    tenant = config / "tenants" / "testkommun.yaml"
    text = tenant.read_text(encoding="utf-8")
    assert "instruments: [test-puls]" in text
    tenant.write_text(text.replace("instruments: [test-puls]", "instruments: [test-puls, hme]"), encoding="utf-8")
    (config / "org" / "testkommun.csv").write_text(ORG, encoding="utf-8")
    return config


def answers(n: int) -> dict[str, int]:
    """Respondent n's answers to the nine questions, 1 to 5, varied so that the indices differ."""
    return {f"hme-{k}": 1 + (n + k * k) % 5 for k in range(1, 10)}


def hme_submissions(catalog: Catalog, unit: str, year: int, first: int, count: int) -> list[IncomingContribution]:
    when = datetime(year, 10, 15, 9, 0, tzinfo=UTC)
    out: list[IncomingContribution] = []
    for n in range(first, first + count):
        sid = f"hme-{unit}-{year}-{n}"
        event = SubmissionAccepted(
            event_id=submission_event_id("testkommun", sid, 1),
            occurred_at=when,
            tenant="testkommun",
            instrument="hme",
            unit=unit,
            submission_id=sid,
            revision=1,
            submitted_at=when,
            answers=answers(n),
        )
        out.extend(contributions_of(event, catalog))
    return out


def all_submissions(catalog: Catalog) -> list[IncomingContribution]:
    return [c for (unit, year), count in ANSWERS.items() for c in hme_submissions(catalog, unit, year, 0, count)]


def expected_indices(counts: dict[str, int]) -> dict[str, float]:
    """SKR's HME computed from scratch for units with these respondents (each numbered from 0, as
    `hme_submissions` numbers them): per question (x − 1) × 25 averaged over respondents, a sub-index
    the mean of its three questions, the total the mean of all nine."""
    people = [answers(n) for count in counts.values() for n in range(count)]
    question = {f"hme-{k}": sum((p[f"hme-{k}"] - 1) * 25 for p in people) / len(people) for k in range(1, 10)}
    groups = {"motivation": (1, 2, 3), "ledarskap": (4, 5, 6), "styrning": (7, 8, 9)}
    out = {name: sum(question[f"hme-{k}"] for k in items) / 3 for name, items in groups.items()}
    out["hme"] = sum(question.values()) / 9
    return out


@asynccontextmanager
async def hme_scoring(
    tmp_path: Path, *, bootstrap_servers: str, database_url: str, topic_prefix: str
) -> AsyncIterator[tuple[str, PostgresScoringStore, Catalog, Path]]:
    """The real scoring app on the suite's PostgreSQL with both HME rounds scored, on a loopback port:
    its URL, the store and catalog to add answers with, and the configuration directory."""
    config = hme_config(tmp_path)
    catalog = load_catalog(config)
    pool = await create_pool(database_url)
    try:
        await migrate(pool, schema=SCHEMA, package="tempen_scoring")
        await migrate(pool, schema=SCHEMA, package=ORG_COPY)
        store = PostgresScoringStore(
            pool, catalog=catalog, topic=lambda n: f"{topic_prefix}{n}", on_commit=lambda: None, slice_cache=0
        )
        await store.apply(all_submissions(catalog), [])
        settings = scoring_settings(
            bootstrap_servers=bootstrap_servers,
            database_url=database_url,
            config_dir=config,
            topic_prefix=topic_prefix,
        )
        async with serving(create_app(settings, clock=lambda: TODAY)) as base:
            yield base, store, catalog, config
    finally:
        await pool.close()
