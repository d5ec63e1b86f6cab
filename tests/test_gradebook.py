import csv
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from openpyxl import load_workbook

from autograder.config import Course, load_course
from autograder.errors import ConfigError
from autograder.gradebook import (
    build_gradebook,
    histogram,
    pick_submission,
    submission_grade,
    time_source,
)
from autograder.marks import read_marks, write_mark
from autograder.notebook import nbgrader_metadata
from autograder.results import (
    CheckResult,
    Flag,
    QuestionResult,
    QuestionStatus,
    SubmissionResult,
    SubmissionStatus,
    collect_results,
    write_result,
)

HW = "hw1_features"
ROSTER = """student_id,last_name,first_name,email
1001,Martin,Léa,lea@example.edu
1002,Bernard,Hugo,hugo@example.edu
1003,Dubois,Chloé,chloe@example.edu
1004,Thomas,Lucas,lucas@example.edu
1005,Robert,Manon,manon@example.edu
"""
MANUAL = f"{HW} discussion (manual)"


def source_notebook(path: Path) -> Path:
    """An instructor notebook whose questions sit under headings, one test cell with a
    JupyterLab-generated grade id."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [
        md("# Homework 1\n\nIntro."),
        md("## 1. Polynomial features (5 points)\n\nWrite them."),
        code("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"),
        code("assert f() == 1"),
        md("## 2. Logistic regression by *gradient descent* (10 points)"),
        code("assert True"),
        md("## 3. What the table says (5 points, graded by hand)"),
        md("### BEGIN SOLUTION\nA heading-like answer\n### END SOLUTION"),
    ]
    ids = [("md-1", {}), ("md-2", {}), ("answer", {"solution": True}),
           ("poly", {"grade": True, "locked": True, "points": 5}), ("md-3", {}),
           ("cell-ee55ff66aa77bb88", {"grade": True, "locked": True, "points": 10}),
           ("md-4", {}), ("discussion", {"grade": True, "solution": True, "points": 5})]
    for cell, (gid, flags) in zip(cells, ids, strict=True):
        cell.metadata.update(nbgrader_metadata(gid, **flags))
    nb = nbformat.v4.new_notebook(cells=cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def make_course(root: Path, write_course) -> Course:
    """The course of these tests: one homework due 12 October, its source and roster."""
    source_notebook(root / "source" / HW / f"{HW}.ipynb")
    return load_course(write_course(
        root, roster=ROSTER, course={"timezone": "Europe/Paris"},
        assignments={HW: {"notebook": f"source/{HW}/{HW}.ipynb", "due": "2026-10-12T23:59"}}))


@pytest.fixture
def course(tmp_path, write_course):
    return make_course(tmp_path, write_course)


def result(sid, team, points=(4.0, 6.0), *, status=SubmissionStatus.GRADED,
           at="2026-10-12T20:00:00+02:00", flags=(), graded_at="2026-10-13T10:00:00+00:00",
           written=True):
    q1, q2 = points
    return SubmissionResult(
        assignment=HW, submission_id=sid, status=status, team=list(team), submitted_at=at,
        submitted_at_source="manifest",
        points=q1 + q2, max_points=20.0, graded_at=graded_at, source=f"{sid}/{HW}.ipynb",
        questions=[
            QuestionResult("poly", q1, 5.0, "partial", checks=[
                CheckResult("degree 2", min(q1, 2.0), 2.0, "passed" if q1 >= 2 else "failed"),
                CheckResult("degree 3", q1 - min(q1, 2.0), 3.0,
                            "passed" if q1 >= 5 else "failed"),
            ]),
            QuestionResult("cell-ee55ff66aa77bb88", q2, 10.0, "partial"),
            QuestionResult("discussion", 0.0, 5.0,
                           QuestionStatus.MANUAL if written else QuestionStatus.NOT_ATTEMPTED,
                           manual=True),
        ],
        flags=[Flag(*f) for f in flags],
    )


def save(folder: Path, *results: SubmissionResult) -> Path:
    for r in results:
        write_result(r, folder / HW / f"{r.submission_id}.json")
    return folder


def header_row(ws) -> int:
    return next(r for r in range(1, 6) if ws.cell(row=r, column=1).value == "student_id")


def rows_by_id(path: Path, sheet: str = "grades") -> dict[str, dict]:
    """Rows by student id, keyed by column key (the hidden sheet maps headers to keys)."""
    book = load_workbook(path)
    keys = {r[1]: r[2] for r in book["_autograder"].iter_rows(values_only=True)
            if r[0] == "column"}
    ws = book[sheet]
    top = header_row(ws)
    values = list(ws.iter_rows(min_row=top, values_only=True))
    header = [keys.get(h, h) for h in values[0]]
    return {str(r[0]): dict(zip(header, r, strict=True)) for r in values[1:]}


def grades_cell(book, student: str, key: str):
    """The openpyxl cell of one student's row of the grades sheet, in one column (by key, as the
    hidden sheet names the columns)."""
    keys = {r[2]: r[1] for r in book["_autograder"].iter_rows(values_only=True)
            if r[0] == "column"}
    ws = book["grades"]
    col = next(c.column for c in ws[header_row(ws)] if c.value == keys[key])
    row = next(c.row for c in ws["A"] if str(c.value) == student)
    return ws.cell(row=row, column=col)


def cell_of(path: Path, student: str, key: str):
    return grades_cell(load_workbook(path), student, key)


def type_marks(path: Path, marks: dict[str, object], *, mtime: float | None = None) -> None:
    """What a TA does: type into students' rows of the hand-marked column, save."""
    book = load_workbook(path)
    for student, value in marks.items():
        # (cell(value=None) would not clear it)
        grades_cell(book, student, MANUAL).value = value
    book.save(path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def build(course, tmp_path, results=None):
    return build_gradebook(course=course, assignments=[HW],
                           results=[results or tmp_path / "results"],
                           out=tmp_path / "grades.xlsx")


def test_one_row_per_student_with_the_pairs_grade(course, tmp_path):
    results = save(tmp_path / "results",
                   result("pairA", ["1001", "1002"], (5.0, 10.0)),
                   result("pairB", ["1003", "9999"], (2.0, 4.0), at="2026-10-14T10:00:00+02:00"))
    book = build(course, tmp_path, results)
    rows = rows_by_id(book.xlsx)
    assert list(rows) == ["1001", "1002", "1003", "1004", "1005", "9999"]
    lea, hugo = rows["1001"], rows["1002"]
    assert lea[f"{HW} poly"] == 5.0 and lea[f"{HW} cell-ee55ff66aa77bb88"] == 10.0
    assert lea[MANUAL] is None  # to be marked by hand
    assert lea[f"{HW} grade"] == hugo[f"{HW} grade"] == 15.0 and lea["final /20"] == 15.0
    assert "to mark by hand: 3. What the table says" in (lea["flags"] or "")
    chloe = rows["1003"]  # 6/20, two started days late: -20%
    assert (chloe[f"{HW} late days"], chloe[f"{HW} penalty"], chloe[f"{HW} grade"]) == (2, 0.2, 4.8)
    assert "unknown_student" in (chloe["flags"] or "")
    assert rows["1004"][f"{HW} status"] == "no submission" and rows["1004"][f"{HW} grade"] == 0
    assert "not on the roster" in (rows["9999"]["flags"] or "")
    assert rows["9999"][f"{HW} grade"] == 4.8


def test_sheets_statistics_problems_and_chart(course, tmp_path):
    results = save(tmp_path / "results",
                   result("pairA", ["1001", "1002"], (5.0, 10.0)),
                   result("pairB", ["1003"], (1.0, 4.0), flags=[("cells_changed", "cell 4")]),
                   result("pairC", ["1004"], (0.0, 0.0), status=SubmissionStatus.REJECTED))
    book = build(course, tmp_path, results)
    wb = load_workbook(book.xlsx)
    assert wb.sheetnames == ["grades", "questions", "checks", "problems", "marks",
                             "distribution", "_autograder"]
    assert wb["_autograder"].sheet_state == "hidden"
    questions = {q["grade id"]: q for q in book.questions}
    assert questions["poly"]["mean"] == 3.0 and questions["poly"]["share full marks"] == 0.5
    assert questions["poly"]["question"] == "1. Polynomial features"
    assert questions["discussion"]["graded by"] == "hand"
    assert questions["discussion"]["to mark"] == 2 and "mean" not in questions["discussion"]
    checks = {c["check"]: c for c in book.checks}
    assert checks["degree 2"]["pass rate"] == 0.5 and checks["degree 3"]["passed"] == 1
    ws = wb["checks"]
    assert [c.value for c in ws[1]][:3] == ["assignment", "question", "check"]
    problems = [(p["submission"], p["problem"]) for p in book.problems]
    assert ("pairB", "cells_changed") in problems and ("pairC", "rejected") in problems
    assert ("", "no_submission") in problems
    dist = wb["distribution"]
    assert len(dist._charts) == 1
    assert sum(r[1] for r in dist.iter_rows(min_row=2, values_only=True)) == 5


def test_headers_are_the_questions_titles_not_grade_ids(course, tmp_path):
    book = build(course, tmp_path, save(tmp_path / "results", result("pairA", ["1001"])))
    ws = load_workbook(book.xlsx)["grades"]
    headers = [c.value for c in ws[header_row(ws)]]
    assert f"{HW}\n1. Polynomial features\n/5" in headers
    # emphasis marks and the "(10 points)" note go; the generated grade id is never shown
    assert f"{HW}\n2. Logistic regression by gradient descent\n/10" in headers
    assert f"{HW}\n3. What the table says\n/5 by hand" in headers
    assert not any("cell-ee55" in str(h) for h in headers)
    assert book.labels[MANUAL] == f"{HW}\n3. What the table says\n/5 by hand"


def test_formats_widths_and_wrapped_headers(course, tmp_path):
    results = save(tmp_path / "results", result("pairA", ["1001", "1002"], (5.0, 10.0),
                                                at="2026-10-14T10:00:00+02:00"),
                   result("pairB", ["1003"], flags=[("late", "x " * 300)]))
    book = build(course, tmp_path, results)
    wb = load_workbook(book.xlsx)
    ws = wb["grades"]
    top = header_row(ws)
    assert top == 2 and "run `autograder gradebook hw1_features` again" in ws["A1"].value
    assert all(c.alignment.wrap_text for c in ws[top])
    assert ws.row_dimensions[top].height >= 3 * 15  # three header lines fit
    assert ws.freeze_panes == f"D{top + 1}"
    by_key = {book.labels[k]: k for k in book.labels}
    formats, widths = {}, {}
    for c in ws[top]:
        key = by_key[c.value]
        formats[key] = ws.cell(row=top + 1, column=c.column).number_format
        widths[key] = ws.column_dimensions[c.column_letter].width
        longest_word = max(len(w) for w in c.value.split())
        assert widths[key] >= longest_word, f"{c.value!r} is cut"
    assert formats[f"{HW} penalty"] == "0%"
    assert formats[f"{HW} poly"] == "0.0#" and formats[f"{HW} grade"] == "0.00"
    assert formats[f"{HW} submitted at"] == "yyyy-mm-dd hh:mm"
    lea = rows_by_id(book.xlsx)["1001"]
    assert lea[f"{HW} submitted at"].isoformat() == "2026-10-14T10:00:00"  # course time
    assert lea[f"{HW} penalty"] == 0.2
    q = wb["questions"]
    share_col = [c.value for c in q[1]].index("share full marks") + 1
    assert q.cell(row=2, column=share_col).number_format == "0.0%"
    # A long message wraps in a wide column, its row tall enough for it.
    p = wb["problems"]
    msg_col = [c.value for c in p[1]].index("message") + 1
    assert 40 <= p.column_dimensions[p.cell(row=1, column=msg_col).column_letter].width <= 90
    long_row = next(c.row for c in p[p.cell(row=1, column=msg_col).column_letter]
                    if str(c.value).startswith("x x"))
    assert p.cell(row=long_row, column=msg_col).alignment.wrap_text
    assert p.row_dimensions[long_row].height >= 600 / 90 * 15  # 600 characters, <= 90 a line


def test_the_submission_time_and_where_it_came_from(course, tmp_path):
    r = result("pairA", ["1001", "1002"])
    r.submitted_at_source = None  # no manifest: the batch flags it and applies no penalty
    r.flags.append(Flag("time_unverified", "the time comes from the zip's entry dates"))
    book = build(course, tmp_path, save(tmp_path / "results", r,
                                        result("pairB", ["1003"])))
    rows = rows_by_id(book.xlsx)
    assert rows["1001"][f"{HW} time from"] == "no trusted time"
    assert rows["1003"][f"{HW} time from"] == "manifest"
    problems = rows_by_id_sheet(book.xlsx, "problems")
    assert any(p["time from"] == "no trusted time" for p in problems)
    # Results that say where their time came from (older ones do not).
    r.submitted_at_source = "file date"
    assert time_source(r) == "file date (set by the student)"
    r.flags = []
    assert time_source(r) == "file date (set by the student)"  # the source alone says it
    r.submitted_at_source = "manifest"
    assert time_source(r) == "manifest"


def rows_by_id_sheet(path: Path, sheet: str) -> list[dict]:
    ws = load_workbook(path)[sheet]
    values = list(ws.iter_rows(values_only=True))
    return [dict(zip(values[0], r, strict=True)) for r in values[1:]]


# ---------------------------------------------------------------- hand marks, per pair

def test_a_mark_typed_in_one_members_row_is_the_pairs(course, tmp_path):
    results = save(tmp_path / "results", result("pairA", ["1001", "1002"], (5.0, 5.0)),
                   result("pairB", ["1003", "1004"], (5.0, 5.0)))
    out = build(course, tmp_path).xlsx
    type_marks(out, {"1001": 4, "1003": "2,5"})  # the French way
    book = build(course, tmp_path)
    rows = rows_by_id(out)
    assert rows["1001"][MANUAL] == rows["1002"][MANUAL] == 4
    assert rows["1001"][f"{HW} grade"] == rows["1002"][f"{HW} grade"] == 14.0
    assert rows["1003"][MANUAL] == rows["1004"][MANUAL] == 2.5
    assert "to mark by hand" not in (rows["1001"]["flags"] or "")
    assert book.marks_taken == 2
    stored = read_marks(results, HW, "pairA")["discussion"]
    assert (stored.points, stored.origin) == (4.0, "xlsx")
    marks_sheet = rows_by_id_sheet(out, "marks")
    assert {(m["submission"], m["points"], m["entered in"]) for m in marks_sheet} == {
        ("pairA", 4, "grades.xlsx"), ("pairB", 2.5, "grades.xlsx")}

    # The marks are the results folder's now: a regrade and a fresh gradebook keep them.
    save(results, result("pairB", ["1003", "1004"], (5.0, 10.0),
                         graded_at="2026-10-14T00:00:00+00:00"))
    out.unlink()
    build(course, tmp_path)
    rows = rows_by_id(out)
    assert rows["1003"][f"{HW} grade"] == 17.5  # new automatic points + the kept mark
    assert rows["1004"][MANUAL] == 2.5


def test_two_different_marks_for_one_pair_are_flagged_never_resolved(course, tmp_path):
    results = save(tmp_path / "results", result("pairA", ["1001", "1002"], (5.0, 5.0)))
    out = build(course, tmp_path).xlsx
    type_marks(out, {"1001": 2, "1002": 1.5})
    book = build(course, tmp_path)
    rows = rows_by_id(out)
    assert read_marks(results, HW, "pairA") == {}  # nothing stored
    assert (rows["1001"][MANUAL], rows["1002"][MANUAL]) == (2, 1.5)  # what was typed stays
    assert cell_of(out, "1001", MANUAL).fill.fgColor.rgb.endswith("FFC7CE")  # shown in red
    assert "mark_conflict" in (rows["1001"]["flags"] or "") and "mark_conflict" in (rows["1002"]["flags"] or "")
    conflict = next(p for p in book.problems if p["problem"] == "mark_conflict")
    assert "1001: 2" in conflict["message"] and "1002: 1.5" in conflict["message"]
    assert rows["1001"][f"{HW} grade"] == 10.0  # no mark counted yet

    type_marks(out, {"1002": 2})  # the TA makes the rows agree
    build(course, tmp_path)
    rows = rows_by_id(out)
    assert rows["1001"][MANUAL] == rows["1002"][MANUAL] == 2
    assert "mark_conflict" not in (rows["1001"]["flags"] or "")
    assert read_marks(results, HW, "pairA")["discussion"].points == 2


def test_an_older_gradebook_marked_per_student_is_checked_per_pair(course, tmp_path):
    """A gradebook written before marks were per pair: headers were keys, no record of what was
    written; conflicting marks of a pair's members are found there too."""
    from openpyxl import Workbook

    results = save(tmp_path / "results", result("pairA", ["1001", "1002"], (5.0, 5.0)),
                   result("pairB", ["1003", "1004"], (5.0, 5.0)))
    wb = Workbook()
    ws = wb.active
    ws.title = "grades"
    ws.append(["student_id", "last_name", f"{HW} submission", MANUAL, f"{HW} grade"])
    ws.append(["1001", "Martin", "pairA", 2, 12])
    ws.append(["1002", "Bernard", "pairA", 1.5, 11.5])
    ws.append(["1003", "Dubois", "pairB", 3, 13])
    ws.append(["1004", "Thomas", "pairB", None, 10])
    wb.save(tmp_path / "grades.xlsx")
    book = build(course, tmp_path)
    assert [p["problem"] for p in book.problems if p["submission"] == "pairA"] == [
        "mark_conflict"]
    assert read_marks(results, HW, "pairB")["discussion"].points == 3
    rows = rows_by_id(book.xlsx)
    assert rows["1004"][MANUAL] == 3


def test_the_later_edit_wins(course, tmp_path):
    results = save(tmp_path / "results", result("pairA", ["1001", "1002"], (5.0, 5.0)))
    out = build(course, tmp_path).xlsx
    type_marks(out, {"1001": 4}, mtime=time.time() - 3600)  # saved an hour ago
    write_mark(results, HW, "pairA", question="discussion", points=3, max_points=5,
               comment="clear, but no figure")  # a review page, now
    book = build(course, tmp_path)
    assert rows_by_id(out)["1002"][MANUAL] == 3
    assert any(p["problem"] == "mark_superseded" for p in book.problems)
    # A cell left as the gradebook wrote it is no edit: the review mark stays.
    write_mark(results, HW, "pairA", question="discussion", points=2.5, max_points=5,
               comment="clear, but no figure")
    build(course, tmp_path)
    assert rows_by_id(out)["1001"][MANUAL] == 2.5
    # An edit saved after the review mark wins, and keeps the review's comment.
    type_marks(out, {"1002": 5}, mtime=time.time() + 5)
    build(course, tmp_path)
    assert rows_by_id(out)["1001"][MANUAL] == 5
    mark = read_marks(results, HW, "pairA")["discussion"]
    assert (mark.points, mark.origin, mark.comment) == (5, "xlsx", "clear, but no figure")


@pytest.mark.parametrize("typed, why", [(7, "outside 0 to 5"), (-1, "outside 0 to 5"),
                                        ("good", "not a number")])
def test_a_typed_mark_that_is_not_a_mark_is_kept_and_flagged(course, tmp_path, typed, why):
    results = save(tmp_path / "results", result("pairA", ["1001", "1002"], (5.0, 5.0)))
    out = build(course, tmp_path).xlsx
    type_marks(out, {"1001": typed})
    book = build(course, tmp_path)
    assert read_marks(results, HW, "pairA") == {}
    problem = next(p for p in book.problems if p["problem"] == "mark_invalid")
    assert why in problem["message"]
    rows = rows_by_id(out)
    assert rows["1001"][MANUAL] == typed and rows["1002"][MANUAL] is None
    build(course, tmp_path)  # still refused on the next run: nothing typed is lost
    assert rows_by_id(out)["1001"][MANUAL] == typed


def test_a_mark_in_the_row_of_a_student_without_submission_is_flagged(course, tmp_path):
    save(tmp_path / "results", result("pairA", ["1001", "1002"], (5.0, 5.0)))
    out = build(course, tmp_path).xlsx
    assert cell_of(out, "1005", MANUAL).fill.fgColor.rgb in ("00000000", None)  # not yellow
    assert cell_of(out, "1001", MANUAL).fill.fgColor.rgb.endswith("FFF2CC")
    type_marks(out, {"1005": 2})
    book = build(course, tmp_path)
    assert any(p["problem"] == "mark_without_submission" for p in book.problems)
    assert rows_by_id(out)["1005"][MANUAL] == 2  # kept as typed, in red
    assert cell_of(out, "1005", MANUAL).fill.fgColor.rgb.endswith("FFC7CE")


def test_clearing_a_cell_clears_the_mark(course, tmp_path):
    results = save(tmp_path / "results", result("pairA", ["1001", "1002"], (5.0, 5.0)))
    write_mark(results, HW, "pairA", question="discussion", points=4, max_points=5)
    out = build(course, tmp_path).xlsx
    assert rows_by_id(out)["1001"][f"{HW} grade"] == 14.0
    type_marks(out, {"1002": None}, mtime=time.time() + 5)
    build(course, tmp_path)
    rows = rows_by_id(out)
    assert rows["1001"][MANUAL] is None and rows["1001"][f"{HW} grade"] == 10.0
    assert "to mark by hand" in (rows["1001"]["flags"] or "")


def test_an_unanswered_written_question_is_zero_no_response(course, tmp_path):
    save(tmp_path / "results", result("pairA", ["1001", "1002"], (5.0, 5.0),
                                      written=False))
    book = build(course, tmp_path)
    lea = rows_by_id(book.xlsx)["1001"]
    assert lea[MANUAL] == 0 and lea[f"{HW} grade"] == 10.0
    assert "to mark" not in (lea["flags"] or "")
    assert "no response" in cell_of(book.xlsx, "1001", MANUAL).number_format
    assert next(q for q in book.questions if q["grade id"] == "discussion")["to mark"] == 0


def test_the_mark_cells_say_how_to_enter_marks(course, tmp_path):
    book = build(course, tmp_path, save(tmp_path / "results", result("pairA", ["1001"])))
    ws = load_workbook(book.xlsx)["grades"]
    checks = ws.data_validations.dataValidation
    assert len(checks) == 1
    check = checks[0]
    assert (check.type, check.formula1, check.formula2) == ("decimal", "0", "5")
    assert "run `autograder gradebook hw1_features` again" in check.prompt
    assert "one mark per pair" in check.prompt


def test_grade_of_a_late_submission_with_marks(course):
    spec = course.assignment(HW)
    r = result("pairA", ["1001"], (5.0, 10.0), at="2026-10-14T10:00:00+02:00")
    from autograder.marks import make_mark

    grade = submission_grade(r, spec, {}, timezone_name=course.timezone)
    assert (grade.before_penalty, grade.penalty, grade.grade) == (15.0, 0.2, 12.0)
    assert grade.to_mark == ("discussion",)
    mark = make_mark("discussion", 5, max_points=5, origin="review")
    grade = submission_grade(r, spec, {"discussion": mark}, timezone_name=course.timezone)
    assert (grade.manual, grade.grade, grade.to_mark) == (5.0, 16.0, ())


# ---------------------------------------------------------------- hostile text

FORMULAS = ['=HYPERLINK("http://x","y")', "=1+1", "+1+2", "-2+3", "@SUM(1,2)", "#N/A",
            "\t=1+1", "\r=1+1"]


def hostile_results() -> list[SubmissionResult]:
    evil = result("pairE", FORMULAS[:2] + ["1005"], flags=[("cells_changed", "=1+1")])
    evil.source = "pairE/=1+2+SUM(3,4).ipynb"
    evil.questions[0].checks[0].name = "=HYPERLINK(\"http://x\",\"check\")"
    control = result("pairC", ["10\x0103", "\x1f=2+2", "1004"])
    control.source = "pairC/\x01bad\x1fname\ud800.ipynb"
    control.flags.append(Flag("cells_changed", "\x07" + "y" * 1_000_000))
    rejected = SubmissionResult(assignment=HW, submission_id="pairR", status=SubmissionStatus.REJECTED,
                                reason="=HYPERLINK(\"http://evil\",\"click\")", team=FORMULAS[2:],
                                source="=cmd|' /C calc'!A0.zip", graded_at="2026-10-13")
    return [evil, control, rejected]


def test_text_from_a_submission_is_never_a_formula_in_the_spreadsheet(course, tmp_path):
    book = build(course, tmp_path, save(tmp_path / "results", *hostile_results()))
    wb = load_workbook(book.xlsx)
    seen = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate}: {cell.value!r}"
                if isinstance(cell.value, str):
                    assert not any(ch in cell.value for ch in "\x01\x07\x1f\ud800")
                    assert len(cell.value) <= 2000
                    seen.add(cell.value)
    rows = rows_by_id(book.xlsx)
    assert '=HYPERLINK("http://x","y")' in rows and "=1+1" in rows  # ids kept, as text
    link = next(c for c in wb["grades"]["A"] if c.value == '=HYPERLINK("http://x","y")')
    assert link.data_type == "s" and link.hyperlink is None
    na = next(c for c in wb["grades"]["A"] if c.value == "#N/A")
    assert na.data_type == "s"
    assert "pairE/=1+2+SUM(3,4).ipynb" in seen and "=cmd|' /C calc'!A0.zip" in seen
    assert '=HYPERLINK("http://evil","click")' in seen
    assert "1003" in rows  # "10\x0103" with the control character removed
    assert "=2+2" in rows
    assert any(v.startswith("yyyy") and v.endswith("…") for v in seen)  # capped, says so
    # Numbers the gradebook computed are still numbers.
    grade = cell_of(book.xlsx, "1005", f"{HW} grade")
    assert grade.data_type == "n" and grade.value == rows["1005"][f"{HW} grade"] == 10


