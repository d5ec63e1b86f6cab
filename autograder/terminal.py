"""What the commands print: a batch's progress, one result, and each command's summary lines.

The stages return results and reports and never print; turning them into lines is done here, so
that cli.py only parses arguments and calls one entry point per stage. Text that came from a
submission (ids, names, messages) is printed as text: never as rich markup, never with its
control characters.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .results import SubmissionStatus

if TYPE_CHECKING:
    from .batch_report import BatchProgress
    from .gradebook import Gradebook
    from .moodle import FillReport
    from .release import ReleaseResult
    from .results import SubmissionResult
    from .similarity import SimilarityReport


def relative(path: Path, root: Path) -> str:
    """`path` as the instructor reads it: relative to the course folder when inside it."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def shown(text: str) -> str:
    """Text from a notebook (an id, a name) on a terminal: no control characters."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def duration(seconds: float | None) -> str:
    seconds = int(round(seconds or 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


# --- grade: the batch's progress ---------------------------------------------------------------


class ProgressDisplay:
    """The batch's progress: one line per submission (also above the bar on a terminal), and on a
    terminal a bar with an ETA from the pace of the submissions graded so far."""

    def __init__(self, assignment: str, *, rich: bool) -> None:
        self.assignment, self.rich = assignment, rich
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> ProgressDisplay:
        if self.rich:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            # On stderr, like the plain lines: stdout keeps only the summary.
            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("{task.fields[eta]}"),
                TextColumn("[red]{task.fields[failures]} not graded"), transient=False,
                console=Console(stderr=True))
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def __call__(self, event: BatchProgress) -> None:
        from .batch_report import shorten

        if event.result is None:
            self._say(f"{self.assignment}: {event.total} submissions, {event.skipped} already "
                      f"graded, {event.to_grade} to grade with {event.workers} worker(s)")
        else:
            r = event.result
            what = (f" {r.points:g}/{r.max_points:g}" if r.status == SubmissionStatus.GRADED
                    else f": {shorten(r.reason, 100)}" if r.reason else "")
            late = next((f.message for f in r.flags if f.code == "late"), "")
            self._say(f"{self.assignment}: [{event.done}/{event.total}] {r.submission_id}: "
                      f"{r.status}{what}" + (f" ({late})" if late else "")
                      + (f", ETA {duration(event.eta_s)}" if event.eta_s else ""))
        if self.bar is not None:
            eta = "ETA " + (duration(event.eta_s) if event.eta_s is not None else "-:--:--")
            if self.task is None:
                self.task = self.bar.add_task(self.assignment, total=event.total,
                                              completed=event.done, failures=0, eta=eta)
            self.bar.update(self.task, completed=event.done, failures=event.failures, eta=eta)

    def _say(self, line: str) -> None:
        if self.bar is not None:
            from rich.text import Text

            self.bar.console.print(Text(line))  # Text: a name like "[red]x" is not markup
        else:
            print(line, file=sys.stderr, flush=True)


# --- what each command says when it is done ------------------------------------------------------


def release_lines(name: str, result: ReleaseResult, root: Path) -> list[str]:
    lines = [f"{name}: wrote {relative(path, root)}" for path in result.written]
    lines += [f"{name}: removed {relative(path, root)} (no longer in the source)"
              for path in result.removed]
    if not result.written and not result.removed:
        lines.append(f"{name}: up to date ({len(result.unchanged)} files)")
    return lines


def result_lines(result: SubmissionResult, notebook: Path) -> list[str]:
    """grade-one: the result, each question and check, each flag."""
    lines = [f"{notebook}: {result.status}"
             + (f" ({result.reason})" if result.reason else "")
             + f", {result.points:g}/{result.max_points:g} points, {result.runtime_s:.1f} s, "
               f"sandbox {result.sandbox}, team {', '.join(result.team) or 'none'}"]
    # For the staff: the technical reason (`detail`) where it says more than the student's line,
    # and what the test cells printed, hidden parts included.
    for q in result.questions:
        lines.append(f"  {q.grade_id:<24} {q.points:>5g}/{q.max_points:<4g} {q.status:<14} "
                     f"{q.message}")
        if q.detail and q.detail != q.message:
            lines.append("      detail: " + _indented(q.detail, 8))
        for c in q.checks:
            lines.append(f"      {c.name}: {c.status} {c.points:g}/{c.max_points:g} {c.message}")
            if c.detail and c.detail != c.message:
                lines.append("        detail: " + _indented(c.detail, 10))
        for label, text in (("printed", q.output), ("printed (hidden part)", q.hidden_output)):
            if text:
                lines.append(f"      {label}: " + _indented(text, 8))
    lines += [f"  flag {flag.code}: {flag.message}" for flag in result.flags]
    return lines


def _indented(text: str, width: int) -> str:
    return text.rstrip().replace("\n", "\n" + " " * width)


def gradebook_lines(book: Gradebook, root: Path) -> list[str]:
    students = sum(1 for r in book.rows if r["last_name"])
    lines = [f"gradebook: {students} students, {len(book.rows) - students} ids not on the "
             f"roster, {len(book.problems)} problems to look at"]
    if book.marks_taken:
        lines.append(f"gradebook: {book.marks_taken} mark(s) typed into the spreadsheet stored "
                     "with the results")
    return lines + [f"wrote {relative(path, root)}" for path in (book.xlsx, book.csv,
                                                                  book.moodle_csv)]


def worksheet_line(report: FillReport, root: Path) -> str:
    return (f"wrote {relative(report.path, root)}: {len(report.written)} grades filled, "
            f"{len(report.left)} rows left as downloaded (no graded submission)"
            + (f", {len(report.locked)} locked in Moodle" if report.locked else "")
            + ("" if report.feedback else "; no Feedback comments column in the worksheet")
            + "; upload it with View all submissions > Upload grading worksheet")


def similarity_lines(report: SimilarityReport, assignment: str) -> tuple[list[str], list[str]]:
    """(lines for stdout, lines for stderr) of the similarity report: the flagged pairs, and the
    submissions that could not be compared."""
    flagged = report.flagged
    out = [f"{assignment}: {report.submissions} submissions, {report.compared_pairs} pairs "
           f"compared; {len(flagged)} at or above {report.threshold:.0%}"
           + (f"; {len(report.skipped)} not compared" if report.skipped else "")]
    for p in flagged:
        out.append(f"  {p.score:4.0%}  {shown(p.a)} ({shown('; '.join(p.team_a))})  ~  "
                   f"{shown(p.b)} ({shown('; '.join(p.team_b))}): "
                   f"{shown(', '.join(p.matched_cells(report.threshold)))}")
    err = [f"  not compared: {shown(sid)}: {shown(why)}"
           for sid, why in sorted(report.skipped.items())]
    return out, err
