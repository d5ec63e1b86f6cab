"""The gradebook: results joined with the roster and course.toml, as a spreadsheet and two CSVs."""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .atomic import atomic_open
from .config import Course
from .errors import ConfigError
from .late import lateness
from .results import GRADED, NOT_GRADED, PASSED, SubmissionResult, read_result
from .roster import Roster, Student, apply_team_checks, check_teams, load_roster

NO_SUBMISSION = "no submission"
MANUAL_SUFFIX = " (manual)"
IDENTITY = ["student_id", "last_name", "first_name", "email"]
BINS = 10  # bars of the grade distribution


@dataclass
class Gradebook:
    columns: list[str]  # of the grades sheet and grades.csv
    rows: list[dict[str, Any]]  # one per roster student, then one per id not on the roster
    questions: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    problems: list[dict[str, Any]]
    histogram: list[dict[str, Any]]
    xlsx: Path
    csv: Path
    moodle_csv: Path
    similarity: list[dict[str, Any]] = field(default_factory=list)  # pairs of `similarity`


# ---------------------------------------------------------------- reading results

def collect_results(folders: list[Path], assignment: str) -> list[SubmissionResult]:
    """This assignment's results from any set of result folders (shards), one per submission.

    A folder may be a results root (holding `<assignment>/`) or an assignment's folder itself.
    Where shards overlap, the most recently graded result wins.
    """
    best: dict[str, SubmissionResult] = {}
    for folder in folders:
        folder = Path(folder)
        where = folder / assignment if (folder / assignment).is_dir() else folder
        for path in sorted(where.glob("*.json")):
            try:
                result = read_result(path)
            except (OSError, ValueError, TypeError, KeyError):
                continue
            if result.assignment != assignment:
                continue
            old = best.get(result.submission_id)
            if old is None or result.graded_at > old.graded_at:
                best[result.submission_id] = result
    return [best[k] for k in sorted(best)]


def read_manual_points(path: Path) -> dict[tuple[str, str], Any]:
    """Manual points typed into an earlier gradebook: (student id or submission, column) → value."""
    if not path.exists():
        return {}
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any reason it cannot be read means the same
        raise ConfigError(
            f"cannot read the existing gradebook ({exc.__class__.__name__})", path=path,
            hint="manual points typed there would be lost: close it in the spreadsheet program, "
                 "or move it away to start a new gradebook") from None
    try:
        if "grades" not in book.sheetnames:
            return {}
        rows = book["grades"].iter_rows(values_only=True)
        header = [str(h) if h is not None else "" for h in next(rows, ())]
        manual = [i for i, h in enumerate(header) if h.endswith(MANUAL_SUFFIX)]
        sid_at = header.index("student_id") if "student_id" in header else None
        found: dict[tuple[str, str], Any] = {}
        for row in rows:
            for i in manual:
                value = row[i] if i < len(row) else None
                if value is None or value == "":
                    continue
                hw = header[i].split(" ", 1)[0]
                sub_col = f"{hw} submission"
                if sid_at is not None and row[sid_at] is not None:
                    found[(str(row[sid_at]), header[i])] = value
                if sub_col in header and row[header.index(sub_col)]:
                    found.setdefault((f"submission:{row[header.index(sub_col)]}", header[i]), value)
        return found
    finally:
        book.close()


