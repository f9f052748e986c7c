"""Parsers for survey platforms' deliveries: each turns a platform's own payload into CanonicalSubmissions.

Pure: bytes and a PlatformMapping in, a ParsedDelivery (or a DeliveryError) out. Verifying where a
delivery comes from is `tempen_ingest.domain.signatures`, and runs on the raw bytes first.
"""

from tempen_ingest.domain.platforms.delivery import (
    UNFINISHED,
    Choice,
    DeliveryError,
    FreeTextAnswer,
    ParsedDelivery,
    skip_detail,
)
from tempen_ingest.domain.platforms.fetched import ResponseNotice, ResponseRequest
from tempen_ingest.domain.platforms.formbricks import is_formbricks_test_ping, parse_formbricks
from tempen_ingest.domain.platforms.kobo import parse_kobo
from tempen_ingest.domain.platforms.limesurvey import (
    json_export_columns,
    mapped_columns,
    missing_columns,
    parse_limesurvey_csv,
    parse_limesurvey_json,
    remotecontrol_export,
    survey_id_of_file,
)
from tempen_ingest.domain.platforms.mapping import (
    FETCHING_PLATFORMS,
    PLATFORMS,
    ExportColumns,
    Platform,
    PlatformMapping,
    QuestionMapping,
    ResponseApi,
    UnitSource,
    Verification,
)
from tempen_ingest.domain.platforms.qualtrics import parse_qualtrics_response, qualtrics_request, read_qualtrics_notice
from tempen_ingest.domain.platforms.sheets import Table, read_csv, read_xlsx
from tempen_ingest.domain.platforms.spreadsheet import ExportRow, normalise_heading, parse_spreadsheet
from tempen_ingest.domain.platforms.surveymonkey import (
    parse_surveymonkey_response,
    read_surveymonkey_notice,
    surveymonkey_request,
)
from tempen_ingest.domain.platforms.typeform import parse_typeform

__all__ = [
    "FETCHING_PLATFORMS",
    "PLATFORMS",
    "UNFINISHED",
    "Choice",
    "DeliveryError",
    "ExportColumns",
    "ExportRow",
    "FreeTextAnswer",
    "ParsedDelivery",
    "Platform",
    "PlatformMapping",
    "QuestionMapping",
    "ResponseApi",
    "ResponseNotice",
    "ResponseRequest",
    "Table",
    "UnitSource",
    "Verification",
    "is_formbricks_test_ping",
    "json_export_columns",
    "mapped_columns",
    "missing_columns",
    "normalise_heading",
    "parse_formbricks",
    "parse_kobo",
    "parse_limesurvey_csv",
    "parse_limesurvey_json",
    "parse_qualtrics_response",
    "parse_spreadsheet",
    "parse_surveymonkey_response",
    "parse_typeform",
    "qualtrics_request",
    "read_csv",
    "read_qualtrics_notice",
    "read_surveymonkey_notice",
    "read_xlsx",
    "remotecontrol_export",
    "skip_detail",
    "survey_id_of_file",
    "surveymonkey_request",
]
