"""GDPR erasure and retention on the real broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from tempen.cli import main
from tempen_ingest.app import create_app
from tempen_ingest.domain.pseudonym import pseudonymise
from tempen_shared.access.tokens import Scope
from tempen_shared.events import SubmissionRetractedV1, parse_submission_event
from tempen_shared.secrets import pseudonym_keys
from tempen_shared.tenancy.loader import load_catalog
from tempen_shared.topics import SUBMISSIONS
from tests.auth.helpers import issue_token
from tests.conftest import Infra
from tests.ingest.support import TENANT, canonical, count, fetch, settings
from tests.support import eventually, read_topic, serving

pytestmark = pytest.mark.integration

ERASE = f"/v1/tenants/{TENANT}/gdpr/erase"
SUBMIT = f"/v1/tenants/{TENANT}/submissions"


def _pseudonym(config: Path, respondent: str, infra: Infra, database_url: str, topic_prefix: str) -> str:
    ingest = settings(infra, database_url, topic_prefix, config)
    keys = pseudonym_keys(load_catalog(config), fallback=ingest.pseudonym_key, allow_fallback=True)
    return pseudonymise(key=keys[TENANT], tenant=TENANT, respondent=respondent)


async def test_erasure_deletes_the_raw_answers_and_publishes_a_retraction_with_the_respondents_pseudonym(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    submit = {"authorization": f"Bearer {await issue_token(database_url, tenant=TENANT, scopes=[Scope.SUBMIT])}"}
    admin = {"authorization": f"Bearer {await issue_token(database_url, tenant=TENANT, scopes=[Scope.ADMIN])}"}
    batch = [
        canonical("g-1", respondent="anna.a"),
        canonical("g-2", respondent="anna.a", unit="grupp-b1"),
        canonical("g-3", respondent="bo.b"),
    ]
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        stored = await http.post(SUBMIT, json=batch, headers=submit)
        not_admin = await http.post(ERASE, json={"respondent": "anna.a"}, headers=submit)
        erased = await http.post(ERASE, json={"respondent": " anna.a "}, headers=admin)
        again = await http.post(ERASE, json={"respondent": "anna.a"}, headers=admin)
        invalid = await http.post(ERASE, json={"respondent": ""}, headers=admin)
        redelivered = await http.post(SUBMIT, json=canonical("g-1", respondent="anna.a"), headers=submit)
        records = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{SUBMISSIONS.name}", count=6, timeout_s=8)

    pseudonym = _pseudonym(fixture_config, "anna.a", infra, database_url, topic_prefix)
    assert stored.json()["counts"]["accepted"] == 3
    assert not_admin.status_code == 403
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased"] == 2
    assert erased.json()["respondent_pseudonym"] == pseudonym
    assert again.json()["erased"] == 0
    assert invalid.status_code == 422
    assert redelivered.json()["status"] == "erased"  # never stored again
    events = [parse_submission_event(orjson.dumps(r["value"])) for r in records]
    # The relay publishes a stored row as it is when it reads it: an acceptance of g-1 or g-2 only if
    # it read the row before the erasure committed (then the retraction follows). Never their answers
    # after it. The redelivery published nothing.
    accepted = {e.submission_id for e in events if not isinstance(e, SubmissionRetractedV1)}
    assert "g-3" in accepted
    assert accepted <= {"g-1", "g-2", "g-3"}
    assert len(records) == len(accepted) + 2, "each acceptance at most once, and two retractions"
    retracted = sorted(
        ((e.submission_id, e.unit, e.revision, e.respondent) for e in events if isinstance(e, SubmissionRetractedV1)),
    )
    assert retracted == [("g-1", "grupp-a1", 2, pseudonym), ("g-2", "grupp-b1", 2, pseudonym)]
    keys = {r["value"]["submission_id"]: r["key"] for r in records if r["value"].get("event_type")}
    assert keys == {"g-1": b"testkommun", "g-2": b"testkommun"}, "retractions keyed as the submissions"
    assert all(r["headers"].get("event_type") for r in records)
    rows = await fetch(
        database_url,
        "SELECT submission_id, answers, respondent, erased_at IS NOT NULL AS erased FROM ingest.submissions ORDER BY 1",
    )
    assert [(r["submission_id"], r["answers"] is None, r["respondent"], r["erased"]) for r in rows] == [
        ("g-1", True, None, True),
        ("g-2", True, None, True),
        ("g-3", False, _pseudonym(fixture_config, "bo.b", infra, database_url, topic_prefix), False),
    ]


async def test_gdpr_erase_command_erases_through_the_running_ingest(
    infra: Infra,
    database_url: str,
    topic_prefix: str,
    fixture_config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    admin = await issue_token(database_url, tenant=None)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(sys, "stdin", io.StringIO("cecilia.c\n"))  # from stdin: never in the shell history
    async with (
        serving(app) as base,
        httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {admin}"}) as http,
    ):
        await http.post(SUBMIT, json=[canonical("c-1", respondent="cecilia.c"), canonical("c-2", respondent="dan.d")])
        code = await asyncio.to_thread(main, ["gdpr", "erase", TENANT, "-", "--url", base, "--token", admin])
        refused = await asyncio.to_thread(main, ["gdpr", "erase", TENANT, "dan.d", "--url", base, "--token", "nope"])
    out = capsys.readouterr()
    assert code == 0
    assert refused == 2
    assert "Erased 1 submission(s)" in out.out
    assert "c-1" in out.out
    assert "cecilia" not in out.out  # only the pseudonym is shown
    answers = await fetch(database_url, "SELECT submission_id FROM ingest.submissions WHERE answers IS NOT NULL")
    assert [r["submission_id"] for r in answers] == ["c-2"]


async def test_retention_deletes_old_raw_answers_comments_and_delivery_ids_but_keeps_recognising_duplicates(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    app = create_app(
        settings(
            infra,
            database_url,
            topic_prefix,
            fixture_config,
            retention_days=30,
            comment_retention_days=10,
            retention_interval_s=0.2,
        )
    )
    headers = {"authorization": f"Bearer {await issue_token(database_url, tenant=TENANT, scopes=[Scope.SUBMIT])}"}
    async with serving(app) as base, httpx.AsyncClient(base_url=base, headers=headers) as http:
        old = canonical("old-1")
        await http.post(SUBMIT, json=[old, canonical("new-1")])
        await fetch(
            database_url,
            "UPDATE ingest.submissions SET updated_at = now() - interval '31 days' WHERE submission_id = 'old-1'",
        )
        await fetch(
            database_url,
            "INSERT INTO ingest.comments (tenant, submission_id, question, text, received_at) VALUES"
            " ($1, 'old-1', 'ovrigt', 'gammal', now() - interval '11 days'), ($1, 'new-1', 'ovrigt', 'ny', now())",
            TENANT,
        )
        await fetch(
            database_url,
            "INSERT INTO ingest.deliveries (tenant, platform, delivery_id, received_at) VALUES"
            " ($1, 'formbricks', 'msg_old', now() - interval '8 days'), ($1, 'formbricks', 'msg_new', now())",
            TENANT,
        )

        async def purged() -> bool:
            rows = await fetch(database_url, "SELECT submission_id FROM ingest.submissions WHERE answers IS NULL")
            return [r["submission_id"] for r in rows] == ["old-1"] and await count(database_url, "deliveries") == 1

        await eventually(purged, timeout_s=15)
        again = await http.post(SUBMIT, json=old)

    assert again.json()["status"] == "duplicate"  # the fingerprint outlives the answers
    rows = await fetch(database_url, "SELECT submission_id, fingerprint, answers_purged_at FROM ingest.submissions")
    assert all(r["fingerprint"] for r in rows)
    assert {r["submission_id"] for r in rows if r["answers_purged_at"]} == {"old-1"}
    comments = await fetch(database_url, "SELECT text FROM ingest.comments")
    assert [c["text"] for c in comments] == ["ny"]
    deliveries = await fetch(database_url, "SELECT delivery_id FROM ingest.deliveries")
    assert [d["delivery_id"] for d in deliveries] == ["msg_new"]
