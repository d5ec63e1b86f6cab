"""The gradebook: results and hand marks joined with the roster and course.toml, as a spreadsheet
and two CSVs."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .config import Assignment, Course
from .errors import ConfigError
from .late import lateness
from .marks import (
    Mark,
    MarkOrigin,
    MarkProblem,
    TypedCell,
    collect_marks,
    decide_sheet_marks,
    later,
    results_root,
    store_marks,
)
from .results import QuestionStatus, SubmissionResult, SubmissionStatus, collect_results
from .roster import Roster, Student, apply_team_checks, check_teams, load_roster
from .spreadsheet import (
    COUNT,
    DATE,
    GRADE,
    MARK,
    MESSAGE,
    NO_RESPONSE,
    NOT_ENTERABLE,
    PERCENT,
    POINTS,
    REFUSED,
    SHARE,
    TEXT,
    Column,
    EarlierSheet,
    Sheet,
    read_earlier,
    write_csv,
    write_workbook,
)
from .times import TIME_UNVERIFIED, TRUSTED, UNTRUSTED
from .titles import headings_above, question_titles

NO_SUBMISSION = "no submission"
MANUAL_SUFFIX = " (manual)"
IDENTITY = ["student_id", "last_name", "first_name", "email"]
BINS = 10  # bars of the grade distribution


@dataclass
class Gradebook:
    columns: list[str]  # keys of the grades sheet's columns and grades.csv's header
    rows: list[dict[str, Any]]  # one per roster student, then one per id not on the roster
    questions: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    problems: list[dict[str, Any]]
    histogram: list[dict[str, Any]]
    xlsx: Path
    csv: Path
    moodle_csv: Path
    marks: list[dict[str, Any]] = field(default_factory=list)  # every hand mark, and its origin
    labels: dict[str, str] = field(default_factory=dict)  # column key → header in the sheet
    marks_taken: int = 0  # marks typed into the earlier grades.xlsx, stored by this run
    similarity: list[dict[str, Any]] = field(default_factory=list)  # pairs of `similarity`


# ---------------------------------------------------------------- deciding (pure)

@dataclass(frozen=True)
class Grade:
    """One submission's grade: automatic and hand-marked points, late penalty, the result."""

    auto: float  # points of the hidden tests
    manual: float  # points marked by hand
    top: float  # the notebook's points
    scale: float  # the assignment's points in course.toml
    late_days: int
    penalty: float  # share taken away, 0 to 1
    before_penalty: float  # on the assignment's scale
    grade: float  # on the assignment's scale, after the penalty
    to_mark: tuple[str, ...] = ()  # hand-marked questions without a mark yet
    no_response: tuple[str, ...] = ()  # hand-marked questions left as the stub: 0


def submission_grade(result: SubmissionResult, spec: Assignment, marks: dict[str, Mark], *,
                     timezone_name: str) -> Grade:
    """The grade of one submission from its result and its hand marks (by question)."""
    auto = sum(q.points for q in result.questions if not q.manual) if result.questions \
        else result.points
    manual, to_mark, no_response = 0.0, [], []
    for q in result.questions:
        if not q.manual:
            continue
        mark = marks.get(q.grade_id)
        if mark is not None and mark.points is not None:  # marked, not cleared
            manual += min(max(mark.points, 0.0), q.max_points)
        elif q.status == QuestionStatus.NOT_ATTEMPTED:
            no_response.append(q.grade_id)
        else:
            to_mark.append(q.grade_id)
    top = result.max_points or sum(q.max_points for q in result.questions) or spec.points
    # Only a time the LMS, the classroom or the instructor gave decides a penalty (as the batch
    # decides it): an old result may still carry a date read from inside an upload.
    trusted = result.submitted_at if result.submitted_at_source in TRUSTED else None
    try:
        late = lateness(trusted, spec.due, spec.late_policy, timezone_name=timezone_name)
    except ValueError:  # a time that cannot be read: flagged in the gradebook, never guessed
        late = lateness(None, spec.due, spec.late_policy, timezone_name=timezone_name)
    raw = min(auto + manual, top) / top * spec.points
    return Grade(auto=round(auto, 4), manual=round(manual, 4), top=top, scale=spec.points,
                 late_days=late.days, penalty=late.penalty, before_penalty=round(raw, 2),
                 grade=round(raw * (1 - late.penalty), 2), to_mark=tuple(to_mark),
                 no_response=tuple(no_response))


