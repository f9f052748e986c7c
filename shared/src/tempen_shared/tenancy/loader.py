"""Reads the configuration directory: tenants/*.yaml, models/*.yaml, instruments/*.yaml and org files."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from tempen_shared.tenancy.models import Instrument, LeadershipModel, TenantConfig
from tempen_shared.tenancy.org import Manager, OrgTree, OrgTreeError, OrgUnit

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    file: str
    line: int | None
    location: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.location}: {self.message}" if self.location else f"{where}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


class ConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Tenant:
    """A tenant with everything it refers to resolved."""

    config: TenantConfig
    instruments: dict[str, Instrument]
    models: dict[str, LeadershipModel]
    org: OrgTree

    @property
    def id(self) -> str:
        return self.config.id


@dataclass(frozen=True)
class Catalog:
    tenants: dict[str, Tenant] = field(default_factory=dict)
    models: dict[str, LeadershipModel] = field(default_factory=dict)
    instruments: dict[str, Instrument] = field(default_factory=dict)


def _line_of(text: str, path: tuple[int | str, ...]) -> int | None:
    """Best-effort line of a key path in a YAML document, for messages an HR admin can act on."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node else None
    for step in path:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == step), None)
            if match is None:
                key = next((k for k, _ in node.value if k.value == step), None)
                return key.start_mark.line + 1 if key else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
        else:
            return line
        line = node.start_mark.line + 1
    return line


def _load_yaml_model(path: Path, model: type[M], problems: list[ConfigProblem]) -> M | None:
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.append(ConfigProblem(str(path), mark.line + 1 if mark else None, "", f"not valid YAML: {exc}"))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            problems.append(
                ConfigProblem(
                    str(path), _line_of(text, loc), ".".join(str(p) for p in loc) or "(document)", error["msg"]
                )
            )
        return None


def read_org_file(path: Path) -> list[OrgUnit]:
    """Units from a CSV (unit_id,name,parent_id,manager_name,manager_email,headcount) or JSON list."""
    rows: list[dict[str, str]]
    if path.suffix.lower() == ".json":
        rows = [{k: "" if v is None else str(v) for k, v in row.items()} for row in json.loads(path.read_text())]
    else:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    return [_org_unit(row) for row in rows]


def _org_unit(row: dict[str, str]) -> OrgUnit:
    email = (row.get("manager_email") or "").strip()
    name = (row.get("manager_name") or "").strip()
    headcount = (row.get("headcount") or "").strip()
    return OrgUnit(
        id=row["unit_id"].strip(),
        name=(row.get("name") or "").strip(),
        parent=(row.get("parent_id") or "").strip() or None,
        manager=Manager(name=name, email=email) if email else None,
        headcount=int(headcount) if headcount else None,
    )


def load_catalog(config_dir: Path) -> Catalog:
    """Load and cross-check the whole configuration directory; raise ConfigError listing every problem."""
    problems: list[ConfigProblem] = []
    models: dict[str, LeadershipModel] = {}
    instruments: dict[str, Instrument] = {}
    instrument_files: dict[str, Path] = {}
    for path in sorted((config_dir / "models").glob("*.yaml")):
        if (model := _load_yaml_model(path, LeadershipModel, problems)) is not None:
            models[model.id] = model
    for path in sorted((config_dir / "instruments").glob("*.yaml")):
        if (instrument := _load_yaml_model(path, Instrument, problems)) is not None:
            instruments[instrument.id] = instrument
            instrument_files[instrument.id] = path
    for instrument_id, instrument in instruments.items():
        path = instrument_files[instrument_id]
        text = path.read_text(encoding="utf-8")
        for index, model_id in enumerate(instrument.models):
            if model_id not in models:
                problems.append(
                    ConfigProblem(
                        str(path),
                        _line_of(text, ("models", index)),
                        f"models.{index}",
                        f"unknown model {model_id!r}",
                        f"known models: {', '.join(sorted(models)) or 'none'}",
                    )
                )
        for index, item in enumerate(instrument.items):
            model_id = instrument.model_of(item)
            model = models.get(model_id)
            if model is None:
                if model_id not in instrument.models:
                    problems.append(
                        ConfigProblem(
                            str(path),
                            _line_of(text, ("items", index, "model")),
                            f"items.{index}.model",
                            f"item {item.id!r} names model {model_id!r}, which the instrument does not list",
                            "add it to the instrument's models",
                        )
                    )
                continue
            dimension_ids = {d.id for d in model.dimensions}
            if item.dimension not in dimension_ids:
                problems.append(
                    ConfigProblem(
                        str(path),
                        _line_of(text, ("items", index, "dimension")),
                        f"items.{index}.dimension",
                        f"item {item.id!r} maps to unknown dimension {item.dimension!r} of {model_id}",
                        f"dimensions of {model_id}: {', '.join(sorted(dimension_ids))}",
                    )
                )
        for model_id in instrument.models:
            model = models.get(model_id)
            if model is None:
                continue
            empty = sorted({d.id for d in model.dimensions} - {i.dimension for i in instrument.items_of(model_id)})
            if empty:
                problems.append(
                    ConfigProblem(
                        str(path),
                        _line_of(text, ("items",)),
                        "items",
                        f"dimensions of {model_id} with no item: {', '.join(empty)}",
                        "map at least one item to each dimension",
                    )
                )
    tenants: dict[str, Tenant] = {}
    for path in sorted((config_dir / "tenants").glob("*.yaml")):
        config = _load_yaml_model(path, TenantConfig, problems)
        if config is None:
            continue
        text = path.read_text(encoding="utf-8")
        if config.id != path.stem:
            problems.append(
                ConfigProblem(
                    str(path),
                    _line_of(text, ("id",)),
                    "id",
                    f"tenant id {config.id!r} differs from the file name",
                    f"rename the file to {config.id}.yaml",
                )
            )
        missing = [i for i in config.instruments if i not in instruments]
        for index, instrument_id in enumerate(config.instruments):
            if instrument_id in missing:
                problems.append(
                    ConfigProblem(
                        str(path),
                        _line_of(text, ("instruments", index)),
                        f"instruments.{index}",
                        f"unknown instrument {instrument_id!r}",
                        f"known: {', '.join(sorted(instruments))}",
                    )
                )
        org_path = (config_dir / config.org_file).resolve()
        try:
            org = OrgTree.build(read_org_file(org_path))
        except FileNotFoundError:
            problems.append(
                ConfigProblem(
                    str(path),
                    _line_of(text, ("org_file",)),
                    "org_file",
                    f"org file {config.org_file} not found",
                    "paths are relative to the config directory",
                )
            )
            continue
        except OrgTreeError as exc:
            problems.extend(ConfigProblem(str(org_path), None, unit, reason) for unit, reason in exc.problems)
            continue
        except (KeyError, ValueError) as exc:
            problems.append(ConfigProblem(str(org_path), None, "", f"cannot read org file: {exc}"))
            continue
        if missing:
            continue
        chosen = {i: instruments[i] for i in config.instruments}
        tenants[config.id] = Tenant(
            config=config,
            instruments=chosen,
            models={m: models[m] for i in chosen.values() for m in i.models if m in models},
            org=org,
        )
    if problems:
        raise ConfigError(problems)
    return Catalog(tenants=tenants, models=models, instruments=instruments)
