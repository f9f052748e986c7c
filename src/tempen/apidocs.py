"""API documents generated from the code, so they cannot drift: AsyncAPI 3.0 for the topics.

`python -m tempen.apidocs` rewrites docs/asyncapi.json; a test fails when the checked-in copy is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tempen_shared.events import DeadLetter
from tempen_shared.topics import TOPICS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(mode="serialization")


def asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in TOPICS:
        channel_id = topic.name.replace(".", "-")
        refs = {}
        for model in (topic.current, *topic.also):
            messages[model.__name__] = {
                "name": model.__name__,
                "title": model.__name__,
                "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else model.__name__,
                "contentType": "application/json",
                "payload": _schema(model),
                "bindings": {"kafka": {"key": {"type": "string", "description": "tenant:unit"}}},
            }
            refs[model.__name__] = {"$ref": f"#/components/messages/{model.__name__}"}
        channels[channel_id] = {
            "address": topic.name,
            "description": f"Produced by {', '.join(topic.producers)}; consumed by {', '.join(topic.consumers)}. "
            f"Key: {topic.key}. {topic.partitions} partitions.",
            "messages": refs,
            "bindings": {"kafka": {"partitions": topic.partitions}},
        }
        channels[f"{channel_id}-dlq"] = {
            "address": topic.dead_letters,
            "description": f"Records of {topic.name} that can never be processed, with the reason.",
            "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
        }
        for producer in topic.producers:
            operations[f"{producer.replace(' ', '-')}-sends-{channel_id}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{channel_id}"},
            }
        for consumer in topic.consumers:
            operations[f"{consumer.replace(' ', '-')}-receives-{channel_id}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel_id}"},
            }
    messages["DeadLetter"] = {"name": "DeadLetter", "contentType": "application/json", "payload": _schema(DeadLetter)}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "tempen events",
            "version": "1",
            "description": "The topics between tempen's services. Every message is JSON, keyed tenant:unit, "
            "versioned by schema_version; consumers ignore unknown fields and dead-letter newer versions.",
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> int:
    target = DOCS / "asyncapi.json"
    target.write_text(render(asyncapi()), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