def pick_submission(results: list[SubmissionResult]) -> SubmissionResult:
    """The one submission that counts for a student found in several: a graded one before the
    others, then the most recent."""
    return max(results, key=lambda r: (r.status == SubmissionStatus.GRADED, r.submitted_at or "",
                                       r.submission_id))


def question_columns(results: list[SubmissionResult]) -> list[tuple[str, bool]]:
    """(grade id, manual) of every question, in notebook order (from the fullest result)."""
    order: list[tuple[str, bool]] = []
    for result in sorted(results, key=lambda r: -len(r.questions)):
        for q in result.questions:
            if (q.grade_id, q.manual) not in order:
                order.append((q.grade_id, q.manual))
    return order


def time_source(result: SubmissionResult) -> str:
    """Where the submission time came from, and whether the student could set it.

    Results written before they recorded it say nothing.
    """
    source = result.submitted_at_source or ""
    if source in UNTRUSTED:
        return f"{source} (set by the student)"
    if not source and any(f.code == TIME_UNVERIFIED for f in result.flags):
        return "no trusted time"
    return source


def local_time(iso: str | None, timezone_name: str) -> datetime | str | None:
    """A result's submission time in the course's zone, as a spreadsheet date (no zone)."""
    if not iso:
        return None
    try:
        at = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return str(iso)  # shown as it is: a time that cannot be read is itself worth seeing
    if at.tzinfo is None:
        return at
    return at.astimezone(ZoneInfo(timezone_name)).replace(tzinfo=None)


@dataclass
class _Assignment:
    name: str
    spec: Assignment
    results: list[SubmissionResult]
    teams: dict[str, list[str]]  # submission id → credited team
    questions: list[tuple[str, bool]]
    titles: dict[str, str]  # grade id → title
    max_points: dict[str, float]  # grade id → points
    marks: dict[str, dict[str, Mark]]  # submission id → question → mark
    by_student: dict[str, list[SubmissionResult]] = field(default_factory=dict)
    mark_problems: list[MarkProblem] = field(default_factory=list)
    kept: dict[tuple[str, str, str], Any] = field(default_factory=dict)  # refused typed marks
    grades: dict[str, Grade] = field(default_factory=dict)  # by submission id
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
    questions = question_columns(results)
    top: dict[str, float] = {}
    for r in results:
        for q in r.questions:
            top[q.grade_id] = max(top.get(q.grade_id, 0.0), q.max_points)
    titles = question_titles([qid for qid, _ in questions], headings_above(spec.notebook))
    return _Assignment(name, spec, results, teams, questions, titles, top,
                       collect_marks(folders, name), dict(by_student),
                       similarity=_similarity(folders, name, results))


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


def _grade_all(course: Course, hw: _Assignment) -> None:
    hw.grades = {r.submission_id: submission_grade(r, hw.spec, hw.marks.get(r.submission_id, {}),
                                                   timezone_name=course.timezone)
                 for r in hw.results}


# ---------------------------------------------------------------- marks typed into the sheet

def _key(hw: str, qid: str, manual: bool) -> str:
    return f"{hw} {qid}{MANUAL_SUFFIX if manual else ''}"


def typed_cells(earlier: EarlierSheet, assignment: str) -> list[TypedCell]:
    """The hand-marked cells of one assignment in an earlier gradebook, per student row."""
    prefix = f"{assignment} "
    submission_at, student_at, manual_at = None, None, {}
    for i, label in enumerate(earlier.header):
        info = earlier.columns.get(label)
        key = info["key"] if info else label  # an older gradebook's headers were the keys
        if key == f"{prefix}submission":
            submission_at = i
        elif key == "student_id":
            student_at = i
        elif key.startswith(prefix) and key.endswith(MANUAL_SUFFIX):
            manual_at[i] = info["question"] if info else key[len(prefix):-len(MANUAL_SUFFIX)]
    if submission_at is None or not manual_at:
        return []
    cells = []
    for row in earlier.rows:
        row = tuple(row) + (None,) * (len(earlier.header) - len(row))
        sid = "" if row[submission_at] is None else str(row[submission_at]).strip()
        student = str(row[student_at]) if student_at is not None and row[student_at] else ""
        for i, qid in manual_at.items():
            # A row without a submission holds nothing to mark; something typed there is
            # reported (sid ""), never dropped silently.
            if sid or row[i] not in (None, ""):
                cells.append(TypedCell(sid, qid, student, row[i]))
    return cells


