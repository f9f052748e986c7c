import pytest

from tempen_alerts.domain.routing import Recipient, levels_available, moved_past, recipients
from tempen_shared.tenancy.org import Manager
from tests.alerts.unit.factories import manager, tree, unit

HR = "hr@kommun.example"
DIRECTOR = manager("Dagny")
SECTOR_HEAD = manager("Sven")
UNIT_HEAD = manager("Ulla")

# kommun (Dagny) > omsorg (Sven) > hemtjanst (vacant) > norr (Ulla)
MUNICIPALITY = tree(
    unit("kommun", None, DIRECTOR),
    unit("omsorg", "kommun", SECTOR_HEAD),
    unit("hemtjanst", "omsorg", None),
    unit("norr", "hemtjanst", UNIT_HEAD),
)


def addressed(found: tuple[Recipient, ...]) -> list[tuple[str, str, int]]:
    return [(r.email, r.role, r.level) for r in found]


def test_level_one_goes_to_the_nearest_manager_above_skipping_a_vacant_post() -> None:
    found = recipients(MUNICIPALITY, "norr", level=1, inform_unit_manager=False, hr_email=HR)

    assert addressed(found) == [(SECTOR_HEAD.email, "next_level", 1)]
    assert found[0].name == "Sven"


def test_level_two_goes_one_manager_further_up() -> None:
    found = recipients(MUNICIPALITY, "norr", level=2, inform_unit_manager=False, hr_email=HR)

    assert addressed(found) == [(DIRECTOR.email, "next_level", 2)]


def test_one_manager_heading_two_levels_is_skipped_as_their_own_next_level() -> None:
    same_person = Manager(name="Ulla", email=" ULLA@kommun.example ")
    org = tree(
        unit("kommun", None, DIRECTOR),
        unit("skola", "kommun", same_person),
        unit("klass", "skola", UNIT_HEAD),
    )

    found = recipients(org, "klass", level=1, inform_unit_manager=False, hr_email=HR)

    assert addressed(found) == [(DIRECTOR.email, "next_level", 1)]
    assert levels_available(org, "klass") == 1


def test_level_beyond_the_chain_goes_to_hr() -> None:
    found = recipients(MUNICIPALITY, "norr", level=3, inform_unit_manager=False, hr_email=HR)

    assert addressed(found) == [(HR, "hr", 3)]


def test_unit_with_no_manager_above_goes_to_hr() -> None:
    found = recipients(MUNICIPALITY, "kommun", level=1, inform_unit_manager=False, hr_email=HR)

    assert addressed(found) == [(HR, "hr", 1)]


def test_unit_missing_from_the_tree_goes_to_hr_only() -> None:
    found = recipients(MUNICIPALITY, "nedlagd", level=1, inform_unit_manager=True, hr_email=HR)

    assert addressed(found) == [(HR, "hr", 1)]
    assert levels_available(MUNICIPALITY, "nedlagd") == 0


def test_unit_manager_is_informed_when_configured() -> None:
    found = recipients(MUNICIPALITY, "norr", level=1, inform_unit_manager=True, hr_email=HR)

    assert addressed(found) == [(SECTOR_HEAD.email, "next_level", 1), (UNIT_HEAD.email, "unit_manager", 0)]


def test_unit_manager_is_not_informed_when_not_configured() -> None:
    found = recipients(MUNICIPALITY, "norr", level=1, inform_unit_manager=False, hr_email=HR)

    assert "unit_manager" not in [r.role for r in found]


def test_vacant_unit_manager_post_adds_nobody() -> None:
    found = recipients(MUNICIPALITY, "hemtjanst", level=1, inform_unit_manager=True, hr_email=HR)

    assert addressed(found) == [(SECTOR_HEAD.email, "next_level", 1)]


def test_unit_manager_who_is_also_the_hr_address_gets_one_message() -> None:
    found = recipients(MUNICIPALITY, "norr", level=3, inform_unit_manager=True, hr_email="Ulla@Kommun.example")

    assert addressed(found) == [("Ulla@Kommun.example", "hr", 3)]


def test_levels_available_counts_the_distinct_present_managers_above_the_unit_manager() -> None:
    assert levels_available(MUNICIPALITY, "norr") == 2
    assert levels_available(MUNICIPALITY, "omsorg") == 1
    assert levels_available(MUNICIPALITY, "kommun") == 0


def test_level_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="starts at 1"):
        recipients(MUNICIPALITY, "norr", level=0, inform_unit_manager=True, hr_email=HR)


# Telling the level an alert moved past


def test_an_escalation_tells_the_manager_it_moved_past() -> None:
    found = moved_past(MUNICIPALITY, "norr", from_level=1, to_level=2, inform_unit_manager=True, hr_email=HR)

    assert addressed(found) == [(SECTOR_HEAD.email, "previous_level", 1)]
    assert found[0].name == "Sven"


def test_an_escalation_to_hr_tells_the_top_manager() -> None:
    found = moved_past(MUNICIPALITY, "norr", from_level=2, to_level=3, inform_unit_manager=True, hr_email=HR)

    assert addressed(found) == [(DIRECTOR.email, "previous_level", 2)]
    assert addressed(recipients(MUNICIPALITY, "norr", level=3, inform_unit_manager=True, hr_email=HR)) == [
        (HR, "hr", 3),
        (UNIT_HEAD.email, "unit_manager", 0),
    ]


def test_nobody_is_told_twice_when_the_level_moved_past_is_also_told_of_the_new_level() -> None:
    # The director is also HR's address: they get the escalation itself, not a second note.
    found = moved_past(
        MUNICIPALITY, "norr", from_level=2, to_level=3, inform_unit_manager=False, hr_email=DIRECTOR.email.upper()
    )

    assert found == ()


def test_an_escalation_must_go_up() -> None:
    with pytest.raises(ValueError, match="goes up"):
        moved_past(MUNICIPALITY, "norr", from_level=2, to_level=2, inform_unit_manager=True, hr_email=HR)