def test_csv_cells_that_look_like_formulas_are_neutralised(course, tmp_path):
    book = build(course, tmp_path, save(tmp_path / "results", *hostile_results()))
    with open(book.csv, encoding="utf-8", newline="") as fh:
        table = list(csv.reader(fh))
    for row in table:
        for value in row:
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
            assert not any(ch in value for ch in "\x01\x07\x1f")
    ids = [row[0] for row in table[1:]]
    for formula in ['=HYPERLINK("http://x","y")', "=1+1", "+1+2", "-2+3", "@SUM(1,2)"]:
        assert "'" + formula in ids
    assert "#N/A" in ids  # not a formula: left alone
    with open(book.csv, encoding="utf-8", newline="") as fh:
        plain = {r["student_id"]: r for r in csv.DictReader(fh)}
    assert float(plain["1005"][f"{HW} grade"]) >= 0  # numbers stay numbers
    assert plain["1001"][f"{HW} status"] == "no submission"
    with open(book.moodle_csv, encoding="utf-8", newline="") as fh:
        moodle = list(csv.DictReader(fh))
    assert all(float(m[HW]) >= 0 for m in moodle)


def test_one_submissions_text_never_stops_the_gradebook(course, tmp_path):
    broken = result("pairX", ["1001"])
    broken.team = ["1001", "\x00" * 10, "\udfff", "A" * 200_000]
    broken.submitted_at = "not a date \x01"
    broken.questions[0].checks[0].message = "\ufffe\uffff"
    book = build(course, tmp_path, save(tmp_path / "results", broken, result("ok", ["1002"])))
    rows = rows_by_id(book.xlsx)
    assert rows["1002"][f"{HW} status"] == SubmissionStatus.GRADED
    assert rows["1001"][f"{HW} submitted at"] == "not a date "  # shown, never guessed
    assert "submission time unreadable" in rows["1001"]["flags"]
    assert "A" * 1999 + "…" in rows  # a 200 000-character id, capped