def _take_typed_marks(earlier: EarlierSheet, hw: _Assignment, store_in: Path) -> int:
    """Store the marks typed into the earlier gradebook as the pairs' marks; returns how many."""
    cells = typed_cells(earlier, hw.name)
    if not cells:
        return 0
    written = None
    if earlier.written is not None:
        written = {(sid, q): v for (a, sid, q), v in earlier.written.items() if a == hw.name}
    top = {(r.submission_id, q.grade_id): q.max_points
           for r in hw.results for q in r.questions if q.manual}
    decision = decide_sheet_marks(cells, written=written, stored=hw.marks, max_points=top,
                                  edited_at=earlier.saved_at)
    for sid, marks in decision.marks.items():
        store_marks(results_root(store_in, hw.name), hw.name, sid, marks)
        mine = hw.marks.setdefault(sid, {})
        for mark in marks:
            mine[mark.question] = later(mine.get(mark.question), mark)
    hw.mark_problems, hw.kept = decision.problems, decision.kept
    return sum(len(m) for m in decision.marks.values())


def _manual_value(hw: _Assignment, result: SubmissionResult, qid: str) -> tuple[Any, str | None]:
    """What the gradebook writes in a hand-marked cell (for both members), and its style."""
    mark = hw.marks.get(result.submission_id, {}).get(qid)
    if mark is not None and not mark.cleared:
        return mark.points, None
    q = next((q for q in result.questions if q.grade_id == qid), None)
    if q is not None and q.status == QuestionStatus.NOT_ATTEMPTED:
        return 0.0, NO_RESPONSE
    return None, None


# ---------------------------------------------------------------- the sheets' rows

def _cells(hw: _Assignment, student_id: str, timezone_name: str
           ) -> tuple[dict[str, Any], dict[str, str], float, list[str]]:
    """One student's columns for one assignment, their styles, the grade, the flags to show."""
    p = f"{hw.name} "
    cells: dict[str, Any] = {}
    styles: dict[str, str] = {}
    found = hw.by_student.get(student_id, [])
    if not found:
        cells[p + "status"] = NO_SUBMISSION
        cells[p + "grade"] = 0.0
        for qid, is_manual in hw.questions:
            if is_manual:
                key = _key(hw.name, qid, True)
                styles[key] = NOT_ENTERABLE
                if ("", qid, student_id) in hw.kept:
                    cells[key], styles[key] = hw.kept[("", qid, student_id)], REFUSED
        return cells, styles, 0.0, [f"{hw.name}: no submission"]
    result = pick_submission(found)
    sid = result.submission_id
    grade = hw.grades[sid]
    cells[p + "submission"] = sid
    cells[p + "status"] = result.status
    cells[p + "submitted at"] = local_time(result.submitted_at, timezone_name)
    cells[p + "time from"] = time_source(result)
    points = {q.grade_id: q for q in result.questions}
    notes = []
    if isinstance(cells[p + "submitted at"], str):
        notes.append(f"{hw.name}: submission time unreadable, no late penalty applied")
    for qid, is_manual in hw.questions:
        key = _key(hw.name, qid, is_manual)
        if not is_manual:
            q = points.get(qid)
            cells[key] = q.points if q else None
            continue
        if (sid, qid, student_id) in hw.kept:
            cells[key], styles[key] = hw.kept[(sid, qid, student_id)], REFUSED
        else:
            cells[key], style = _manual_value(hw, result, qid)
            if style:
                styles[key] = style
    cells[p + "auto"] = grade.auto
    cells[p + "late days"] = grade.late_days
    cells[p + "penalty"] = grade.penalty
    cells[p + "grade"] = grade.grade
    if grade.to_mark:
        notes.append(f"{hw.name}: to mark by hand: "
                     + ", ".join(hw.titles.get(q, q) for q in grade.to_mark))
    notes += [f"{hw.name}: {f.code}" for f in result.flags]
    notes += [f"{hw.name}: {problem.code} ({hw.titles.get(problem.question, problem.question)})"
              for problem in hw.mark_problems if problem.submission_id == sid]
    if len(found) > 1:
        notes.append(f"{hw.name}: counted {sid} of "
                     f"{', '.join(r.submission_id for r in found)}")
    return cells, styles, grade.grade, notes


