"""One HTML feedback page per submission: points and messages, never a hidden test or its values."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .atomic import write_atomic
from .config import Course
from .gradebook import Grade, submission_grade
from .marks import Mark
from .notebook import Role, cells_of, read_notebook, split_hidden
from .results import (
    NO_RESPONSE,
    CheckResult,
    QuestionStatus,
    SubmissionResult,
    SubmissionStatus,
)
from .titles import headings_above, question_titles

if TYPE_CHECKING:
    from .batch_report import BatchReport

# Flags a pair should read; the others (two teams, grader errors, sandbox level) are for staff.
STUDENT_FLAGS = {
    "late", "cells_changed", "answer_moved", "answer_duplicated", "metadata_stripped",
    "no_team_cell", "team_from_folder_name", "unknown_student", "team_too_large", "gpu_not_used",
    "gpu_checks_not_graded", "memory_limit", "output_truncated",
}
STATUS_TEXT = {
    SubmissionStatus.GRADED: "graded", SubmissionStatus.ERROR: "could not be graded completely",
    SubmissionStatus.TIMEOUT: "ran out of time", SubmissionStatus.REJECTED: "could not be graded",
}
# Where numpy/torch start printing the compared values after a failed comparison: the expected
# values of a hidden test. That line and every line after it (wrapped rows of an array) go.
VALUE_LINE = re.compile(r"^\s*((x|y|ACTUAL|DESIRED)\s*:|(Max|Greatest) (absolute|relative)|"
                        r"First |array\(|tensor\()", re.I)
MIN_HIDDEN_LINE = 8  # shorter hidden lines (`pass`, `X = 1`) say nothing worth hiding
MESSAGE_CHARS = 800  # any message, at most
WITHHELD = "[detail withheld: hidden test]"
HIDDEN_CHECK_CHARS = 200  # a hidden check's reason: its first line, at most
OUTPUT_CHARS = 4000  # what a test cell's visible part printed
ID_CHARS = 100  # a submission id, a team member's id (they come from file names and the pair)


def hidden_test_lines(source_notebook: Path) -> set[str]:
    """Every line of hidden test code in the instructor's notebook, whitespace-normalised."""
    lines: set[str] = set()
    for cell in cells_of(read_notebook(source_notebook)):
        if cell.role is Role.TESTS:
            _, hidden = split_hidden(cell.source)
            lines |= {_norm(line) for line in hidden.splitlines()
                      if len(_norm(line)) >= MIN_HIDDEN_LINE and not line.strip().startswith("#")}
    return lines


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def safe_message(message: str, hidden: set[str], *, limit: int = MESSAGE_CHARS,
                 values: bool = True) -> str:
    """A message as a student may see it: without lines of hidden tests or expected values
    (`values=False`: printed output of a visible part, whose values the students see anyway)."""
    kept = []
    for line in str(message).splitlines():
        if values and VALUE_LINE.match(line):
            kept.append("[values withheld]")
            break  # the values, and the wrapped lines that continue them
        flat = _norm(line)
        if any(h in flat for h in hidden):
            if not kept or kept[-1] != WITHHELD:
                kept.append(WITHHELD)
            continue
        kept.append(line)
    text = "\n".join(kept)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def check_message(check: CheckResult, hidden: set[str]) -> str:
    """A check's reason: for a hidden check, its first line only (the judge already wrote no
    more; a result from elsewhere gets the same treatment)."""
    text = safe_message(check.message, hidden)
    if check.hidden:
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        return first if len(first) <= HIDDEN_CHECK_CHARS else first[:HIDDEN_CHECK_CHARS - 1] + "…"
    return text