# ---------------------------------------------------------------- the rest

def test_csv_and_moodle_import(course, tmp_path):
    results = save(tmp_path / "results", result("pairA", ["1001", "1002"], (5.0, 10.0)),
                   result("pairX", ["4242"]))
    book = build(course, tmp_path, results)
    with open(book.csv, encoding="utf-8") as fh:
        plain = list(csv.DictReader(fh))
    assert len(plain) == 6 and plain[0]["student_id"] == "1001"
    assert plain[0][f"{HW} submitted at"] == "2026-10-12 20:00"
    with open(book.moodle_csv, encoding="utf-8") as fh:
        moodle = list(csv.DictReader(fh))
    assert list(moodle[0]) == ["ID number", "Email address", HW]
    assert moodle[0] == {"ID number": "1001", "Email address": "lea@example.edu", HW: "15.0"}
    assert [m["ID number"] for m in moodle] == ["1001", "1002", "1003", "1004", "1005"]
    assert not list(tmp_path.glob(".tmp-*"))


def test_shards_merge(course, tmp_path):
    save(tmp_path / "shard0", result("pairA", ["1001", "1002"]))
    save(tmp_path / "shard1", result("pairB", ["1003"]),
         result("pairA", ["1001", "1002"], (1.0, 1.0), graded_at="2026-10-01T00:00:00+00:00"))
    merged = collect_results([tmp_path / "shard0", tmp_path / "shard1" / HW], HW)
    assert [(r.submission_id, r.points) for r in merged] == [("pairA", 10.0), ("pairB", 10.0)]


