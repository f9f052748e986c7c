"""A synthetic municipality and its monthly pulses, the same for the same seed, byte for byte.

The org tree has the shape of a Swedish municipality: kommundirektör -> förvaltning -> verksamhet ->
enhet -> arbetsgrupp. First-line groups have 15-30 people, one in eight up to 60 (care, schools);
managers sit directly in the units they head, so those units' own groups are small and suppressed.
Every unit has its own answer level per leadership dimension and its own response rate; a few work
groups deteriorate for some months and then recover, which is what alerts exist to catch.

Answers follow the shipped `hjo-puls` instrument (16 items of Hjo's leadership model on 1-5 with
"vet ej" = 6, one of them reverse-coded, and SKR's nine HME items), so every submission feeds two
models. Nothing here talks to a service: it writes a config directory and yields JSON bytes.
"""

from __future__ import annotations

import calendar
import csv
import io
import itertools
import math
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import orjson
import yaml

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = REPO / "config"
INSTRUMENT = "hjo-puls"
TENANT = "bench"
ZONE = ZoneInfo("Europe/Stockholm")
MEAN_RESPONSE_RATE = 0.8
DEFAULT_PERIODS = 24
MIN_EMPLOYEES, MAX_EMPLOYEES = 300, 60_000
T = TypeVar("T")
NOT_APPLICABLE = 6  # "vet ej" on the Hjo items

FORVALTNINGAR = (
    "Barn- och utbildningsförvaltningen", "Vård- och omsorgsförvaltningen", "Socialförvaltningen",
    "Samhällsbyggnadsförvaltningen", "Kultur- och fritidsförvaltningen", "Kommunledningsförvaltningen",
    "Miljöförvaltningen", "Tekniska förvaltningen", "Arbetsmarknadsförvaltningen", "Serviceförvaltningen",
    "Stadsbyggnadsförvaltningen", "Gymnasie- och vuxenutbildningsförvaltningen",
)  # fmt: skip
VERKSAMHETER = (
    "Förskola", "Grundskola", "Hemtjänst", "Särskilt boende", "Individ- och familjeomsorg", "Måltid",
    "Lokalvård", "Bygglov", "Fritidsgårdar", "Bibliotek", "Ekonomi", "HR", "IT", "Gata och park",
)  # fmt: skip
DISTRICTS = ("Norr", "Söder", "Öster", "Väster", "Centrum", "Hamnen", "Skogen", "Dalen", "Backen", "Ängen")
FIRST = ("Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Eva", "Anders", "Sara", "Per", "Lena", "Elin", "Amir")
LAST = ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Hassan")

# The kinds of unit, top down, and how many people sit directly in each (its manager and staff).
KINDS = ("kommun", "forvaltning", "verksamhet", "enhet", "arbetsgrupp")
DIRECT_STAFF = {"kommun": 2, "forvaltning": 3, "verksamhet": 2, "enhet": 1}


@dataclass(frozen=True, slots=True)
class Dip:
    """A unit's answers drop by `depth` scale steps from `start` for `length` periods, then recover."""

    start: int
    length: int
    depth: float

    def shift(self, period: int) -> float:
        if self.start <= period < self.start + self.length:
            return -self.depth * (0.6 if period == self.start else 1.0)
        return 0.0


@dataclass(slots=True)
class Unit:
    id: str
    name: str
    kind: str
    parent: str | None
    manager: tuple[str, str]  # name, e-mail
    employees: list[tuple[str, float]] = field(default_factory=list)  # respondent id, personal level
    levels: dict[str, float] = field(default_factory=dict)  # dimension -> mean answer on 1-5
    response_rate: float = MEAN_RESPONSE_RATE
    dip: Dip | None = None


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    dimension: str
    reverse: bool
    not_applicable: bool  # the item accepts 6, "vet ej"
    models: int  # how many models the item feeds (always 1 here)


@dataclass
class Municipality:
    """The org and everything needed to generate its pulses deterministically."""

    seed: str
    employees: int
    periods: list[tuple[int, int]]  # (year, month), oldest first; the last is the month before `now`
    units: list[Unit]
    items: list[Item]
    models: tuple[str, ...] = ("hjo-ledarmodell", "hme")

    @property
    def tenant(self) -> str:
        return TENANT

    @property
    def dipping(self) -> list[Unit]:
        return [u for u in self.units if u.dip is not None]

    def describe(self) -> dict[str, object]:
        by_kind: dict[str, int] = {}
        for unit in self.units:
            by_kind[unit.kind] = by_kind.get(unit.kind, 0) + 1
        groups = [len(u.employees) for u in self.units if u.kind == "arbetsgrupp"]
        return {
            "tenant": TENANT,
            "seed": self.seed,
            "employees": self.employees,
            "units": len(self.units),
            "units_by_kind": by_kind,
            "work_group_size": {"min": min(groups), "max": max(groups), "mean": round(sum(groups) / len(groups), 1)},
            "periods": len(self.periods),
            "first_period": "{:04d}-{:02d}".format(*self.periods[0]),
            "last_period": "{:04d}-{:02d}".format(*self.periods[-1]),
            "deteriorating_units": [u.id for u in self.dipping],
            "models_per_submission": len(self.models),
        }