def _columns(hws: list[_Assignment]) -> list[Column]:
    columns = [Column(k, k) for k in IDENTITY]
    for hw in hws:
        p, n = f"{hw.name} ", hw.name
        columns += [Column(p + "submission", f"{n}\nsubmission"),
                    Column(p + "status", f"{n}\nstatus"),
                    Column(p + "submitted at", f"{n}\nsubmitted at", DATE),
                    Column(p + "time from", f"{n}\ntime from")]
        for qid, manual in hw.questions:
            top = hw.max_points.get(qid, 0.0)
            title = hw.titles.get(qid, qid)
            if manual:
                columns.append(Column(
                    _key(n, qid, True), f"{n}\n{title}\n/{top:g} by hand", MARK, n, qid, top,
                    prompt=f"Points from 0 to {top:g}, one mark per pair (typed in either "
                           f"member's row). Then run `autograder gradebook {n}` again: grades "
                           "here are values, computed by that command."))
            else:
                columns.append(Column(_key(n, qid, False), f"{n}\n{title}\n/{top:g}", POINTS,
                                      n, qid))
        columns += [Column(p + "auto", f"{n}\nautomatic points", POINTS),
                    Column(p + "late days", f"{n}\nlate days", COUNT),
                    Column(p + "penalty", f"{n}\nlate penalty", PERCENT),
                    Column(p + "grade", f"{n}\ngrade /{hw.spec.points:g}", GRADE)]
    return columns + [Column("final /20", "final /20", GRADE), Column("flags", "flags", MESSAGE)]


def _rows(course: Course, roster: Roster, hws: list[_Assignment]
          ) -> tuple[list[dict[str, Any]], dict[tuple[int, str], str]]:
    unknown = sorted({s for hw in hws for s in hw.by_student if s not in roster})
    people = list(roster.students.values()) + [Student(s, "", "", "") for s in unknown]
    rows, styles = [], {}
    for index, student in enumerate(people):
        row: dict[str, Any] = {k: getattr(student, k) for k in IDENTITY}
        grades, flags = [], []
        if student.student_id not in roster:
            flags.append("not on the roster")
        for hw in hws:
            cells, cell_styles, grade, notes = _cells(hw, student.student_id, course.timezone)
            row.update(cells)
            styles.update({(index, key): style for key, style in cell_styles.items()})
            # Each assignment counts as /20 in the final grade, whatever its own scale.
            grades.append(grade / hw.spec.points * 20)
            flags += notes
        row["final /20"] = round(sum(grades) / len(grades), 2) if grades else 0.0
        row["flags"] = "; ".join(dict.fromkeys(flags))
        rows.append(row)
    return rows, styles


def _question_stats(hws: list[_Assignment]) -> tuple[list[dict], list[dict]]:
    questions, checks = [], []
    for hw in hws:
        graded = [r for r in hw.results if r.status == SubmissionStatus.GRADED]
        for qid, manual in hw.questions:
            title = hw.titles.get(qid, qid)
            qs = [(r, q) for r in graded for q in r.questions if q.grade_id == qid]
            if not qs:
                continue
            top = max(q.max_points for _, q in qs)
            row = {"assignment": hw.name, "question": title, "grade id": qid,
                   "graded by": "hand" if manual else "tests", "max points": top,
                   "submissions": len(qs)}
            if manual:
                values = [_manual_value(hw, r, qid)[0] for r, _ in qs]
                pts = [v for v in values if v is not None]
                row["marked"] = len(pts)
                row["to mark"] = len(values) - len(pts)
            else:
                pts = [q.points for _, q in qs]
            if pts:
                row.update({"mean": round(statistics.fmean(pts), 3),
                            "median": statistics.median(pts),
                            "share full marks": round(sum(p >= top for p in pts) / len(pts), 3)})
            questions.append(row)
            if manual:
                continue
            names: dict[str, list] = defaultdict(list)
            for _, q in qs:
                for c in q.checks:
                    names[c.name].append(c)
            for name, cs in names.items():
                graded_checks = [c for c in cs if c.status != QuestionStatus.NOT_GRADED]
                passed = sum(c.status == QuestionStatus.PASSED for c in graded_checks)
                checks.append({
                    "assignment": hw.name, "question": title, "check": name,
                    "max points": max(c.max_points for c in cs),
                    "graded": len(graded_checks), "passed": passed,
                    "pass rate": round(passed / len(graded_checks), 3) if graded_checks else None,
                    "not graded": len(cs) - len(graded_checks),
                })
    return questions, checks