def test_marks_typed_with_shards_go_to_the_first_folder(course, tmp_path):
    save(tmp_path / "shard0", result("pairA", ["1001", "1002"]))
    save(tmp_path / "shard1", result("pairB", ["1003"]))
    folders = [tmp_path / "shard0", tmp_path / "shard1" / HW]
    out = tmp_path / "grades.xlsx"
    build_gradebook(course=course, assignments=[HW], results=folders, out=out)
    type_marks(out, {"1003": 1})
    build_gradebook(course=course, assignments=[HW], results=folders, out=out)
    assert json.loads((tmp_path / "shard0" / HW / "marks" / "pairB.json").read_text())[
        "marks"][0]["points"] == 1
    assert rows_by_id(out)["1003"][MANUAL] == 1


def test_a_student_in_two_submissions_counts_once(course, tmp_path):
    older = result("a", ["1001"], (1.0, 1.0), at="2026-10-10T10:00:00+02:00")
    newer = result("b", ["1001", "1002"], (5.0, 5.0), at="2026-10-11T10:00:00+02:00")
    assert pick_submission([older, newer]) is newer
    save(tmp_path / "results", older, newer)
    book = build(course, tmp_path)
    lea = book.rows[0]
    assert lea[f"{HW} submission"] == "b" and "student_in_two_teams" in (lea["flags"] or "")


