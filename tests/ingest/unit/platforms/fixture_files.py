"""Reads the platforms' payload files in tests/ingest/fixtures/platforms (sources in the README there)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parents[2] / "fixtures" / "platforms"


def fixture_bytes(platform: str, name: str) -> bytes:
    return (FIXTURES / platform / name).read_bytes()


def fixture_json(platform: str, name: str) -> Any:
    return json.loads(fixture_bytes(platform, name))


def as_body(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()
