"""Validation of canonical submissions against a tenant's configuration: pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tempen_shared.events import CanonicalSubmission
from tempen_shared.tenancy.loader import Tenant


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    reason: str
    code: str  # low-cardinality, for metrics: unknown_instrument, unknown_unit, unknown_item, out_of_scale, ...

    def as_problem(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


def validate_submission(
    submission: CanonicalSubmission, tenant: Tenant, *, now: datetime, max_clock_skew: timedelta
) -> list[FieldError]:
    """Every reason `submission` cannot be accepted for `tenant`; empty when it can."""
    errors: list[FieldError] = []
    instrument = tenant.instruments.get(submission.instrument)
    if instrument is None:
        errors.append(
            FieldError(
                "instrument", f"unknown instrument {submission.instrument!r} for this tenant", "unknown_instrument"
            )
        )
    if submission.unit not in tenant.org:
        errors.append(
            FieldError("unit", f"unknown unit {submission.unit!r} in this tenant's organisation", "unknown_unit")
        )
    if submission.submitted_at > now + max_clock_skew:
        errors.append(FieldError("submitted_at", "lies in the future", "future_timestamp"))
    if instrument is not None:
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