def test_an_unreadable_gradebook_is_not_overwritten(course, tmp_path):
    out = tmp_path / "grades.xlsx"
    out.write_bytes(b"not a spreadsheet")
    save(tmp_path / "results", result("pairA", ["1001", "1002"]))
    with pytest.raises(ConfigError, match="marks typed there would be lost"):
        build(course, tmp_path)
    assert out.read_bytes() == b"not a spreadsheet"


def test_no_results_is_an_error_not_a_gradebook_of_zeros(course, tmp_path):
    with pytest.raises(ConfigError, match="no results for hw1_features"):
        build_gradebook(course=course, assignments=[HW], results=[tmp_path / "nothing"],
                        out=tmp_path / "grades.xlsx")
    assert not (tmp_path / "grades.xlsx").exists()


def test_histogram_bins():
    bars = histogram([0.0, 1.99, 2.0, 19.5, 20.0])
    assert [b["students"] for b in bars] == [2, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    assert bars[0]["grade"] == "0–2"


def test_gradebook_command(course, tmp_path, capsys):
    from autograder.cli import main

    save(tmp_path / "shard0", result("pairA", ["1001", "1002"]))
    save(tmp_path / "shard1", result("pairB", ["1003"]))
    code = main(["--course", str(course.path), "gradebook", HW, "--results",
                 str(tmp_path / "shard0"), str(tmp_path / "shard1")])
    assert code == 0 and (tmp_path / "grades.xlsx").exists()
    assert (tmp_path / "grades-moodle.csv").exists()
    assert "5 students" in capsys.readouterr().out
    assert rows_by_id(tmp_path / "grades.xlsx")["1003"][f"{HW} status"] == SubmissionStatus.GRADED
    type_marks(tmp_path / "grades.xlsx", {"1003": 2})
    main(["--course", str(course.path), "gradebook", HW, "--results",
          str(tmp_path / "shard0"), str(tmp_path / "shard1")])
    assert "1 mark(s) typed into the spreadsheet stored" in capsys.readouterr().out


# ---------------------------------------------------------------- as LibreOffice shows it
#
# Rendered to PDF and CSV by LibreOffice itself, then read. A header that does not fit its cell is
# clipped in the render, and a clipped word is missing from the PDF's text: every header word found
# whole means no header is cut. The CSV LibreOffice writes holds cells as shown, so number formats
# are checked as a reader sees them. Where scripts/test.sh could install LibreOffice (root with
# apt-get, as CI runs), it sets AUTOGRADER_REQUIRE_LIBREOFFICE=1: a missing `soffice` then fails
# these tests instead of skipping them.

REQUIRED = os.environ.get("AUTOGRADER_REQUIRE_LIBREOFFICE") == "1"
TOOLS = ("soffice", "pdftotext")
LONG_MESSAGE = ("the notebook changed locked cells 4, 7 and 12: the instructor's code was taken "
                "from the source notebook; ask the pair whether they meant to edit these cells "
                "before the deadline and check the answers around them by hand")


@pytest.fixture(scope="module")
def tools(tmp_path_factory):
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        why = (f"{' and '.join(missing)} not installed (Debian: apt-get install "
               "libreoffice-calc-nogui poppler-utils)")
        if REQUIRED:
            pytest.fail(f"AUTOGRADER_REQUIRE_LIBREOFFICE=1 but {why}")
        pytest.skip(why)
    # A profile of its own: another LibreOffice running on the machine would take the job.
    return tmp_path_factory.mktemp("lo-profile").as_uri()


def convert(profile: str, source: Path, to: str, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless", "--norestore",
                    "--convert-to", to, "--outdir", str(out), str(source)],
                   check=True, capture_output=True, timeout=240)
    return out / f"{source.stem}.{to.split(':')[0]}"


