"""`python -m bench.anonymity`: what each `complementary_suppression` policy hides in municipal trees.

Trees of the bench's shape (kommundirektör -> förvaltning -> verksamhet -> enhet -> arbetsgrupp, with
managers and staff sitting directly in the units above the groups, `generator.DIRECT_STAFF`), with work
groups of a chosen size. Every unit answers at its own response rate (65-95 %), drawn afresh each
period. For each tree and period, both policies decide on the same counts. Deterministic for a seed.
Pure: no service, no database. docs/privacy.md quotes its output.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import dataclass, field

from bench.generator import DIRECT_STAFF
from tempen_scoring.domain.anonymity import Group, Visibility, visibility
from tempen_shared.tenancy.models import ComplementarySuppression
from tempen_shared.tenancy.org import OrgTree, OrgUnit

POLICIES: tuple[ComplementarySuppression, ...] = ("smallest_part", "fewest_people")


@dataclass
class Tally:
    teams: int = 0  # unit groups large enough to show
    teams_hidden: int = 0  # ... hidden for differencing
    team_people_hidden: int = 0
    roll_ups: int = 0  # subtree groups of units with units below them, large enough to show
    roll_ups_hidden: int = 0
    roll_up_people_hidden: int = 0
    index_hidden: int = 0  # the root's subtree: the tenant's own index
    seconds: list[float] = field(default_factory=list)


def municipality(rng: random.Random, team_sizes: tuple[int, int]) -> tuple[OrgTree, dict[str, int]]:
    """An org tree and the people placed directly in each unit."""
    parents: dict[str, str | None] = {"k": None}
    people = {"k": DIRECT_STAFF["kommun"]}
    for f in range(rng.randint(3, 8)):
        fid = f"k-f{f}"
        parents[fid], people[fid] = "k", DIRECT_STAFF["forvaltning"]
        for v in range(rng.randint(2, 5)):
            vid = f"{fid}-v{v}"
            parents[vid], people[vid] = fid, DIRECT_STAFF["verksamhet"]
            for e in range(rng.randint(2, 5)):
                eid = f"{vid}-e{e}"
                parents[eid], people[eid] = vid, DIRECT_STAFF["enhet"]
                for g in range(rng.randint(1, 4)):
                    parents[f"{eid}-g{g}"], people[f"{eid}-g{g}"] = eid, rng.randint(*team_sizes)
    return OrgTree.build(OrgUnit(u, u, p, None) for u, p in parents.items()), people


def tally(tree: OrgTree, direct: dict[str, int], shown: dict[Group, Visibility], minimum: int, into: Tally) -> None:
    subtree: dict[str, int] = {}
    for unit_id in reversed(list(tree.depths)):  # every unit comes after its parent in `depths`
        subtree[unit_id] = direct[unit_id] + sum(subtree[c] for c in tree.children[unit_id])
    for (unit_id, scope), seen in shown.items():
        hidden = seen.reason == "differencing"
        if scope == "unit" and direct[unit_id] >= minimum:
            into.teams += 1
            into.teams_hidden += hidden
            into.team_people_hidden += direct[unit_id] if hidden else 0
        elif scope == "subtree" and tree.children[unit_id] and subtree[unit_id] >= minimum:
            into.roll_ups += 1
            into.roll_ups_hidden += hidden
            into.roll_up_people_hidden += subtree[unit_id] if hidden else 0
            into.index_hidden += hidden and unit_id == tree.root


def study(
    team_sizes: tuple[int, int], minimum: int, *, trees: int, periods: int, seed: str
) -> dict[ComplementarySuppression, Tally]:
    rng = random.Random(f"{seed}|{team_sizes}|{minimum}")
    out = {policy: Tally() for policy in POLICIES}
    for _ in range(trees):
        tree, people = municipality(rng, team_sizes)
        rates = {u: rng.uniform(0.65, 0.95) for u in people}
        for _ in range(periods):
            direct = {u: sum(rng.random() < rates[u] for _ in range(n)) for u, n in people.items()}
            for policy in POLICIES:
                started = time.perf_counter()
                shown = visibility(tree, direct, minimum, complement=policy)
                out[policy].seconds.append(time.perf_counter() - started)
                tally(tree, direct, shown, minimum, out[policy])
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.anonymity", description=__doc__)
    parser.add_argument("--trees", type=int, default=20)
    parser.add_argument("--periods", type=int, default=10)
    parser.add_argument("--seed", default="tempen-anonymity-v1")
    args = parser.parse_args(argv)
    print(
        "| work groups | min | policy | teams hidden | their people | roll-ups hidden | their people "
        "| tenant index hidden | ms per call |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for team_sizes in ((5, 15), (15, 30)):
        for minimum in (3, 5, 7):
            found = study(team_sizes, minimum, trees=args.trees, periods=args.periods, seed=args.seed)
            for policy, t in found.items():
                n = len(t.seconds)
                print(
                    f"| {team_sizes[0]}-{team_sizes[1]} | {minimum} | {policy} "
                    f"| {t.teams_hidden / n:.1f} of {t.teams / n:.1f} ({t.teams_hidden / t.teams:.0%}) "
                    f"| {t.team_people_hidden / n:.0f} "
                    f"| {t.roll_ups_hidden / n:.1f} of {t.roll_ups / n:.1f} ({t.roll_ups_hidden / t.roll_ups:.0%}) "
                    f"| {t.roll_up_people_hidden / n:.0f} | {t.index_hidden / n:.0%} "
                    f"| {1000 * statistics.median(t.seconds):.1f} |"
                )


if __name__ == "__main__":
    main()
