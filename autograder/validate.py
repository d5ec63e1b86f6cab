"""Validate a homework with the real grader: the solution scores full, the stub 0, every mutant less.

An instructor runs this after editing a source notebook, CI runs it on every push: hidden tests
that a correct answer fails, or that a blank or a realistically wrong notebook passes, are bugs
in the homework, found here before students find them. The order is fixed:

1. the solutions notebook: every automatically graded point, apart from written answers (graded
   by hand) and checks that need a GPU on a machine without one;
2. the students' notebook as released (answers stubbed): 0 points;
3. each mutant (tests/data/mutants/<hw>/*.ipynb, the solution with one mistake): fewer points
   than the solution;
4. the solutions notebook again: exactly the first score (tests that depend on chance, or on
   state left by earlier gradings, show up here).

The solution and the stub are derived from the source as `autograder release` writes them, so
validation never trusts a stale release/ folder. Deciding a verdict is pure (`verdict_*`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .config import Course
from .errors import AuthoringError
from .notebook import read_notebook, write_notebook
from .results import QuestionStatus, SubmissionResult, SubmissionStatus
from .strenum import StrEnum

TOLERANCE = 1e-6  # points are sums of floats like 0.5 and 1.5


class Trial(StrEnum):
    """What is graded, in the fixed order of a validation."""

    SOLUTION = "solution"
    STUB = "stub"
    MUTANT = "mutant"
    RERUN = "solution again"


class Verdict(StrEnum):
    OK = "ok"
    MISS = "MISS"  # in capitals: the word an instructor looks for in the table
    SKIPPED = "skipped"  # a mistake only a GPU grading shows, on a machine without one


@dataclass
class ValidationRow:
    submission: str  # "solution", "stub", "mutant <name>", "solution again"
    kind: Trial
    points: float | None  # what the grader gave; None when not graded
    expected: str  # what it should give, in words: "18", "0", "< 18", "= 18"
    verdict: Verdict
    message: str = ""  # why a MISS or a skip; the mutant's mistake otherwise

    @property
    def ok(self) -> bool:
        return self.verdict != Verdict.MISS


@dataclass
class ValidationReport:
    assignment: str
    rows: list[ValidationRow] = field(default_factory=list)
    full: float | None = None  # the solution's gradable points on this machine

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(row.ok for row in self.rows)

    @property
    def misses(self) -> list[ValidationRow]:
        return [row for row in self.rows if not row.ok]


# Deciding (pure) --------------------------------------------------------------------------


def gradable_points(result: SubmissionResult) -> float:
    """Points the grader can give here: no written answers, no GPU checks on a CPU machine."""
    total = 0.0
    for question in result.questions:
        if question.manual:
            continue
        total += question.max_points
        total -= sum(c.max_points for c in question.checks if c.status == QuestionStatus.NOT_GRADED)
    return total


def _fmt(points: float) -> str:
    return f"{points:g}"


def _not_graded(result: SubmissionResult) -> str:
    reason = result.reason.splitlines()[0][:200] if result.reason else "no reason given"
    return f"status {result.status}: {reason}"


def _lost(result: SubmissionResult) -> str:
    """The questions that lost points, for the message of a solution that missed some."""
    parts = []
    for q in result.questions:
        if q.manual:
            continue
        graded_max = q.max_points - sum(c.max_points for c in q.checks
                                        if c.status == QuestionStatus.NOT_GRADED)
        if q.points < graded_max - TOLERANCE:
            failed = [c.name for c in q.checks
                      if c.status not in (QuestionStatus.PASSED, QuestionStatus.NOT_GRADED)]
            detail = "; ".join(failed) if failed else (q.message or q.status)
            parts.append(f"{q.grade_id} {_fmt(q.points)}/{_fmt(graded_max)} ({detail[:120]})")
    return ", ".join(parts)


def verdict_solution(result: SubmissionResult) -> ValidationRow:
    if result.status != SubmissionStatus.GRADED:
        return ValidationRow(Trial.SOLUTION, Trial.SOLUTION, None, "full", Verdict.MISS,
                             _not_graded(result))
    full = gradable_points(result)
    row = ValidationRow(Trial.SOLUTION, Trial.SOLUTION, result.points, _fmt(full), Verdict.OK)
    if abs(result.points - full) > TOLERANCE:
        row.verdict, row.message = Verdict.MISS, f"the solution loses points: {_lost(result)}"
    elif any(c.status == QuestionStatus.NOT_GRADED for q in result.questions for c in q.checks):
        row.message = "checks that need a GPU not graded here"
    return row


def verdict_stub(result: SubmissionResult) -> ValidationRow:
    if result.status != SubmissionStatus.GRADED:
        return ValidationRow(Trial.STUB, Trial.STUB, None, "0", Verdict.MISS, _not_graded(result))
    row = ValidationRow(Trial.STUB, Trial.STUB, result.points, "0", Verdict.OK)
    if result.points > TOLERANCE:
        passed = [q.grade_id for q in result.questions if q.points > TOLERANCE]
        row.verdict = Verdict.MISS
        row.message = f"the unanswered notebook scores in: {', '.join(passed)}"
    return row


def verdict_mutant(result: SubmissionResult, *, name: str, full: float, mistake: str = "",
                   needs_gpu: bool = False, have_gpu: bool = False) -> ValidationRow:
    label = f"mutant {name}"
    expected = f"< {_fmt(full)}"
    if needs_gpu and not have_gpu:
        points = result.points if result.status == SubmissionStatus.GRADED else None
        return ValidationRow(label, Trial.MUTANT, points, expected, Verdict.SKIPPED,
                             f"{mistake}: only a GPU grading shows it")
    if result.status != SubmissionStatus.GRADED:
        return ValidationRow(label, Trial.MUTANT, None, expected, Verdict.MISS, _not_graded(result))
    if result.points < full - TOLERANCE:
        return ValidationRow(label, Trial.MUTANT, result.points, expected, Verdict.OK, mistake)
    return ValidationRow(label, Trial.MUTANT, result.points, expected, Verdict.MISS,
                         f"the tests do not catch it: {mistake}")


def verdict_rerun(result: SubmissionResult, *, first: float | None) -> ValidationRow:
    expected = "= first" if first is None else f"= {_fmt(first)}"
    if result.status != SubmissionStatus.GRADED:
        return ValidationRow(Trial.RERUN, Trial.RERUN, None, expected, Verdict.MISS,
                             _not_graded(result))
    row = ValidationRow(Trial.RERUN, Trial.RERUN, result.points, expected, Verdict.OK)
    if first is None or abs(result.points - first) > TOLERANCE:
        row.verdict = Verdict.MISS
        row.message = f"the score moved between two gradings: {_lost(result)}"
    return row


# Running ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MutantFile:
    path: Path
    name: str
    mistake: str = ""
    needs_gpu: bool = False


def find_mutants(folder: Path) -> list[MutantFile]:
    """Mutant notebooks in a folder, with what their metadata says about them."""
    out = []
    for path in sorted(Path(folder).glob("*.ipynb")):
        meta = read_notebook(path).metadata.get("autograder", {}).get("mutant", {})
        out.append(MutantFile(path, meta.get("name", path.stem), meta.get("mistake", ""),
                              bool(meta.get("needs_gpu", False))))
    return out


def _derived(course: Course, assignment: str, folder: Path) -> tuple[Path, Path]:
    """The solutions and the students' notebooks as `autograder release` would write them."""
    from .authoring import validate_source
    from .release import apply_steps, read_source, release_steps, solution_steps

    spec = course.assignment(assignment)
    source = read_source(spec)
    validate_source(source, spec.notebook)
    solution, stub = folder / "solution.ipynb", folder / "stub.ipynb"
    write_notebook(apply_steps(source, solution_steps(spec)), solution)
    write_notebook(apply_steps(source, release_steps(spec)), stub)
    return solution, stub