def _instrument_items() -> list[Item]:
    data = yaml.safe_load((SHIPPED_CONFIG / "instruments" / f"{INSTRUMENT}.yaml").read_text(encoding="utf-8"))
    default_na = bool(data["scale"].get("not_applicable"))
    items = []
    for item in data["items"]:
        scale = item.get("scale")
        items.append(
            Item(
                id=item["id"],
                dimension=item["dimension"],
                reverse=bool(item.get("reverse", False)),
                not_applicable=bool(scale.get("not_applicable")) if scale else default_na,
                models=1,
            )
        )
    return items


def _months_before(now: datetime, count: int) -> list[tuple[int, int]]:
    local = now.astimezone(ZONE)
    year, month = local.year, local.month
    months = []
    for _ in range(count):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        months.append((year, month))
    return months[::-1]


def default_shape(submissions: int) -> tuple[int, int]:
    """(employees, periods) for a burst of `submissions`: two years of monthly pulses where possible."""
    employees = round(submissions / (DEFAULT_PERIODS * MEAN_RESPONSE_RATE))
    employees = max(MIN_EMPLOYEES, min(MAX_EMPLOYEES, employees))
    periods = max(1, math.ceil(submissions / (employees * MEAN_RESPONSE_RATE) * 1.1))
    return employees, periods


