"""What makes two deliveries of one submission the same: everything that would change a score."""

import hashlib

import orjson

from tempen_shared.events.wire import CanonicalSubmissionRecord


def content_fingerprint(submission: CanonicalSubmissionRecord, respondent: str | None) -> str:
    canonical = orjson.dumps(
        {
            "instrument": submission.instrument,
            "unit": submission.unit,
            "submitted_at": submission.submitted_at.isoformat(),
            "answers": submission.answers,
            "respondent": respondent,
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()