def _problems(hws: list[_Assignment], rows: list[dict[str, Any]], timezone_name: str
              ) -> list[dict[str, Any]]:
    problems = []
    for hw in hws:
        for r in hw.results:
            team = ", ".join(hw.teams.get(r.submission_id, []))
            base = {"assignment": hw.name, "submission": r.submission_id, "team": team,
                    "status": r.status, "submitted at": local_time(r.submitted_at, timezone_name),
                    "time from": time_source(r), "source": r.source}
            if r.status != SubmissionStatus.GRADED:
                problems.append({**base, "problem": r.status, "message": r.reason})
            for f in r.flags:
                problems.append({**base, "problem": f.code, "message": f.message})
            for p in hw.mark_problems:
                if p.submission_id == r.submission_id:
                    problems.append({**base, "problem": p.code,
                                     "message": f"{hw.titles.get(p.question, p.question)}: "
                                                f"{p.message}"})
        known = {r.submission_id for r in hw.results}
        for p in hw.mark_problems:
            if p.submission_id not in known:
                problems.append({"assignment": hw.name, "submission": p.submission_id,
                                 "problem": p.code, "message": p.message})
    for row in rows:
        for hw in hws:
            if row.get(f"{hw.name} status") == NO_SUBMISSION and row["last_name"]:
                problems.append({"assignment": hw.name, "submission": "", "team": "",
                                 "status": NO_SUBMISSION, "source": "",
                                 "problem": "no_submission",
                                 "message": f"{row['student_id']} {row['first_name']} "
                                            f"{row['last_name']} has no submission"})
    return problems


