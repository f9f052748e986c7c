"""Scoring's use cases on the in-memory store: what a batch of submission records does, and which
submission each score event is traced to."""

from __future__ import annotations

from datetime import UTC, datetime

from tempen_scoring.domain.rescoring import IncomingContribution, IncomingRetraction
from tempen_scoring.service import apply_submissions, changes_of, score_causes
from tempen_shared.events import submission_event_id
from tempen_shared.events.wire import SubmissionAcceptedRecord, SubmissionRetractedRecord
from tempen_shared.tenancy.loader import load_catalog
from tempen_shared.topics import partition_key
from tests.conftest import FIXTURE_CONFIG
from tests.scoring.fakes import InMemoryScoring

CATALOG = load_catalog(FIXTURE_CONFIG)
WHEN = datetime(2026, 9, 10, 9, 0, tzinfo=UTC)


def accepted(sid: str, revision: int = 1) -> SubmissionAcceptedRecord:
    return SubmissionAcceptedRecord(
        event_id=submission_event_id("testkommun", sid, revision),
        occurred_at=WHEN,
        tenant="testkommun",
        instrument="test-puls",
        unit="grupp-a1",
        submission_id=sid,
        revision=revision,
        submitted_at=WHEN,
        answers={"q1": 4, "q2": 4, "q3": 4},
    )


def test_a_retraction_record_withdraws_the_submission_and_an_accepted_one_feeds_each_model() -> None:
    retracted = SubmissionRetractedRecord(
        event_id=submission_event_id("testkommun", "s1", 2),
        occurred_at=WHEN,
        tenant="testkommun",
        unit="grupp-a1",
        submission_id="s1",
        revision=2,
    )
    assert changes_of(retracted, CATALOG) == [IncomingRetraction("testkommun", "s1", 2)]
    changes = changes_of(accepted("s1"), CATALOG)
    assert [(type(c), c.revision) for c in changes] == [(IncomingContribution, 1)]


async def test_a_full_batch_is_applied_as_a_backlog_and_a_partial_one_is_not() -> None:
    store = InMemoryScoring(CATALOG)
    records = [changes_of(accepted(f"s{n}"), CATALOG) for n in range(3)]
    assert await apply_submissions(store, records, [], max_batch=3) == (3, 0)
    assert await apply_submissions(store, records[:2], [], max_batch=3) == (0, 2)
    assert store.backlogs == [True, False]


def test_a_score_event_is_traced_to_the_last_submission_at_or_below_its_unit() -> None:
    resolve = score_causes(
        [
            ("testkommun", "grupp-a1", "testkommun:s1"),
            ("testkommun", "grupp-b1", "testkommun:s2"),
            ("testkommun", "grupp-b1", None),
            ("testkommun", "grupp-a1", "testkommun:s3"),
        ],
        CATALOG,
    )
    assert resolve(partition_key("testkommun", "grupp-a1")) == "testkommun:s3"
    assert resolve(partition_key("testkommun", "enhet-b")) == "testkommun:s2"
    assert resolve(partition_key("testkommun", "kommun")) == "testkommun:s3"
    # A unit no submission reached (here one outside the configured tree) gets the tenant's last.
    assert resolve(partition_key("testkommun", "ny-enhet")) == "testkommun:s3"
    assert resolve(partition_key("annan", "grupp-a1")) is None
