"""The JSON body an alert transition is POSTed with to a tenant's webhook (Teams/Slack relays, ticket systems).

The same facts as the e-mail and nothing more: the unit's index per period with its number of
respondents, the rule that fired and its reason. Never an answer, never a name of a person, and for
a suppressed period only that it had too few responses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from tempen_alerts.domain.rules import PeriodScore
from tempen_shared.events.alerts import AlertState

WebhookKind = Literal["alert.opened", "alert.escalated", "alert.resolved", "alert.acknowledged"]
SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertFacts:
    """What a webhook says about one transition of one alert."""

    alert_id: str
    tenant: str
    tenant_name: str
    unit: str
    unit_name: str
    model: str
    dimension: str
    dimension_name: str
    previous_state: AlertState | None
    state: AlertState
    level: int
    rule: str
    reason: str
    threshold: float
    history: Sequence[PeriodScore]  # the periods to show, oldest first
    acknowledge_url: str


def webhook_payload(kind: WebhookKind, facts: AlertFacts, *, occurred_at: datetime) -> dict[str, Any]:
    """The payload in the Standard Webhooks shape `{type, timestamp, data}`.

    Raises:
        ValueError: `occurred_at` is naive, or `acknowledge_url` is not an absolute http(s) address.
    """
    if occurred_at.utcoffset() is None:
        raise ValueError("occurred_at must be timezone-aware")
    url = urlsplit(facts.acknowledge_url)
    if url.scheme not in {"http", "https"} or not url.netloc:
        raise ValueError(f"acknowledge_url must be an absolute http(s) address, got {facts.acknowledge_url!r}")
    return {
        "type": kind,
        "timestamp": occurred_at.isoformat(),
        "data": {
            "schema_version": SCHEMA_VERSION,
            "alert_id": facts.alert_id,
            "tenant": facts.tenant,
            "tenant_name": facts.tenant_name,
            "unit": facts.unit,
            "unit_name": facts.unit_name,
            "model": facts.model,
            "dimension": facts.dimension,
            "dimension_name": facts.dimension_name,
            "previous_state": facts.previous_state,
            "state": facts.state,
            "level": facts.level,
            "rule": facts.rule,
            "reason": facts.reason,
            "threshold": facts.threshold,
            "periods": [_period(score) for score in facts.history],
            "acknowledge_url": facts.acknowledge_url,
        },
    }


def webhook_body(payload: dict[str, Any]) -> str:
    """The exact text that is sent and signed: compact JSON, UTF-8, keys in a stable order."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _period(score: PeriodScore) -> dict[str, Any]:
    if score.index is None:
        # Nothing about a suppressed period but that it was: not even its n, which would show a small group.
        return {"period": score.period, "suppressed": True}
    return {
        "period": score.period,
        "suppressed": False,
        "index": round(score.index, 1),
        "n": score.respondents,
        "standard_error": round(score.standard_error, 2) if score.standard_error is not None else None,
        "tenant_index": round(score.tenant_index, 1) if score.tenant_index is not None else None,
    }
