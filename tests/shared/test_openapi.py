"""The OpenAPI documents cover every HTTP route each service really has, and are up to date."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.routing import Route

from tempen.apidocs import DOCS, SERVICES, openapi, render
from tempen_shared.http import ServiceApp


def _app(service: str, config: Path) -> ServiceApp:
    settings = {"DATABASE_URL": "postgresql://unused@127.0.0.1:1/none", "TEMPEN_CONFIG_DIR": config}
    if service == "ingest":
        from tempen_ingest.app import create_app as ingest
        from tempen_ingest.config import IngestSettings

        return ingest(IngestSettings(**settings))
    if service == "scoring":
        from tempen_scoring.app import create_app as scoring
        from tempen_scoring.config import ScoringSettings

        return scoring(ScoringSettings(**settings))
    from tempen_alerts.app import create_app as alerts
    from tempen_alerts.config import AlertsSettings

    return alerts(AlertsSettings(**settings))


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_of_the_service_is_documented_and_nothing_more(service: str, fixture_config: Path) -> None:
    # Building an app connects to nothing; only its routes are read.
    routes = {
        (method, route.path)
        for route in _app(service, fixture_config).http.routes
        if isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}
    }
    documented = {(method.upper(), path) for path, ops in openapi(service)["paths"].items() for method in ops}
    assert routes == documented


@pytest.mark.parametrize("service", SERVICES)
def test_the_checked_in_openapi_document_matches_the_code(service: str) -> None:
    # Regenerate with `python -m tempen.apidocs` after changing an endpoint.
    assert (DOCS / "openapi" / f"{service}.json").read_text(encoding="utf-8") == render(openapi(service))
