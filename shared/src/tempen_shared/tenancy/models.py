"""The configuration schema. Every model is frozen; `tempen config check` validates files against these."""

from __future__ import annotations

from functools import cached_property
from pathlib import PurePosixPath
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from tempen_shared.tenancy.addresses import AddressError, parse_address

Slug = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
Cadence = Literal["annual", "quarterly", "monthly", "weekly"]
# Which further groups the anonymity rule hides so that a small one cannot be worked out by subtraction
# (docs/privacy.md, "Hiding as little as it must"): the choice that withholds the fewest people's results,
# or Viva Glint's rule of hiding the smallest part beside it.
ComplementarySuppression = Literal["fewest_people", "smallest_part"]


def _address(value: str) -> str:
    try:
        parse_address(value)
    except AddressError as exc:
        raise PydanticCustomError(
            "value_error", "value is not a valid email address: {reason}", {"reason": exc.reason, "hint": exc.hint}
        ) from None
    return value.strip()


# The rule org files follow too (tenancy.addresses): a bare address, as written.
EmailAddress = Annotated[str, AfterValidator(_address)]


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

    @cached_property
    def _items_by_id(self) -> dict[str, Item]:
        # Validation looks up every answer's item: a scan of the tuple was a quarter of ingest's
        # validation time for a 25-item instrument. Built once per (immutable) instrument.
        return {i.id: i for i in self.items}

    def item(self, item_id: str) -> Item | None:
        return self._items_by_id.get(item_id)

    @cached_property
    def valid_answers(self) -> frozenset[tuple[str, int]]:
        """Every (item id, value) pair the item's scale `accepts`: validation checks a whole submission's
        answers with one set comparison (a lookup per answer was half of ingest's validation time)."""
        return frozenset(
            (item.id, value)
            for item in self.items
            for scale in (self.scale_of(item),)
            for value in (*range(scale.low, scale.high + 1), *scale.not_applicable)
        )

    def scale_of(self, item: Item) -> Scale:
        return item.scale or self.scale

    def model_of(self, item: Item) -> str:
        return item.model or self.models[0]

    def items_of(self, model_id: str) -> tuple[Item, ...]:
        return tuple(i for i in self.items if self.model_of(i) == model_id)


AlertOnKeyword = Literal["all", "totals", "dimensions"]
ALERT_ON_KEYWORDS: tuple[AlertOnKeyword, ...] = ("all", "totals", "dimensions")


