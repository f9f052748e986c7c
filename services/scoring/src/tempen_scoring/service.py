"""Scoring's use cases: turn submission records into changes to the aggregates, per model, and apply a
batch of them in the store's one transaction. The entry points translate and decide ack or dead letter;
the rules live in `domain/`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tempen_scoring.domain.index import UnknownItemError, ValueOutOfScaleError, contribution
from tempen_scoring.domain.periods import period_of
from tempen_scoring.domain.rescoring import GroupKey, IncomingContribution, IncomingRetraction
from tempen_scoring.ports import ScoringStore
from tempen_shared import correlation
from tempen_shared.consumer import PoisonMessageError
from tempen_shared.events import DeadLetter, SubmissionAccepted
from tempen_shared.events.wire import SubmissionAcceptedRecord, SubmissionRecord, SubmissionRetractedRecord
from tempen_shared.positions import Position
from tempen_shared.tenancy.loader import Catalog
from tempen_shared.topics import partition_key

Change = IncomingContribution | IncomingRetraction


def changes_of(event: SubmissionRecord, catalog: Catalog) -> list[Change]:
    """What one submission record changes: a retraction withdraws the submission from every model, an
    accepted submission contributes to each; PoisonMessageError if it can never be scored."""
    if isinstance(event, SubmissionRetractedRecord):
        return [IncomingRetraction(event.tenant, event.submission_id, event.revision)]
    return list(contributions_of(event, catalog))


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


async def apply_submissions(
    store: ScoringStore,
    changes: Sequence[list[Change]],
    dead_letters: Sequence[DeadLetter],
    *,
    max_batch: int,
    positions: Sequence[Position] = (),
) -> tuple[int, int]:
    """Apply one batch of submission records, each record's changes, in one transaction with the batch's
    dead letters and the consumer's positions. Returns (applied, ignored as stale or duplicate)."""
    # A full batch means more are waiting: the store then computes scores less often.
    backlog = len(changes) + len(dead_letters) >= max_batch
    applied, ignored, _ = await store.apply(flatten(changes), dead_letters, backlog=backlog, positions=positions)
    return applied, ignored


def score_causes(submissions: Iterable[tuple[str, str, str | None]], catalog: Catalog) -> correlation.Resolve:
    """Which submission each score event of a batch is traced to, from the batch's (tenant, unit,
    correlation id) in order.

    A score event aggregates many submissions. It carries the id of the LAST submission of the batch
    that touched its unit or a unit below it: the latest one the event reflects, so a trace from an
    alert back through a score event ends at a submission that changed that score. An event of a unit
    none of them reached that the batch still changed (the tenant index moved, or the tree in force
    for the period differs from the configured one walked here) carries the batch's last id of its
    tenant.
    """
    # Keying by unit, not by period too: an event's outbox key is tenant:unit, and a batch holding two
    # periods of one unit is rare outside a backfill.
    last: dict[tuple[str, str], str] = {}
    for tenant, unit, cid in submissions:
        if cid is not None:
            key = (tenant, unit)
            last.pop(key, None)  # keeps the dict in order of each unit's last submission
            last[key] = cid
    by_key: dict[bytes, str] = {}
    by_tenant: dict[bytes, str] = {}
    for (tenant, unit), cid in last.items():
        by_tenant[tenant.encode()] = cid
        by_key[partition_key(tenant, unit)] = cid
        org = catalog.tenants[tenant].org if tenant in catalog.tenants else None
        if org is not None and unit in org:
            for above in org.ancestors(unit):
                by_key[partition_key(tenant, above.id)] = cid
    # Keys are tenant:unit and tenant ids hold no colon (TenantId), so the tenant is what precedes the first.
    return lambda key: by_key.get(key) or by_tenant.get(key.partition(b":")[0])
