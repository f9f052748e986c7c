"""Validation of canonical submissions against a tenant's configuration: pure."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from tempen_shared.events.wire import CanonicalSubmissionRecord, read_canonical
from tempen_shared.tenancy.loader import Catalog, Tenant


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    reason: str
    code: str  # low-cardinality, for metrics: unknown_instrument, unknown_unit, unknown_item, out_of_scale, ...

    def as_problem(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


def check_submission(
    raw: Any,
    *,
    tenant_id: str,
    catalog: Catalog,
    now: datetime,
    max_clock_skew: timedelta,
    known_units: Container[str] | None = None,
) -> CanonicalSubmissionRecord | list[FieldError]:
    """Read one raw submission (a JSON value) for `tenant_id` and check it against the tenant's config.

    The one validation every path shares: the HTTP API, the intake topic, webhooks and
    `tempen submissions import --dry-run`. Returns the submission, or every reason it is refused.
    """
    if not isinstance(raw, dict):
        return [FieldError("(body)", "a submission must be a JSON object", "malformed")]
    body = dict(raw)
    if body.setdefault("tenant", tenant_id) != tenant_id:
        return [FieldError("tenant", "does not match the tenant in the URL", "tenant_mismatch")]
    try:
        submission = read_canonical(body)  # as CanonicalSubmission reads it, and refuses with its errors
    except ValidationError as exc:
        return [
            FieldError(".".join(str(p) for p in e["loc"]) or "(body)", e["msg"], "invalid")
            for e in exc.errors(include_input=False, include_url=False)
        ]
    tenant = catalog.tenants.get(tenant_id)
    if tenant is None:
        return [FieldError("tenant", "unknown tenant", "unknown_tenant")]
    errors = validate_submission(submission, tenant, now=now, max_clock_skew=max_clock_skew, known_units=known_units)
    return errors or submission


def validate_submission(
    submission: CanonicalSubmissionRecord,
    tenant: Tenant,
    *,
    now: datetime,
    max_clock_skew: timedelta,
    known_units: Container[str] | None = None,
) -> list[FieldError]:
    """Every reason `submission` cannot be accepted for `tenant`; empty when it can.

    `known_units` are the units of every org version imported since the configured one (a unit
    added by an import is known before the config file is edited); the configured org by default.
    """
    errors: list[FieldError] = []
    instrument = tenant.instruments.get(submission.instrument)
    if instrument is None:
        errors.append(
            FieldError(
                "instrument", f"unknown instrument {submission.instrument!r} for this tenant", "unknown_instrument"
            )
        )
    if submission.unit not in tenant.org and (known_units is None or submission.unit not in known_units):
        errors.append(
            FieldError("unit", f"unknown unit {submission.unit!r} in this tenant's organisation", "unknown_unit")
        )
    if submission.submitted_at > now + max_clock_skew:
        errors.append(FieldError("submitted_at", "lies in the future", "future_timestamp"))
    if instrument is not None and not instrument.valid_answers.issuperset(submission.answers.items()):
        for item_id, value in submission.answers.items():
            item = instrument.item(item_id)
            if item is None:
                errors.append(
                    FieldError(f"answers.{item_id}", f"unknown item for instrument {instrument.id!r}", "unknown_item")
                )
                continue
            scale = instrument.scale_of(item)
            if not scale.accepts(value):
                allowed = f"{scale.low}-{scale.high}"
                if scale.not_applicable:
                    allowed += f" or {', '.join(str(c) for c in scale.not_applicable)} (not applicable)"
                errors.append(
                    FieldError(f"answers.{item_id}", f"value outside the item's scale {allowed}", "out_of_scale")
                )
    return errors
