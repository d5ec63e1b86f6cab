"""Which check caught which mutant: the matrix `autograder validate` prints.

Columns are the checks the solution passes, plus one per question for what its checks do not
cover (visible asserts, code between checks, a cell that stopped before a check ran); rows are
mutants; a mark says that the mutant lost there what the solution earned. A check that catches no
mutant tests nothing a realistic mistake changes, or waits for a mutant that shows it. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .results import QuestionStatus, SubmissionResult, SubmissionStatus

TOLERANCE = 1e-6


@dataclass
class KillMatrix:
    """Which check made which mutant lose points. Columns are the solution's checks, plus one
    per question for what a check does not cover (visible asserts, a cell that stopped)."""

    checks: list[str] = field(default_factory=list)
    rows: list[tuple[str, frozenset[int]]] = field(default_factory=list)

    def kills(self, column: int) -> int:
        return sum(column in marks for _, marks in self.rows)

    @property
    def idle(self) -> list[str]:
        """Checks that caught no mutant: they test nothing a mistake changes, or need new ones."""
        return [name for i, name in enumerate(self.checks) if not self.kills(i)]


def _scored(result: SubmissionResult) -> bool:
    return result.status == SubmissionStatus.GRADED or (result.status == SubmissionStatus.TIMEOUT and bool(result.questions))


def check_columns(solution: SubmissionResult) -> list[tuple[str, str | None]]:
    """(question, check name) for every check the solution passes, then (question, None) for
    what the question's checks do not cover."""
    columns: list[tuple[str, str | None]] = []
    for q in solution.questions:
        if q.manual:
            continue
        columns += [(q.grade_id, c.name) for c in q.checks if c.status == QuestionStatus.PASSED]
        columns.append((q.grade_id, None))
    return columns


def kills(solution: SubmissionResult, result: SubmissionResult) -> frozenset[int]:
    """Columns of `check_columns(solution)` where `result` lost what the solution earned."""
    if not _scored(result):
        return frozenset()
    mine = {q.grade_id: q for q in result.questions}
    marks = set()
    for i, (grade_id, name) in enumerate(check_columns(solution)):
        got, ref = mine.get(grade_id), next(q for q in solution.questions
                                            if q.grade_id == grade_id)
        if got is None:
            marks.add(i)
            continue
        checks = {c.name: c for c in got.checks}
        if name is not None:
            check = checks.get(name)
            if check is not None and check.status not in (QuestionStatus.PASSED, QuestionStatus.NOT_GRADED):
                marks.add(i)
            continue
        # The rest of the cell: a check that never ran (the cell stopped before it), or the
        # points outside checks lost (visible asserts, an exception between checks).
        covered = [c for c in ref.checks if c.status == QuestionStatus.PASSED]
        missing = any(c.name not in checks for c in covered)
        rest = ref.points - sum(c.points for c in covered)
        got_rest = got.points - sum(checks[c.name].points for c in covered if c.name in checks)
        if missing or got_rest < rest - TOLERANCE:
            marks.add(i)
    return frozenset(marks)


def kill_matrix(solution: SubmissionResult,
                graded: list[tuple[str, SubmissionResult]]) -> KillMatrix:
    columns = check_columns(solution)
    names = [f"{q}: {c}" if c is not None else f"{q}: visible asserts, code outside checks"
             for q, c in columns]
    return KillMatrix(names, [(label, kills(solution, result)) for label, result in graded])


def render_matrix(matrix: KillMatrix) -> str:
    """Columns numbered, one character per column per mutant: x where that check caught it."""
    if not matrix.checks:
        return ""
    lines = ["checks (column: mutants caught)"]
    for i, name in enumerate(matrix.checks):
        lines.append(f"  {i + 1:>3}  {matrix.kills(i):>4}  {name}")
    width = max((len(label) for label, _ in matrix.rows), default=0)
    numbers = "".join(str((i + 1) % 10) for i in range(len(matrix.checks)))
    lines.append(f"{'mutant':<{width}}  {numbers}")
    for label, marks in matrix.rows:
        cells = "".join("x" if i in marks else "." for i in range(len(matrix.checks)))
        lines.append(f"{label:<{width}}  {cells}")
    idle = matrix.idle
    lines.append("checks that catch no mutant: " + (", ".join(idle) if idle else "none"))
    return "\n".join(lines)
