"""The configuration schema. Every model is frozen; `tempen config check` validates files against these."""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

Slug = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
Cadence = Literal["annual", "quarterly", "monthly", "weekly"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Scale(_Frozen):
    """An answer scale. Values outside [low, high] are invalid unless listed in `not_applicable`."""

    low: int = 1
    high: int = 5
    not_applicable: tuple[int, ...] = ()  # codes meaning "vet ej" / not applicable: stored, never scored
    favourable_top: int = Field(default=2, ge=1)  # "% favourable" counts the top N answers

    @model_validator(mode="after")
    def _check(self) -> Scale:
        if (self.low, self.high) not in {(1, 4), (1, 5), (1, 6), (1, 7), (0, 10)}:
            raise ValueError(f"scale {self.low}-{self.high} is not supported (1-4, 1-5, 1-6, 1-7, 0-10)")
        clash = [code for code in self.not_applicable if self.low <= code <= self.high]
        if clash:
            raise ValueError(f"not-applicable codes {clash} lie inside the scale {self.low}-{self.high}")
        return self

    def accepts(self, value: int) -> bool:
        return self.low <= value <= self.high or value in self.not_applicable


class Dimension(_Frozen):
    id: Slug
    name_sv: str
    name_en: str
    description: str = ""


class LeadershipModel(_Frozen):
    """A leadership model: the dimensions a municipality follows up (Hjo's four cornerstones, HME's delindex)."""

    id: Slug
    version: str
    name_sv: str
    name_en: str
    description: str = ""
    source: str = ""
    dimensions: tuple[Dimension, ...] = Field(min_length=1)
    total: Dimension | None = None  # an index over every item of the model, e.g. HME's totalindex

    @model_validator(mode="after")
    def _unique(self) -> LeadershipModel:
        ids = [d.id for d in self.dimensions] + ([self.total.id] if self.total else [])
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate dimension ids: {', '.join(duplicates)}")
        return self


class Item(_Frozen):
    id: Slug
    text_sv: str
    text_en: str = ""
    model: Slug | None = None  # None: the instrument's first model
    dimension: Slug
    reverse: bool = False
    weight: float = Field(default=1.0, gt=0)
    scale: Scale | None = None  # None: the instrument's scale
    source: str = ""  # the sentence of the model document this item was written from


class Instrument(_Frozen):
    """A questionnaire: which items it asks, on which scale, and which dimension each item measures."""

    id: Slug
    version: str
    models: tuple[Slug, ...] = Field(min_length=1)  # an instrument may feed several models (Hjo's pulse + HME)
    name: str
    cadence: Cadence
    scale: Scale = Scale()
    items: tuple[Item, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_items(self) -> Instrument:
        ids = [i.id for i in self.items]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate item ids: {', '.join(duplicates)}")
        return self

    def item(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)

    def scale_of(self, item: Item) -> Scale:
        return item.scale or self.scale

    def model_of(self, item: Item) -> str:
        return item.model or self.models[0]

    def items_of(self, model_id: str) -> tuple[Item, ...]:
        return tuple(i for i in self.items if self.model_of(i) == model_id)


class AlertPolicy(_Frozen):
    """When a unit's dimension counts as challenged, when that is sustained, and how alerts escalate."""

    threshold: float = Field(default=65.0, ge=0, le=100)
    below_tenant_by: float = Field(default=10.0, ge=0, le=100)
    sustained_periods: int = Field(default=2, ge=1, le=12)
    resolve_periods: int = Field(default=1, ge=1, le=12)
    resolve_margin: float = Field(default=5.0, ge=0, le=50)
    escalate_after_periods: int = Field(default=2, ge=1, le=12)
    escalate_min_improvement: float = Field(default=5.0, ge=0, le=100)
    escalate_unacknowledged_days: int = Field(default=14, ge=1, le=365)
    noise_z: float = Field(default=1.0, ge=0, le=5)  # the index must be below the line by this many standard errors
    inform_unit_manager: bool = True
    period_grace_hours: int = Field(default=0, ge=0, le=24 * 31)  # late answers counted before a period is judged


class SecretRef(_Frozen):
    """A secret is never written in config: only where to read it from."""

    env: str | None = None
    file: str | None = None

    @model_validator(mode="after")
    def _one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self


class Notifications(_Frozen):
    language: Literal["sv", "en"] = "sv"
    from_address: EmailStr = "tempen@localhost"
    webhook_url: str | None = None
    webhook_secret: SecretRef | None = None


class TenantConfig(_Frozen):
    """One municipality (or other organisation) served by this deployment."""

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]
    name: str
    timezone: str = "Europe/Stockholm"
    min_group_size: int = Field(default=5, ge=3, le=100)
    hr_email: EmailStr
    instruments: tuple[Slug, ...] = Field(min_length=1)
    org_file: str
    alert_policy: AlertPolicy = AlertPolicy()
    notifications: Notifications = Notifications()
    pseudonym_key: SecretRef | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Stockholm") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
