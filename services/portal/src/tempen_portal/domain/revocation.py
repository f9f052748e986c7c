"""Whether alerts' answer about an alert says a notification's e-mail link was revoked. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def revoked_in(alert: Mapping[str, Any], notification_id: object) -> bool:
    """True if the alert's notification `notification_id` (a string, as alerts' JSON has it) carries a
    `link_revoked_at`: an operator revoked that e-mail's personal link."""
    return any(
        n.get("notification_id") == notification_id and n.get("link_revoked_at") for n in alert.get("notifications", [])
    )
