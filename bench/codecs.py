"""`python -m bench codecs`: CPU per submission of reading, validating and writing submissions on the hot
paths, and per score event of writing and reading score events, the pydantic way and the way the services
do it now (msgspec structs, one set comparison), in one run, as ratios.

The payloads are the bench's own (`generator`): a batch of `--submissions` of the 25-item `hjo-puls`
instrument, each stage timed over the whole batch, the best of `--repeat` runs (the least disturbed by
the rest of the machine). Nothing here touches the broker or the database.
"""

from __future__ import annotations

import gc
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import NAMESPACE_URL, uuid5

import msgspec
import orjson

from bench import generator
from tempen_ingest.domain.validation import validate_submission
from tempen_shared.events import (
    CanonicalSubmission,
    DimensionScore,
    SubmissionAccepted,
    UnitScored,
    parse_submission_event,
    parse_unit_scored,
    submission_event_id,
)
from tempen_shared.events.wire import (
    CanonicalSubmissionRecord,
    DimensionScoreRecord,
    SubmissionAcceptedRecord,
    UnitScoredRecord,
    encode_event,
    read_canonical,
    read_submission_event,
    read_unit_scored,
    score_record_of,
)
from tempen_shared.tenancy.loader import load_catalog
from tempen_shared.tenancy.models import Instrument

SKEW = timedelta(minutes=5)
Item = TypeVar("Item")
Built = TypeVar("Built")


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    before_us: float  # per submission, the pydantic way (or the way before, where noted)
    now_us: float  # per submission, as the services do it now

    @property
    def ratio(self) -> float:
        return self.before_us / self.now_us if self.now_us else float("inf")


def _per_item(codec: Callable[[Item], object], items: Sequence[Item], repeat: int) -> float:
    """Microseconds per item of `codec` (one way or the other) over all of `items`: the best of `repeat` runs."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        [codec(item) for item in items]
        best = min(best, time.perf_counter() - started)
    return best / len(items) * 1e6


def _per_answer_lookups(submission: CanonicalSubmission, instrument: Instrument) -> list[str]:
    """How validation checked answers before `Instrument.valid_answers`: a lookup and a comparison per answer."""
    errors = []
    for item_id, value in submission.answers.items():
        item = instrument.item(item_id)
        if item is None or not instrument.scale_of(item).accepts(value):
            errors.append(item_id)
    return errors


def _accepted(make: Callable[..., Built], s: CanonicalSubmission | CanonicalSubmissionRecord, now: datetime) -> Built:
    """`SubmissionAccepted` as ingest's relay builds it: `make` is the pydantic event or its struct."""
    return make(
        event_id=submission_event_id(s.tenant, s.submission_id, 1),
        occurred_at=now,
        tenant=s.tenant,
        instrument=s.instrument,
        unit=s.unit,
        submission_id=s.submission_id,
        revision=1,
        submitted_at=s.submitted_at,
        answers=s.answers,
        respondent=f"p-{s.submission_id}",
    )


_FIGURES = {"index": 71.25, "standard_error": 2.0412414523193148, "favourable_pct": 62.5, "tenant_index": 69.8}


def _scored(make: Callable[..., Built], figures: Callable[..., object], unit: str, now: datetime) -> Built:
    """A score event of a group in the HME model (seven dimensions), as scoring's relay builds it: `make` and
    `figures` are the pydantic event and `DimensionScore`, or their structs."""
    return make(
        event_id=uuid5(NAMESPACE_URL, unit),
        occurred_at=now,
        tenant=generator.TENANT,
        unit=unit,
        scope="unit",
        model="hme",
        model_version="2024",
        instrument=generator.INSTRUMENT,
        period="2025-03",
        period_start=datetime(2025, 3, 1, tzinfo=UTC),
        period_end=datetime(2025, 4, 1, tzinfo=UTC),
        respondents=21,
        sequence=17,
        dimensions={f"dimension-{i}": figures(**_FIGURES) for i in range(7)},
    )


