import json
import threading

import pytest

from autograder.errors import ConfigError
from autograder.marks import (
    Mark,
    MarkError,
    TypedCell,
    collect_marks,
    decide_sheet_marks,
    make_mark,
    parse_points,
    read_marks,
    store_marks,
    write_mark,
)

HW = "hw1_features"


def test_a_mark_is_stored_per_submission_atomically(tmp_path):
    mark = write_mark(tmp_path, HW, "pair01", question="written_degrees", points="1,5",
                      max_points=2, comment="right idea, no table")
    path = tmp_path / HW / "marks" / "pair01.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["submission_id"] == "pair01" and data["schema_version"] == 1
    assert data["marks"] == [{"question": "written_degrees", "points": 1.5,
                              "comment": "right idea, no table", "origin": "review",
                              "at": mark.at}]
    assert read_marks(tmp_path, HW, "pair01") == {"written_degrees": mark}
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp")]


@pytest.mark.parametrize("points, why", [(2.5, "outside 0 to 2"), (-0.5, "outside 0 to 2"),
                                         ("abc", "not a number"), (float("nan"), "not a number"),
                                         (True, "not a number")])
def test_a_mark_is_bounded_by_the_questions_points(tmp_path, points, why):
    with pytest.raises(MarkError, match=why):
        write_mark(tmp_path, HW, "pair01", question="q", points=points, max_points=2)
    assert not (tmp_path / HW / "marks" / "pair01.json").exists()


def test_bad_origins_and_ids_are_refused(tmp_path):
    with pytest.raises(MarkError, match="origin"):
        make_mark("q", 1, max_points=2, origin="email")
    for sid in ("../x", "a/b", ".hidden", ""):
        with pytest.raises(MarkError, match="not a submission id"):
            write_mark(tmp_path, HW, sid, question="q", points=1, max_points=2)


def test_the_later_mark_wins_across_writers_and_folders(tmp_path):
    early = Mark("q", 1.0, "", "xlsx", "2026-10-20T10:00:00+00:00")
    late = Mark("q", 2.0, "good", "review", "2026-10-20T11:00:00+00:00")
    store_marks(tmp_path / "a", HW, "pair01", [late])
    store_marks(tmp_path / "a", HW, "pair01", [early])  # arrives after, but is older
    assert read_marks(tmp_path / "a", HW, "pair01")["q"] == late
    store_marks(tmp_path / "b", HW, "pair01",
                [Mark("q", None, "", "xlsx", "2026-10-20T12:00:00+00:00")])  # cleared, later
    merged = collect_marks([tmp_path / "a", tmp_path / "b" / HW], HW)
    assert merged["pair01"]["q"].cleared


def test_concurrent_writers_lose_no_mark(tmp_path):
    def give(question):
        write_mark(tmp_path, HW, "pair01", question=question, points=1, max_points=2)

    threads = [threading.Thread(target=give, args=(f"q{i}",)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(read_marks(tmp_path, HW, "pair01")) == sorted(f"q{i}" for i in range(20))


def test_a_broken_marks_file_is_an_error_never_silence(tmp_path):
    path = tmp_path / HW / "marks" / "pair01.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read the marks file") as err:
        collect_marks([tmp_path], HW)
    assert "pair01.json" in str(err.value)


def test_parse_points():
    assert parse_points(" 1,25 ") == 1.25 and parse_points(2) == 2.0
    assert parse_points(None) is None and parse_points("  ") is None
    with pytest.raises(MarkError):
        parse_points("1.5 points")


# ---------------------------------------------------------------- what typed cells decide

AT = "2026-10-21T09:00:00+00:00"
TOP = {("pair01", "q"): 2.0, ("pair02", "q"): 2.0}


def cells(*typed):
    return [TypedCell(sid, "q", student, value) for sid, student, value in typed]


def test_one_members_edit_is_the_pairs_mark():
    d = decide_sheet_marks(cells(("pair01", "a", 1.5), ("pair01", "b", None)),
                           written={}, stored={}, max_points=TOP, edited_at=AT)
    assert [(m.points, m.origin, m.at) for m in d.marks["pair01"]] == [(1.5, "xlsx", AT)]
    assert not d.problems and not d.kept


def test_an_unedited_cell_changes_nothing():
    stored = {"pair01": {"q": Mark("q", 0.5, "", "review", "2026-10-22T00:00:00+00:00")}}
    d = decide_sheet_marks(cells(("pair01", "a", 1.0), ("pair01", "b", 1.0)),
                           written={("pair01", "q"): 1.0}, stored=stored, max_points=TOP,
                           edited_at=AT)
    assert d.marks == {} and d.problems == []


def test_different_edits_of_one_pair_are_a_conflict():
    d = decide_sheet_marks(cells(("pair01", "a", 2), ("pair01", "b", "1,5")),
                           written={}, stored={}, max_points=TOP, edited_at=AT)
    assert d.marks == {}
    (problem,) = d.problems
    assert problem.code == "mark_conflict" and problem.students == ("a", "b")
    assert d.kept == {("pair01", "q", "a"): 2, ("pair01", "q", "b"): "1,5"}
    same = decide_sheet_marks(cells(("pair01", "a", 1.5), ("pair01", "b", "1,5")),
                              written={}, stored={}, max_points=TOP, edited_at=AT)
    assert same.marks["pair01"][0].points == 1.5 and not same.problems


def test_an_older_gradebook_every_filled_cell_is_an_edit():
    d = decide_sheet_marks(cells(("pair01", "a", 2), ("pair01", "b", None), ("pair02", "c", None)),
                           written=None, stored={}, max_points=TOP, edited_at=AT)
    assert list(d.marks) == ["pair01"] and not d.problems


def test_a_mark_for_a_question_the_submission_lacks():
    d = decide_sheet_marks([TypedCell("gone", "q", "a", 1)], written={}, stored={},
                           max_points=TOP, edited_at=AT)
    assert d.problems[0].code == "mark_unknown_question" and d.kept
