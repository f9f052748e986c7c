from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from tempen_shared.tenancy.org import Manager
from tempen_shared.tenancy.org_import import (
    OrgFileError,
    OrgProblem,
    check_guard_rails,
    diff_org,
    parse_org,
    read_org,
)
from tests.tenancy.support import tree, unit

HEADER = "unit_id,name,parent_id,manager_name,manager_email,headcount"
GOOD_ROWS = (
    "kommun,Kommunen,,Kim Ek,kim@kommun.example,2",
    "skola,Skolan,kommun,Bo Ek,bo@kommun.example,3",
    "f3,Skolan F–3,skola,Eva Ek,eva@kommun.example,24",
)


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def problems_of(text: str, file_format: str = "csv") -> tuple[OrgProblem, ...]:
    with pytest.raises(OrgFileError) as caught:
        parse_org(text, file_format="json" if file_format == "json" else "csv")
    return caught.value.problems


def test_a_valid_csv_becomes_a_tree_with_managers_vacancies_and_headcounts() -> None:
    org = parse_org(csv_text(*GOOD_ROWS, "fritids,Fritids,skola,,,"), file_format="csv")
    assert org.root == "kommun"
    assert org.children["skola"] == ("f3", "fritids")
    assert org.units["f3"].manager == Manager("Eva Ek", "eva@kommun.example")
    assert org.units["f3"].headcount == 24
    assert org.units["fritids"].manager is None
    assert org.units["fritids"].headcount is None


def test_a_cycle_is_reported_on_the_lines_of_every_unit_in_it() -> None:
    found = problems_of(csv_text(*GOOD_ROWS, "a,A,b,,,", "b,B,a,,,"))
    assert [(p.line, p.unit_id) for p in found] == [(5, "a"), (6, "b")]
    assert all("cycle" in p.reason and "a -> b -> a" in p.reason for p in found)


def test_a_unit_that_is_its_own_parent_is_a_cycle() -> None:
    (problem,) = problems_of(csv_text(*GOOD_ROWS, "a,A,a,,,"))
    assert (problem.line, problem.column) == (5, "parent_id")
    assert "cycle" in problem.reason


def test_a_duplicate_id_is_reported_on_its_second_line_naming_the_first() -> None:
    (problem,) = problems_of(csv_text(*GOOD_ROWS, "skola,Skolan igen,kommun,,,"))
    assert problem.line == 5
    assert problem.unit_id == "skola"
    assert "first defined on line 3" in problem.reason


def test_an_unknown_parent_is_reported_on_the_childs_line() -> None:
    (problem,) = problems_of(csv_text(*GOOD_ROWS, "x,X,skolan,,,"))
    assert (problem.line, problem.location) == (5, "x.parent_id")
    assert "unknown parent 'skolan'" in problem.reason


def test_every_unit_without_a_parent_is_reported_when_there_are_several() -> None:
    found = problems_of(csv_text(*GOOD_ROWS, "annan,Annan kommun,,,,"))
    assert sorted(p.line for p in found if p.line is not None) == [2, 5]
    assert all("without a parent" in p.reason for p in found)


def test_a_file_without_a_root_unit_is_refused() -> None:
    found = problems_of(csv_text("a,A,b,,,", "b,B,a,,,"))
    assert any(p.line is None and "no root unit" in p.reason for p in found)


def test_a_malformed_email_is_reported_with_its_line_and_column() -> None:
    (problem,) = problems_of(csv_text(*GOOD_ROWS, "x,X,skola,Ann Ek,ann.ek(at)kommun.example,20"))
    assert (problem.line, problem.location) == (5, "x.manager_email")
    assert "malformed e-mail" in problem.reason


def test_a_manager_without_an_email_is_refused_because_alerts_could_not_reach_them() -> None:
    (problem,) = problems_of(csv_text(*GOOD_ROWS, "x,X,skola,Ann Ek,,20"))
    assert (problem.line, problem.column) == (5, "manager_email")


def test_a_negative_headcount_is_refused() -> None:
    (problem,) = problems_of(csv_text(*GOOD_ROWS, "x,X,skola,,,-3"))
    assert (problem.line, problem.column) == (5, "headcount")
    assert "negative" in problem.reason


def test_a_headcount_that_is_not_a_whole_number_is_refused() -> None:
    (problem,) = problems_of(csv_text(*GOOD_ROWS, "x,X,skola,,,12.5"))
    assert problem.column == "headcount"


def test_missing_required_columns_are_named_on_the_header_line() -> None:
    (problem,) = problems_of(csv_text("kommun,Kommunen,", header="unit_id,name,parent_id"))
    assert problem.line == 1
    assert "manager_name, manager_email" in problem.reason


def test_headcount_is_the_only_column_that_may_be_left_out() -> None:
    header = "unit_id,name,parent_id,manager_name,manager_email"
    org = parse_org(csv_text("kommun,Kommunen,,Kim Ek,kim@kommun.example", header=header), file_format="csv")
    assert org.units["kommun"].headcount is None


