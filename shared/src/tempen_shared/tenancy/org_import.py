"""Org files in, org trees out: parsing with every problem located, diffs between versions, guard rails.

Pure: nothing here stores anything, so a refused import has changed nothing. The caller decides
what to do with a tree that parsed, passed the guard rails and was shown as a diff.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tempen_shared.bounds import InputError, parse_json
from tempen_shared.tenancy.addresses import AddressError, parse_address
from tempen_shared.tenancy.org import Manager, OrgTree, OrgUnit, TreeProblemKind, tree_problems

REQUIRED_COLUMNS = ("unit_id", "name", "parent_id", "manager_name", "manager_email")
OPTIONAL_COLUMNS = ("headcount",)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
JSON_REQUIRED_KEYS = ("unit_id", "name")  # in JSON an absent key means empty: the root needs no parent_id
MAX_REMOVED_SHARE = 0.4  # an import removing more of the current units than this is refused unless forced

_UNIT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_PROGRESS_EVERY = 250

ProgressCallback = Callable[[int, int], None]  # (rows done, rows in the file)


@dataclass(frozen=True, slots=True)
class OrgProblem:
    """One reason an org file cannot be imported.

    `line` is the file line for CSV (the header is line 1) and the array index + 1 for JSON;
    None when the problem concerns the file as a whole.
    """

    line: int | None
    unit_id: str
    column: str
    reason: str
    hint: str = ""

    @property
    def location(self) -> str:
        return ".".join(part for part in (self.unit_id, self.column) if part)

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        text = f"{where}: {self.location}: {self.reason}" if self.location else f"{where}: {self.reason}"
        return f"{text} (hint: {self.hint})" if self.hint else text


class OrgFileError(ValueError):
    """An org file was refused. `problems` lists every problem found, in file order."""

    def __init__(self, problems: Sequence[OrgProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    values: Mapping[str, str]


def read_org(path: Path, *, on_progress: ProgressCallback | None = None) -> OrgTree:
    """Read an org file, CSV or (by the `.json` suffix) JSON, into a tree.

    Raises:
        OrgFileError: listing every problem with its line (see `OrgProblem`).
        OSError: the file cannot be read.
    """
    return OrgTree.build(_checked_units(read_org_rows(path, on_progress=on_progress)))


def parse_org(
    text: str, *, file_format: Literal["csv", "json"], on_progress: ProgressCallback | None = None
) -> OrgTree:
    """Parse the text of an org file into a tree; raises OrgFileError listing every problem."""
    return OrgTree.build(_checked_units(_parse_rows(text, file_format, on_progress)))


def read_org_rows(path: Path, *, on_progress: ProgressCallback | None = None) -> list[tuple[int, OrgUnit]]:
    """The units of an org file with their lines, checked row by row but not yet as a tree.

    Raises:
        OrgFileError: a row or the header is invalid.
        OSError: the file cannot be read.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise OrgFileError(
            [
                OrgProblem(
                    None,
                    "",
                    "",
                    f"not UTF-8 text (byte {exc.start})",
                    "save the file as UTF-8; in Excel choose 'CSV UTF-8 (kommaavgränsad)'",
                )
            ]
        ) from None
    file_format: Literal["csv", "json"] = "json" if path.suffix.lower() == ".json" else "csv"
    return _parse_rows(text, file_format, on_progress)


def _parse_rows(
    text: str, file_format: Literal["csv", "json"], on_progress: ProgressCallback | None
) -> list[tuple[int, OrgUnit]]:
    text = text.removeprefix("\ufeff")
    problems: list[OrgProblem] = []
    rows = _csv_rows(text, problems) if file_format == "csv" else _json_rows(text, problems)
    units: list[tuple[int, OrgUnit]] = []
    for done, row in enumerate(rows, start=1):
        unit = _unit(row, problems)
        if unit is not None:
            units.append((row.line, unit))
        if on_progress is not None and (done % _PROGRESS_EVERY == 0 or done == len(rows)):
            on_progress(done, len(rows))
    if problems:
        raise OrgFileError(sorted(problems, key=_file_order))
    return units


_TREE_HINTS: Mapping[TreeProblemKind, tuple[str, str]] = {
    "duplicate": ("unit_id", "each unit appears once; merge the rows or give one of them its own id"),
    "root": ("parent_id", "leave parent_id empty on the top unit only"),
    "unknown-parent": ("parent_id", "parent_id must be the unit_id of another unit in the same file"),
    "cycle": ("parent_id", "a unit cannot be below itself; correct parent_id on one of the units in the loop"),
}


