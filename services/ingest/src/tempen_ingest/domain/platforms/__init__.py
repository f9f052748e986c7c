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
    PLATFORMS,
    Platform,
    PlatformMapping,
    QuestionMapping,
    UnitSource,
    Verification,
)
from tempen_ingest.domain.platforms.typeform import parse_typeform

__all__ = [
    "PLATFORMS",
    "UNFINISHED",
    "Choice",
    "DeliveryError",
    "FreeTextAnswer",
    "ParsedDelivery",
    "Platform",
    "PlatformMapping",
    "QuestionMapping",
    "UnitSource",
    "Verification",
    "is_formbricks_test_ping",
    "json_export_columns",
    "mapped_columns",
    "missing_columns",
    "parse_formbricks",
    "parse_kobo",
    "parse_limesurvey_csv",
    "parse_limesurvey_json",
    "parse_typeform",
    "remotecontrol_export",
    "skip_detail",
    "survey_id_of_file",
]
