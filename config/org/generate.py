"""Generate the synthetic org files of the example tenants, config/org/hjo.csv and config/org/ljungby.csv.

The trees follow how Swedish municipalities are organised (kommundirektör -> förvaltning/sektor ->
verksamhet -> enhet -> arbetslag; field notes section 4): first-line units of 15-30 people, care
units up to about 55, a few vacant posts, and people who head more than one unit. Every name and
e-mail address is synthetic (random pairs of common Swedish names on the reserved `.example` domain);
none belongs to a real person.

The output depends only on the seed below, so running this again gives the same files byte for byte:

    python config/org/generate.py           # rewrite both files
    python config/org/generate.py --check   # exit 1 if a file differs from what the script produces

Edit the unit specs here, not the CSV files, and regenerate.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SEED = "tempen-example-org-v1"
HERE = Path(__file__).resolve().parent
COLUMNS = ("unit_id", "name", "parent_id", "manager_name", "manager_email", "headcount")

FIRST_NAMES = (
    "Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Eva", "Anders", "Sara", "Per", "Lena", "Mikael",
    "Elin", "Fredrik", "Emma", "Magnus", "Ingrid", "Jonas", "Malin", "Henrik", "Sofia", "Niklas", "Camilla",
    "Peter", "Helena", "Oskar", "Linnea", "Björn", "Åsa", "Göran", "Ulrika", "Mattias", "Therese", "Stefan",
    "Jenny", "Daniel", "Hanna", "Patrik", "Cecilia", "Tobias", "Maja", "Viktor", "Frida", "Jesper", "Ida",
    "Kristoffer", "Sanna", "Rasmus", "Josefin", "Amir", "Leyla", "Samir", "Nadia", "Ebba", "Gustav", "Agnes",
    "Emil", "Louise", "Pontus", "Matilda", "Joakim", "Annika", "Robert", "Katarina", "Ola", "Susanne",
)  # fmt: skip
LAST_NAMES = (
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson",
    "Gustafsson", "Pettersson", "Jonsson", "Hansson", "Bengtsson", "Jönsson", "Lindberg", "Jakobsson",
    "Magnusson", "Lindström", "Olofsson", "Lindqvist", "Lindgren", "Berg", "Axelsson", "Bergström", "Lundberg",
    "Lundgren", "Lundqvist", "Mattsson", "Berglund", "Fredriksson", "Sandberg", "Henriksson", "Forsberg",
    "Sjöberg", "Wallin", "Engström", "Eklund", "Danielsson", "Lundin", "Håkansson", "Björk", "Bergman",
    "Gunnarsson", "Holm", "Samuelsson", "Isaksson", "Fransson", "Bergqvist", "Nyström", "Holmberg",
    "Arvidsson", "Löfgren", "Söderberg", "Nyberg", "Blomqvist", "Claesson", "Mårtensson", "Hassan", "Ahmadi",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit to generate. `headcount` is a fixed number or a (low, high) range drawn from."""

    id: str
    name: str
    headcount: int | tuple[int, int] = 0
    children: tuple[Unit, ...] = ()
    vacant: bool = False
    same_manager_as: str | None = None  # this unit is headed by the manager of that (earlier) unit


def unit(
    unit_id: str,
    name: str,
    headcount: int | tuple[int, int] = 0,
    *children: Unit,
    vacant: bool = False,
    same_manager_as: str | None = None,
) -> Unit:
    return Unit(unit_id, name, headcount, tuple(children), vacant, same_manager_as)


