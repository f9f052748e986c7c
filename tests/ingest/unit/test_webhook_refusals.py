"""What a refused webhook URL is told: what to do instead, naming nothing it cannot stand behind."""

from __future__ import annotations

from tempen_ingest.domain.webhooks import WEBHOOK_PLATFORMS, Refusal, webhook_mapping


def refusal(platform: str, mapping_id: str) -> Refusal:
    refused = webhook_mapping(platform, tenant="hjo", mapping_id=mapping_id, mapping=None)
    assert isinstance(refused, Refusal)
    return refused


def test_a_hostile_platform_segment_is_echoed_at_most_forty_characters_long() -> None:
    refused = refusal("x" * 5000 + "\x00", "hjo-puls")

    assert refused.reason == "unknown_platform"
    assert "x" * 41 not in refused.detail
    assert "\x00" not in refused.detail


def test_a_mapping_id_no_mapping_can_have_is_not_offered_as_a_file_to_create() -> None:
    for platform in (WEBHOOK_PLATFORMS[0], "limesurvey"):
        refused = refusal(platform, "../../etc/passwd")

        assert "../" not in refused.detail
        assert "config/mappings/hjo/" in refused.detail