class AlertPolicy(_Frozen):
    """When a unit's dimension counts as challenged, when that is sustained, and how alerts escalate.

    Indices are on SKR's 0-100 scale; a "period" is one measurement of the instrument (its cadence).
    """

    threshold: float = Field(default=65.0, ge=0, le=100)  # below this a dimension index is challenged (red band)
    # ...or this many points below the whole tenant's index; None turns the tenant-relative line off
    below_tenant_by: float | None = Field(default=10.0, ge=0, le=100, strict=True)  # strict: YAML reads off as false
    sustained_periods: int = Field(default=2, ge=1, le=12)  # consecutive challenged periods before an alert
    resolve_periods: int = Field(default=1, ge=1, le=12)  # consecutive recovered periods before it resolves
    resolve_margin: float = Field(default=5.0, ge=0, le=50)  # recovered means this far above the line (no flapping)
    escalate_after_periods: int = Field(default=2, ge=1, le=12)  # open this long without improving: one level up
    escalate_min_improvement: float = Field(default=5.0, ge=0, le=100)  # points that count as improving
    escalate_unacknowledged_days: int = Field(default=14, ge=1, le=365)  # nobody acknowledged: one level up
    noise_z: float = Field(default=1.0, ge=0, le=5)  # the index must be below the line by this many standard errors
    # How the noise guard reads a sustained run (docs/alerts.md, "Small units"): "each_period" asks every
    # period of the run to be below the line by noise_z of its own standard errors; "pooled" asks every
    # period to be below the line, and their respondent-weighted mean to be below it by noise_z of the
    # mean's standard error, which shrinks with every period pooled.
    detection: Literal["each_period", "pooled"] = "pooled"
    inform_unit_manager: bool = True  # the unit's own manager gets a copy of what goes to the next level
    period_grace_hours: int = Field(default=0, ge=0, le=24 * 31)  # late answers counted before a period is judged
    # Which series alert (docs/alerts.md, "Which dimensions alert"): "all"; "totals", each model's total index
    # (HME totalindex); "dimensions", the dimensions without the totals; or per model id the dimension ids that
    # alert (a total by its id), every model left out alerting on nothing. `tempen config check` checks the ids
    # against the tenant's models.
    alert_on: AlertOnKeyword | dict[str, tuple[str, ...]] = "all"

    @field_validator("alert_on", mode="before")
    @classmethod
    def _alert_on(cls, value: object) -> object:
        # One clear message instead of a union's two ("should be 'all'...", "should be a valid dictionary").
        if isinstance(value, str):
            if value not in ALERT_ON_KEYWORDS:
                raise PydanticCustomError(
                    "alert_on",
                    "alert_on must be {keywords}, or per model a list of dimension ids; got '{value}'",
                    {"keywords": ", ".join(ALERT_ON_KEYWORDS), "value": value[:64]},
                )
            return value
        if not isinstance(value, dict) or not value:
            raise PydanticCustomError(
                "alert_on",
                "alert_on must be {keywords}, or a mapping from model id to a list of dimension ids "
                "(e.g. hme: [hme] for HME's total index only)",
                {"keywords": ", ".join(ALERT_ON_KEYWORDS)},
            )
        for model_id, dimension_ids in value.items():
            if not isinstance(model_id, str) or not isinstance(dimension_ids, list | tuple) or not dimension_ids:
                raise PydanticCustomError(
                    "alert_on", "alert_on.{model}: give a non-empty list of dimension ids", {"model": str(model_id)}
                )
            if not all(isinstance(d, str) for d in dimension_ids):
                raise PydanticCustomError(
                    "alert_on", "alert_on.{model}: dimension ids are text", {"model": str(model_id)}
                )
        return value

    def alerts_on(self, model: LeadershipModel | None, dimension: str) -> bool:
        """Whether a series of `model` (None: a model the tenant no longer has) and `dimension` may alert."""
        if self.alert_on == "all":
            return True
        if model is None:
            return False
        is_total = model.total is not None and model.total.id == dimension
        if self.alert_on == "totals":
            return is_total
        if self.alert_on == "dimensions":
            return not is_total and any(d.id == dimension for d in model.dimensions)
        return dimension in self.alert_on.get(model.id, ())


_ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"


class SecretRef(_Frozen):
    """Where a secret is read from: an environment variable or a file (a mounted secret). Never the secret itself.

    A plain value where a SecretRef belongs is refused with the error type `inline_secret`, and the
    message never repeats the value.
    """

    env: Annotated[str, Field(pattern=_ENV_NAME)] | None = None
    file: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _not_inline(cls, data: object) -> object:
        if data is not None and not isinstance(data, dict | SecretRef):
            raise PydanticCustomError(
                "inline_secret", "a secret is written inline; config holds only where to read it (env: or file:)"
            )
        return data

    @model_validator(mode="after")
    def _one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self


PLAN_REMINDER_DAYS_MAX = 90  # the latest `Notifications.plan_reminder_days` may set a reminder after a due date


class Notifications(_Frozen):
    language: Literal["sv", "en"] = "sv"
    from_address: EmailAddress = "tempen@localhost"
    webhook_url: str | None = None  # alert transitions are also POSTed here as JSON, signed with webhook_secret
    webhook_secret: SecretRef | None = None
    # How long the personal link in an alert e-mail opens the portal for its recipient. Checked when the
    # link is used, so shortening it applies to links already sent.
    link_valid_days: int = Field(default=30, ge=1, le=365)
    # A transition decided about a period that closed more than this many days ago (a backfill of history)
    # is recorded but notifies nobody; the alerts still open then notify once (docs/alerts.md, "Importing
    # history quietly"). None: every transition notifies, however old its period.
    quiet_history_days: int | None = Field(default=45, ge=1, le=3660)
    # When an alert's action plan is not done by its due date, whoever the alert sits with is reminded once,
    # at 07:00 this many days after the due date (docs/alerts.md, "Reminders when a plan's due date passes").
    # None: no reminders.
    plan_reminder_days: int | None = Field(default=1, ge=1, le=PLAN_REMINDER_DAYS_MAX)

    @field_validator("webhook_url")
    @classmethod
    def _plain_https(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = urlsplit(value)
        if url.username or url.password:
            raise PydanticCustomError(
                "inline_secret", "the webhook URL carries credentials; put them in webhook_secret instead"
            )
        local = url.hostname in {"localhost", "127.0.0.1", "::1"}
        if url.scheme != "https" and not (url.scheme == "http" and local):
            raise ValueError("the webhook URL must start with https:// (plain http only to localhost)")
        if not url.hostname:
            raise ValueError("the webhook URL has no host")
        return value


ClaimName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:/-]+$")]
ClaimValue = Annotated[str, Field(min_length=1, max_length=256)]