def only_sheet(xlsx: Path, sheet: str, out: Path) -> Path:
    """A copy of the workbook where only `sheet` is visible (and first): its render alone."""
    book = load_workbook(xlsx)
    for ws in book.worksheets:
        ws.sheet_state = "visible" if ws.title == sheet else "hidden"
    book.move_sheet(sheet, offset=-book.sheetnames.index(sheet))
    book.active = 0
    book.save(out)
    return out


def pdf_words(profile: str, xlsx: Path, folder: Path) -> list[str]:
    pdf = convert(profile, xlsx, "pdf", folder)
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True,
                          text=True, timeout=60).stdout
    return text.split()


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory, write_course):
    root = tmp_path_factory.mktemp("course")
    course = make_course(root, write_course)
    late = result("pairB", ["1003", "1004"], (2.0, 4.5), at="2026-10-14T10:00:00+02:00",
                  flags=[("cells_changed", LONG_MESSAGE)], written=False)
    evil = result("pairE", ["=1+1", '=HYPERLINK("http://x","y")', "1005"])
    rejected = SubmissionResult(assignment=HW, submission_id="pairR", status=SubmissionStatus.REJECTED,
                                reason="=2+3", team=["@SUM(1,9)"], graded_at="2026-10-13",
                                flags=[Flag("no_team_cell", "no TEAM = [...] cell")])
    results = save(root / "results", result("pairA", ["1001", "1002"], (5.0, 10.0)), late, evil,
                   rejected)
    return build_gradebook(course=course, assignments=[HW], results=[results],
                           out=root / "grades.xlsx")


