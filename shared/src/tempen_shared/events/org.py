"""Org trees as events, so scoring and alerts keep their own copies in their own tables."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import Field

from tempen_shared.events.base import Event

ORG_NAMESPACE = uuid5(NAMESPACE_URL, "https://tempen.example/org")


class OrgUnitVersionedV1(Event):
    """One unit as it stands in one version of a tenant's org tree.

    An imported version is published as one record per unit, keyed tenant:unit, each carrying
    `unit_count`; a consumer uses a version only once it holds all `unit_count` units of it, so a
    half-received version never routes an alert. Versions are in force from `effective_from` until
    the next version's date. A unit absent from a newer version was removed by it. The manager's
    name and work e-mail are what routing needs; nothing else about people travels.
    """

    schema_version: Literal[1] = 1
    tenant: str
    version: int = Field(ge=1)
    effective_from: date
    unit_count: int = Field(ge=1)
    unit: str
    name: str
    parent: str | None
    manager_name: str | None = None
    manager_email: str | None = None
    headcount: int | None = Field(default=None, ge=0)


OrgUnitVersioned = OrgUnitVersionedV1


def org_event_id(tenant: str, version: int, unit: str) -> UUID:
    return uuid5(ORG_NAMESPACE, f"{tenant}\x1f{version}\x1f{unit}")
