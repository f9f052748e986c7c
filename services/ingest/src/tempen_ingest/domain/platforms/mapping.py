"""How one survey platform's form feeds one tenant's instrument: the mapping a tenant writes once per form."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tempen_shared.tenancy.models import SecretRef

Platform = Literal["formbricks", "typeform", "kobo", "limesurvey", "surveymonkey", "qualtrics", "spreadsheet"]
PLATFORMS: tuple[Platform, ...] = (
    "formbricks",
    "typeform",
    "kobo",
    "limesurvey",
    "surveymonkey",
    "qualtrics",
    "spreadsheet",
)
# Platforms whose webhook carries only a response id: the response is fetched from their API.
FETCHING_PLATFORMS: tuple[Platform, ...] = ("surveymonkey", "qualtrics")

Slug = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
TenantId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]
PlatformKey = Annotated[str, Field(min_length=1, max_length=500)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QuestionMapping(_Frozen):
    """One platform question and the instrument item(s) its answer becomes.

    Exactly one of:
    - `item`: a single-valued question (rating, opinion scale, single choice, number, yes/no);
    - `rows`: a matrix (Formbricks matrix rows, LimeSurvey sub-questions `Q1[SQ001]`), row -> item;
    - `options`: a multiple-selection question, each option -> an item set to `selected_value` when
      chosen (and to `unselected_value`, if given, when the question was answered without it).

    `values` turns answer labels, choice ids/refs or codes (`A1`, `Y`, `agree`) into numbers. Keys are
    matched without regard to case or surrounding spaces. An answer not found here is looked up in
    the mapping's shared `values`, and then taken as a number if it is one ("4", 4, 4.0).
    """

    item: Slug | None = None
    rows: dict[PlatformKey, Slug] = Field(default_factory=dict)
    options: dict[PlatformKey, Slug] = Field(default_factory=dict)
    values: dict[PlatformKey, int] = Field(default_factory=dict)
    selected_value: int = 1
    unselected_value: int | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> QuestionMapping:
        shapes = [
            name for name, given in (("item", self.item), ("rows", self.rows), ("options", self.options)) if given
        ]
        if len(shapes) != 1:
            raise ValueError("give exactly one of item, rows or options")
        return self

    def items(self) -> tuple[str, ...]:
        if self.item is not None:
            return (self.item,)
        return tuple(self.rows.values()) + tuple(self.options.values())


class UnitSource(_Frozen):
    """Where a response's organisational unit comes from.

    `field` names a value the platform sends with the response: a hidden field (Formbricks, Typeform),
    a question or calculation (KoboToolbox, LimeSurvey), or a metadata key such as
    `contactAttributes.unit` (see docs/platforms.md for each platform's names). With `units`, that
    value is looked up in the table instead (for example respondent token -> unit id).
    """

    field: PlatformKey
    units: dict[PlatformKey, Slug] | None = None


class Verification(_Frozen):
    """How deliveries for this mapping prove where they come from. Holds where the secret is, never the secret.

    Formbricks: `secret` is the `whsec_...` signing secret. Typeform: the webhook's `secret`.
    KoboToolbox: with `header`, the value the REST service sends in that custom header; with
    `username`, the password of its basic authorisation. SurveyMonkey: `secret` is the app's secret
    and `api_key` its client id (API key), which is not secret. Qualtrics: `secret` is the
    subscription's `sharedKey`.
    """

    secret: SecretRef
    header: str | None = None
    username: str | None = None
    api_key: Annotated[str, Field(min_length=1, max_length=200)] | None = None

    @model_validator(mode="after")
    def _not_both(self) -> Verification:
        if self.header is not None and self.username is not None:
            raise ValueError("give header (a custom header) or username (basic auth), not both")
        return self


class ResponseApi(_Frozen):
    """Where a platform that sends only a response id is asked for the response, and with which token.

    `base_url` defaults to https://api.surveymonkey.com for SurveyMonkey; for Qualtrics it is the
    account's datacenter, such as https://fra1.qualtrics.com. Plain http is allowed only to this
    machine (a test server): the token must not travel in clear.
    """

    token: SecretRef
    base_url: Annotated[str, Field(max_length=300)] | None = None

    @field_validator("base_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urlsplit(value)
        local = parsed.hostname in ("127.0.0.1", "localhost", "::1")
        if parsed.scheme != "https" and not (parsed.scheme == "http" and local):
            raise ValueError("use an https:// URL (plain http only to this machine)")
        if not parsed.hostname or parsed.query or parsed.fragment or parsed.username:
            raise ValueError("give only scheme, host and optional port, such as https://fra1.qualtrics.com")
        return value.rstrip("/")


class ExportColumns(_Frozen):
    """Where a spreadsheet export (.xlsx or .csv from Microsoft Forms, Netigate, Google Forms...) keeps its metadata.

    Columns are named as in the file's header row, matched without regard to case, punctuation or spacing.
    `response_id` names the export's own response id column (Microsoft Forms: `ID`); it makes each row's
    submission id `<form_id>:<id>`, so importing the same export again stores nothing twice. An export with
    no such column is refused unless `id_from_content` is set: each row's id is then a hash of its cells
    (see docs/platforms.md for what that costs). `date_format` (a strptime pattern such as
    `%m/%d/%Y %I:%M:%S %p`) reads submit times written as text in another form than `YYYY-MM-DD HH:MM`.
    """

    submitted_at: PlatformKey
    response_id: PlatformKey | None = None
    id_from_content: bool = False
    date_format: Annotated[str, Field(min_length=2, max_length=100)] | None = None
    sheet: Annotated[str, Field(min_length=1, max_length=31)] | None = None  # None: a workbook with one sheet
    header_row: int = Field(default=1, ge=1, le=50)

    @model_validator(mode="after")
    def _one_id_source(self) -> ExportColumns:
        if self.response_id is None and not self.id_from_content:
            raise ValueError(
                "give response_id (the export's response id column), or set id_from_content: true "
                "if the export has none (docs/platforms.md explains the trade-off)"
            )
        if self.response_id is not None and self.id_from_content:
            raise ValueError("give response_id or id_from_content, not both")
        return self


class PlatformMapping(_Frozen):
    """A tenant's mapping of one platform form onto one instrument.

    Questions and fields the mapping does not name are ignored; a question left unanswered is simply
    absent from the submission. Questions listed in `free_text` never become answers; their text is
    passed on only when `keep_free_text` is set (the tenant's opt-in). Unfinished responses (Formbricks
    `finished: false`, Typeform `form_response_partial`, LimeSurvey without `submitdate`, SurveyMonkey
    `partial`, Qualtrics `finished` 0) are skipped, with the reason `unfinished`, unless
    `count_unfinished` is set.
    """

    id: Slug
    platform: Platform
    form_id: PlatformKey  # Formbricks surveyId, Typeform form_id, KoboToolbox asset uid, LimeSurvey survey id,
    # or for a spreadsheet export any stable name of the survey: it prefixes every submission id
    tenant: TenantId
    instrument: Slug
    questions: dict[PlatformKey, QuestionMapping] = Field(min_length=1)
    values: dict[PlatformKey, int] = Field(default_factory=dict)
    unit: UnitSource
    respondent_field: PlatformKey | None = None
    free_text: tuple[PlatformKey, ...] = ()
    keep_free_text: bool = False
    # Abandoned half-answers are not a response: by default only finished ones are stored and scored.
    count_unfinished: bool = False
    timezone: str = "Europe/Stockholm"  # for platforms that export local times without an offset (LimeSurvey)
    verification: Verification | None = None
    api: ResponseApi | None = None  # SurveyMonkey and Qualtrics: where the response is fetched
    columns: ExportColumns | None = None  # spreadsheet exports only

    @field_validator("questions", mode="before")
    @classmethod
    def _bare_item_ids(cls, value: Any) -> Any:
        # `G01Q01: item-3` is shorthand for `G01Q01: {item: item-3}`; it keeps YAML mappings short.
        if isinstance(value, dict):
            return {key: {"item": spec} if isinstance(spec, str) else spec for key, spec in value.items()}
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Stockholm") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PlatformMapping:
        both = sorted(set(self.free_text) & set(self.questions))
        if both:
            raise ValueError(f"free-text questions cannot also be mapped to items: {', '.join(both)}")
        items = [item for question in self.questions.values() for item in question.items()]
        duplicates = sorted({item for item in items if items.count(item) > 1})
        if duplicates:
            raise ValueError(f"items fed by more than one question: {', '.join(duplicates)}")
        if self.platform == "spreadsheet" and any(spec.rows for spec in self.questions.values()):
            raise ValueError("a spreadsheet column feeds one item (item) or several by option (options), not rows")
        if (self.platform == "spreadsheet") != (self.columns is not None):
            raise ValueError("a spreadsheet mapping needs columns (submitted_at, response_id); other platforms none")
        if self.verification is not None:
            by_header_or_user = self.verification.header is not None or self.verification.username is not None
            if self.platform == "kobo" and not by_header_or_user:
                raise ValueError("a KoboToolbox verification needs header (custom header) or username (basic auth)")
            if self.platform != "kobo" and by_header_or_user:
                raise ValueError(f"{self.platform} deliveries are signed; give only verification.secret")
            if (self.verification.api_key is not None) != (self.platform == "surveymonkey"):
                raise ValueError("verification.api_key (the app's client id) is for SurveyMonkey, and it needs one")
        if (self.api is not None) != (self.platform in FETCHING_PLATFORMS):
            raise ValueError(
                f"api (where responses are fetched, with a token) is for {' and '.join(FETCHING_PLATFORMS)} only,"
                " and they need it"
            )
        if self.platform == "qualtrics" and self.api is not None and self.api.base_url is None:
            raise ValueError("api.base_url: give your Qualtrics datacenter, such as https://fra1.qualtrics.com")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
