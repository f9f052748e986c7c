"""Scoring's use case: turn accepted submissions into contributions to the aggregates, per model."""

from __future__ import annotations

from collections.abc import Sequence

from tempen_scoring.domain.index import UnknownItemError, ValueOutOfScaleError, contribution
from tempen_scoring.domain.periods import period_of
from tempen_scoring.domain.rescoring import GroupKey, IncomingContribution, IncomingRetraction
from tempen_shared.consumer import PoisonMessageError
from tempen_shared.events import SubmissionAccepted
from tempen_shared.events.wire import SubmissionAcceptedRecord
from tempen_shared.tenancy.loader import Catalog


def contributions_of(
    event: SubmissionAccepted | SubmissionAcceptedRecord, catalog: Catalog
) -> list[IncomingContribution]:
    """One contribution per model the submission's instrument feeds; PoisonMessageError if it can never be scored."""
    tenant = catalog.tenants.get(event.tenant)
    if tenant is None:
        raise PoisonMessageError("unknown_tenant", "field tenant: not configured in scoring")
    instrument = tenant.instruments.get(event.instrument)
    if instrument is None:
        raise PoisonMessageError("unknown_instrument", "field instrument: not configured for this tenant")
    # The unit is not checked against the org: ingest validated it against every org version, and an
    # org event for a new unit may arrive after its first submissions (another topic). A unit outside
    # the tree in force for the period is kept but rolls up into nothing until an org version has it.
    period = period_of(event.submitted_at, instrument.cadence, tenant.config.zone)
    out: list[IncomingContribution] = []
    for model_id in instrument.models:
        try:
            c = contribution(instrument, tenant.models[model_id], event.answers)
        except UnknownItemError as exc:
            raise PoisonMessageError(
                "unknown_item", f"field answers.{exc.item_id}: not an item of the instrument"
            ) from None
        except ValueOutOfScaleError as exc:
            raise PoisonMessageError("out_of_scale", f"field answers.{exc.item_id}: outside the item's scale") from None
        out.append(
            IncomingContribution(
                tenant=event.tenant,
                submission_id=event.submission_id,
                revision=event.revision,
                group=GroupKey(event.tenant, event.unit, event.instrument, model_id, period.key),
                period=period,
                contribution=c,
                respondent=event.respondent,
            )
        )
    return out


def flatten(
    batches: Sequence[list[IncomingContribution | IncomingRetraction]],
) -> list[IncomingContribution | IncomingRetraction]:
    return [c for batch in batches for c in batch]