def _mark_rows(hws: list[_Assignment], timezone_name: str) -> list[dict[str, Any]]:
    rows = []
    for hw in hws:
        for sid in sorted(hw.marks):
            for qid, mark in sorted(hw.marks[sid].items()):
                if mark.cleared:
                    continue
                rows.append({"assignment": hw.name, "submission": sid,
                             "team": ", ".join(hw.teams.get(sid, [])),
                             "question": hw.titles.get(qid, qid), "points": mark.points,
                             "max points": hw.max_points.get(qid), "comment": mark.comment,
                             "entered in": "grades.xlsx" if mark.origin == MarkOrigin.XLSX
                             else mark.origin,
                             "at": local_time(mark.at, timezone_name)})
    return rows


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

    Hand marks come from the marks stored with the results; marks typed into an existing `out`
    since it was written are stored first (in the first result folder), per submission.
    """
    if not assignments:
        raise ConfigError("no assignment given", hint="e.g. autograder gradebook hw1_features")
    out = Path(out)
    results = [Path(f) for f in results]
    roster = load_roster(course.roster)
    earlier = _read_earlier(out)
    hws = [_prepare(course, name, results, roster) for name in assignments]
    for hw in hws:
        if not hw.results:
            # An empty gradebook imported into Moodle would give every student a zero.
            raise ConfigError(
                f"no results for {hw.name} in {', '.join(str(f) for f in results)}",
                hint=f"run `autograder grade {hw.name} SUBMISSIONS` first, or pass --results DIR")
    taken = 0
    if earlier is not None:
        for hw in hws:
            taken += _take_typed_marks(earlier, hw, results[0])
        taken += _take_other_marks(course, earlier, assignments, results, roster, out)
    for hw in hws:
        _grade_all(course, hw)
    rows, styles = _rows(course, roster, hws)
    questions, checks = _question_stats(hws)
    columns = _columns(hws)
    book = Gradebook(
        columns=[c.key for c in columns], rows=rows, questions=questions, checks=checks,
        problems=_problems(hws, rows, course.timezone),
        histogram=histogram([r["final /20"] for r in rows if r["last_name"]]),
        xlsx=out, csv=out.with_suffix(".csv"),
        moodle_csv=out.with_name(out.stem + "-moodle.csv"),
        marks=_mark_rows(hws, course.timezone), labels={c.key: c.label for c in columns},
        marks_taken=taken,
        similarity=[row for hw in hws for row in hw.similarity],
    )
    _write_xlsx(book, columns, styles, hws)
    write_csv(book.csv, book.columns, rows)
    # Moodle's grade import (Grades > Import > CSV file): map "ID number" (or "Email address") to
    # the user field of the same name, and each assignment's column to its grade item.
    write_csv(book.moodle_csv, ["ID number", "Email address"] + assignments, [
        {"ID number": r["student_id"], "Email address": r["email"],
         **{hw.name: r[f"{hw.name} grade"] for hw in hws}}
        for r in rows if r["last_name"]  # Moodle can only take students it knows
    ])
    return book


def _read_earlier(out: Path) -> EarlierSheet | None:
    try:
        return read_earlier(out)
    except Exception as exc:  # noqa: BLE001 - any reason it cannot be read means the same
        raise ConfigError(
            f"cannot read the existing gradebook ({exc.__class__.__name__})", path=out,
            hint="marks typed there would be lost: close it in the spreadsheet program, "
                 "or move it away to start a new gradebook") from None


def _take_other_marks(course: Course, earlier: EarlierSheet, assignments: list[str],
                      results: list[Path], roster: Roster, out: Path) -> int:
    """Marks typed for an assignment of the earlier gradebook that this one leaves out: stored
    too, since the file about to be written will not hold them any more."""
    taken = 0
    for name in course.assignments:
        if name in assignments or not typed_cells(earlier, name):
            continue
        hw = _prepare(course, name, results, roster)
        taken += _take_typed_marks(earlier, hw, results[0])
        refused = [p for p in hw.mark_problems if p.code != "mark_superseded"]
        if refused:
            raise ConfigError(
                f"the existing gradebook holds marks for {name} that cannot be stored "
                f"({refused[0].code}: {refused[0].message})", path=out,
                hint=f"build the gradebook with {name} too: autograder gradebook "
                     f"{' '.join(assignments)} {name}")
    return taken


# ---------------------------------------------------------------- the spreadsheet

# The similarity sheet (autograder similarity): its columns, as similarity.SHEET_COLUMNS names them.
SIMILARITY_COLUMNS = (
    ("assignment", TEXT), ("rank", COUNT), ("score", SHARE), ("flagged", TEXT),
    ("submission A", TEXT), ("team A", TEXT), ("submission B", TEXT), ("team B", TEXT),
    ("cells", MESSAGE), ("shared fingerprints", COUNT), ("page", TEXT))

RERUN_NOTE = ("Grades are computed values. Marks by hand go in the yellow columns, once per pair "
              "(either member's row); then run `autograder gradebook {names}` again to update "
              "grades, statistics and the CSVs. Red cells: marks not stored (see flags).")


def _write_xlsx(gb: Gradebook, columns: list[Column], styles: dict[tuple[int, str], str],
                hws: list[_Assignment]) -> None:
    def table(*specs: tuple[str, str]) -> list[Column]:
        return [Column(key, key, kind) for key, kind in specs]

    grades = Sheet("grades", columns, gb.rows, styles=styles, freeze=3,
                   note=RERUN_NOTE.format(names=" ".join(hw.name for hw in hws)))
    sheets = [
        grades,
        Sheet("questions", table(
            ("assignment", TEXT), ("question", TEXT), ("grade id", TEXT), ("graded by", TEXT),
            ("max points", POINTS), ("submissions", COUNT), ("marked", COUNT),
            ("to mark", COUNT), ("mean", POINTS), ("median", POINTS),
            ("share full marks", SHARE)), gb.questions, freeze=2),
        Sheet("checks", table(
            ("assignment", TEXT), ("question", TEXT), ("check", TEXT), ("max points", POINTS),
            ("graded", COUNT), ("passed", COUNT), ("pass rate", SHARE), ("not graded", COUNT)),
            gb.checks, freeze=3),
        # What and why first, next to whose: the rest is detail.
        Sheet("problems", table(
            ("assignment", TEXT), ("submission", TEXT), ("problem", TEXT), ("message", MESSAGE),
            ("team", TEXT), ("status", TEXT), ("submitted at", DATE), ("time from", TEXT),
            ("source", TEXT)), gb.problems, freeze=2),
        Sheet("marks", table(
            ("assignment", TEXT), ("submission", TEXT), ("team", TEXT), ("question", TEXT),
            ("points", POINTS), ("max points", POINTS), ("comment", MESSAGE),
            ("entered in", TEXT), ("at", DATE)), gb.marks, freeze=2),
        *([Sheet("similarity", table(*SIMILARITY_COLUMNS), gb.similarity, freeze=2)]
          if gb.similarity else []),
        Sheet("distribution", table(("grade", TEXT), ("students", COUNT)), gb.histogram,
              chart={"title": "Final grades (/20)", "x": "grade", "y": "students"}),
    ]
    # What the next run reads back: which header is which question, and what each hand-marked
    # cell held as written (a cell that still holds it was not edited).
    hidden: list[list[Any]] = [["column", c.label, c.key, c.assignment, c.question]
                               for c in columns]
    for hw in hws:
        for result in hw.results:
            for qid, manual in hw.questions:
                if manual:
                    value, _ = _manual_value(hw, result, qid)
                    if value is not None:
                        hidden.append(["written", hw.name, result.submission_id, qid, value])
    write_workbook(gb.xlsx, sheets, hidden=hidden)
