"""Helpers for the tenancy tests: the shipped config, copies to break, and small org trees."""

from __future__ import annotations

import shutil
from pathlib import Path

from tempen_shared.tenancy.org import Manager, OrgTree, OrgUnit

REPO = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = REPO / "config"


def copy_config(target: Path) -> Path:
    """A private copy of the shipped configuration directory, to break on purpose."""
    copy = target / "config"
    shutil.copytree(SHIPPED_CONFIG, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return copy


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, fragment: str, *, at_start: bool = False) -> int:
    """The 1-based number of the first line, comments aside, that contains (or starts with) `fragment`."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        if line.startswith(fragment) if at_start else fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not in {path}")


def manager(name: str) -> Manager:
    return Manager(name=name.title(), email=f"{name}@kommun.example")


def unit(unit_id: str, parent: str | None, boss: str | None = None, name: str = "") -> OrgUnit:
    return OrgUnit(id=unit_id, name=name or unit_id.title(), parent=parent, manager=manager(boss) if boss else None)


def tree(*units: OrgUnit) -> OrgTree:
    return OrgTree.build(units)