def test_a_misspelt_column_gets_a_did_you_mean_hint() -> None:
    (problem,) = problems_of(csv_text(*GOOD_ROWS, header=HEADER.replace("headcount", "headcont")))
    assert problem.hint == "did you mean 'headcount'?"


def test_unrelated_extra_columns_from_an_hr_export_are_ignored() -> None:
    rows = [f"{row},K100" for row in GOOD_ROWS]
    org = parse_org(csv_text(*rows, header=f"{HEADER},kostnadsstalle"), file_format="csv")
    assert len(org.units) == len(GOOD_ROWS)


def test_every_problem_in_a_file_is_reported_at_once() -> None:
    found = problems_of(csv_text(*GOOD_ROWS, "x,X,skola,Ann,bad,-1", "y,Y,nowhere,,,"))
    assert {(p.line, p.column) for p in found} == {(5, "manager_email"), (5, "headcount")}
    # Tree checks need readable rows, so they follow once the rows are fixed.
    found = problems_of(csv_text(*GOOD_ROWS, "x,X,skola,,,1", "y,Y,nowhere,,,", "z,Z,y2,,,"))
    assert [p.line for p in found] == [6, 7]


def test_a_row_with_the_wrong_number_of_fields_is_reported() -> None:
    (problem,) = problems_of(csv_text(*GOOD_ROWS, "x,X,skola,Ann Ek,ann@kommun.example,20,extra"))
    assert problem.line == 5
    assert "7 fields" in problem.reason


def test_lines_count_from_the_start_of_a_row_even_after_a_quoted_line_break() -> None:
    rows = (*GOOD_ROWS, '"x","Enhet med\nradbrytning",saknas,,,', "y,Y,saknas,,,")
    assert [(p.line, p.unit_id) for p in problems_of(csv_text(*rows))] == [(5, "x"), (7, "y")]


def test_semicolon_separated_files_from_swedish_excel_are_read() -> None:
    text = csv_text(*(row.replace(",", ";") for row in GOOD_ROWS), header=HEADER.replace(",", ";"))
    assert len(parse_org(text, file_format="csv").units) == len(GOOD_ROWS)


def test_a_byte_order_mark_does_not_hide_the_first_column(tmp_path: Path) -> None:
    path = tmp_path / "org.csv"
    path.write_bytes(csv_text(*GOOD_ROWS).encode("utf-8-sig"))
    assert read_org(path).root == "kommun"


def test_a_file_that_is_not_utf8_is_refused_with_how_to_save_it(tmp_path: Path) -> None:
    path = tmp_path / "org.csv"
    path.write_bytes(csv_text(*GOOD_ROWS).encode("cp1252"))
    with pytest.raises(OrgFileError) as caught:
        read_org(path)
    assert "UTF-8" in caught.value.problems[0].hint


def test_json_problems_are_located_by_array_position(tmp_path: Path) -> None:
    units: list[dict[str, object]] = [
        {"unit_id": "kommun", "name": "Kommunen", "manager_name": "Kim", "manager_email": "kim@kommun.example"},
        {"unit_id": "skola", "name": "Skolan", "parent_id": "kommun", "headcount": -1},
        {"unit_id": "f3", "name": "F–3", "parent_id": "skolan"},
    ]
    found = problems_of(json.dumps(units), "json")
    assert [(p.line, p.column) for p in found] == [(2, "headcount")]
    units[1]["headcount"] = 4
    path = tmp_path / "org.json"
    path.write_text(json.dumps(units), encoding="utf-8")
    with pytest.raises(OrgFileError) as caught:
        read_org(path)
    assert [(p.line, p.location) for p in caught.value.problems] == [(3, "f3.parent_id")]


def test_a_json_unit_without_an_id_is_refused() -> None:
    (problem,) = problems_of(json.dumps([{"name": "Kommunen"}]), "json")
    assert (problem.line, problem.reason) == (1, "missing required key: unit_id")


def test_a_json_document_that_is_not_a_list_is_refused() -> None:
    (problem,) = problems_of(json.dumps({"units": []}), "json")
    assert "JSON array" in problem.reason


def test_progress_is_reported_up_to_the_last_row() -> None:
    seen: list[tuple[int, int]] = []
    parse_org(csv_text(*GOOD_ROWS), file_format="csv", on_progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(GOOD_ROWS), len(GOOD_ROWS))


OLD = tree(
    unit("kommun", None, "kim"),
    unit("skola", "kommun", "bo"),
    unit("f3", "skola", "eva", name="F–3"),
    unit("fritids", "skola", "eva"),
    unit("kultur", "kommun"),
)


def test_a_first_import_adds_every_unit_parents_first() -> None:
    diff = diff_org(None, OLD)
    assert [u.id for u in diff.added] == ["kommun", "kultur", "skola", "f3", "fritids"]
    assert diff.summary() == "0 units before, 5 after: 5 added"


def test_identical_trees_have_an_empty_diff() -> None:
    diff = diff_org(OLD, OLD)
    assert diff.is_empty
    assert diff.render() == "no changes (5 units)"


