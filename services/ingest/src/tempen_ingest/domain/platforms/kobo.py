"""KoboToolbox REST services (JSON): one submission per call, posted when it is created.

The body is the submission as KoboToolbox stores it (kobotoolbox/kpi, kobo/apps/hook/services/service_json.py;
example in jsapp/js/components/submissions/submissionUtils.mocks.ts): answers keyed by their path
(`group_name/question_name`), numbers as strings ("24"), select_one as the choice name, select_multiple
as space-separated choice names, and metadata `_id`, `_uuid`, `_submission_time` (UTC without offset),
`_xform_id_string` (the project's asset uid), `_submitted_by`, `meta/instanceID`, `meta/rootUuid`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC

from tempen_ingest.domain.platforms.delivery import (
    DeliveryError,
    ParsedDelivery,
    RawAnswer,
    parse_json_object,
    parse_timestamp,
    scalar_text,
    translate_response,
)
from tempen_ingest.domain.platforms.mapping import PlatformMapping

_UUID_PREFIX = "uuid:"


def parse_kobo(body: bytes, mapping: PlatformMapping) -> ParsedDelivery:
    """Turn one KoboToolbox REST-service body into at most one submission.

    Questions, unit and respondent fields are named by their full path (`group_lik/q1`) or, when
    unambiguous, by the bare question name (`q1`); a group maps like a matrix whose rows are the
    names of the questions in it. The submission id is the response's root uuid,
    stable across edits; the delivery id is `_uuid`.

    Raises:
        DeliveryError: the body is not a KoboToolbox submission, is for another project, or cannot be mapped.
    """
    submission = parse_json_object(body)
    form_id = scalar_text(submission.get("_xform_id_string"))
    if form_id is None:
        raise DeliveryError("_xform_id_string", "missing", "include it if the REST service sends a field subset")
    if form_id != mapping.form_id:
        raise DeliveryError("_xform_id_string", "form_mismatch", f"{form_id!r} is not {mapping.form_id!r}")
    instance_uuid = _uuid(submission.get("_uuid")) or _uuid(submission.get("meta/instanceID"))
    if instance_uuid is None:
        raise DeliveryError("_uuid", "missing")
    # meta/rootUuid keeps the first instance's uuid when a submission is edited, so it names the response.
    submission_id = _uuid(submission.get("meta/rootUuid")) or instance_uuid
    submitted_at = parse_timestamp(
        submission.get("_submission_time") or submission.get("end"), field="_submission_time", naive_zone=UTC
    )
    values = _by_path_and_name(submission)
    translated = translate_response(
        mapping=mapping,
        submission_id=submission_id,
        submitted_at=submitted_at,
        answers=_answers(values, mapping),
        fields={key: text for key, value in values.items() if (text := scalar_text(value)) is not None},
    )
    if translated.submission is None:
        return ParsedDelivery(
            submissions=(), skipped=((submission_id, translated.skip_reason or ""),), delivery_id=instance_uuid
        )
    return ParsedDelivery(
        submissions=(translated.submission,), delivery_id=instance_uuid, free_text=translated.free_text
    )


def _by_path_and_name(submission: Mapping[str, object]) -> dict[str, object]:
    values = dict(submission)
    names: dict[str, list[str]] = {}
    for path in submission:
        if "/" in path:
            names.setdefault(path.rsplit("/", 1)[1], []).append(path)
    for name, paths in names.items():
        if len(paths) == 1 and name not in values:
            values[name] = submission[paths[0]]
    return values


def _answers(values: Mapping[str, object], mapping: PlatformMapping) -> dict[str, RawAnswer]:
    found: dict[str, RawAnswer] = {}
    for key, value in values.items():
        if not isinstance(value, str | int | float):
            continue
        spec = mapping.questions.get(key)
        if spec is not None and spec.options and isinstance(value, str):
            found[key] = value.split()  # select_multiple: "choice_a choice_c"
        else:
            found[key] = value
    for group, spec in mapping.questions.items():
        if spec.rows and group not in found:
            # A group of questions on one scale (a Likert block) maps like a matrix: row = question name.
            prefix = group + "/"
            found[group] = {
                path.removeprefix(prefix): value
                for path, value in values.items()
                if path.startswith(prefix) and isinstance(value, str | int | float)
            }
    return found


def _uuid(value: object) -> str | None:
    text = scalar_text(value)
    return text.removeprefix(_UUID_PREFIX) if text else None
