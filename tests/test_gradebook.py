import csv
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from openpyxl import load_workbook

from autograder.config import load_course
from autograder.errors import ConfigError
from autograder.gradebook import build_gradebook, collect_results, histogram, pick_submission
from autograder.results import (
    GRADED,
    REJECTED,
    CheckResult,
    Flag,
    QuestionResult,
    SubmissionResult,
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


@pytest.fixture
def course(tmp_path):
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    (tmp_path / "course.toml").write_text(textwrap.dedent(f"""\
        [course]
        timezone = "Europe/Paris"
        [assignments.{HW}]
        notebook = "source/{HW}/{HW}.ipynb"
        due = "2026-10-12T23:59"
        """), encoding="utf-8")
    return load_course(tmp_path / "course.toml")


def result(sid, team, points=(4.0, 6.0), *, status=GRADED, at="2026-10-12T20:00:00+02:00",
           flags=(), graded_at="2026-10-13T10:00:00+00:00"):
    q1, q2 = points
    return SubmissionResult(
        assignment=HW, submission_id=sid, status=status, team=list(team), submitted_at=at,
        points=q1 + q2, max_points=20.0, graded_at=graded_at, source=f"{sid}/{HW}.ipynb",
        questions=[
            QuestionResult("poly", q1, 5.0, "partial", checks=[
                CheckResult("degree 2", min(q1, 2.0), 2.0, "passed" if q1 >= 2 else "failed"),
                CheckResult("degree 3", q1 - min(q1, 2.0), 3.0,
                            "passed" if q1 >= 5 else "failed"),
            ]),
            QuestionResult("logreg", q2, 10.0, "partial"),
            QuestionResult("discussion", 0.0, 5.0, "manual", manual=True),
        ],
        flags=[Flag(*f) for f in flags],
    )


def save(folder: Path, *results: SubmissionResult) -> Path:
    for r in results:
        write_result(r, folder / HW / f"{r.submission_id}.json")
    return folder


def rows_by_id(path: Path, sheet: str = "grades") -> dict[str, dict]:
    ws = load_workbook(path)[sheet]
    values = list(ws.iter_rows(values_only=True))
    return {str(r[0]): dict(zip(values[0], r, strict=True)) for r in values[1:]}


def test_one_row_per_student_with_the_pairs_grade(course, tmp_path):
    results = save(tmp_path / "results",
                   result("pairA", ["1001", "1002"], (5.0, 10.0)),
                   result("pairB", ["1003", "9999"], (2.0, 4.0), at="2026-10-14T10:00:00+02:00"))
    book = build_gradebook(course=course, assignments=[HW], results=[results],
                           out=tmp_path / "grades.xlsx")
    rows = rows_by_id(book.xlsx)
    assert list(rows) == ["1001", "1002", "1003", "1004", "1005", "9999"]
    lea, hugo = rows["1001"], rows["1002"]
    assert lea[f"{HW} poly"] == 5.0 and lea[f"{HW} logreg"] == 10.0
    assert lea[f"{HW} discussion (manual)"] is None
    assert lea[f"{HW} grade"] == hugo[f"{HW} grade"] == 15.0 and lea["final /20"] == 15.0
    chloe = rows["1003"]  # 6/20, two started days late: -20%
    assert (chloe[f"{HW} late days"], chloe[f"{HW} penalty"], chloe[f"{HW} grade"]) == (2, 0.2, 4.8)
    assert "unknown_student" in chloe["flags"]
    assert rows["1004"][f"{HW} status"] == "no submission" and rows["1004"][f"{HW} grade"] == 0
    assert "not on the roster" in rows["9999"]["flags"]
    assert rows["9999"][f"{HW} grade"] == 4.8


def test_sheets_statistics_problems_and_chart(course, tmp_path):
    results = save(tmp_path / "results",
                   result("pairA", ["1001", "1002"], (5.0, 10.0)),
                   result("pairB", ["1003"], (1.0, 4.0), flags=[("cells_changed", "cell 4")]),
                   result("pairC", ["1004"], (0.0, 0.0), status=REJECTED))
    book = build_gradebook(course=course, assignments=[HW], results=[results],
                           out=tmp_path / "grades.xlsx")
    wb = load_workbook(book.xlsx)
    assert wb.sheetnames == ["grades", "questions", "checks", "problems", "distribution"]
    questions = {q["question"]: q for q in book.questions}
    assert questions["poly"]["mean"] == 3.0 and questions["poly"]["share full marks"] == 0.5
    assert "discussion" not in questions
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


def test_manual_points_survive_a_regeneration(course, tmp_path):
    results = save(tmp_path / "results", result("pairA", ["1001", "1002"], (5.0, 5.0)),
                   result("pairB", ["1003", "1004"], (5.0, 5.0)))
    out = tmp_path / "grades.xlsx"
    build_gradebook(course=course, assignments=[HW], results=[results], out=out)
    wb = load_workbook(out)
    ws = wb["grades"]
    header = [c.value for c in ws[1]]
    col = header.index(f"{HW} discussion (manual)") + 1
    ws.cell(row=2, column=col, value=4)  # Léa's row only: her partner gets it too
    ws.cell(row=4, column=col, value="2,5")  # Chloé, typed the French way
    ws.cell(row=5, column=col, value=1)  # Lucas: a different mark for him
    wb.save(out)

    save(tmp_path / "results", result("pairB", ["1003", "1004"], (5.0, 10.0),
                                      graded_at="2026-10-14T00:00:00+00:00"))
    build_gradebook(course=course, assignments=[HW], results=[results], out=out)
    rows = rows_by_id(out)
    assert rows["1001"][f"{HW} discussion (manual)"] == 4
    assert rows["1002"][f"{HW} discussion (manual)"] == 4
    assert rows["1001"][f"{HW} grade"] == 14.0
    assert rows["1003"][f"{HW} discussion (manual)"] == "2,5"
    assert rows["1003"][f"{HW} grade"] == 17.5  # new automatic points + kept manual ones
    assert rows["1004"][f"{HW} grade"] == 16.0


def test_csv_and_moodle_import(course, tmp_path):
    results = save(tmp_path / "results", result("pairA", ["1001", "1002"], (5.0, 10.0)),
                   result("pairX", ["4242"]))
    book = build_gradebook(course=course, assignments=[HW], results=[results],
                           out=tmp_path / "grades.xlsx")
    with open(book.csv, encoding="utf-8") as fh:
        plain = list(csv.DictReader(fh))
    assert len(plain) == 6 and plain[0]["student_id"] == "1001"
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


def test_a_student_in_two_submissions_counts_once(course, tmp_path):
    older = result("a", ["1001"], (1.0, 1.0), at="2026-10-10T10:00:00+02:00")
    newer = result("b", ["1001", "1002"], (5.0, 5.0), at="2026-10-11T10:00:00+02:00")
    assert pick_submission([older, newer]) is newer
    save(tmp_path / "results", older, newer)
    book = build_gradebook(course=course, assignments=[HW], results=[tmp_path / "results"],
                           out=tmp_path / "grades.xlsx")
    lea = book.rows[0]
    assert lea[f"{HW} submission"] == "b" and "student_in_two_teams" in lea["flags"]


def test_an_unreadable_gradebook_is_not_overwritten(course, tmp_path):
    out = tmp_path / "grades.xlsx"
    out.write_bytes(b"not a spreadsheet")
    results = save(tmp_path / "results", result("pairA", ["1001", "1002"]))
    with pytest.raises(ConfigError, match="manual points"):
        build_gradebook(course=course, assignments=[HW], results=[results], out=out)
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


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_opens_the_gradebook(course, tmp_path):
    results = save(tmp_path / "results", result("pairA", ["1001", "1002"]))
    book = build_gradebook(course=course, assignments=[HW], results=[results],
                           out=tmp_path / "grades.xlsx")
    converted = tmp_path / "converted"
    subprocess.run(["soffice", "--headless", "--convert-to", "csv", "--outdir", str(converted),
                    str(book.xlsx)], check=True, capture_output=True, timeout=120)
    assert "Martin" in (converted / "grades.csv").read_text(encoding="utf-8", errors="replace")


def test_gradebook_command(course, tmp_path, capsys):
    from autograder.cli import main

    save(tmp_path / "shard0", result("pairA", ["1001", "1002"]))
    save(tmp_path / "shard1", result("pairB", ["1003"]))
    code = main(["--course", str(course.path), "gradebook", HW, "--results",
                 str(tmp_path / "shard0"), str(tmp_path / "shard1")])
    assert code == 0 and (tmp_path / "grades.xlsx").exists()
    assert (tmp_path / "grades-moodle.csv").exists()
    assert "5 students" in capsys.readouterr().out
    assert rows_by_id(tmp_path / "grades.xlsx")["1003"][f"{HW} status"] == GRADED