def test_no_header_is_cut(tools, gradebook, tmp_path):
    words = set(pdf_words(tools, only_sheet(gradebook.xlsx, "grades", tmp_path / "g.xlsx"),
                          tmp_path))
    labels = [gradebook.labels[k] for k in gradebook.columns]
    assert "1. Polynomial features" in " ".join(labels)  # titles, as the notebook has them
    for label in labels:
        for word in label.split():
            assert word in words, f"{word!r} of header {label!r} is cut in LibreOffice"
    note = load_workbook(gradebook.xlsx)["grades"]["A1"].value
    missing = [w for w in note.split() if w not in words]
    assert not missing, f"the note above the grades is cut: {missing}"


def test_problem_messages_are_readable_whole(tools, gradebook, tmp_path):
    words = pdf_words(tools, only_sheet(gradebook.xlsx, "problems", tmp_path / "p.xlsx"),
                      tmp_path)
    for word in LONG_MESSAGE.split():
        assert word in words, f"{word!r} of a problem's message is cut"
    for header in ("assignment", "submission", "submitted", "message"):
        assert header in words


def test_formats_and_text_as_libreoffice_shows_them(tools, gradebook, tmp_path):
    # The first sheet, UTF-8, cells as shown.
    shown = convert(tools, gradebook.xlsx, "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,"
                                           "true,true", tmp_path)
    with open(shown, encoding="utf-8", newline="") as fh:
        table = list(csv.reader(fh))
    header = table[1]
    rows = {r[0]: dict(zip(header, r, strict=False)) for r in table[2:]}
    label = gradebook.labels
    chloe = rows["1003"]
    assert chloe[label[f"{HW} penalty"]] == "20%"
    assert chloe[label[f"{HW} submitted at"]] == "2026-10-14 10:00"
    assert chloe[label[f"{HW} grade"]] == "5.20"
    assert chloe[label[f"{HW} discussion (manual)"]] == "0 (no response)"
    assert rows["1001"][label[f"{HW} poly"]] == "5.0"
    # Formulas a submission planted are shown as the text they are, never computed.
    assert rows["=1+1"][label[f"{HW} status"]] == "graded"
    assert '=HYPERLINK("http://x","y")' in rows
    assert "@SUM(1,9)" in rows and "10" not in rows