def build(
    *,
    submissions: int,
    seed: str = "tempen-bench-v1",
    employees: int | None = None,
    periods: int | None = None,
    now: datetime | None = None,
) -> Municipality:
    """A municipality sized for `submissions` (or the given employees and periods)."""
    auto_employees, auto_periods = default_shape(submissions)
    employees = employees or auto_employees
    if periods is None:
        periods = (
            auto_periods
            if employees == auto_employees
            else math.ceil(submissions / (employees * MEAN_RESPONSE_RATE) * 1.1)
        )
    rng = random.Random(f"{seed}|org")
    items = _instrument_items()
    dimensions = sorted({i.dimension for i in items})
    units = _org(rng, employees)
    for unit in units:
        base = min(4.6, max(3.2, rng.gauss(4.0, 0.25)))
        unit.levels = {d: base + rng.gauss(0.0, 0.2) for d in dimensions}
        unit.response_rate = rng.uniform(0.65, 0.95)
        unit.employees = [(emp, rng.gauss(0.0, 0.45)) for emp, _ in unit.employees]
    groups = [u for u in units if u.kind == "arbetsgrupp"]
    for unit in rng.sample(groups, k=max(2, len(groups) // 50)):
        start = rng.randrange(max(1, periods // 3), max(2, 2 * periods // 3 + 1))
        unit.dip = Dip(start=start, length=rng.randint(3, 5), depth=rng.uniform(1.3, 1.7))
    return Municipality(
        seed=seed,
        employees=employees,
        periods=_months_before(now or datetime.now(UTC), periods),
        units=units,
        items=items,
    )


def _group_sizes(rng: random.Random, employees: int) -> list[int]:
    sizes: list[int] = []
    total = 0
    while total < employees:
        size = rng.randint(15, 30) if rng.random() < 0.875 else rng.randint(31, 60)
        sizes.append(size)
        total += size
    return sizes


def _chunks(rng: random.Random, things: list[T], low: int, high: int) -> list[list[T]]:
    out: list[list[T]] = []
    i = 0
    while i < len(things):
        n = rng.randint(low, high)
        out.append(things[i : i + n])
        i += n
    return out


def _split(rng: random.Random, things: list[T], parts: int) -> list[list[T]]:
    """`things` in `parts` runs of uneven length (förvaltningar differ a lot in size), none empty."""
    parts = max(1, min(parts, len(things)))
    cuts = sorted(rng.sample(range(1, len(things)), parts - 1)) if parts > 1 else []
    bounds = [0, *cuts, len(things)]
    return [things[a:b] for a, b in itertools.pairwise(bounds)]


def _manager(rng: random.Random, serial: int) -> tuple[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    ascii_last = last.translate(str.maketrans("åäöÅÄÖ", "aaoAAO")).lower()
    return f"{first} {last}", f"{first.lower()}.{ascii_last}{serial}@{TENANT}.example"


def _org(rng: random.Random, employees: int) -> list[Unit]:
    """Bottom up: work groups, then enheter of 1-4 groups, verksamheter of 2-5 enheter, and those split
    unevenly into up to twelve förvaltningar under the kommundirektör. Managers and staff sit in the
    units above the groups."""
    # Staff above the groups, estimated first so that the whole tree holds exactly `employees` people.
    estimated_groups = max(3, employees // 25)
    staff = DIRECT_STAFF["kommun"] + estimated_groups // 2 * DIRECT_STAFF["enhet"]
    staff += (
        estimated_groups // 7 * DIRECT_STAFF["verksamhet"]
        + min(12, max(2, round((estimated_groups / 8.75) ** 0.5))) * 3
    )
    sizes = _group_sizes(rng, max(employees - staff, 15))
    enheter = _chunks(rng, sizes, 1, 4)
    verksamheter = _chunks(rng, enheter, 2, 5)
    forvaltningar = _split(rng, verksamheter, max(2, min(len(FORVALTNINGAR), round(len(verksamheter) ** 0.5))))

    units: list[Unit] = []

    def add(unit_id: str, name: str, kind: str, parent: str | None, people: int) -> Unit:
        unit = Unit(unit_id, name, kind, parent, _manager(rng, len(units) + 1))
        unit.employees = [("", 0.0)] * people
        units.append(unit)
        return unit

    root = add(TENANT, "Benchköping kommun, kommundirektör", "kommun", None, DIRECT_STAFF["kommun"])
    for f_index, f_children in enumerate(forvaltningar, start=1):
        f_name = FORVALTNINGAR[(f_index - 1) % len(FORVALTNINGAR)]
        if f_index > len(FORVALTNINGAR):
            f_name = f"{f_name} {f_index}"
        f_unit = add(f"{TENANT}-f{f_index:02d}", f_name, "forvaltning", root.id, DIRECT_STAFF["forvaltning"])
        for v_index, v_children in enumerate(f_children, start=1):
            v_name = f"{rng.choice(VERKSAMHETER)} {rng.choice(DISTRICTS)}"
            v_unit = add(f"{f_unit.id}-v{v_index:02d}", v_name, "verksamhet", f_unit.id, DIRECT_STAFF["verksamhet"])
            for e_index, e_children in enumerate(v_children, start=1):
                e_unit = add(
                    f"{v_unit.id}-e{e_index:02d}",
                    f"{v_name}, enhet {e_index}",
                    "enhet",
                    v_unit.id,
                    DIRECT_STAFF["enhet"],
                )
                for g_index, size in enumerate(e_children, start=1):
                    add(
                        f"{e_unit.id}-g{g_index}", f"{e_unit.name}, arbetslag {g_index}", "arbetsgrupp", e_unit.id, size
                    )
    # Trim or pad the work groups, largest first, so the head count is exact.
    surplus = sum(len(u.employees) for u in units) - employees
    groups = sorted((u for u in units if u.kind == "arbetsgrupp"), key=lambda u: -len(u.employees))
    turn = 0
    while surplus and turn < 100 * len(groups):
        unit = groups[turn % len(groups)]
        if surplus > 0 and len(unit.employees) > 15:
            unit.employees.pop()
            surplus -= 1
        elif surplus < 0 and len(unit.employees) < 60:
            unit.employees.append(("", 0.0))
            surplus += 1
        turn += 1
    number = 0
    for unit in units:
        named = []
        for _ in unit.employees:
            number += 1
            named.append((f"e{number:06d}", 0.0))
        unit.employees = named
    return units


def write_config(muni: Municipality, config_dir: Path) -> Path:
    """A config directory with the generated tenant, the shipped instrument and models, and the org CSV."""
    for sub in ("tenants", "instruments", "models", "org"):
        (config_dir / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy(SHIPPED_CONFIG / "instruments" / f"{INSTRUMENT}.yaml", config_dir / "instruments")
    for model in muni.models:
        shutil.copy(SHIPPED_CONFIG / "models" / f"{model}.yaml", config_dir / "models")
    tenant = {
        "id": TENANT,
        "name": "Benchköping kommun",
        "timezone": "Europe/Stockholm",
        "min_group_size": 5,
        "hr_email": f"hr@{TENANT}.example",
        "instruments": [INSTRUMENT],
        "org_file": f"org/{TENANT}.csv",
        "alert_policy": {"threshold": 65, "sustained_periods": 2, "resolve_periods": 1, "period_grace_hours": 0},
        "notifications": {"language": "sv", "from_address": f"tempen@{TENANT}.example"},
    }
    (config_dir / "tenants" / f"{TENANT}.yaml").write_text(
        "# Generated by bench/generator.py; do not edit.\n"
        + yaml.safe_dump(tenant, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("unit_id", "name", "parent_id", "manager_name", "manager_email", "headcount"))
    for unit in muni.units:
        writer.writerow((unit.id, unit.name, unit.parent or "", *unit.manager, len(unit.employees)))
    (config_dir / "org" / f"{TENANT}.csv").write_text(buffer.getvalue(), encoding="utf-8")
    return config_dir


@dataclass(frozen=True, slots=True)
class Submission:
    key: bytes  # tenant:unit, the partition key
    body: bytes  # a canonical submission (JSON), tenant included
    submission_id: str
    unit: str
    scored_answers: int  # answers that count (not "vet ej"): what scoring's item counts must add up to


def _answers(
    rng: random.Random, items: list[Item], levels: dict[str, float], person: float, shift: float
) -> dict[str, int]:
    answers: dict[str, int] = {}
    for item in items:
        roll = rng.random()
        if roll < 0.02:
            continue  # skipped
        if item.not_applicable and roll < 0.05:
            answers[item.id] = NOT_APPLICABLE
            continue
        value = min(5, max(1, round(levels[item.dimension] + person + shift + rng.gauss(0.0, 0.75))))
        answers[item.id] = 6 - value if item.reverse else value
    if not answers:
        answers[items[0].id] = 3
    return answers


def _period_submissions(
    muni: Municipality, index: int, year: int, month: int, *, id_prefix: str = "", until: datetime | None = None
) -> list[tuple[float, Submission]]:
    """Everyone who answers in one month; with `until`, only at times before it (the month in progress)."""
    first = datetime(year, month, 1, tzinfo=ZONE).timestamp()
    last = datetime(year, month, min(calendar.monthrange(year, month)[1], 25), 19, tzinfo=ZONE).timestamp()
    if until is not None:
        last = max(first + 60, min(last, until.timestamp() - 60))
    out: list[tuple[float, Submission]] = []
    for unit in muni.units:
        rng = random.Random(f"{muni.seed}|{index}|{unit.id}")
        shift = unit.dip.shift(index) if unit.dip else 0.0
        key = f"{TENANT}:{unit.id}".encode()
        for respondent, person in unit.employees:
            if rng.random() >= unit.response_rate:
                continue
            moment = float(int(rng.uniform(first, last)))
            submission_id = f"{id_prefix}{year:04d}-{month:02d}-{respondent}"
            answers = _answers(rng, muni.items, unit.levels, person, shift)
            body = orjson.dumps(
                {
                    "tenant": TENANT,
                    "instrument": INSTRUMENT,
                    "unit": unit.id,
                    "submission_id": submission_id,
                    "submitted_at": datetime.fromtimestamp(moment, ZONE).isoformat(),
                    "respondent": respondent,
                    "answers": answers,
                }
            )
            scored = sum(1 for v in answers.values() if v != NOT_APPLICABLE)
            out.append((moment, Submission(key, body, submission_id, unit.id, scored)))
    out.sort(key=lambda pair: pair[0])
    return out


def submissions(muni: Municipality, count: int) -> Iterator[Submission]:
    """`count` submissions, period by period, oldest first; within a period in order of submission time."""
    produced = 0
    for index, (year, month) in enumerate(muni.periods):
        for _, submission in _period_submissions(muni, index, year, month):
            yield submission
            produced += 1
            if produced == count:
                return
    raise ValueError(
        f"{len(muni.periods)} periods of {muni.employees} employees hold only {produced} submissions; "
        "give more --periods or --employees"
    )


def current_month(muni: Municipality, count: int, *, now: datetime) -> list[Submission]:
    """`count` submissions of the month in progress, all before `now`: the steady-load pulse. Where one
    round of the org is not enough, further rounds get their own ids (as if from another survey wave)."""
    local = now.astimezone(ZONE)
    out: list[Submission] = []
    wave = 0
    while len(out) < count:
        batch = _period_submissions(
            muni, len(muni.periods) + wave, local.year, local.month, id_prefix=f"live{wave}-", until=now
        )
        out.extend(s for _, s in batch[: count - len(out)])
        wave += 1
    return out


def _period_worker(args: tuple[Municipality, int]) -> list[Submission]:
    muni, index = args
    year, month = muni.periods[index]
    return [s for _, s in _period_submissions(muni, index, year, month)]


def generate(muni: Municipality, count: int, *, workers: int = 2) -> list[Submission]:
    """The same as `list(submissions(muni, count))`, periods generated in parallel processes."""
    from concurrent.futures import ProcessPoolExecutor

    out: list[Submission] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for period in pool.map(_period_worker, [(muni, i) for i in range(len(muni.periods))]):
            out.extend(period[: count - len(out)])
            if len(out) == count:
                break
    if len(out) < count:
        raise ValueError(
            f"{len(muni.periods)} periods of {muni.employees} employees hold only {len(out)} submissions; "
            "give more --periods or --employees"
        )
    return out
