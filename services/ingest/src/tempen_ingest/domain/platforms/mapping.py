"""How one survey platform's form feeds one tenant's instrument: the mapping a tenant writes once per form."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tempen_shared.tenancy.models import SecretRef

Platform = Literal["formbricks", "typeform", "kobo", "limesurvey"]
PLATFORMS: tuple[Platform, ...] = ("formbricks", "typeform", "kobo", "limesurvey")

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
    `username`, the password of its basic authorisation.
    """

    secret: SecretRef
    header: str | None = None
    username: str | None = None

    @model_validator(mode="after")
    def _not_both(self) -> Verification:
        if self.header is not None and self.username is not None:
            raise ValueError("give header (a custom header) or username (basic auth), not both")
        return self


class PlatformMapping(_Frozen):
    """A tenant's mapping of one platform form onto one instrument.

    Questions and fields the mapping does not name are ignored; a question left unanswered is simply
    absent from the submission. Questions listed in `free_text` never become answers; their text is
    passed on only when `keep_free_text` is set (the tenant's opt-in). Unfinished responses (Formbricks
    `finished: false`, Typeform `form_response_partial`, LimeSurvey without `submitdate`) are skipped,
    with the reason `unfinished`, unless `count_unfinished` is set.
    """

    id: Slug
    platform: Platform
    form_id: PlatformKey  # Formbricks surveyId, Typeform form_id, KoboToolbox asset uid, LimeSurvey survey id
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
        if self.verification is not None:
            by_header_or_user = self.verification.header is not None or self.verification.username is not None
            if self.platform == "kobo" and not by_header_or_user:
                raise ValueError("a KoboToolbox verification needs header (custom header) or username (basic auth)")
            if self.platform != "kobo" and by_header_or_user:
                raise ValueError(f"{self.platform} deliveries are signed; give only verification.secret")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