def hjo() -> Unit:
    """Hjo kommun: one förvaltning under the kommundirektör, five verksamhetsområden and a central office."""
    return unit(
        "hjo", "Hjo kommun, kommundirektör", 2,
        unit(
            "hjo-klk", "Kommunledningskontoret", 2,
            unit("hjo-klk-ekonomi", "Ekonomi och upphandling", (15, 17)),
            unit("hjo-klk-hr", "HR och lön", (15, 18)),
            unit("hjo-klk-kansli", "Kansli, kommunikation och digitalisering", (16, 20)),
        ),
        unit(
            "hjo-bou", "Barn och utbildning", 3,
            unit(
                "hjo-forskola", "Förskoleverksamheten", 1,
                unit("hjo-forskola-solrosen", "Förskolan Solrosen", (18, 24)),
                unit("hjo-forskola-ekorren", "Förskolan Ekorren", (17, 22)),
                unit("hjo-forskola-lyckan", "Förskolan Lyckan", (18, 24)),
                unit("hjo-forskola-backen", "Förskolan Backen", (17, 22)),
            ),
            unit(
                "hjo-skola-ostra", "Östra skolan F–6", 2,
                unit("hjo-skola-ostra-f3", "Östra skolan F–3", (22, 27)),
                unit("hjo-skola-ostra-46", "Östra skolan 4–6", (19, 23)),
                unit("hjo-skola-ostra-fritids", "Fritidshemmet Östra", (15, 17), same_manager_as="hjo-skola-ostra"),
            ),
            unit("hjo-skola-vastra", "Västra skolan F–6", (24, 28)),
            unit("hjo-skola-hogstadiet", "Högstadieskolan 7–9", (42, 48)),
            unit("hjo-skola-landsbygd", "Landsbygdsskolorna F–6", (18, 22)),
            unit("hjo-bou-elevhalsa", "Elevhälsa och resursenhet", (15, 18)),
        ),
        unit(
            "hjo-vo", "Vård och omsorg", 3,
            unit("hjo-vo-sabo-ekbacken", "Ekbackens särskilda boende", (40, 48)),
            unit("hjo-vo-sabo-hamnen", "Hamngårdens särskilda boende", (34, 40)),
            unit(
                "hjo-vo-hemtjanst", "Hemtjänsten", 1,
                unit("hjo-vo-hemtjanst-norra", "Hemtjänst norra", (30, 36)),
                unit("hjo-vo-hemtjanst-sodra", "Hemtjänst södra", (28, 34)),
                unit("hjo-vo-hemtjanst-natt", "Nattpatrullen", (15, 17)),
                vacant=True,
            ),
            unit("hjo-vo-hsl", "Hälso- och sjukvård", (22, 27)),
            unit(
                "hjo-vo-lss", "LSS och socialpsykiatri", 1,
                unit("hjo-vo-lss-gruppbostader", "Gruppbostäderna", (22, 27)),
                unit("hjo-vo-lss-daglig", "Daglig verksamhet", (15, 18), vacant=True),
            ),
        ),
        unit(
            "hjo-soc", "Socialtjänst", 2,
            unit("hjo-soc-barn", "Barn och familj", (16, 20)),
            unit("hjo-soc-vuxen", "Vuxen och försörjningsstöd", (15, 17)),
        ),
        unit(
            "hjo-sbf", "Samhällsbyggnad", 2,
            unit("hjo-sbf-plan", "Plan, bygg och miljö", (15, 17)),
            unit("hjo-sbf-gata", "Gata, park och VA", (20, 24)),
            unit("hjo-sbf-fastighet", "Fastighet och lokalvård", (26, 31)),
            unit("hjo-sbf-kost", "Kostenheten", (20, 24)),
        ),
        unit(
            "hjo-ktf", "Kultur, turism och fritid", 1,
            unit("hjo-ktf-kultur", "Bibliotek och kulturskola", (15, 17)),
            unit("hjo-ktf-fritid", "Fritid och turism", (15, 16), vacant=True),
        ),
    )  # fmt: skip


def _slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()
    return "-".join("".join(c if c.isalnum() else " " for c in folded).split())


def _series(prefix: str, label: str, names: Sequence[str], headcount: tuple[int, int], **flags: str) -> list[Unit]:
    """Sibling units such as the förskolor of one area: `flags` maps a name to 'vacant'."""
    return [
        unit(f"{prefix}-{_slug(name)}", f"{label} {name}".strip(), headcount, vacant=flags.get(name) == "vacant")
        for name in names
    ]


def _school(prefix: str, name: str, stages: Sequence[str], *, vacant_stage: str | None = None) -> Unit:
    """A larger school: the rektor's unit with one unit per stage under a biträdande rektor, and a fritidshem."""
    school_id = f"{prefix}-{_slug(name)}"
    return unit(
        school_id, name, 2,
        *(unit(f"{school_id}-{_slug(stage)}", f"{name} {stage}", (20, 29), vacant=stage == vacant_stage)
          for stage in stages),
        unit(f"{school_id}-fritids", f"Fritidshemmet {name.removesuffix('skolan')}", (15, 22)),
    )  # fmt: skip