Grader = Callable[..., SubmissionResult]


def validate_assignment(*, course: Course, assignment: str, require_sandbox: bool = True,
                        mutants_dir: Path | None = None,
                        on_row: Callable[[ValidationRow], None] | None = None,
                        grader: Grader | None = None) -> ValidationReport:
    """Grade the solution, the stub, every mutant and the solution again; say what missed.

    `mutants_dir` defaults to tests/data/mutants/<assignment> next to course.toml. `on_row` is
    called with each row as soon as it is decided (gradings take seconds each). `grader` stands
    in for `autograder.engine.grade_submission` (tests).
    """
    if grader is None:
        from .engine import grade_submission

        grader = grade_submission
    grade_one: Grader = grader
    folder = mutants_dir or course.root / "tests" / "data" / "mutants" / assignment
    report = ValidationReport(assignment)

    def add(row: ValidationRow) -> None:
        report.rows.append(row)
        if on_row is not None:
            on_row(row)

    def grade(path: Path, submission_id: str) -> SubmissionResult:
        return grade_one(path, course=course, assignment=assignment, submission_id=submission_id,
                         require_sandbox=require_sandbox)

    mutants = find_mutants(folder) if folder.is_dir() else []
    if not mutants:
        raise AuthoringError(
            f"no mutants for {assignment}", path=folder,
            hint="write them with tests/data/mutants/make_mutants.py (a homework is validated "
                 "by wrong answers as well as by its solution)")
    with tempfile.TemporaryDirectory(prefix=f"validate-{assignment}-") as tmp:
        solution, stub = _derived(course, assignment, Path(tmp))
        first = grade(solution, "solution")
        row = verdict_solution(first)
        add(row)
        graded = first.status == SubmissionStatus.GRADED
        report.full = gradable_points(first) if graded else None
        full = report.full if report.full is not None else course.assignment(assignment).points
        have_gpu = first.device == "cuda"
        add(verdict_stub(grade(stub, "stub")))
        for mutant in mutants:
            result = grade(mutant.path, f"mutant-{mutant.name}")
            add(verdict_mutant(result, name=mutant.name, full=full, mistake=mutant.mistake,
                               needs_gpu=mutant.needs_gpu, have_gpu=have_gpu))
        again = grade(solution, "solution")
        add(verdict_rerun(again, first=first.points if graded else None))
    return report


def render_table(reports: list[ValidationReport]) -> str:
    """The table the CLI prints: assignment, submission, score, expected, verdict."""
    header = ("assignment", "submission", "score", "expected", "verdict")
    lines = []
    for report in reports:
        for row in report.rows:
            score = "-" if row.points is None else _fmt(round(row.points, 3))
            verdict = row.verdict + (f"  {row.message}" if row.message else "")
            lines.append((report.assignment, row.submission, score, row.expected, verdict))
    widths = [max(len(str(x)) for x in column) for column in zip(header, *lines, strict=False)]
    out = []
    for line in (header, *lines):
        cells = [str(x).ljust(w) for x, w in zip(line[:-1], widths, strict=False)]
        out.append("  ".join([*cells, str(line[-1])]).rstrip())
    return "\n".join(out)