def test_diff_lists_added_moved_renamed_and_removed_units() -> None:
    new = tree(
        unit("kommun", None, "kim"),
        unit("skola", "kommun", "bo"),
        unit("f3", "skola", "eva", name="Lågstadiet"),
        unit("kultur", "kommun"),
        unit("fritids", "kultur", "eva"),
        unit("bibliotek", "kultur", "ulla"),
    )
    diff = diff_org(OLD, new)
    assert [u.id for u in diff.added] == ["bibliotek"]
    assert [(m.unit_id, m.old_parent, m.new_parent) for m in diff.moved] == [("fritids", "skola", "kultur")]
    assert [(r.unit_id, r.old_name, r.new_name) for r in diff.renamed] == [("f3", "F–3", "Lågstadiet")]
    assert diff.removed == ()


def test_diff_tells_appointments_vacancies_and_replacements_apart() -> None:
    new = tree(
        unit("kommun", None, "kim"),
        unit("skola", "kommun"),
        unit("f3", "skola", "ulla", name="F–3"),
        unit("fritids", "skola", "eva"),
        unit("kultur", "kommun", "lars"),
    )
    kinds = {c.unit_id: c.kind for c in diff_org(OLD, new).manager_changes}
    assert kinds == {"skola": "vacated", "f3": "replaced", "kultur": "appointed"}


def test_a_new_spelling_of_the_same_managers_name_is_a_details_change() -> None:
    respelt = Manager("Eva Ek-Berg", "EVA@kommun.example")
    new = tree(*(replace(u, manager=respelt) if u.id == "f3" else u for u in OLD.units.values()))
    (change,) = diff_org(OLD, new).manager_changes
    assert change.kind == "details"


def test_rendered_diff_names_each_change_under_its_heading() -> None:
    new = tree(
        unit("kommun", None, "kim"),
        unit("skola", "kommun"),
        unit("f3", "skola", "eva", name="Lågstadiet"),
        unit("kultur", "kommun"),
    )
    text = diff_org(OLD, new).render()
    assert text.splitlines()[0] == "5 units before, 4 after: 1 removed, 1 renamed, 1 manager change"
    assert "Removed\n  - fritids  Fritids  (was under skola)" in text
    assert "Managers\n  * skola: vacant (was Bo <bo@kommun.example>)" in text


def _without(count: int) -> list[str]:
    return [f"u{i}" for i in range(count)]


BIG = tree(unit("kommun", None, "kim"), *(unit(f"u{i}", "kommun") for i in range(9)))  # 10 units


def test_removing_more_than_forty_percent_of_the_units_is_refused() -> None:
    smaller = tree(*(u for u in BIG.units.values() if u.id not in _without(5)))
    (reason,) = check_guard_rails(BIG, smaller, force=False)
    assert "removes 5 of 10 units" in reason


def test_removing_exactly_forty_percent_is_allowed() -> None:
    smaller = tree(*(u for u in BIG.units.values() if u.id not in _without(4)))
    assert check_guard_rails(BIG, smaller, force=False) == []


def test_replacing_the_root_unit_is_refused() -> None:
    new = tree(unit("ny-kommun", None, "kim"), *(unit(u.id, "ny-kommun") for u in BIG.units.values() if u.parent))
    (reason,) = check_guard_rails(BIG, new, force=False)
    assert "root unit changes from 'kommun' to 'ny-kommun'" in reason


def test_force_accepts_what_the_guard_rails_would_refuse() -> None:
    stranger = tree(unit("annan", None, "kim"))
    assert len(check_guard_rails(BIG, stranger, force=False)) == 2
    assert check_guard_rails(BIG, stranger, force=True) == []


def test_a_first_import_is_never_refused() -> None:
    assert check_guard_rails(None, tree(unit("kommun", None)), force=False) == []


def test_a_manager_address_with_swedish_letters_is_accepted_as_written() -> None:
    org = parse_org(csv_text(*GOOD_ROWS, "x,X,skola,Åsa Öberg,åsa.öberg@förvaltning.example,20"), file_format="csv")
    assert org.units["x"].manager == Manager(name="Åsa Öberg", email="åsa.öberg@förvaltning.example")


def test_a_name_and_address_in_one_field_is_refused_since_the_name_has_its_own_column() -> None:
    (problem,) = problems_of(csv_text(*GOOD_ROWS, 'x,X,skola,Ann Ek,"Ann Ek <ann@kommun.example>",20'))
    assert (problem.line, problem.location) == (5, "x.manager_email")
    assert "angle brackets" in problem.reason
    assert "only the address" in problem.hint


def test_an_address_no_relay_would_take_is_refused_at_import_not_at_the_first_alert() -> None:
    (problem,) = problems_of(csv_text(*GOOD_ROWS, f"x,X,skola,Ann Ek,{'a' * 65}@kommun.example,20"))
    assert problem.column == "manager_email"
    assert "too long before the @-sign" in problem.reason
