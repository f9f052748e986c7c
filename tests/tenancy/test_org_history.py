from __future__ import annotations

from datetime import date

import pytest

from tempen_shared.tenancy.org import NoOrgVersionError, OrgHistory, next_management_level
from tests.tenancy.support import manager, tree, unit

BEFORE_REORGANISATION = tree(unit("kommun", None, "kim"), unit("enhet", "kommun", "eva"))
AFTER_REORGANISATION = tree(unit("kommun", None, "kim"), unit("sektor", "kommun", "bo"), unit("enhet", "sektor", "eva"))
HISTORY = OrgHistory.of([(date(2025, 7, 1), AFTER_REORGANISATION), (date(2024, 1, 1), BEFORE_REORGANISATION)])


def test_a_past_period_is_routed_against_the_org_as_it_was() -> None:
    assert next_management_level(HISTORY.at(date(2025, 3, 31)), "enhet") == manager("kim")
    assert next_management_level(HISTORY.at(date(2025, 9, 30)), "enhet") == manager("bo")


def test_a_version_is_in_force_from_its_effective_date() -> None:
    assert HISTORY.at(date(2025, 6, 30)) is BEFORE_REORGANISATION
    assert HISTORY.at(date(2025, 7, 1)) is AFTER_REORGANISATION


def test_a_date_before_the_first_version_is_refused_with_the_first_date() -> None:
    with pytest.raises(NoOrgVersionError, match="2024-01-01") as caught:
        HISTORY.at(date(2023, 12, 31))
    assert caught.value.first_effective == date(2024, 1, 1)


def test_an_empty_history_has_no_org_in_force() -> None:
    with pytest.raises(NoOrgVersionError, match="no org version is stored"):
        OrgHistory().at(date(2025, 1, 1))


def test_two_versions_on_the_same_date_are_refused() -> None:
    with pytest.raises(ValueError, match="distinct effective dates"):
        OrgHistory.of([(date(2025, 1, 1), BEFORE_REORGANISATION), (date(2025, 1, 1), AFTER_REORGANISATION)])


def test_importing_again_on_the_same_date_replaces_that_version() -> None:
    corrected = HISTORY.with_version(date(2025, 7, 1), BEFORE_REORGANISATION)
    assert corrected.at(date(2025, 8, 1)) is BEFORE_REORGANISATION
    assert len(corrected.versions) == len(HISTORY.versions)


def test_adding_a_version_leaves_the_original_history_unchanged() -> None:
    later = HISTORY.with_version(date(2026, 1, 1), BEFORE_REORGANISATION)
    assert later.at(date(2026, 2, 1)) is BEFORE_REORGANISATION
    assert HISTORY.at(date(2026, 2, 1)) is AFTER_REORGANISATION