def as_points(value: Any) -> float | None:
    """A typed number (a French spreadsheet may give '1,5'); None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip().replace(",", "."))
    except ValueError:
        return None


# ---------------------------------------------------------------- deciding (pure)

def pick_submission(results: list[SubmissionResult]) -> SubmissionResult:
    """The one submission that counts for a student found in several: a graded one before the
    others, then the most recent."""
    return max(results, key=lambda r: (r.status == GRADED, r.submitted_at or "", r.submission_id))


def question_columns(results: list[SubmissionResult]) -> list[tuple[str, bool]]:
    """(grade id, manual) of every question, in notebook order (from the fullest result)."""
    order: list[tuple[str, bool]] = []
    for result in sorted(results, key=lambda r: -len(r.questions)):
        for q in result.questions:
            if (q.grade_id, q.manual) not in order:
                order.append((q.grade_id, q.manual))
    return order


@dataclass
class _Assignment:
    name: str
    results: list[SubmissionResult]
    teams: dict[str, list[str]]  # submission id → credited team
    questions: list[tuple[str, bool]]
    by_student: dict[str, list[SubmissionResult]] = field(default_factory=dict)
    similarity: list[dict[str, Any]] = field(default_factory=list)


def _prepare(course: Course, name: str, folders: list[Path], roster: Roster) -> _Assignment:
    spec = course.assignment(name)
    results = collect_results(folders, name)
    names = {r.submission_id: Path(r.source).parts[0] if r.source else "" for r in results}
    checks = check_teams(results, roster, team_size=spec.team_size, names=names)
    apply_team_checks(results, checks)  # in memory: flags across every shard's results
    teams = {sid: check.team for sid, check in checks.items()}
    by_student: dict[str, list[SubmissionResult]] = defaultdict(list)
    for result in results:
        for student in teams[result.submission_id]:
            by_student[student].append(result)
    similar = _similarity(folders, name, results)
    return _Assignment(name, results, teams, question_columns(results), dict(by_student), similar)


def _similarity(folders: list[Path], name: str, results: list[SubmissionResult]) -> list[dict]:
    """The report of `autograder similarity`, if one was made: its rows, and its flags put on the
    results in memory (shown in the flags and problems; a flag never changes a grade)."""
    from .similarity import gradebook_similarity, read_report

    rows, flags = gradebook_similarity(
        read_report(folders, name), content_hashes={r.submission_id: r.content_hash for r in results})
    for result in results:
        for flag in flags.get(result.submission_id, []):
            result.flag(flag.code, flag.message)
    return rows


def _cells(course: Course, hw: _Assignment, student_id: str,
           manual: dict[tuple[str, str], Any]) -> tuple[dict[str, Any], float, list[str]]:
    """One student's columns for one assignment, the grade, and the flags to show."""
    spec = course.assignment(hw.name)
    p = f"{hw.name} "
    cells: dict[str, Any] = {}
    found = hw.by_student.get(student_id, [])
    if not found:
        cells[p + "status"] = NO_SUBMISSION
        cells[p + "grade"] = 0.0
        return cells, 0.0, [f"{hw.name}: no submission"]
    result = pick_submission(found)
    cells[p + "submission"] = result.submission_id
    cells[p + "status"] = result.status
    points = {q.grade_id: q for q in result.questions}
    auto, manual_total = 0.0, 0.0
    notes = []
    for qid, is_manual in hw.questions:
        q = points.get(qid)
        if is_manual:
            column = p + qid + MANUAL_SUFFIX
            typed = manual.get((student_id, column),
                               manual.get((f"submission:{result.submission_id}", column)))
            cells[column] = typed
            if typed is not None:
                value = as_points(typed)
                if value is None:
                    notes.append(f"{column}: {typed!r} is not a number")
                else:
                    top = q.max_points if q else value
                    manual_total += min(max(value, 0.0), top)
        else:
            cells[p + qid] = q.points if q else None
            auto += q.points if q else 0.0
    if not result.questions:
        auto = result.points
    top = result.max_points or sum(q.max_points for q in result.questions) or spec.points
    late = lateness(result.submitted_at, spec.due, spec.late_policy,
                    timezone_name=course.timezone)
    raw = min(auto + manual_total, top) / top * spec.points
    grade = round(raw * (1 - late.penalty), 2)
    cells[p + "auto"] = round(auto, 2)
    cells[p + "late days"] = late.days
    cells[p + "penalty"] = late.penalty
    cells[p + "grade"] = grade
    notes += [f"{hw.name}: {f.code}" for f in result.flags]
    if len(found) > 1:
        notes.append(f"{hw.name}: counted {result.submission_id} of "
                     f"{', '.join(r.submission_id for r in found)}")
    return cells, grade, notes