def measure(submissions: int, repeat: int) -> tuple[list[Stage], list[Stage], dict[str, float]]:
    muni = generator.build(submissions=submissions)
    batch = list(generator.submissions(muni, submissions))
    body = b"[" + b",".join(s.body for s in batch) + b"]"
    with tempfile.TemporaryDirectory() as config:
        generator.write_config(muni, Path(config))
        tenant = load_catalog(Path(config)).tenants[generator.TENANT]
    instrument = tenant.instruments[generator.INSTRUMENT]
    now = datetime.now(UTC)
    n = len(batch)

    def best(codec: Callable[[Item], object], items: Sequence[Item]) -> float:
        return _per_item(codec, items, repeat)

    raws: list[Any] = orjson.loads(body)
    models = [CanonicalSubmission.model_validate(r) for r in raws]
    records = [read_canonical(r) for r in raws]
    assert [CanonicalSubmissionRecord(**m.model_dump()) for m in models] == records
    pydantic_payloads = [_accepted(SubmissionAccepted, m, now).model_dump_json().encode() for m in models]
    struct_payloads = [encode_event(_accepted(SubmissionAcceptedRecord, r, now)) for r in records]
    assert pydantic_payloads == struct_payloads  # the same bytes on the topic
    units = [s.unit for s in batch[: max(1, n // 4)]]
    scores = [_scored(UnitScored, DimensionScore, unit, now).model_dump_json().encode() for unit in units]
    assert scores == [encode_event(_scored(UnitScoredRecord, DimensionScoreRecord, unit, now)) for unit in units]
    assert [score_record_of(parse_unit_scored(p)) for p in scores] == [read_unit_scored(p) for p in scores]

    stages = [
        Stage(
            "ingest: read a body item (CanonicalSubmission)",
            best(CanonicalSubmission.model_validate, raws),
            best(read_canonical, raws),
        ),
        Stage(
            "ingest: check 25 answers against the instrument",
            best(lambda m: _per_answer_lookups(m, instrument), models),
            best(lambda r: instrument.valid_answers.issuperset(r.answers.items()), records),
        ),
        Stage(
            "ingest: drop the respondent before storing",
            best(lambda m: m.model_copy(update={"respondent": None}), models),
            best(lambda r: msgspec.structs.replace(r, respondent=None), records),
        ),
        Stage(
            "ingest relay: build and encode SubmissionAccepted",
            best(lambda m: _accepted(SubmissionAccepted, m, now).model_dump_json().encode(), models),
            best(lambda r: encode_event(_accepted(SubmissionAcceptedRecord, r, now)), records),
        ),
        Stage(
            "scoring: decode a submissions record",
            best(parse_submission_event, pydantic_payloads),
            best(read_submission_event, pydantic_payloads),
        ),
    ]
    context = {
        "ingest: parse the batch body (orjson, both ways)": best(orjson.loads, [body]) / n,
        "ingest: whole validation against the tenant (now)": best(
            lambda r: validate_submission(r, tenant, now=now, max_clock_skew=SKEW), records
        ),
        "relay: the event id (uuid5, both ways)": best(
            lambda r: submission_event_id(r.tenant, r.submission_id, 1), records
        ),
    }
    per_event = [
        Stage(
            "scoring relay: build and encode a 7-dimension UnitScored",
            best(lambda u: _scored(UnitScored, DimensionScore, u, now).model_dump_json().encode(), units),
            best(lambda u: encode_event(_scored(UnitScoredRecord, DimensionScoreRecord, u, now)), units),
        ),
        Stage(
            "alerts: decode a 7-dimension UnitScored", best(parse_unit_scored, scores), best(read_unit_scored, scores)
        ),
    ]
    return stages, per_event, context


def table(stages: Sequence[Stage], per_event: Sequence[Stage], context: dict[str, float], submissions: int) -> str:
    lines = [
        f"CPU per submission, best of the runs over {submissions:,} submissions of the 25-item instrument",
        "",
        "| stage | before (pydantic; per-answer lookups) us | now (msgspec; one set comparison) us | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [f"| {s.name} | {s.before_us:.2f} | {s.now_us:.2f} | {s.ratio:.1f}x |" for s in stages]
    before, now = sum(s.before_us for s in stages), sum(s.now_us for s in stages)
    lines.append(f"| all of the above | {before:.2f} | {now:.2f} | {before / now:.1f}x |")
    lines += ["", "Per score event (a quarter of an event per submission in the 50k burst):", ""]
    lines += ["| stage | pydantic us | msgspec us | ratio |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {s.name} | {s.before_us:.2f} | {s.now_us:.2f} | {s.ratio:.1f}x |" for s in per_event]
    lines += ["", "| for scale | us |", "| --- | ---: |"]
    lines += [f"| {name} | {us:.2f} |" for name, us in context.items()]
    return "\n".join(lines)


def run(submissions: int, repeat: int) -> str:
    stages, per_event, context = measure(submissions, repeat)
    return table(stages, per_event, context, submissions)
