"""Platform mappings, read from `<config>/mappings/<tenant>/<mapping id>.yaml` and checked against the tenants."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from tempen_ingest.domain.mappings import mapping_problems
from tempen_ingest.domain.platforms import PlatformMapping
from tempen_shared.tenancy.loader import Catalog

MAPPINGS_DIR = "mappings"


class MappingError(Exception):
    """Some mapping files cannot be used; `problems` names each file, key and reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class MappingCatalog:
    mappings: dict[tuple[str, str], PlatformMapping] = field(default_factory=dict)

    def get(self, tenant: str, mapping_id: str) -> PlatformMapping | None:
        return self.mappings.get((tenant, mapping_id))

    def __iter__(self) -> Iterator[PlatformMapping]:
        return iter(self.mappings.values())

    def __len__(self) -> int:
        return len(self.mappings)


def load_mappings(config_dir: Path, catalog: Catalog) -> MappingCatalog:
    """Read every tenant's mappings; raise MappingError listing every problem. No folder: no mappings."""
    root = config_dir / MAPPINGS_DIR
    if not root.is_dir():
        return MappingCatalog()
    problems: list[str] = []
    found: dict[tuple[str, str], PlatformMapping] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        tenant = catalog.tenants.get(folder.name)
        if tenant is None:
            problems.append(f"{folder}: no tenant {folder.name!r} (known: {', '.join(sorted(catalog.tenants))})")
            continue
        problems.extend(
            f"{path}: not read; only *.yaml is (rename it to {path.stem}.yaml)" for path in sorted(folder.glob("*.yml"))
        )
        for path in sorted(folder.glob("*.yaml")):
            mapping = _read(path, problems)
            if mapping is None:
                continue
            if mapping.id != path.stem:
                problems.append(
                    f"{path}: id: {mapping.id!r} differs from the file name; rename it to {mapping.id}.yaml"
                )
            problems.extend(f"{path}: {where}: {message}" for where, message in mapping_problems(mapping, tenant))
            found[(tenant.id, mapping.id)] = mapping
    if problems:
        raise MappingError(problems)
    return MappingCatalog(found)


def _read(path: Path, problems: list[str]) -> PlatformMapping | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: cannot be read: {exc}")
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        problems.append(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}")
        return None
    try:
        return PlatformMapping.model_validate(data)
    except ValidationError as exc:
        # include_input=False: a secret pasted where a reference belongs is never repeated.
        for error in exc.errors(include_input=False, include_url=False):
            location = ".".join(str(p) for p in error["loc"]) or "(document)"
            problems.append(f"{path}: {location}: {error['msg']}")
        return None
