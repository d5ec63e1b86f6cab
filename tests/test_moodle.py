"""Moodle for real: its download, its grading worksheet in (times) and out (grades), end to end
through the commands a teaching assistant runs. Fixtures: tests/data/intake/make.py."""

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from test_batch import HW, fake_grade, make_course

from autograder.batch import TIME_UNVERIFIED, grade_batch
from autograder.config import load_course
from autograder.errors import ConfigError
from autograder.moodle import (
    Mark,
    fill_worksheet,
    match_students,
    parse_moodle_date,
    read_worksheet,
)
from autograder.results import SubmissionStatus
from autograder.times import TimeSource, read_times

DATA = Path(__file__).resolve().parent / "data" / "intake" / "moodle"
ZIP = DATA / "M2DL-HW1-submissions.zip"
FLAT = DATA / "M2DL-HW1-flat.zip"
SHEET = DATA / "Grades-M2DL-HW1-42.csv"
FEUILLE = DATA / "Notes-M2DL-HW1-42.csv"
PARIS = "Europe/Paris"


def at(*args) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(PARIS))


def rows_of(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, as Moodle writes it
    text = raw.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text), delimiter=";" if ";" in text.split("\n")[0] else ","))


# ---------------------------------------------------------------- dates and the worksheet

def test_dates_as_moodle_writes_them():
    assert parse_moodle_date("Monday, 12 October 2026, 9:30 PM", timezone_name=PARIS) == at(
        2026, 10, 12, 21, 30)
    assert parse_moodle_date("Monday, 5 October 2026, 12:05 AM", timezone_name=PARIS) == at(
        2026, 10, 5, 0, 5)
    assert parse_moodle_date("Monday, 5 October 2026, 12:05 PM", timezone_name=PARIS) == at(
        2026, 10, 5, 12, 5)
    assert parse_moodle_date("lundi 12 octobre 2026, 23:58", timezone_name=PARIS) == at(
        2026, 10, 12, 23, 58)
    assert parse_moodle_date("mercredi 2 décembre 2026, 09:15", timezone_name="UTC") == datetime(
        2026, 12, 2, 9, 15, tzinfo=UTC)
    assert parse_moodle_date("-", timezone_name=PARIS) is None
    for bad in ("yesterday", "Monday, 12 Brumaire 2026, 9:30 PM", "12 October 2026, 13:00 PM"):
        with pytest.raises(ValueError):
            parse_moodle_date(bad, timezone_name=PARIS)


@pytest.mark.parametrize("path, decimal", [(SHEET, "."), (FEUILLE, ",")])
def test_the_worksheet_in_english_and_in_french(path, decimal):
    sheet = read_worksheet(path, timezone_name=PARIS)
    assert [r.participant for r in sheet.rows] == [str(k) for k in range(1001, 1008)]
    times = sheet.times()
    assert times["1001"] == at(2026, 10, 12, 21, 30)
    assert times["1003"] == at(2026, 10, 14, 9, 15)
    assert times["1002"] is None  # '-': nothing submitted
    assert sheet.decimal == decimal and sheet.bom
    assert read_times(path, timezone_name=PARIS).source == TimeSource.LMS