def _columns(course: Course, hws: list[_Assignment]) -> list[str]:
    columns = list(IDENTITY)
    for hw in hws:
        p = f"{hw.name} "
        columns += [p + "submission", p + "status"]
        columns += [p + qid + (MANUAL_SUFFIX if manual else "") for qid, manual in hw.questions]
        columns += [p + "auto", p + "late days", p + "penalty", p + "grade"]
    return columns + ["final /20", "flags"]


def _rows(course: Course, roster: Roster, hws: list[_Assignment],
          manual: dict[tuple[str, str], Any]) -> list[dict[str, Any]]:
    unknown = sorted({s for hw in hws for s in hw.by_student if s not in roster})
    people = list(roster.students.values()) + [Student(s, "", "", "") for s in unknown]
    rows = []
    for student in people:
        row: dict[str, Any] = {k: getattr(student, k) for k in IDENTITY}
        grades, flags = [], []
        if student.student_id not in roster:
            flags.append("not on the roster")
        for hw in hws:
            cells, grade, notes = _cells(course, hw, student.student_id, manual)
            row.update(cells)
            # Each assignment counts as /20 in the final grade, whatever its own scale.
            grades.append(grade / course.assignment(hw.name).points * 20)
            flags += notes
        row["final /20"] = round(sum(grades) / len(grades), 2) if grades else 0.0
        row["flags"] = "; ".join(dict.fromkeys(flags))
        rows.append(row)
    return rows


def _question_stats(hws: list[_Assignment]) -> tuple[list[dict], list[dict]]:
    questions, checks = [], []
    for hw in hws:
        graded = [r for r in hw.results if r.status == GRADED]
        for qid, manual in hw.questions:
            qs = [q for r in graded for q in r.questions if q.grade_id == qid]
            if manual or not qs:
                continue
            pts = [q.points for q in qs]
            top = max(q.max_points for q in qs)
            questions.append({
                "assignment": hw.name, "question": qid, "max points": top,
                "submissions": len(qs), "mean": round(statistics.fmean(pts), 3),
                "median": statistics.median(pts),
                "share full marks": round(sum(p >= top for p in pts) / len(pts), 3),
            })
            names: dict[str, list] = defaultdict(list)
            for q in qs:
                for c in q.checks:
                    names[c.name].append(c)
            for name, cs in names.items():
                graded_checks = [c for c in cs if c.status != NOT_GRADED]
                passed = sum(c.status == PASSED for c in graded_checks)
                checks.append({
                    "assignment": hw.name, "question": qid, "check": name,
                    "max points": max(c.max_points for c in cs),
                    "graded": len(graded_checks), "passed": passed,
                    "pass rate": round(passed / len(graded_checks), 3) if graded_checks else None,
                    "not graded": len(cs) - len(graded_checks),
                })
    return questions, checks