def ljungby() -> Unit:
    """Ljungby kommun: a kommundirektör over six förvaltningar; schools split into stages, care into enheter."""
    p = "ljungby"
    return unit(
        p, "Ljungby kommun, kommundirektör", 2,
        unit(
            f"{p}-klf", "Kommunledningsförvaltningen", 2,
            unit(f"{p}-klf-ekonomi", "Ekonomiavdelningen", (17, 21)),
            unit(f"{p}-klf-hr", "HR-avdelningen", (18, 23)),
            unit(f"{p}-klf-kansli", "Kansli och kommunikation", (15, 19)),
            unit(f"{p}-klf-it", "IT-avdelningen", (19, 25)),
            unit(f"{p}-klf-naringsliv", "Näringsliv och tillväxt", (15, 16), vacant=True),
            unit(f"{p}-klf-kontaktcenter", "Kontaktcenter", (15, 18)),
        ),
        unit(
            f"{p}-buf", "Barn- och utbildningsförvaltningen", 3,
            unit(
                f"{p}-buf-forskola", "Förskoleverksamheten", 2,
                *_series(f"{p}-buf-forskola", "Förskolan", (
                    "Solrosen", "Ekorren", "Björnen", "Nyckelpigan", "Lärkan", "Tallbacken", "Ängen",
                    "Myran", "Svalan", "Kastanjen", "Lönnen", "Humlan", "Gläntan",
                ), (18, 30), Svalan="vacant"),
            ),
            unit(
                f"{p}-buf-grundskola", "Grundskoleverksamheten", 2,
                _school(f"{p}-buf", "Parkskolan", ("F–3", "4–6")),
                _school(f"{p}-buf", "Norrskolan", ("F–3", "4–6"), vacant_stage="4–6"),
                _school(f"{p}-buf", "Ängsskolan", ("7–9 arbetslag A", "7–9 arbetslag B", "7–9 arbetslag C")),
                _school(f"{p}-buf", "Södra skolan", ("F–3", "4–6", "7–9")),
                *_series(f"{p}-buf", "", (
                    "Bergskolan F–6", "Sjöskolan F–6", "Skogsskolan F–6", "Åskolan F–6", "Hagaskolan F–3",
                    "Kyrkskolan F–6",
                ), (22, 34)),
            ),
            unit(
                f"{p}-buf-gymnasium", "Gymnasie- och vuxenutbildningen", 2,
                unit(
                    f"{p}-buf-gymnasieskolan", "Gymnasieskolan", 3,
                    unit(f"{p}-buf-gymnasieskolan-hogskoleforberedande", "Högskoleförberedande program", (38, 48)),
                    unit(f"{p}-buf-gymnasieskolan-yrke", "Yrkesprogram", (44, 55)),
                    unit(f"{p}-buf-gymnasieskolan-intro", "Introduktionsprogram", (16, 22)),
                ),
                unit(f"{p}-buf-vuxenutbildningen", "Vuxenutbildningen och SFI", (22, 28)),
            ),
            unit(f"{p}-buf-elevhalsa", "Central elevhälsa", (22, 28)),
            unit(f"{p}-buf-modersmal", "Modersmål och studiehandledning", (15, 20)),
        ),
        unit(
            f"{p}-soc", "Socialförvaltningen", 3,
            unit(
                f"{p}-soc-aldre", "Äldreomsorgen", 2,
                unit(
                    f"{p}-soc-aldre-sabo", "Särskilda boenden", 1,
                    *_series(f"{p}-soc-aldre-sabo", "", (
                        "Almgården", "Björkhagen", "Ekgården", "Linnégården", "Solhaga", "Tallgården",
                        "Vårdhemmet Ljungen",
                    ), (36, 55), Solhaga="vacant"),
                ),
                unit(
                    f"{p}-soc-aldre-hemtjanst", "Hemtjänsten", 1,
                    *_series(f"{p}-soc-aldre-hemtjanst", "Hemtjänst", (
                        "centrum", "norr", "söder", "öster", "väster", "landsbygd öst", "landsbygd väst",
                    ), (30, 46)),
                    unit(f"{p}-soc-aldre-hemtjanst-natt", "Nattpatrullen", (18, 24)),
                    vacant=True,
                ),
            ),
            unit(
                f"{p}-soc-funk", "Funktionsstöd", 2,
                unit(f"{p}-soc-funk-linden", "Gruppbostaden Linden", (15, 18)),
                unit(f"{p}-soc-funk-lonnen", "Gruppbostaden Lönnen", (15, 18), same_manager_as=f"{p}-soc-funk-linden"),
                *_series(f"{p}-soc-funk", "Gruppbostaden", ("Eken", "Rönnen", "Aspen", "Häggen"), (18, 26)),
                *_series(f"{p}-soc-funk-daglig", "Daglig verksamhet", ("Verkstan", "Ateljén"), (16, 24)),
                *_series(f"{p}-soc-funk-pa", "Personlig assistans", ("område 1", "område 2"), (30, 45)),
                unit(f"{p}-soc-funk-socialpsykiatri", "Socialpsykiatri och boendestöd", (15, 21)),
            ),
            unit(
                f"{p}-soc-ifo", "Individ- och familjeomsorgen", 2,
                unit(f"{p}-soc-ifo-barn", "Barn och unga", (20, 27)),
                unit(f"{p}-soc-ifo-vuxen", "Vuxen och beroende", (15, 20)),
                unit(f"{p}-soc-ifo-forsorjning", "Försörjningsstöd", (15, 19)),
                unit(f"{p}-soc-ifo-oppenvard", "Familjehem och öppenvård", (15, 21)),
                unit(f"{p}-soc-ifo-arbetsmarknad", "Arbetsmarknadsenheten", (17, 25)),
            ),
            unit(
                f"{p}-soc-hsl", "Hälso- och sjukvården", 1,
                unit(f"{p}-soc-hsl-ssk-norr", "Sjuksköterskor norr", (22, 30)),
                unit(f"{p}-soc-hsl-ssk-syd", "Sjuksköterskor syd", (22, 30)),
                unit(f"{p}-soc-hsl-rehab", "Rehabenheten", (17, 24)),
            ),
        ),
        unit(
            f"{p}-tekn", "Tekniska förvaltningen", 2,
            unit(f"{p}-tekn-gata", "Gata och park", (20, 27)),
            unit(f"{p}-tekn-va", "Vatten och avlopp", (22, 29)),
            unit(f"{p}-tekn-fastighet", "Fastighetsavdelningen", (18, 24)),
            *_series(f"{p}-tekn-lokalvard", "Lokalvården", ("norr", "söder"), (30, 42)),
            *_series(f"{p}-tekn-kost", "Kosten", ("centrala köket", "skolrestaurangerna", "äldreomsorgens kök"),
                     (20, 30)),
        ),
        unit(
            f"{p}-kof", "Kultur- och fritidsförvaltningen", 1,
            unit(f"{p}-kof-bibliotek", "Biblioteken", (15, 20)),
            unit(f"{p}-kof-fritid", "Fritid och anläggningar", (18, 24)),
            unit(f"{p}-kof-kulturskolan", "Kulturskolan", (15, 19)),
        ),
        unit(
            f"{p}-mbf", "Miljö- och byggförvaltningen", 1,
            unit(f"{p}-mbf-miljo", "Miljö- och hälsoskydd", (15, 18)),
            unit(f"{p}-mbf-bygg", "Bygglov och plan", (15, 18)),
        ),
    )  # fmt: skip


