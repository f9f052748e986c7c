"""The configuration shipped in config/, read with the pydantic models alone (no tenants needed)."""

from __future__ import annotations

from pathlib import Path

import yaml

from tempen_shared.tenancy.models import Instrument, LeadershipModel

CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"
SOURCES_DIR = Path(__file__).resolve().parent / "sources"


def shipped_models() -> dict[str, LeadershipModel]:
    models = (LeadershipModel.model_validate(yaml.safe_load(p.read_text("utf-8"))) for p in _yaml_files("models"))
    return {model.id: model for model in models}


def shipped_instruments() -> dict[str, Instrument]:
    instruments = (Instrument.model_validate(yaml.safe_load(p.read_text("utf-8"))) for p in _yaml_files("instruments"))
    return {instrument.id: instrument for instrument in instruments}


def _yaml_files(kind: str) -> list[Path]:
    return sorted((CONFIG_DIR / kind).glob("*.yaml"))
