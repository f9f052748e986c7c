"""API documents generated from the code, so they cannot drift: AsyncAPI 3.0 for the topics and
OpenAPI 3.1 for each service's HTTP API.

`python -m tempen.apidocs` rewrites docs/asyncapi.json and docs/openapi/*.json; a test fails when a
checked-in copy is stale.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tempen_shared.events import DeadLetter
from tempen_shared.topics import TOPICS

DOCS = Path(__file__).resolve().parents[2] / "docs"
HEADERS = {
    "type": "object",
    "properties": {
        "correlation_id": {
            "type": "string",
            "description": "tenant:submission_id of the submission this message traces back to (for score "
            "events the last one of the batch that touched the unit; for alert transitions the alert id when "
            "no submission caused it). Absent where nothing did. See docs/operations.md, Tracing a submission.",
        },
    },
}


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
                "headers": HEADERS,
                "payload": _schema(model),
                "bindings": {"kafka": {"key": {"type": "string", "description": topic.key}}},
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
    messages["DeadLetter"] = {
        "name": "DeadLetter",
        "contentType": "application/json",
        "headers": HEADERS,
        "payload": _schema(DeadLetter),
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "tempen events",
            "version": "1",
            "description": "The topics between tempen's services. Every message is JSON, keyed tenant:unit "
            "(submissions by tenant: scoring's roll-ups span a tenant's whole tree), "
            "versioned by schema_version; consumers ignore unknown fields and dead-letter newer versions.",
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


PROBLEM = {
    "description": "RFC 9457 problem: which field and why",
    "content": {
        "application/problem+json": {
            "schema": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "errors": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
                        },
                    },
                },
            }
        }
    },
}
JSON_OBJECT = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str
    summary: str
    scope: str | None  # None: authenticated otherwise (a platform's signature)
    body: type[BaseModel] | dict[str, Any] | None = None
    ok: int = 200


def _operations() -> list[Operation]:
    from tempen_alerts.entrypoints.http import AcknowledgeBody, BacktestBody, CommentBody, PlanBody, ResolveBody
    from tempen_alerts.entrypoints.links import RevokeBody
    from tempen_shared.events import CanonicalSubmission

    submissions: dict[str, Any] = {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"$ref": "#/components/schemas/CanonicalSubmission"},
                    {
                        "type": "array",
                        "maxItems": 10_000,
                        "items": {"$ref": "#/components/schemas/CanonicalSubmission"},
                    },
                ]
            }
        },
        "application/x-ndjson": {"schema": {"type": "string", "description": "one submission per line"}},
        "text/csv": {
            "schema": {
                "type": "string",
                "description": "canonical CSV: a header row with submission_id, unit and submitted_at (tenant,"
                " instrument and respondent optional), then a column per item holding a whole number; one result"
                " per data row, with its line (docs/platforms.md)",
            }
        },
    }
    t = "/v1/tenants/{tenant}"
    return [
        Operation(
            "ingest",
            "POST",
            f"{t}/submissions",
            "Submit one submission (202) or a batch (202, a status per item); 413 over 10,000",
            "submit",
            {"content": submissions, "_model": CanonicalSubmission},
            202,
        ),
        Operation(
            "ingest",
            "POST",
            f"{t}/webhooks/{{platform}}/{{mapping_id}}",
            "A survey platform's own webhook (Formbricks, Typeform, KoboToolbox, SurveyMonkey, Qualtrics),"
            " verified by its signature",
            None,
            {
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
                }
            },
            202,
        ),
        Operation(
            "ingest",
            "GET",
            f"{t}/webhooks/{{platform}}/{{mapping_id}}",
            "200 when the mapping exists (SurveyMonkey checks a webhook URL with HEAD, Qualtrics with GET)",
            None,
        ),
        Operation(
            "ingest",
            "POST",
            f"{t}/gdpr/erase",
            "Erase a respondent's raw answers and retract them from the aggregates",
            "admin",
            {
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["respondent"],
                            "properties": {"respondent": {"type": "string"}},
                        }
                    }
                }
            },
        ),
        Operation(
            "ingest",
            "POST",
            f"{t}/admin/org",
            "Import an org tree version (CSV or JSON); query: dry_run, force, effective_from",
            "admin",
            {
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "array"}},
                }
            },
            201,
        ),
        Operation("ingest", "GET", f"{t}/org", "The current org version", "read"),
        Operation(
            "scoring",
            "GET",
            f"{t}/units/{{unit}}/scores",
            "A unit's score series per model and dimension, with suppression flags; query: model, scope, dimension",
            "read",
        ),
        Operation(
            "scoring",
            "GET",
            f"{t}/hidden-units",
            "Units whose results were hidden, why, whether they can alert, and what HR can do; never a"
            " respondent count; query: period (default the latest closed), periods (1-60, default 6),"
            " instrument, model",
            "read",
        ),
        Operation(
            "scoring",
            "GET",
            f"{t}/reports/hme",
            "The HME report: HME total index and sub-indices of the municipality and each förvaltning per"
            " round, with respondents and response rates, published groups only; query: rounds (1-20,"
            " default 5), instrument",
            "read",
        ),
        Operation(
            "scoring",
            "GET",
            f"{t}/scores",
            "Every unit's publishable figures of one model for a closed period or the last N; a hidden cell"
            " gives its reason only, never its index or size; query: model (required), instrument, period"
            " (default the latest closed), periods (1-24, default 1), scope (unit or subtree), units (up to 500"
            " ids, comma-separated)",
            "read",
        ),
        Operation("alerts", "GET", f"{t}/alerts", "Alerts; query: status, unit, recipient", "read"),
        Operation(
            "alerts", "GET", f"{t}/alerts/{{alert_id}}", "One alert with its evidence, history and action plan", "read"
        ),
        Operation(
            "alerts",
            "POST",
            f"{t}/alerts/{{alert_id}}/acknowledge",
            "Acknowledge with an action plan and a follow-up date",
            "manage",
            AcknowledgeBody,
        ),
        Operation(
            "alerts",
            "POST",
            f"{t}/alerts/{{alert_id}}/resolve",
            "Resolve by hand, with a reason",
            "manage",
            ResolveBody,
        ),
        Operation(
            "alerts",
            "POST",
            f"{t}/alerts/backtest",
            "Replay the stored score history through the alert rules (the tenant's policy or one given), writing"
            " nothing and notifying nobody; source scoring (through scoring's API, with the caller's token) or"
            " alerts (its own copy)",
            "read",
            BacktestBody,
        ),
        Operation(
            "alerts",
            "GET",
            f"{t}/admin/links",
            "The personal links of one person's e-mails, revoked or not; query: recipient",
            "admin",
        ),
        Operation(
            "alerts",
            "GET",
            f"{t}/admin/links/revoked",
            "Links revoked since a time (the portal asks, to end their sessions); query: since",
            "admin",
        ),
        Operation(
            "alerts",
            "POST",
            f"{t}/admin/links/{{notification_id}}/revoke",
            "Revoke the personal link of one e-mail, with a reason; the first revocation stands",
            "admin",
            RevokeBody,
        ),
        Operation(
            "alerts",
            "POST",
            f"{t}/alerts/{{alert_id}}/plan",
            "Write the action plan or its next revision (a part left out stays); 409 when the plan is closed",
            "manage",
            PlanBody,
        ),
        Operation(
            "alerts",
            "POST",
            f"{t}/alerts/{{alert_id}}/plan/comments",
            "Add a follow-up comment to the action plan; 409 when the plan is closed",
            "manage",
            CommentBody,
            201,
        ),
    ]


def openapi(service: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for op in (o for o in _operations() if o.service == service):
        operation: dict[str, Any] = {
            "summary": op.summary,
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in re.findall(r"\{(\w+)\}", op.path)
            ],
            "responses": {str(op.ok): JSON_OBJECT, "401": PROBLEM, "403": PROBLEM, "404": PROBLEM, "422": PROBLEM},
        }
        operation["security"] = [{"bearer": [op.scope]}] if op.scope else []
        if isinstance(op.body, type):
            schemas[op.body.__name__] = op.body.model_json_schema()
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}},
            }
        elif isinstance(op.body, dict):
            model = op.body.get("_model")
            if model is not None:
                schemas[model.__name__] = model.model_json_schema()
            operation["requestBody"] = {"required": True, "content": op.body["content"]}
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"tempen {service}",
            "version": "1",
            "description": "Every /v1/tenants/{tenant}/ endpoint needs a bearer token of that tenant with the "
            "scope shown (or an admin token); see docs/access.md. /healthz, /readyz and /metrics are open.",
        },
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


SERVICES = ("ingest", "scoring", "alerts")


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> int:
    targets = {DOCS / "asyncapi.json": asyncapi()}
    targets.update({DOCS / "openapi" / f"{service}.json": openapi(service) for service in SERVICES})
    for target, document in targets.items():
        target.parent.mkdir(exist_ok=True)
        target.write_text(render(document), encoding="utf-8")
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
