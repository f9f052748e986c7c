"""LimeSurvey response exports (RemoteControl `export_responses`, or the admin "Export results" page).

LimeSurvey has no webhook in core, so responses arrive as a file that `tempen submissions import`
reads. Both export formats are accepted, with headings as question codes ("code" heading type):

- JSON: `{"responses": [{...}, ...]}` (LimeSurvey 5 and later, application/helpers/admin/export/JsonWriter.php),
  or `{"responses": [{"<id>": {...}}, ...]}`, each response wrapped in an object keyed by its id
  (older versions);
- CSV: `;`-separated, every value quoted, UTF-8 with a byte order mark (CsvWriter.php); `,` and tab
  separators are accepted too.

A response has `id`, `submitdate` (empty or null while incomplete), `startlanguage`, `token`, and one
column per question code (`G01Q01`) or sub-question (`G01Q02[SQ001]`), holding answer codes (`A1`, `Y`,
`3`); with date stamps on, also `startdate` and `datestamp` (the last action). Dates have no offset and
are read in the mapping's time zone. An incomplete response is unfinished: skipped unless the mapping
counts unfinished responses, which are then dated by `datestamp`.
"""

from __future__ import annotations

import binascii
import csv
import io
import re
from base64 import b64decode
from collections.abc import Iterable, Mapping
from datetime import datetime

from tempen_ingest.domain.platforms.delivery import (
    NO_SUBMIT_DATE,
    UNFINISHED,
    DeliveryError,
    FreeTextAnswer,
    ParsedDelivery,
    RawAnswer,
    parse_timestamp,
    scalar_text,
    translate_response,
)
from tempen_ingest.domain.platforms.mapping import PlatformMapping
from tempen_shared.bounds import InputError, parse_json
from tempen_shared.events.submissions import CanonicalSubmission

_SUB_QUESTION = re.compile(r"^(?P<question>[^\[\]]+)\[(?P<row>[^\[\]]+)\]$")
# LimeSurvey stores 1980-01-01 00:00:00, not the real time, when a survey does not record date stamps.
_DATE_STAMPS_OFF = (1980, 1, 1, 0, 0, 0)
_SEPARATORS = (";", ",", "\t")
# The admin's export downloads as results-survey<ID>.csv (.xlsx, ...): Writer.php sets the name
# 'results-survey' . $survey->id, CsvWriter.php adds '.csv'. A browser may add " (1)" to a repeat.
_EXPORT_FILE_NAME = re.compile(r"^results-survey(?P<survey>\d+)(?!\d)")


# RemoteControl's export_responses returns the file base64-encoded in the JSON-RPC result, or on
# failure {"status": "..."} (remotecontrol_handle.php: "Invalid session key", "No permission", "No
# Data, survey table does not exist.", "No Data, could not get max id.", "Language code not found for
# this survey."; export_responses_by_token adds "No Response found for Token").
MAX_EXPORT_BYTES = 256 << 20
_BASE64 = re.compile(rb"^[A-Za-z0-9+/\r\n]+={0,2}\s*$")


def remotecontrol_export(data: bytes) -> bytes:
    """The export inside a saved RemoteControl `export_responses` answer, decoded; any other file as is.

    Accepts the JSON-RPC response as saved (`{"id": 1, "result": "<base64>", "error": null}`) and a file
    holding only the base64 result.

    Raises:
        DeliveryError: the answer carried an error or a failure status instead of an export, or the
            export is larger than MAX_EXPORT_BYTES.
    """
    stripped = data.strip()
    if stripped.startswith(b"{"):
        try:
            document = parse_json(stripped)
        except InputError:
            return data
        if isinstance(document, dict) and "result" in document and "responses" not in document:
            return _rpc_result(document)
        return data
    if stripped and _BASE64.match(stripped[:4096]) and _BASE64.match(stripped):
        return _decoded(stripped)
    return data


def _rpc_result(document: Mapping[str, object]) -> bytes:
    error, result = document.get("error"), document.get("result")
    if error is not None:
        raise DeliveryError("error", "rpc_error", f"the JSON-RPC call failed: {error}")
    if isinstance(result, dict) and "status" in result:
        raise DeliveryError("result", "rpc_status", f"LimeSurvey answered {result['status']!r} instead of an export")
    if not isinstance(result, str) or not result.strip():
        raise DeliveryError("result", "malformed", "expected the base64-encoded export")
    return _decoded(result.encode())