def _problems(hws: list[_Assignment], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    problems = []
    for hw in hws:
        for r in hw.results:
            team = ", ".join(hw.teams.get(r.submission_id, []))
            base = {"assignment": hw.name, "submission": r.submission_id, "team": team,
                    "status": r.status, "source": r.source}
            if r.status != GRADED:
                problems.append({**base, "problem": r.status, "message": r.reason})
            for f in r.flags:
                problems.append({**base, "problem": f.code, "message": f.message})
    for row in rows:
        for hw in hws:
            if row.get(f"{hw.name} status") == NO_SUBMISSION and row["last_name"]:
                problems.append({"assignment": hw.name, "submission": "", "team": "",
                                 "status": NO_SUBMISSION, "source": "",
                                 "problem": "no_submission",
                                 "message": f"{row['student_id']} {row['first_name']} "
                                            f"{row['last_name']} has no submission"})
    return problems


def histogram(grades: list[float], top: float = 20.0) -> list[dict[str, Any]]:
    width = top / BINS
    counts = [0] * BINS
    for g in grades:
        counts[min(int(g // width), BINS - 1)] += 1
    return [{"grade": f"{k * width:g}–{(k + 1) * width:g}", "students": n}
            for k, n in enumerate(counts)]


# ---------------------------------------------------------------- the entry point

def build_gradebook(*, course: Course, assignments: list[str], results: list[Path],
                    out: Path) -> Gradebook:
    """Write `out` (.xlsx), `<out>.csv` and `<out>-moodle.csv` from any set of result folders.

    Manual points typed into an existing `out` are read back first and kept.
    """
    if not assignments:
        raise ConfigError("no assignment given", hint="e.g. autograder gradebook hw1_features")
    out = Path(out)
    roster = load_roster(course.roster)
    manual = read_manual_points(out)
    hws = [_prepare(course, name, results, roster) for name in assignments]
    for hw in hws:
        if not hw.results:
            # An empty gradebook imported into Moodle would give every student a zero.
            raise ConfigError(
                f"no results for {hw.name} in {', '.join(str(f) for f in results)}",
                hint=f"run `autograder grade {hw.name} SUBMISSIONS` first, or pass --results DIR")
    rows = _rows(course, roster, hws, manual)
    questions, checks = _question_stats(hws)
    book = Gradebook(
        columns=_columns(course, hws), rows=rows, questions=questions, checks=checks,
        problems=_problems(hws, rows),
        histogram=histogram([r["final /20"] for r in rows if r["last_name"]]),
        xlsx=out, csv=out.with_suffix(".csv"),
        moodle_csv=out.with_name(out.stem + "-moodle.csv"),
        similarity=[row for hw in hws for row in hw.similarity],
    )
    _write_xlsx(book)
    _write_csv(book.csv, book.columns, rows)
    # Moodle's grade import (Grades > Import > CSV file): map "ID number" (or "Email address") to
    # the user field of the same name, and each assignment's column to its grade item.
    _write_csv(book.moodle_csv, ["ID number", "Email address"] + assignments, [
        {"ID number": r["student_id"], "Email address": r["email"],
         **{hw.name: r[f"{hw.name} grade"] for hw in hws}}
        for r in rows if r["last_name"]  # Moodle can only take students it knows
    ])
    return book


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    # shared: the staff share these files; atomic: never half a gradebook
    with atomic_open(path, shared=True, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _sheet(book, title: str, columns: list[str], rows: list[dict[str, Any]]):
    from openpyxl.styles import Font

    sheet = book.create_sheet(title)
    sheet.append(columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([row.get(c) for c in columns])
    sheet.freeze_panes = "A2"
    return sheet


def _write_xlsx(gb: Gradebook) -> None:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import PatternFill

    book = Workbook()
    book.remove(book.active)
    grades = _sheet(book, "grades", gb.columns, gb.rows)
    grades.freeze_panes = "E2"
    # The cells a teaching assistant fills in by hand stand out.
    fill = PatternFill("solid", fgColor="FFF2CC")
    for i, column in enumerate(gb.columns, start=1):
        if column.endswith(MANUAL_SUFFIX):
            for (cell,) in grades.iter_rows(min_row=1, max_row=len(gb.rows) + 1, min_col=i,
                                            max_col=i):
                cell.fill = fill
    _sheet(book, "questions", ["assignment", "question", "max points", "submissions", "mean",
                               "median", "share full marks"], gb.questions)
    _sheet(book, "checks", ["assignment", "question", "check", "max points", "graded", "passed",
                            "pass rate", "not graded"], gb.checks)
    _sheet(book, "problems", ["assignment", "submission", "team", "status", "source", "problem",
                              "message"], gb.problems)
    if gb.similarity:
        from .similarity import SHEET_COLUMNS

        _sheet(book, "similarity", SHEET_COLUMNS, gb.similarity)
    dist = _sheet(book, "distribution", ["grade", "students"], gb.histogram)
    chart = BarChart()
    chart.title = "Final grades (/20)"
    chart.x_axis.title = "grade"
    chart.y_axis.title = "students"
    chart.legend = None
    chart.add_data(Reference(dist, min_col=2, min_row=1, max_row=len(gb.histogram) + 1),
                   titles_from_data=True)
    chart.set_categories(Reference(dist, min_col=1, min_row=2, max_row=len(gb.histogram) + 1))
    dist.add_chart(chart, "D2")
    with atomic_open(gb.xlsx, "wb", shared=True) as fh:
        book.save(fh)
