import csv
from pathlib import Path

import pytest

from autograder.errors import ConfigError
from autograder.results import Flag, SubmissionResult, SubmissionStatus
from autograder.roster import (
    Roster,
    Student,
    apply_team_checks,
    check_teams,
    ids_in_name,
    load_roster,
)

ROOT = Path(__file__).resolve().parents[1]


def roster_of(*ids: str) -> Roster:
    return Roster({i: Student(i, "Last", "First", f"{i}@example.edu") for i in ids})


def result(sid: str, team: list[str], status: str = SubmissionStatus.GRADED) -> SubmissionResult:
    return SubmissionResult(assignment="hw1_features", submission_id=sid, status=status, team=team)


def codes(check) -> list[str]:
    return sorted(f.code for f in check.flags)


def test_the_course_roster_loads():
    roster = load_roster(ROOT / "roster.csv")
    with open(ROOT / "roster.csv", encoding="utf-8-sig", newline="") as fh:
        ids = [row["student_id"] for row in csv.DictReader(fh)]
    assert list(roster.students) == ids  # every student, in the file's order
    assert roster.get("21900101").name == "Léa Martin"


def test_semicolons_and_bom(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("\ufeffstudent_id;last_name;first_name;email\n1;A;B;a@b\n\n", encoding="utf-8")
    assert load_roster(path).get("1").email == "a@b"


@pytest.mark.parametrize("text, where", [
    ("id,last_name,first_name,email\n1,A,B,c\n", "line 1"),
    ("student_id,last_name,first_name,email\n1,A,B,c\n1,C,D,e\n", "line 3"),
    ("student_id,last_name,first_name,email\n1,A,B,c\n2,A\n", "line 3"),
    ("student_id,last_name,first_name,email\n,A,B,c\n", "line 2"),
    ("", "empty"),
])
def test_bad_rosters_name_the_line(tmp_path, text, where):
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_roster(path)
    assert where in str(err.value) and "roster.csv" in str(err.value)


def test_missing_roster_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_roster(tmp_path / "nope.csv")


def test_a_clean_batch_has_no_flags():
    checks = check_teams([result("a", ["1", "2"]), result("b", ["3"])], roster_of("1", "2", "3"),
                         team_size=2)
    assert checks["a"].team == ["1", "2"] and checks["a"].flags == []
    assert checks["b"].flags == []


def test_unknown_student_two_teams_and_too_large():
    roster = roster_of("1", "2", "3", "4")
    checks = check_teams(
        [result("a", ["1", "2"]), result("b", ["2", "99"]), result("c", ["3", "4", "1"])],
        roster, team_size=2)
    assert codes(checks["a"]) == ["student_in_two_teams", "student_in_two_teams"]
    assert codes(checks["b"]) == ["student_in_two_teams", "unknown_student"]
    assert codes(checks["c"]) == ["student_in_two_teams", "team_too_large"]
    assert "also in submission a" in checks["b"].flags[-1].message


def test_missing_team_cell_uses_the_folder_name():
    roster = roster_of("21900101", "21900102")
    checks = check_teams([result("x", [])], roster, team_size=2,
                         names={"x": "21900101_21900102"})
    assert checks["x"].team == ["21900101", "21900102"]
    assert codes(checks["x"]) == ["no_team_cell", "team_from_folder_name"]
    nothing = check_teams([result("y", [])], roster, team_size=2, names={"y": "lea-martin"})
    assert nothing["y"].team == [] and codes(nothing["y"]) == ["no_team_cell"]


def test_rejected_submissions_are_not_told_about_their_team_cell():
    checks = check_teams([result("r", [], status=SubmissionStatus.REJECTED)], roster_of("1"),
                         team_size=2)
    assert checks["r"].flags == []


def test_duplicates_inside_one_team_count_once():
    checks = check_teams([result("a", ["1", "1", " 2 "])], roster_of("1", "2"), team_size=2)
    assert checks["a"].team == ["1", "2"] and checks["a"].flags == []


def test_ids_in_name():
    assert ids_in_name("Léa Martin_21900101_assignsubmission_file_", roster_of("21900101")) == [
        "21900101"]


def test_applying_twice_gives_the_same_flags():
    roster = roster_of("1")
    results = [result("a", ["1", "7"]), result("b", [])]
    results[0].flags.append(Flag("late", "1 day late"))
    first = apply_team_checks(results, check_teams(results, roster, team_size=2))
    assert sorted(first) == ["a", "b"]
    again = apply_team_checks(results, check_teams(results, roster, team_size=2))
    assert again == []
    assert [f.code for f in results[0].flags] == ["late", "unknown_student"]
    assert results[1].team == []  # the notebook's team stays as it was
