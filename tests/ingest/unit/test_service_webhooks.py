"""IngestService's webhook and erasure use cases, with the in-memory store."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tempen_ingest.domain.platforms import DeliveryError
from tempen_ingest.domain.pseudonym import pseudonymise
from tempen_ingest.domain.signatures import SignatureError
from tempen_ingest.mappings import load_mappings
from tempen_ingest.ports import Outcome, ReplayedDeliveryError
from tempen_ingest.service import (
    IngestService,
    InvalidDeliveryError,
    SecretUnavailableError,
    UnknownMappingError,
    WebhookResult,
)
from tempen_shared.tenancy.loader import load_catalog
from tempen_shared.tenancy.models import SecretRef
from tests.ingest.fakes import InMemorySubmissionStore
from tests.ingest.support import (
    SECRETS,
    TENANT,
    formbricks_body,
    formbricks_headers,
    typeform_body,
    typeform_headers,
)

CONFIG = Path(__file__).parents[2] / "fixtures" / "config"
KEY = b"unit-test-key"


def service(store: InMemorySubmissionStore, *, secrets: dict[str, str] | None = None) -> IngestService:
    catalog = load_catalog(CONFIG)
    known = SECRETS if secrets is None else secrets

    def resolve(ref: SecretRef) -> str | None:
        return known.get(ref.env or "")

    return IngestService(
        catalog=catalog,
        store=store,
        pseudonym_keys={TENANT: KEY},
        clock=lambda: datetime.now(UTC),
        max_clock_skew=timedelta(minutes=5),
        mappings=load_mappings(CONFIG, catalog).mappings,
        resolve_secret=resolve,
    )


async def receive(
    svc: IngestService, platform: str, mapping_id: str, body: bytes, headers: dict[str, str]
) -> WebhookResult:
    return await svc.receive_webhook(
        tenant_id=TENANT, platform=platform, mapping_id=mapping_id, headers=headers, body=body
    )


async def test_free_text_is_kept_beside_the_submission_only_when_the_mapping_opts_in() -> None:
    store = InMemorySubmissionStore()
    svc = service(store)
    kept = formbricks_body("r-1", comment="Bra chef")
    dropped = typeform_body("t-1", comment="Också bra")
    await receive(svc, "formbricks", "test-puls-formbricks", kept, formbricks_headers(kept))
    await receive(svc, "typeform", "test-puls-typeform", dropped, typeform_headers(dropped))
    assert {key: text for key, (text, _at) in store.comments.items()} == {(TENANT, "r-1", "ovrigt"): "Bra chef"}
    assert all("q" in item for row in store.rows.values() for item in (row.answers or {}))


async def test_the_respondent_is_pseudonymised_before_the_store_sees_it() -> None:
    store = InMemorySubmissionStore()
    body = formbricks_body("r-2", user="employee-9")
    await receive(service(store), "formbricks", "test-puls-formbricks", body, formbricks_headers(body))
    assert store.rows[(TENANT, "r-2")].respondent == pseudonymise(key=KEY, tenant=TENANT, respondent="employee-9")


async def test_a_replayed_delivery_id_is_refused_even_with_a_fresh_signature() -> None:
    store = InMemorySubmissionStore()
    svc = service(store)
    body = formbricks_body("r-3")
    await receive(svc, "formbricks", "test-puls-formbricks", body, formbricks_headers(body, msg_id="msg_x"))
    with pytest.raises(ReplayedDeliveryError):
        await receive(svc, "formbricks", "test-puls-formbricks", body, formbricks_headers(body, msg_id="msg_x"))
    assert store.published == [("r-3", 1)]


async def test_the_signature_is_checked_before_the_body_is_read() -> None:
    with pytest.raises(SignatureError):
        await receive(service(InMemorySubmissionStore()), "formbricks", "test-puls-formbricks", b"{not json", {})


async def test_a_verified_body_that_cannot_be_mapped_names_the_field() -> None:
    body = formbricks_body("r-4", unit="")
    with pytest.raises(DeliveryError) as caught:
        await receive(
            service(InMemorySubmissionStore()), "formbricks", "test-puls-formbricks", body, formbricks_headers(body)
        )
    assert (caught.value.field, caught.value.reason) == ("unit", "missing_unit")


async def test_a_mapped_submission_that_fails_validation_stores_nothing() -> None:
    store = InMemorySubmissionStore()
    body = formbricks_body("r-5", answers={"uppskattning": 8})
    with pytest.raises(InvalidDeliveryError) as caught:
        await receive(service(store), "formbricks", "test-puls-formbricks", body, formbricks_headers(body))
    assert [e.field for e in caught.value.errors] == ["answers.q1"]
    assert store.rows == {}
    assert store.deliveries == {}


async def test_a_mapping_is_found_only_under_its_own_platform() -> None:
    svc = service(InMemorySubmissionStore())
    with pytest.raises(UnknownMappingError) as caught:
        await receive(svc, "typeform", "test-puls-formbricks", b"{}", {})
    assert caught.value.refusal.reason == "mapping_of_another_platform"
    with pytest.raises(UnknownMappingError) as caught:
        await receive(svc, "limesurvey", "test-puls-limesurvey", b"{}", {})
    assert caught.value.refusal.reason == "platform_sends_no_webhooks"


async def test_a_missing_secret_is_ours_to_fix_not_the_senders() -> None:
    body = typeform_body("t-2")
    with pytest.raises(SecretUnavailableError):
        await receive(service(InMemorySubmissionStore(), secrets={}), "typeform", "test-puls-typeform", body, {})


async def test_the_unsigned_formbricks_ping_stores_nothing() -> None:
    store = InMemorySubmissionStore()
    result = await receive(
        service(store, secrets={}), "formbricks", "test-puls-formbricks", b'{"event":"testEndpoint"}', {}
    )
    assert result.ignored == "test ping"
    assert store.rows == {}
    assert store.deliveries == {}


async def test_a_stale_formbricks_delivery_is_refused() -> None:
    body = formbricks_body("r-6")
    headers = formbricks_headers(body, at=time.time() - 400)
    with pytest.raises(SignatureError):
        await receive(service(InMemorySubmissionStore()), "formbricks", "test-puls-formbricks", body, headers)


async def test_erasure_uses_the_same_pseudonym_as_ingestion_and_ignores_surrounding_spaces() -> None:
    store = InMemorySubmissionStore()
    svc = service(store)
    body = formbricks_body("r-7", user="employee-9")
    await receive(svc, "formbricks", "test-puls-formbricks", body, formbricks_headers(body))
    erasure = await svc.erase_respondent(tenant_id=TENANT, respondent="  employee-9 ")
    assert erasure.respondent == pseudonymise(key=KEY, tenant=TENANT, respondent="employee-9")
    assert [(r.submission_id, r.revision) for r in erasure.retractions] == [("r-7", 2)]
    again = formbricks_body("r-7", user="employee-9", answers={"uppskattning": 1})
    result = await receive(svc, "formbricks", "test-puls-formbricks", again, formbricks_headers(again))
    assert [r.outcome for r in result.results] == [Outcome.ERASED]