def _checked_units(rows: Sequence[tuple[int, OrgUnit]]) -> list[OrgUnit]:
    units = [unit for _, unit in rows]
    problems = []
    for problem in tree_problems(units):
        line = rows[problem.index][0] if problem.index is not None else None
        reason = problem.reason
        if problem.duplicate_of is not None:
            reason = f"{reason}; first defined on line {rows[problem.duplicate_of][0]}"
        column, hint = _TREE_HINTS[problem.kind]
        problems.append(OrgProblem(line, problem.unit_id, column, reason, hint))
    if problems:
        raise OrgFileError(problems)
    return units


def _file_order(problem: OrgProblem) -> int:
    return -1 if problem.line is None else problem.line


def _csv_rows(text: str, problems: list[OrgProblem]) -> list[_Row]:
    first_line = text.split("\n", 1)[0]
    # Excel with Swedish settings writes semicolons, because the comma is the decimal separator.
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return _read_csv_rows(reader, delimiter, problems)
    except csv.Error as exc:  # a field beyond the csv module's limit, a NUL, an unclosed quote
        problems.append(
            OrgProblem(reader.line_num or None, "", "", f"not a readable CSV file: {exc}", "save it again as CSV UTF-8")
        )
        return []


def _read_csv_rows(reader: Any, delimiter: str, problems: list[OrgProblem]) -> list[_Row]:
    header = next(reader, None)
    if header is None or not any(cell.strip() for cell in header):
        problems.append(
            OrgProblem(None, "", "", "the file is empty", f"the first line names the columns: {','.join(COLUMNS)}")
        )
        return []
    columns = [cell.strip().lower() for cell in header]
    if not _columns_usable(columns, problems, line=1, unit_id="", what="column"):
        return []
    rows: list[_Row] = []
    last_line = reader.line_num
    for record in reader:
        line = last_line + 1  # a quoted field may span lines; the row starts after the previous one ended
        last_line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(columns):
            problems.append(
                OrgProblem(
                    line,
                    record[0].strip(),
                    "",
                    f"{len(record)} fields, but the header has {len(columns)}",
                    f"separate the fields with {delimiter!r}; quote a value that contains {delimiter!r}",
                )
            )
            continue
        rows.append(_Row(line, {c: v.strip() for c, v in zip(columns, record, strict=True) if c in COLUMNS}))
    return rows


def _columns_usable(
    columns: Sequence[str], problems: list[OrgProblem], *, line: int, unit_id: str, what: Literal["column", "key"]
) -> bool:
    """Report missing, repeated and misspelt columns; False when the rows cannot be read at all."""
    required = REQUIRED_COLUMNS if what == "column" else JSON_REQUIRED_KEYS
    usable = True
    seen: set[str] = set()
    for column in columns:
        if column in seen and column in COLUMNS:
            problems.append(OrgProblem(line, unit_id, column, f"{what} {column!r} appears twice"))
            usable = False
        seen.add(column)
        if column not in COLUMNS:
            # Extra columns from an HR-system export are ignored, but a near-miss is a typo that would
            # silently drop data (a misspelt headcount would read as "unknown").
            guess = difflib.get_close_matches(column, COLUMNS, n=1, cutoff=0.75)
            if guess and guess[0] not in columns:
                problems.append(
                    OrgProblem(line, unit_id, column, f"unknown {what} {column!r}", f"did you mean {guess[0]!r}?")
                )
    missing = [c for c in required if c not in seen]
    if missing:
        problems.append(
            OrgProblem(
                line,
                unit_id,
                "",
                f"missing required {what}{'s' if len(missing) > 1 else ''}: {', '.join(missing)}",
                f"the {what}s are {', '.join(COLUMNS)}; only headcount may be left out",
            )
        )
        usable = False
    return usable