def _decoded(encoded: bytes) -> bytes:
    if len(encoded) // 4 * 3 > MAX_EXPORT_BYTES:
        raise DeliveryError("result", "too_large", f"the export is larger than {MAX_EXPORT_BYTES >> 20} MiB")
    try:
        return b64decode(b"".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        raise DeliveryError("result", "malformed", "not valid base64") from None


def survey_id_of_file(name: str) -> str | None:
    """The survey id a LimeSurvey export's file name carries (`results-survey462175.csv`), if any."""
    found = _EXPORT_FILE_NAME.match(name)
    return found["survey"] if found else None


def mapped_columns(mapping: PlatformMapping) -> dict[str, tuple[str, ...]]:
    """The export columns each mapped question is read from: its code, or `code[row]` per mapped row."""
    return {
        question: tuple(f"{question}[{row}]" for row in spec.rows) if spec.rows else (question,)
        for question, spec in mapping.questions.items()
    }


def missing_columns(mapping: PlatformMapping, header: Iterable[str]) -> tuple[str, ...]:
    """The mapped columns an export's header lacks (all of them: the export is not of the mapped survey)."""
    present = set(header)
    return tuple(
        column
        for question, columns in mapped_columns(mapping).items()
        if question not in present
        for column in columns
        if column not in present
    )


def parse_limesurvey_json(
    data: bytes, mapping: PlatformMapping, *, received_at: datetime | None = None
) -> ParsedDelivery:
    """Turn a LimeSurvey JSON export into submissions, skipping unfinished responses.

    `received_at` stamps responses of surveys that record no dates (LimeSurvey then stores 1980-01-01
    as every submit date); without it those responses are skipped.

    Raises:
        DeliveryError: the file is not a LimeSurvey JSON export, or a response cannot be mapped.
    """
    try:
        document = parse_json(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise DeliveryError("body", "malformed", "not UTF-8") from None
    except InputError as exc:
        raise DeliveryError(exc.field if exc.field != "(body)" else "body", "malformed", exc.reason) from None
    entries = document.get("responses") if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise DeliveryError("responses", "malformed", 'expected {"responses": [...]}')
    return _parse_records((_unwrap(entry) for entry in entries), mapping, received_at)


def parse_limesurvey_csv(
    data: bytes, mapping: PlatformMapping, *, received_at: datetime | None = None
) -> ParsedDelivery:
    """Turn a LimeSurvey CSV export into submissions, skipping unfinished responses (see parse_limesurvey_json).

    Raises:
        DeliveryError: the file is not a LimeSurvey CSV export, or a response cannot be mapped.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DeliveryError("body", "malformed", "not UTF-8") from None
    header_line = text.split("\n", 1)[0]
    separator = max(_SEPARATORS, key=header_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, quotechar='"')
    try:
        header = next(reader, None)
        if not header or "id" not in header:
            raise DeliveryError("id", "missing", "the header row has no id column")
        records = [
            {column: (value if value != "" else None) for column, value in zip(header, row, strict=False)}
            for row in reader
            if any(value.strip() for value in row)
        ]
    except csv.Error as exc:  # a field beyond the csv module's limit, a NUL, an unclosed quote
        raise DeliveryError("body", "malformed", f"not a readable CSV file (line {reader.line_num}): {exc}") from None
    return _parse_records(records, mapping, received_at)


def json_export_columns(entries: Iterable[object]) -> set[str]:
    """Every column of a JSON export's responses (either shape); a non-object entry has none."""
    columns: set[str] = set()
    for entry in entries:
        if isinstance(entry, dict):
            columns.update(_unwrap(entry))
    return columns


def _unwrap(entry: object) -> Mapping[str, object]:
    if not isinstance(entry, dict):
        raise DeliveryError("responses", "malformed", "expected response objects")
    if "id" not in entry and len(entry) == 1:
        (inner,) = entry.values()
        if isinstance(inner, dict):
            return inner
    return entry


def _parse_records(
    records: Iterable[Mapping[str, object]], mapping: PlatformMapping, received_at: datetime | None
) -> ParsedDelivery:
    submissions: list[CanonicalSubmission] = []
    skipped: list[tuple[str, str]] = []
    texts: list[FreeTextAnswer] = []
    for record in records:
        response_id = scalar_text(record.get("id"))
        if response_id is None:
            raise DeliveryError("id", "missing", "a response has no id")
        submitted_at = _submitted_at(record, mapping, response_id, received_at)
        if isinstance(submitted_at, str):
            skipped.append((response_id, submitted_at))
            continue
        translated = translate_response(
            mapping=mapping,
            submission_id=f"{mapping.form_id}:{response_id}",
            submitted_at=submitted_at,
            answers=_answers(record, mapping),
            fields={column: text for column, value in record.items() if (text := scalar_text(value)) is not None},
            response_id=response_id,
        )
        if translated.submission is None:
            skipped.append((response_id, translated.skip_reason or ""))
            continue
        submissions.append(translated.submission)
        texts.extend(translated.free_text)
    return ParsedDelivery(submissions=tuple(submissions), skipped=tuple(skipped), free_text=tuple(texts))


def _submitted_at(
    record: Mapping[str, object], mapping: PlatformMapping, response_id: str, received_at: datetime | None
) -> datetime | str:
    """The submit time (for a counted unfinished response, its last action), or the reason it is skipped."""
    column = "submitdate"
    if _blank(record.get(column)):
        if not mapping.count_unfinished:
            return UNFINISHED
        column = "datestamp"
    raw = record.get(column)
    if _blank(raw):
        submitted_at = None
    else:
        submitted_at = parse_timestamp(raw, field=column, naive_zone=mapping.zone, response_id=response_id)
    if submitted_at is None or submitted_at.timetuple()[:6] == _DATE_STAMPS_OFF:
        if received_at is None:
            return NO_SUBMIT_DATE
        if received_at.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")
        return received_at
    return submitted_at


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _answers(record: Mapping[str, object], mapping: PlatformMapping) -> dict[str, RawAnswer]:
    found: dict[str, RawAnswer] = {}
    rows: dict[str, dict[str, str | int | float]] = {}
    for column, value in record.items():
        if not isinstance(value, str | int | float):
            continue
        found[column] = value
        sub_question = _SUB_QUESTION.match(column)
        if sub_question and column not in mapping.questions:
            rows.setdefault(sub_question["question"], {})[sub_question["row"]] = value
    for question, answers in rows.items():
        found.setdefault(question, answers)
    return found