def _cap(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


GENERATOR = '<meta name="generator" content="autograder feedback">'  # pages this module wrote


def _pts(x: float) -> str:
    return f"{round(x, 2):g}"


def _summary(result: SubmissionResult, grade: Grade | None) -> list[str]:
    """Points, written answers, lateness and the grade, as the pair should read them."""
    tests = [q for q in result.questions if not q.manual]
    written = [q for q in result.questions if q.manual]
    if not result.questions:
        return []
    auto = sum(q.points for q in tests)
    lines = [f"Automatic points: <b>{_pts(auto)} / {_pts(sum(q.max_points for q in tests))}</b>"]
    if written and (grade is None or grade.to_mark):
        lines.append("Written answers: graded by hand, not included yet")
    elif written and grade is not None:
        lines.append(f"Written answers (graded by hand): <b>{_pts(grade.manual)} / "
                     f"{_pts(sum(q.max_points for q in written))}</b>")
    if grade is None:
        return lines
    if grade.penalty > 0:
        days = f"{grade.late_days} day{'s' if grade.late_days > 1 else ''} late"
        lines.append(f"{days}: penalty −{grade.penalty:.0%} of {_pts(grade.before_penalty)} / "
                     f"{_pts(grade.scale)}")
    final = "Grade so far" if grade.to_mark else "Grade"
    lines.append(f"{final}: <b>{_pts(grade.grade)} / {_pts(grade.scale)}</b>"
                 + (" (written answers not included yet)" if grade.to_mark else ""))
    return lines


def _manual_cells(q, mark: Mark | None, e) -> tuple[str, str, str, str]:
    """(points, status class, status text, message) of a question marked by hand."""
    if mark is not None and mark.points is not None:  # marked, not cleared
        status = (QuestionStatus.PASSED if mark.points >= q.max_points
                  else QuestionStatus.PARTIAL if mark.points else QuestionStatus.FAILED)
        return (f"{_pts(mark.points)} / {_pts(q.max_points)}", status, "marked by hand",
                e(mark.comment))
    if q.status == QuestionStatus.NOT_ATTEMPTED:
        return (f"0 / {_pts(q.max_points)}", QuestionStatus.NOT_ATTEMPTED, "not attempted",
                NO_RESPONSE)
    return f"– / {_pts(q.max_points)}", QuestionStatus.MANUAL, "to be marked by hand", ""


def render(result: SubmissionResult, *, hidden: set[str], course_name: str = "",
           grade: Grade | None = None, marks: dict[str, Mark] | None = None,
           titles: dict[str, str] | None = None) -> str:
    """The page for one submission; every text from the result is escaped.

    `grade` (with the late penalty) and `marks` (by question) come from the gradebook's rules;
    `titles` names the questions as the notebook's headings do.
    """
    e = html.escape
    marks, titles = marks or {}, titles or {}
    out = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', GENERATOR,
        f"<title>{e(result.assignment)} — feedback</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3em .5em;"
        "text-align:left;vertical-align:top}.passed{color:#060}.failed,.not_attempted{color:#a00}"
        ".check td:first-child{padding-left:2em}pre{white-space:pre-wrap;margin:0}</style>",
        "</head><body>",
        f"<h1>{e(result.assignment)}{' — ' + e(course_name) if course_name else ''}</h1>",
        f"<p>Submission <b>{e(_cap(result.submission_id, ID_CHARS))}</b>"
        f"{' — team ' + e(', '.join(_cap(t, ID_CHARS) for t in result.team[:8])) if result.team else ''}</p>",
        f"<p>Status: <b>{e(STATUS_TEXT.get(result.status, result.status))}</b>",
    ]
    if result.reason:
        out.append(f"<br>{e(safe_message(result.reason, hidden))}")
    out.append("</p>")
    summary = _summary(result, grade)
    if summary:
        out.append("<p>" + "<br>".join(summary) + "</p>")
    flags = [f for f in result.flags if f.code in STUDENT_FLAGS]
    if flags:
        out.append("<h2>Notes</h2><ul>")
        out += [f"<li>{e(safe_message(f.message, hidden, limit=300))}</li>" for f in flags]
        out.append("</ul>")
    if result.questions:
        out.append("<h2>Questions</h2><table><tr><th>question / check</th><th>points</th>"
                   "<th>status</th><th>message</th></tr>")
        for q in result.questions:
            name = e(titles.get(q.grade_id, q.grade_id))
            if q.manual:
                points, status, text, message = _manual_cells(q, marks.get(q.grade_id), e)
                out.append(f'<tr><td><b>{name}</b></td><td>{points}</td>'
                           f'<td class="{status}">{text}</td><td><pre>{message}</pre></td></tr>')
                continue
            out.append(f'<tr><td><b>{name}</b></td><td>{_pts(q.points)} / {_pts(q.max_points)}'
                       f'</td><td class="{e(q.status)}">{e(q.status.replace("_", " "))}</td>'
                       f"<td><pre>{e(safe_message(q.message, hidden))}</pre></td></tr>")
            for c in q.checks:
                out.append(f'<tr class="check"><td>{e(c.name)}</td>'
                           f"<td>{c.points:g} / {c.max_points:g}</td>"
                           f'<td class="{e(c.status)}">{e(c.status.replace("_", " "))}</td>'
                           f"<td><pre>{e(check_message(c, hidden))}</pre></td></tr>")
            if q.output:  # what the visible tests printed; never the hidden part's output
                out.append(f'<tr class="check"><td>printed by the tests</td>'
                           f'<td colspan="3"><pre>'
                           f"{e(safe_message(q.output, hidden, limit=OUTPUT_CHARS, values=False))}"
                           "</pre></td></tr>")
        out.append("</table>")
    out.append("</body></html>\n")
    return "\n".join(out)


