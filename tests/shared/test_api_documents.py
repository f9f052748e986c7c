from __future__ import annotations

import json

from tempen.apidocs import DOCS, asyncapi, render
from tempen_shared.topics import TOPICS


def test_the_checked_in_asyncapi_document_matches_the_code() -> None:
    # Regenerate with `python -m tempen.apidocs` after changing an event or the topic registry.
    assert (DOCS / "asyncapi.json").read_text(encoding="utf-8") == render(asyncapi())


def test_asyncapi_lists_every_topic_and_its_dead_letter_topic() -> None:
    addresses = {channel["address"] for channel in json.loads(render(asyncapi()))["channels"].values()}
    for topic in TOPICS:
        assert {topic.name, topic.dead_letters} <= addresses
