"""`python -m bench.anonymity`, the study docs/privacy.md quotes: it must run, count the same groups for
both policies, and find what the policies promise on its trees."""

from __future__ import annotations

import pytest
from bench.anonymity import main, study


def test_both_policies_are_counted_on_the_same_groups_and_fewest_people_keeps_more_teams() -> None:
    found = study((5, 15), 5, trees=2, periods=3, seed="test")
    glint, fewest = found["smallest_part"], found["fewest_people"]

    assert (glint.teams, glint.roll_ups) == (fewest.teams, fewest.roll_ups)
    assert len(glint.seconds) == len(fewest.seconds) == 6
    assert glint.teams_hidden > 0  # these trees have a manager sitting in every unit above the teams
    assert fewest.team_people_hidden < glint.team_people_hidden


def test_the_table_has_a_row_per_team_size_minimum_and_policy(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--trees", "1", "--periods", "1"])

    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("| work groups | min | policy |")
    assert len(rows) == 2 + 2 * 3 * 2