def _json_rows(text: str, problems: list[OrgProblem]) -> list[_Row]:
    try:
        document = parse_json(text)
    except InputError as exc:
        problems.append(OrgProblem(None, "", "", exc.reason if exc.field == "(body)" else str(exc)))
        return []
    if not isinstance(document, list):
        problems.append(
            OrgProblem(None, "", "", "the file must be a JSON array of units", 'write [{"unit_id": ...}, ...]')
        )
        return []
    rows: list[_Row] = []
    for index, element in enumerate(document):
        line = index + 1
        if not isinstance(element, dict):
            problems.append(OrgProblem(line, "", "", "each element must be an object with the unit's fields"))
            continue
        unit_id = str(element.get("unit_id") or "")
        keys = [str(k).strip().lower() for k in element]
        if not _columns_usable(keys, problems, line=line, unit_id=unit_id, what="key"):
            continue
        values: dict[str, str] = {}
        for key, value in element.items():
            column = str(key).strip().lower()
            if column not in COLUMNS:
                continue
            if isinstance(value, bool) or not isinstance(value, str | int | None):
                problems.append(
                    OrgProblem(line, unit_id, column, f"expected text or a whole number, got {type(value).__name__}")
                )
                continue
            values[column] = "" if value is None else str(value).strip()
        rows.append(_Row(line, values))
    return rows


def _unit(row: _Row, problems: list[OrgProblem]) -> OrgUnit | None:
    found = len(problems)
    values = row.values
    unit_id = values.get("unit_id", "")

    def problem(column: str, reason: str, hint: str = "") -> None:
        problems.append(OrgProblem(row.line, unit_id, column, reason, hint))

    if not unit_id:
        problem("unit_id", "unit_id is empty", "every unit needs a stable id from the HR system")
    elif not _UNIT_ID.match(unit_id):
        problem(
            "unit_id",
            f"unit id {unit_id!r} has characters that are not allowed",
            "use letters, digits and - _ . : (no spaces), at most 128 characters",
        )
    name = values.get("name", "")
    if not name:
        problem("name", "name is empty")
    parent = values.get("parent_id", "") or None
    manager_name = values.get("manager_name", "")
    manager_email = values.get("manager_email", "")
    manager = None
    if manager_email:
        try:
            parse_address(manager_email)
        except AddressError as exc:
            problem("manager_email", f"malformed e-mail {manager_email!r}: {exc.reason}", exc.hint)
        if not manager_name:
            problem(
                "manager_name",
                "manager_email is given but manager_name is empty",
                "fill in both, or neither for a vacant post",
            )
        manager = Manager(name=manager_name, email=manager_email)
    elif manager_name:
        problem(
            "manager_email",
            f"manager {manager_name!r} has no e-mail address",
            "alerts are sent by e-mail; leave both fields empty only when the post is vacant",
        )
    headcount = _headcount(values.get("headcount", ""), problem)
    if len(problems) > found:
        return None
    return OrgUnit(id=unit_id, name=name, parent=parent, manager=manager, headcount=headcount)


def _headcount(text: str, problem: Callable[[str, str, str], None]) -> int | None:
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        problem("headcount", f"headcount {text!r} is not a whole number", "write the number of people, e.g. 24")
        return None
    if value < 0:
        problem("headcount", f"negative headcount {value}", "write 0 or more; leave it empty when unknown")
        return None
    return value


@dataclass(frozen=True, slots=True)
class UnitMoved:
    unit_id: str
    old_parent: str | None
    new_parent: str | None


@dataclass(frozen=True, slots=True)
class UnitRenamed:
    unit_id: str
    old_name: str
    new_name: str


@dataclass(frozen=True, slots=True)
class ManagerChanged:
    unit_id: str
    old: Manager | None  # None: the post was vacant
    new: Manager | None  # None: the post is now vacant

    @property
    def kind(self) -> Literal["appointed", "vacated", "replaced", "details"]:
        if self.old is None:
            return "appointed"
        if self.new is None:
            return "vacated"
        return "details" if self.old.identity == self.new.identity else "replaced"


