"""Ingest's HTTP API: canonical submissions (single, batch, NDJSON or CSV), platform webhooks, GDPR erasure."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tempen_ingest.domain.canonical_csv import CsvFileError, TooManyRowsError
from tempen_ingest.domain.platforms import DeliveryError
from tempen_ingest.domain.signatures import SignatureError
from tempen_ingest.domain.webhooks import (
    NO_WEBHOOKS,
    UNKNOWN_PLATFORM,
    Refusal,
    VerificationConfigError,
    webhook_mapping,
)
from tempen_ingest.metrics import IngestMetrics
from tempen_ingest.ports import Outcome, ReplayedDeliveryError
from tempen_ingest.service import (
    IngestService,
    InvalidDeliveryError,
    ItemResult,
    SecretUnavailableError,
    UnknownMappingError,
)
from tempen_shared.bounds import InputError, parse_json
from tempen_shared.db import StoreUnavailableError
from tempen_shared.http import (
    BadRequestError,
    JSONResponse,
    json_problem,
    problem,
    read_body,
    read_json,
    service_unavailable,
)
from tempen_shared.http import measured as timed

logger = logging.getLogger(__name__)

NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")
CSV_TYPES = ("text/csv", "application/csv")
SUBMISSIONS_ROUTE = "/v1/tenants/{tenant}/submissions"
WEBHOOK_ROUTE = "/v1/tenants/{tenant}/webhooks/{platform}/{mapping_id}"
ERASE_ROUTE = "/v1/tenants/{tenant}/gdpr/erase"


def routes(
    service: Callable[[], IngestService],
    metrics: IngestMetrics,
    *,
    max_items: int,
    max_webhook_bytes: int = 1 << 20,
    max_body_bytes: int = 64 << 20,
) -> list[Route]:
    def measured(route: str, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Any]:
        return timed(metrics, route, handler)

    async def post_submissions(request: Request) -> Response:
        svc = service()
        tenant = request.path_params["tenant"]
        if tenant not in svc.catalog.tenants:
            return _unknown_tenant()
        if _content_type(request) in CSV_TYPES:
            return await post_csv(request, svc, tenant)
        try:
            items, single = await _read_items(request, max_items=max_items, max_bytes=max_body_bytes)
        except BadRequestError as exc:
            metrics.rejected.labels("malformed").inc()
            return exc.response
        try:
            results = await svc.submit(items, tenant_id=tenant)
        except StoreUnavailableError:
            return _unavailable()
        _count(metrics, results)
        if single:
            result = results[0]
            if result.outcome is Outcome.REJECTED:
                return problem(
                    422,
                    "Invalid submission",
                    "the submission was not stored",
                    errors=[e.as_problem() for e in result.errors],
                )
            return JSONResponse(result.as_json(), status_code=202)
        return _batch_accepted(results)

    async def post_csv(request: Request, svc: IngestService, tenant: str) -> Response:
        """Canonical CSV (docs/platforms.md, "Importing files"): one result per data row, with its line."""
        try:
            body = await read_body(request, max_bytes=max_body_bytes)
            results = await svc.submit_csv(body, tenant_id=tenant, max_rows=max_items)
        except BadRequestError as exc:
            metrics.rejected.labels("malformed").inc()
            return exc.response
        except TooManyRowsError as exc:
            metrics.rejected.labels("malformed").inc()
            return problem(413, "Too many submissions", str(exc), errors=[{"field": "(body)", "reason": str(exc)}])
        except CsvFileError as exc:
            metrics.rejected.labels("malformed").inc()
            return problem(
                422, "Not canonical CSV", "nothing was stored", errors=[{"field": "(body)", "reason": str(exc)}]
            )
        except StoreUnavailableError:
            return _unavailable()
        if not results:
            return problem(422, "Empty batch", errors=[{"field": "(body)", "reason": "no rows below the header"}])
        _count(metrics, results)
        return _batch_accepted(results)

    async def post_webhook(request: Request) -> Response:
        svc = service()
        tenant, platform, mapping_id = (request.path_params[k] for k in ("tenant", "platform", "mapping_id"))
        if tenant not in svc.catalog.tenants:
            return _unknown_tenant()
        try:
            body = await read_body(request, max_bytes=max_webhook_bytes)
        except BadRequestError as exc:
            return exc.response
        try:
            result = await svc.receive_webhook(
                tenant_id=tenant, platform=platform, mapping_id=mapping_id, headers=request.headers, body=body
            )
        except UnknownMappingError as exc:
            return _refused(exc.refusal)
        except (SecretUnavailableError, VerificationConfigError) as exc:
            # Ours to fix, so the platform should keep retrying until the secret is in place.
            logger.error("webhook %s/%s cannot be verified: %s", tenant, mapping_id, exc)  # noqa: TRY400 - no trace needed
            return problem(
                503,
                "Verification not configured",
                "this endpoint cannot check signatures yet; retry later",
                headers={"Retry-After": "60"},
            )
        except SignatureError as exc:
            metrics.rejected.labels(f"signature_{exc.reason}").inc()
            return problem(
                401,
                "Delivery not verified",
                "the signature or credentials do not prove this delivery comes from the platform",
                errors=[{"field": "signature", "reason": exc.reason}],
                headers={"WWW-Authenticate": 'Basic realm="tempen-webhooks"'} if platform == "kobo" else None,
            )
        except DeliveryError as exc:
            metrics.rejected.labels(f"delivery_{exc.reason}"[:40]).inc()
            return problem(
                422,
                "Delivery not readable",
                str(exc),
                errors=[{"field": exc.field, "reason": exc.reason}],
            )
        except InvalidDeliveryError as exc:
            metrics.submissions.labels(Outcome.REJECTED.value).inc()
            metrics.rejected.labels(exc.errors[0].code).inc()
            return problem(
                422, "Invalid submission", "the submission was not stored", errors=[e.as_problem() for e in exc.errors]
            )
        except ReplayedDeliveryError:
            metrics.rejected.labels("replayed_delivery").inc()
            return problem(
                409,
                "Delivery already received",
                "this delivery id was received before; the repeat was not stored",
                errors=[{"field": "delivery_id", "reason": "replayed"}],
            )
        except StoreUnavailableError:
            return _unavailable()
        _count(metrics, list(result.results))
        return JSONResponse(result.as_json(), status_code=202 if result.accepted else 200)

    async def check_webhook(request: Request) -> Response:
        # SurveyMonkey accepts a subscription_url only if it answers HEAD with 200; Qualtrics asks that a
        # publicationUrl handle GET. Either way: 200 when the mapping exists, and nothing is stored.
        svc = service()
        tenant, platform, mapping_id = (request.path_params[k] for k in ("tenant", "platform", "mapping_id"))
        if tenant not in svc.catalog.tenants:
            return _unknown_tenant()
        # The same answer a delivery to this URL gets: a LimeSurvey or spreadsheet mapping takes no webhooks.
        checked = webhook_mapping(
            platform, tenant=tenant, mapping_id=mapping_id, mapping=svc.mapping(tenant, mapping_id)
        )
        if isinstance(checked, Refusal):
            return _refused(checked)
        return JSONResponse({"tenant": tenant, "platform": platform, "mapping_id": mapping_id})

    async def post_erase(request: Request) -> Response:
        svc = service()
        tenant = request.path_params["tenant"]
        if tenant not in svc.catalog.tenants:
            return _unknown_tenant()
        try:
            body = await read_json(request, max_bytes=64 << 10)
        except BadRequestError as exc:
            return exc.response
        respondent = body.get("respondent") if isinstance(body, dict) else None
        if not isinstance(respondent, str) or not respondent.strip() or len(respondent) > 200:
            return problem(
                422,
                "Invalid erasure request",
                'send {"respondent": "<the id the survey platform sent>"}',
                errors=[{"field": "respondent", "reason": "a non-empty string of at most 200 characters"}],
            )
        try:
            erasure = await svc.erase_respondent(tenant_id=tenant, respondent=respondent)
        except StoreUnavailableError:
            return _unavailable()
        logger.info("erased %d submissions of one respondent of %s", len(erasure.retractions), tenant)
        return JSONResponse(
            {
                "tenant": tenant,
                "respondent_pseudonym": erasure.respondent,
                "erased": len(erasure.retractions),
                "retracted": [{"submission_id": r.submission_id, "revision": r.revision} for r in erasure.retractions],
            }
        )

    return [
        Route(SUBMISSIONS_ROUTE, measured(SUBMISSIONS_ROUTE, post_submissions), methods=["POST"]),
        Route(WEBHOOK_ROUTE, measured(WEBHOOK_ROUTE, post_webhook), methods=["POST"]),
        Route(WEBHOOK_ROUTE, measured(WEBHOOK_ROUTE, check_webhook), methods=["GET", "HEAD"]),
        Route(ERASE_ROUTE, measured(ERASE_ROUTE, post_erase), methods=["POST"]),
    ]


def _unknown_tenant() -> Response:
    return problem(
        404,
        "Unknown tenant",
        "no tenant with this id is served here",
        errors=[{"field": "tenant", "reason": "unknown tenant"}],
    )


def _refused(refusal: Refusal) -> Response:
    if refusal.reason == NO_WEBHOOKS:
        # The URL may name a real mapping, so not 404; the body is not at fault, so not 400 or 422; the
        # sender's setup is to change, not ingest, so not 5xx. This URL allows no method: an empty Allow
        # (RFC 9110, 10.2.1).
        return problem(
            405,
            "No webhooks from this platform",
            refusal.detail,
            errors=[{"field": refusal.field, "reason": refusal.reason}],
            headers={"Allow": ""},
        )
    return problem(
        404,
        "Unknown platform" if refusal.reason == UNKNOWN_PLATFORM else "Unknown mapping",
        refusal.detail,
        errors=[{"field": refusal.field, "reason": refusal.reason}],
    )


def _unavailable() -> Response:
    return service_unavailable()


def _count(metrics: IngestMetrics, results: list[ItemResult]) -> None:
    for result in results:
        metrics.submissions.labels(result.outcome.value).inc()
        for error in result.errors[:1]:
            metrics.rejected.labels(error.code).inc()


def _batch_accepted(results: list[ItemResult]) -> Response:
    """202 with the counts per outcome and a result per item, in order: a batch's answer, whatever its format."""
    counts = {o.value: sum(1 for r in results if r.outcome is o) for o in Outcome}
    return JSONResponse({"counts": counts, "results": [r.as_json() for r in results]}, status_code=202)


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _read_items(request: Request, *, max_items: int, max_bytes: int) -> tuple[list[Any], bool]:
    body = await read_body(request, max_bytes=max_bytes)
    if _content_type(request) in NDJSON_TYPES:
        lines = [line for line in body.splitlines() if line.strip()]
        _check_size(len(lines), max_items)
        items: list[Any] = []
        for number, line in enumerate(lines, start=1):
            try:
                items.append(parse_json(line, where=f"line {number}", refuse_nul=False))
            except InputError as exc:
                raise BadRequestError(json_problem(exc, title="Malformed NDJSON")) from None
        return items, False
    try:
        # A NUL is refused per item by CanonicalSubmission, so the rest of a batch is still stored.
        parsed = parse_json(body, refuse_nul=False)
    except InputError as exc:
        raise BadRequestError(json_problem(exc)) from None
    if isinstance(parsed, list):
        _check_size(len(parsed), max_items)
        if not parsed:
            raise BadRequestError(problem(422, "Empty batch", errors=[{"field": "(body)", "reason": "no submissions"}]))
        return parsed, False
    if isinstance(parsed, dict):
        return [parsed], True
    raise BadRequestError(
        problem(
            422,
            "Invalid body",
            "send a submission object, an array of them, or NDJSON",
            errors=[{"field": "(body)", "reason": "must be an object or an array"}],
        )
    )


def _check_size(count: int, max_items: int) -> None:
    if count > max_items:
        raise BadRequestError(
            problem(
                413,
                "Too many submissions",
                f"{count} submissions in one request; the limit is {max_items}",
                errors=[{"field": "(body)", "reason": f"more than {max_items} items"}],
            )
        )
