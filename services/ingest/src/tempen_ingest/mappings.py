"""Platform mappings, read from `<config>/mappings/<tenant>/<mapping id>.yaml` and checked against the tenants.

Read the way the rest of the configuration directory is read (`tempen_shared.tenancy.loader`): every
problem is collected with its file, line and a hint, so `tempen config check`, `tempen up` and ingest's
own start-up report the same problems in the same words.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tempen_ingest.domain.mappings import mapping_problems
from tempen_ingest.domain.platforms import PlatformMapping
from tempen_shared.tenancy.loader import Catalog, ConfigError, ConfigProblem, read_config_file

MAPPINGS_DIR = "mappings"


class MappingError(ConfigError):
    """Some mapping files cannot be used; `problems` names each file, line, key and reason."""


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
    mappings, problems = read_mappings(config_dir, catalog)
    if problems:
        raise MappingError(problems)
    return mappings


def read_mappings(config_dir: Path, catalog: Catalog) -> tuple[MappingCatalog, list[ConfigProblem]]:
    """Every tenant's usable mappings, and every problem of the others (and of the folder itself)."""
    root = config_dir / MAPPINGS_DIR
    if not root.is_dir():
        return MappingCatalog(), []
    problems: list[ConfigProblem] = []
    found: dict[tuple[str, str], PlatformMapping] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        tenant = catalog.tenants.get(folder.name)
        if tenant is None:
            problems.append(
                ConfigProblem(
                    str(folder),
                    None,
                    "",
                    f"no tenant {folder.name!r}",
                    f"a folder of mappings is named after its tenant: {', '.join(sorted(catalog.tenants))}",
                )
            )
            continue
        problems.extend(
            ConfigProblem(str(path), None, "", "not read: only *.yaml files are", f"rename it to {path.stem}.yaml")
            for path in sorted(folder.glob("*.yml"))
        )
        for path in sorted(folder.glob("*.yaml")):
            file_problems: list[ConfigProblem] = []
            read = read_config_file(path, PlatformMapping, file_problems)
            if read is not None:
                mapping, line_of = read
                if mapping.id != path.stem:
                    file_problems.append(
                        ConfigProblem(
                            str(path),
                            line_of(("id",)),
                            "id",
                            f"{mapping.id!r} differs from the file name",
                            f"rename the file to {mapping.id}.yaml, or the id to {path.stem!r}",
                        )
                    )
                file_problems.extend(
                    ConfigProblem(str(path), line_of(tuple(where.split("."))), where, message)
                    for where, message in mapping_problems(mapping, tenant)
                )
                if not file_problems:
                    found[(tenant.id, mapping.id)] = mapping
            problems.extend(file_problems)
    return MappingCatalog(found), problems