def test_a_file_that_is_not_a_worksheet_says_how_to_get_one(tmp_path):
    path = tmp_path / "grades.csv"
    path.write_text("Identifier,Grade\nParticipant 1,3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a Moodle grading worksheet") as info:
        read_worksheet(path, timezone_name=PARIS)
    assert "Download grading worksheet" in info.value.hint
    bad_date = tmp_path / "Grades-x.csv"
    bad_date.write_text(SHEET.read_text(encoding="utf-8-sig").replace(
        "Monday, 12 October 2026, 9:30 PM", "Montag, 12. Oktober 2026, 21:30"), encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2: cannot read the date"):
        read_worksheet(bad_date, timezone_name=PARIS)


# ---------------------------------------------------------------- grading a Moodle download

@pytest.mark.parametrize("download", [ZIP, FLAT])
def test_times_come_from_the_worksheet_never_from_the_zip(tmp_path, download):
    course = load_course(make_course(tmp_path, due="2026-10-12T23:59"))
    report = grade_batch(course=course, assignment=HW, submissions=download, manifest=SHEET,
                         out=tmp_path / "results", workers=1, grade_one=fake_grade)
    results = {r.submission_id: r for r in report.results}
    assert sorted(results) == sorted(["Chloé Dubois_1003", "Léa Martin_1001",
                                      "Lucas Thomas_1004", "Manon Robert_1005"])
    lea, chloe = results["Léa Martin_1001"], results["Chloé Dubois_1003"]
    assert lea.submitted_at == "2026-10-12T21:30:00+02:00"
    assert lea.submitted_at_source == TimeSource.LMS
    assert lea.unverified_submitted_at is None and lea.flags == []
    assert chloe.submitted_at == "2026-10-14T09:15:00+02:00"
    assert [f.message for f in chloe.flags] == ["2 days late: -20%"]
    assert results["Manon Robert_1005"].status == SubmissionStatus.REJECTED
    assert results["Lucas Thomas_1004"].status == SubmissionStatus.REJECTED
    assert "notes.txt" in results["Lucas Thomas_1004"].reason
    assert report.late == {"Chloé Dubois_1003": "2 days late: -20%"}
    assert report.untimed == []


def test_without_the_worksheet_zip_dates_decide_nothing_and_it_is_said(tmp_path, capsys):
    """The silent zeros of a Moodle zip: its entry dates (here 49 days after the deadline) made
    every result 'late: grade 0' while the console said all was graded."""
    from test_intake_hostile import make

    late = tmp_path / "late.zip"
    entries = [(f"Léa Martin_1001_assignsubmission_file_/{HW}.ipynb", make.GOOD_NB)]
    make.write_zip(late, entries)
    data = bytearray(late.read_bytes())
    # DOS date of 2026-11-30 in both headers (local at +12, central at +14).
    stamp = ((2026 - 1980) << 9 | 11 << 5 | 30).to_bytes(2, "little")
    for signature, offset in ((b"PK\x03\x04", 12), (b"PK\x01\x02", 14)):
        where = data.index(signature)
        data[where + offset: where + offset + 2] = stamp
    late.write_bytes(bytes(data))
    course = load_course(make_course(tmp_path, due="2026-10-12T23:59"))
    report = grade_batch(course=course, assignment=HW, submissions=late,
                         out=tmp_path / "results", workers=1, grade_one=fake_grade)
    lea = report.results[0]
    assert lea.status == SubmissionStatus.GRADED and lea.submitted_at is None
    assert lea.unverified_submitted_at.startswith("2026-11-30") and lea.unverified_submitted_at.endswith("+00:00")
    assert [f.code for f in lea.flags] == [TIME_UNVERIFIED]
    assert "it would be 49 days late" in lea.flags[0].message
    assert report.late == {} and report.untimed == ["Léa Martin_1001"]
    from autograder.batch_report import summary_lines

    lines = "\n".join(summary_lines(report, shard=None, out="results/hw1_features"))
    assert "1 without a trustworthy submission time, so no late penalty: Léa Martin_1001" in lines


# ---------------------------------------------------------------- grades back to Moodle

STUDENTS = [
    {"student_id": "21900101", "first_name": "Léa", "last_name": "Martin",
     "email": "LEA.MARTIN@etu.example.edu"},
    {"student_id": "21900102", "first_name": "Hugo", "last_name": "Bernard", "email": ""},
    {"student_id": "21900103", "first_name": "Chloe", "last_name": "Dubois", "email": ""},
    {"student_id": "21900104", "first_name": "Lucas", "last_name": "Thomas", "email": ""},
    {"student_id": "21900199", "first_name": "Lucas", "last_name": "Thomas", "email": ""},
]


def test_participants_are_matched_by_email_then_unique_name():
    sheet = read_worksheet(SHEET, timezone_name=PARIS)
    matched = match_students(sheet, STUDENTS)
    assert matched["1001"] == "21900101"  # email, whatever its case
    assert matched["1002"] == "21900102"  # name
    assert matched["1003"] == "21900103"  # name, accents aside
    assert "1004" not in matched  # two Lucas Thomas on the roster: no guess


def test_fill_writes_grades_and_comments_and_never_a_zero_for_the_others(tmp_path):
    sheet = read_worksheet(SHEET, timezone_name=PARIS)
    marks = {"1001": Mark(15.5, 20, "15.5/20"), "1002": Mark(15.5, 20, "15.5/20"),
             "1003": Mark(14.0, 20, "14/20; 2 day(s) late, -20%")}
    out = tmp_path / "grades-moodle-worksheet.csv"
    report = fill_worksheet(sheet, marks, out)
    assert report.written == ["1001", "1002", "1003"]
    assert report.left == ["1004", "1005", "1006", "1007"]
    rows = rows_of(out)
    assert rows[0] == rows_of(SHEET)[0]  # same columns, same order: Moodle reads it back
    by_id = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert by_id["Participant 1001"]["Grade"] == "15.50"
    assert by_id["Participant 1001"]["Feedback comments"] == "<p>Autograder: 15.5/20</p>"
    # A comment typed in Moodle is kept; ours comes after it.
    assert by_id["Participant 1002"]["Feedback comments"] == (
        "<p>Typed in Moodle</p>\n<p>Autograder: 15.5/20</p>")
    # No submission, rejected: the row is as downloaded (an empty grade is skipped by Moodle's
    # upload; a grade typed in Moodle stays), never 0.
    original = {r[0]: r for r in rows_of(SHEET)[1:]}
    for pid in ("1004", "1005", "1006", "1007"):
        assert by_id[f"Participant {pid}"] == dict(zip(rows[0], original[f"Participant {pid}"],
                                                        strict=True))
    assert by_id["Participant 1007"]["Grade"] == "12.00"
    assert by_id["Participant 1005"]["Grade"] == ""
    # Filling the filled worksheet again replaces the grader's paragraph, never adds one.
    again = fill_worksheet(read_worksheet(out, timezone_name=PARIS),
                           {"1002": Mark(16, 20, "16/20")}, tmp_path / "again.csv")
    assert again.written == ["1002"]
    second = {r[0]: r for r in rows_of(tmp_path / "again.csv")}
    assert second["Participant 1002"][9] == "<p>Typed in Moodle</p>\n<p>Autograder: 16/20</p>"


def test_fill_follows_the_worksheet_scale_separator_and_locks(tmp_path):
    text = FEUILLE.read_text(encoding="utf-8-sig").replace("20,00", "100,00")
    text = text.replace("Participant1003;Chloé Dubois;chloe.dubois@etu.example.edu;"
                        "Remis pour évaluation;;100,00;Oui",
                        "Participant1003;Chloé Dubois;chloe.dubois@etu.example.edu;"
                        "Remis pour évaluation;;100,00;Non")
    path = tmp_path / "Notes.csv"
    path.write_text(text, encoding="utf-8-sig")
    sheet = read_worksheet(path, timezone_name=PARIS)
    report = fill_worksheet(sheet, {"1001": Mark(15.5, 20, "x"), "1003": Mark(3, 20, "y")},
                            tmp_path / "out.csv")
    rows = {r[0]: r for r in rows_of(tmp_path / "out.csv")}
    # 15.5/20 on a Moodle grade out of 100, with the worksheet's decimal comma (a '.' there
    # could be read as a thousands separator by the uploading user's locale).
    assert rows["Participant1001"][4] == "77,50"
    assert report.locked == ["1003"] and rows["Participant1003"][4] == ""
    scale = tmp_path / "scale.csv"
    scale.write_text(SHEET.read_text(encoding="utf-8-sig").replace("Maximum Grade", "Scale"),
                     encoding="utf-8-sig")
    with pytest.raises(ConfigError, match="scale"):
        fill_worksheet(read_worksheet(scale, timezone_name=PARIS), {}, tmp_path / "s.csv")


# ---------------------------------------------------------------- the commands, end to end

def test_download_grade_gradebook_upload(tmp_path, monkeypatch, capsys):
    import autograder.batch
    from autograder.cli import EXIT_NOT_GRADED, main

    # The command's batch, graded by a fake engine in this process.
    batch = autograder.batch.grade_batch
    monkeypatch.setattr(autograder.batch, "grade_batch",
                        lambda **kwargs: batch(**kwargs, grade_one=fake_grade))
    course = make_course(tmp_path, due="2026-10-12T23:59")
    common = ["--course", str(course)]
    code = main([*common, "grade", HW, str(ZIP), "--manifest", str(SHEET), "--workers", "1"])
    assert code == EXIT_NOT_GRADED  # Lucas and Manon are rejected, and named:
    out = capsys.readouterr().out
    assert "not graded: Lucas Thomas_1004 (rejected: no notebook in" in out
    assert "Manon Robert_1005 (rejected: not a valid notebook" in out
    assert "late: Chloé Dubois_1003 (2 days late: -20%)" in out
    assert main([*common, "gradebook", HW, "--moodle-worksheet", str(SHEET)]) == 0
    out = capsys.readouterr().out
    assert "wrote grades-moodle-worksheet.csv: 4 grades filled, 3 rows left as downloaded" in out
    rows = {r[0]: r for r in rows_of(tmp_path / "grades-moodle-worksheet.csv")[1:]}
    filled = {pid: r[4] for pid, r in rows.items() if r[4]}
    # Léa and her partner Hugo share the pair's grade; Chloé and Lucas share theirs (less 20%);
    # Manon and Nathan (rejected), Camille (nothing) get no grade of ours: 12 typed stays.
    assert set(filled) == {"Participant 1001", "Participant 1002", "Participant 1003",
                           "Participant 1004", "Participant 1007"}
    assert filled["Participant 1001"] == filled["Participant 1002"]
    assert filled["Participant 1003"] == filled["Participant 1004"]
    assert filled["Participant 1007"] == "12.00"
    assert "-20%" in rows["Participant 1003"][9]


# ---------------------------------------------------------------- the example class, as LMSs give it

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_the_lms_examples_are_up_to_date_and_give_the_true_times(tmp_path, monkeypatch):
    import importlib.util

    from autograder.submissions import discover
    from autograder.times import read_times

    spec = importlib.util.spec_from_file_location("make_lms", EXAMPLES / "make_lms.py")
    make_lms = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_lms)
    monkeypatch.setattr(make_lms, "MOODLE", tmp_path / "moodle")
    monkeypatch.setattr(make_lms, "CLASSROOM", tmp_path / "classroom")
    make_lms.build()
    for made in (tmp_path / "moodle").rglob("*"):
        if made.is_file():
            committed = EXAMPLES / "moodle" / "hw1_features" / made.relative_to(tmp_path / "moodle")
            assert committed.read_bytes() == made.read_bytes(), "run python examples/make_lms.py"
    for made in (tmp_path / "classroom").rglob("*"):
        if made.is_file():
            committed = EXAMPLES / "classroom" / "hw1_features" / made.relative_to(
                tmp_path / "classroom")
            assert committed.read_bytes() == made.read_bytes(), "run python examples/make_lms.py"

    truth = read_times(EXAMPLES / "submissions" / HW / "manifest.csv", timezone_name=PARIS)
    late = {k: v for k, v in truth.by_key.items() if v.day != 12}
    moodle = EXAMPLES / "moodle" / HW
    found = discover(moodle / "M2DL-hw1_features-42.zip", notebook_name=f"{HW}.ipynb",
                     timezone_name=PARIS, manifest=moodle / "Grades-M2DL-hw1_features-42.csv",
                     unpack_to=tmp_path / "unpacked")
    assert len(found) == 14 and all(s.time_source == TimeSource.LMS for s in found)
    assert sorted(s.submitted_at for s in found if s.submitted_at.day != 12) == sorted(
        late.values())
    classroom = EXAMPLES / "classroom" / HW
    clones = discover(classroom / "hw1-features-submissions", notebook_name=f"{HW}.ipynb",
                      manifest=classroom / "grades.csv")
    assert len(clones) == 14 and all(s.time_source == TimeSource.CLASSROOM for s in clones)
    assert sorted(s.submitted_at for s in clones if s.submitted_at.astimezone(
        ZoneInfo(PARIS)).day != 12) == sorted(late.values())


def test_only_a_graded_submission_gives_a_mark():
    from autograder.moodle import gradebook_mark

    row = {f"{HW} status": "graded", f"{HW} grade": 14.4, f"{HW} late days": 2,
           f"{HW} penalty": 0.2}
    assert gradebook_mark(row, HW, 20) == Mark(14.4, 20.0, "14.4/20; 2 days late, -20%")
    for status in ("rejected", "error", "timeout", "no submission"):
        assert gradebook_mark({**row, f"{HW} status": status, f"{HW} grade": 0.0}, HW, 20) is None