TENANTS = {"hjo": (hjo, "hjo.example"), "ljungby": (ljungby, "ljungby.example")}


def _walk(root: Unit) -> Iterator[tuple[Unit, str | None]]:
    stack: list[tuple[Unit, str | None]] = [(root, None)]
    while stack:
        current, parent = stack.pop()
        yield current, parent
        stack.extend((child, current.id) for child in reversed(current.children))


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()


def _new_manager(people: list[tuple[str, str]], addresses: set[str], domain: str) -> tuple[str, str]:
    while True:
        first, last = people.pop()
        address = f"{_ascii(first)}.{_ascii(last)}@{domain}"
        if address not in addresses:  # Jönsson and Jonsson would share an address
            addresses.add(address)
            return f"{first} {last}", address


def render(tenant: str) -> str:
    """The CSV text of one tenant's org file."""
    build, domain = TENANTS[tenant]
    rng = random.Random(f"{SEED}:{tenant}")  # noqa: S311 -- reproducible synthetic data, nothing secret
    people = [(first, last) for first in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(people)
    managers: dict[str, tuple[str, str]] = {}
    addresses: set[str] = set()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for spec, parent in _walk(build()):
        if spec.same_manager_as is not None:
            manager = managers[spec.same_manager_as]
        elif spec.vacant:
            manager = ("", "")
        else:
            manager = _new_manager(people, addresses, domain)
        managers[spec.id] = manager
        low, high = spec.headcount if isinstance(spec.headcount, tuple) else (spec.headcount, spec.headcount)
        writer.writerow((spec.id, spec.name, parent or "", *manager, rng.randint(low, high)))
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="compare with the files on disk instead of writing")
    args = parser.parse_args(argv)
    stale = []
    for tenant in TENANTS:
        path = HERE / f"{tenant}.csv"
        text = render(tenant)
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python config/org/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