@dataclass(frozen=True, slots=True)
class OrgDiff:
    """What importing a new org version changes, unit by unit, in tree order."""

    old_size: int
    new_size: int
    added: tuple[OrgUnit, ...] = ()
    removed: tuple[OrgUnit, ...] = ()
    moved: tuple[UnitMoved, ...] = ()
    renamed: tuple[UnitRenamed, ...] = ()
    manager_changes: tuple[ManagerChanged, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.moved or self.renamed or self.manager_changes)

    def summary(self) -> str:
        if self.is_empty:
            return f"no changes ({self.new_size} units)"
        counts = [
            (len(self.added), "added"),
            (len(self.removed), "removed"),
            (len(self.moved), "moved"),
            (len(self.renamed), "renamed"),
            (len(self.manager_changes), "manager changes" if len(self.manager_changes) != 1 else "manager change"),
        ]
        listed = ", ".join(f"{n} {label}" for n, label in counts if n)
        return f"{self.old_size} units before, {self.new_size} after: {listed}"

    def render(self) -> str:
        """The diff as text for a person: a summary line, then one line per change under a heading."""
        lines = [self.summary()]
        sections: list[tuple[str, list[str]]] = [
            (
                "Added",
                [f"  + {u.id}  {u.name}  (under {u.parent or '-'}; {_manager_text(u.manager)})" for u in self.added],
            ),
            ("Removed", [f"  - {u.id}  {u.name}  (was under {u.parent or '-'})" for u in self.removed]),
            ("Moved", [f"  > {m.unit_id}: {m.old_parent or '-'} -> {m.new_parent or '-'}" for m in self.moved]),
            ("Renamed", [f'  ~ {r.unit_id}: "{r.old_name}" -> "{r.new_name}"' for r in self.renamed]),
            ("Managers", [f"  * {c.unit_id}: {_change_text(c)}" for c in self.manager_changes]),
        ]
        for heading, entries in sections:
            if entries:
                lines.extend(["", heading, *entries])
        return "\n".join(lines)


def _manager_text(manager: Manager | None) -> str:
    return f"manager {manager.name} <{manager.email}>" if manager else "vacant"


def _person(manager: Manager | None) -> str:
    return f"{manager.name} <{manager.email}>" if manager else "vacant"


def _change_text(change: ManagerChanged) -> str:
    match change.kind:
        case "appointed":
            return f"appointed {_person(change.new)} (was vacant)"
        case "vacated":
            return f"vacant (was {_person(change.old)})"
        case "details":
            return f"details updated: {_person(change.old)} -> {_person(change.new)}"
        case "replaced":
            return f"{_person(change.old)} -> {_person(change.new)}"


def diff_org(old: OrgTree | None, new: OrgTree) -> OrgDiff:
    """What changes from `old` to `new`; with no `old` (a first import) every unit is added."""
    if old is None:
        return OrgDiff(0, len(new.units), added=tuple(new.units[uid] for uid in _tree_order(new)))
    order = _tree_order(new)
    kept = [uid for uid in order if uid in old.units]
    return OrgDiff(
        old_size=len(old.units),
        new_size=len(new.units),
        added=tuple(new.units[uid] for uid in order if uid not in old.units),
        removed=tuple(old.units[uid] for uid in _tree_order(old) if uid not in new.units),
        moved=tuple(
            UnitMoved(uid, old.units[uid].parent, new.units[uid].parent)
            for uid in kept
            if old.units[uid].parent != new.units[uid].parent
        ),
        renamed=tuple(
            UnitRenamed(uid, old.units[uid].name, new.units[uid].name)
            for uid in kept
            if old.units[uid].name != new.units[uid].name
        ),
        manager_changes=tuple(
            ManagerChanged(uid, old.units[uid].manager, new.units[uid].manager)
            for uid in kept
            if old.units[uid].manager != new.units[uid].manager
        ),
    )


def _tree_order(tree: OrgTree) -> list[str]:
    """Units depth first from the root, siblings by id, so parents are listed before their children."""
    order: list[str] = []
    stack = [tree.root]
    while stack:
        current = stack.pop()
        order.append(current)
        stack.extend(sorted(tree.children[current], reverse=True))
    return order


def check_guard_rails(old: OrgTree | None, new: OrgTree, *, force: bool) -> list[str]:
    """The reasons to refuse replacing `old` with `new`; empty when the import may go ahead.

    Refused unless `force`: removing more than 40 % of the current units (usually a partial export
    or re-keyed ids), and a different root unit (usually the wrong file or another organisation).
    A first import (`old` is None) is never refused.
    """
    if old is None or force:
        return []
    reasons = []
    removed = [uid for uid in old.units if uid not in new.units]
    if len(removed) > MAX_REMOVED_SHARE * len(old.units):
        reasons.append(
            f"the import removes {len(removed)} of {len(old.units)} units "
            f"({len(removed) / len(old.units):.0%}, more than {MAX_REMOVED_SHARE:.0%}); "
            "a partial export or changed unit ids would look like this"
        )
    if old.root != new.root:
        reasons.append(
            f"the root unit changes from {old.root!r} to {new.root!r}; "
            "this usually means the wrong file or another organisation"
        )
    return reasons