def write_feedback(results: list[SubmissionResult], *, out: Path,
                   source_notebook: Path | None = None, course_name: str = "",
                   course: Course | None = None,
                   marks: dict[str, dict[str, Mark]] | None = None) -> list[Path]:
    """Write `out/<submission id>.html` for each result (atomically); returns the paths.

    With `course`, a page shows the grade (late penalty applied) as the gradebook computes it,
    with the hand `marks` given (by submission id, then question).
    """
    hidden = hidden_test_lines(source_notebook) if source_notebook else set()
    titles = headings_above(source_notebook) if source_notebook else {}
    marks = marks or {}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for result in results:
        mine = marks.get(result.submission_id, {})
        grade = None
        if course is not None and result.assignment in course.assignments:
            grade = submission_grade(result, course.assignment(result.assignment), mine,
                                     timezone_name=course.timezone)
        named = question_titles([q.grade_id for q in result.questions], titles)
        page = render(result, hidden=hidden, course_name=course_name, grade=grade, marks=mine,
                      titles=named)
        path = out / f"{result.submission_id}.html"
        write_atomic(path, page, shared=True)  # shared: the pages are handed out
        written.append(path)
    return written


def remove_stale_pages(out: Path, keep: set[str], *,
                       mine: Callable[[str], bool] = lambda submission_id: True) -> list[Path]:
    """Remove the pages this module wrote for submissions that no longer exist.

    A page is removed when its submission id is not in `keep`, `mine(id)` says it belongs to this
    run (a shard removes only pages of its own shard), and the page carries this module's
    generator mark: a page someone else put in the folder stays.
    """
    removed: list[Path] = []
    folder = Path(out)
    if not folder.is_dir():
        return removed
    for path in sorted(folder.glob("*.html")):
        sid = path.stem
        if sid in keep or not mine(sid) or path.is_symlink() or not path.is_file():
            continue
        try:
            with open(path, "rb") as fh:
                head = fh.read(1024)
        except OSError:
            continue
        if GENERATOR.encode() in head:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def write_batch_feedback(report: BatchReport, *, course: Course, results: Path, out: Path,
                         shard: tuple[int, int] | None = None) -> tuple[list[Path], list[Path]]:
    """(pages written, pages removed) for a batch's shard: a page per submission there is now,
    with the marks given so far; a page of a submission that is gone is removed, unless the run
    was cut short (then what is there is not known)."""
    from .batch import in_shard
    from .marks import collect_marks

    current = set(report.graded) | set(report.skipped)
    mine = [r for r in report.results if in_shard(r.submission_id, shard)
            and (report.interrupted or r.submission_id in current)]
    pages = write_feedback(mine, out=out, course=course, course_name=course.name,
                           source_notebook=course.assignment(report.assignment).notebook,
                           marks=collect_marks([results], report.assignment))
    removed = [] if report.interrupted else remove_stale_pages(
        out, current, mine=lambda sid: in_shard(sid, shard))
    return pages, removed
