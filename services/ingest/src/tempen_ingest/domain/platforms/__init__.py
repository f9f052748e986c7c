"""Parsers for survey platforms' deliveries: each turns a platform's own payload into CanonicalSubmissions.

Pure: bytes and a PlatformMapping in, a ParsedDelivery (or a DeliveryError) out. Verifying where a
delivery comes from is `tempen_ingest.domain.signatures`, and runs on the raw bytes first.
"""

from tempen_ingest.domain.platforms.delivery import Choice, DeliveryError, FreeTextAnswer, ParsedDelivery
from tempen_ingest.domain.platforms.fetched import ResponseNotice, ResponseRequest
from tempen_ingest.domain.platforms.formbricks import is_formbricks_test_ping, parse_formbricks
from tempen_ingest.domain.platforms.kobo import parse_kobo
from tempen_ingest.domain.platforms.limesurvey import parse_limesurvey_csv, parse_limesurvey_json
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
    "surveymonkey_request",
]