class OidcConfig(_Frozen):
    """Signing in to the portal with the municipality's identity provider (OpenID Connect; docs/tenants.md,
    "Signing in to the portal"). The person is the e-mail in `email_claim`; HR is whoever has one of
    `hr_values` in `hr_claim`; a manager sees the units they head in the org tree (matched by e-mail), and
    with `unit_groups` also the units mapped from the group ids in `groups_claim`, each with those below."""

    issuer: str = Field(max_length=500)
    client_id: str = Field(min_length=1, max_length=256)
    client_secret: SecretRef
    scopes: tuple[Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:/-]+$")], ...] = (
        "openid",
        "email",
        "profile",
    )
    email_claim: ClaimName = "email"  # Entra ID: email, or preferred_username (the UPN) where mail is unset
    hr_claim: ClaimName = "roles"  # Entra ID: the app roles assigned to the person
    hr_values: tuple[ClaimValue, ...] = ()  # e.g. [tempen.hr]; none: HR is only the tenant's hr_email
    groups_claim: ClaimName = "groups"
    unit_groups: dict[ClaimValue, tuple[Slug, ...]] = Field(default_factory=dict, max_length=5000)

    @field_validator("issuer")
    @classmethod
    def _https(cls, value: str) -> str:
        url = urlsplit(value)
        if url.username or url.password or url.query or url.fragment:
            raise ValueError("the issuer is a plain URL, without credentials, query or fragment")
        local = url.hostname in {"localhost", "127.0.0.1", "::1"}
        if url.scheme != "https" and not (url.scheme == "http" and local):
            raise ValueError("the issuer must start with https:// (plain http only to localhost, for tests)")
        if not url.hostname:
            raise ValueError("the issuer has no host")
        return value.rstrip("/")

    @field_validator("scopes")
    @classmethod
    def _openid(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "openid" not in value:
            raise ValueError("scopes must include openid (it is what makes the provider send an ID token)")
        return value


class PortalConfig(_Frozen):
    oidc: OidcConfig | None = None


TenantId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]


class TenantConfig(_Frozen):
    """One municipality (or other organisation) served by this deployment.

    `org_file` defaults to `org/<id>.csv`, relative to the configuration directory.
    """

    id: TenantId
    name: str = Field(min_length=1)
    timezone: str = "Europe/Stockholm"
    min_group_size: int = Field(default=5, ge=3, le=100)
    complementary_suppression: ComplementarySuppression = "fewest_people"
    hr_email: EmailAddress
    instruments: tuple[Slug, ...] = Field(min_length=1)
    org_file: str
    alert_policy: AlertPolicy = AlertPolicy()
    notifications: Notifications = Notifications()
    pseudonym_key: SecretRef | None = None
    portal: PortalConfig = PortalConfig()

    @model_validator(mode="before")
    @classmethod
    def _default_org_file(cls, data: object) -> object:
        if isinstance(data, dict) and "org_file" not in data and isinstance(data.get("id"), str):
            return {**data, "org_file": f"org/{data['id']}.csv"}
        return data

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Stockholm") from None
        return value

    @field_validator("instruments")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({i for i in value if value.count(i) > 1})
        if repeated:
            raise ValueError(f"instruments listed twice: {', '.join(repeated)}")
        return value

    @field_validator("org_file")
    @classmethod
    def _inside_config(cls, value: str) -> str:
        path = PurePosixPath(value)
        if path.is_absolute() or ".." in path.parts or "\\" in value:
            raise ValueError("org_file must be a path inside the config directory, written with / (e.g. org/hjo.csv)")
        if path.suffix.lower() not in {".csv", ".json"}:
            raise ValueError("org_file must end in .csv or .json")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
