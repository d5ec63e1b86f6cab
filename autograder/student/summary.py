"""Each question's status from what running the cells gave, and the whole check's summary. Pure.

Two ways the cells ran: `live` (check() inside the student's running notebook: only the test
cells run now, on whatever the kernel holds) or a fresh kernel that ran every cell in order
(`autograder check NOTEBOOK`). A NameError means different things in each: live, that the cell
defining the name has not run in this kernel yet ("run all cells first"); fresh, that no cell
above defines it, or that the one that does failed or comes later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..notebook import bound_names
from ..strenum import StrEnum
from .manifest import (
    Manifest,
    TestCell,
    find_test_cells,
    instructor_cell_problems,
    manifest_of,
    team_problems,
)

if TYPE_CHECKING:
    from nbformat import NotebookNode


class RowStatus(StrEnum):
    """What a student's own check says of one question: its visible tests only, never a grade."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_ATTEMPTED = "not_attempted"
    MISSING = "missing"  # the test cell was deleted
    TIMEOUT = "timeout"
    NOT_RUN = "not_run"  # the kernel stopped before it
    RUN_FIRST = "run_first"  # live check, a name the tests need is not in the kernel yet
    CHANGED = "changed"  # the test cell was edited: its result says nothing about the grader's


LABELS = {  # each status in the report's words
    RowStatus.PASSED: "passed",
    RowStatus.FAILED: "failed",
    RowStatus.NOT_ATTEMPTED: "not attempted",
    RowStatus.MISSING: "missing",
    RowStatus.TIMEOUT: "timed out",
    RowStatus.NOT_RUN: "not run",
    RowStatus.RUN_FIRST: "run cells first",
    RowStatus.CHANGED: "cell changed",
}
STUB = "raise NotImplementedError"
RUN_ALL = ("run all cells first (Jupyter: Run > Run All Cells; Colab: Runtime > Run all), "
           "then check() again")
_NAME_ERROR = re.compile(r"name '([^']+)' is not defined")


@dataclass(frozen=True)
class Outcome:
    """What running one cell gave."""

    error: tuple[str, str] | None = None  # (exception name, message)
    ran: bool = True
    timed_out: bool = False


@dataclass(frozen=True)
class QuestionRow:
    grade_id: str
    status: RowStatus
    message: str = ""
    cell: int | None = None  # 1-based position in the student's notebook
    points: float = 0.0  # what the question is worth (the grade comes from the hidden tests too)


@dataclass(repr=False)
class CheckSummary:
    notebook: str
    assignment: str | None
    questions: list[QuestionRow]
    team: list[str] | None
    problems: list[str] = field(default_factory=list)  # to fix before submitting
    notes: list[str] = field(default_factory=list)  # worth knowing

    @property
    def passed(self) -> bool:
        """Every visible test passes."""
        return bool(self.questions) and all(q.status == RowStatus.PASSED for q in self.questions)

    @property
    def ok(self) -> bool:
        """Ready to submit, as far as a student's own machine can tell."""
        return self.passed and not self.problems

    def count(self, status: RowStatus) -> int:
        return sum(q.status == status for q in self.questions)

    @property
    def points(self) -> tuple[float, float]:
        """(points of the questions whose visible tests pass, points of all questions)."""
        return (sum(q.points for q in self.questions if q.status == RowStatus.PASSED),
                sum(q.points for q in self.questions))

    def __repr__(self) -> str:  # one line: the report itself is what check() shows
        return (f"<CheckSummary {self.notebook}: {self.count(RowStatus.PASSED)}/"
                f"{len(self.questions)} visible tests pass, {len(self.problems)} problem(s)>")


def _message(ename: str, evalue: str) -> str:
    if ename == "AssertionError":
        return evalue or "an assertion failed"
    return f"{ename}: {evalue}" if evalue else ename


def undefined_name(error: tuple[str, str] | None) -> str | None:
    """The name of a NameError ("name 'np' is not defined"), else None."""
    if error is None or error[0] != "NameError":
        return None
    match = _NAME_ERROR.search(error[1])
    return match.group(1) if match else None


def definitions(nb: NotebookNode) -> dict[str, int]:
    """Each top-level name a code cell binds → the first cell (0-based) that binds it."""
    first: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") == "code":
            for name in bound_names(cell.get("source", "")):
                first.setdefault(name, i)
    return first


def question_row(nb: NotebookNode, test: TestCell, outcomes: Mapping[int, Outcome], *,
                 live: bool = False, defined: Mapping[str, int] | None = None) -> QuestionRow:
    outcome = outcomes.get(test.index, Outcome(ran=False))

    def row(status: RowStatus, message: str = "") -> QuestionRow:
        return QuestionRow(test.grade_id, status, message, test.index + 1, test.points)

    if outcome.timed_out:
        return row(RowStatus.TIMEOUT, "the cell ran out of time")
    if not outcome.ran:
        return row(RowStatus.NOT_RUN, "not run: the kernel stopped earlier")
    if outcome.error is None:
        return row(RowStatus.PASSED)
    ename, evalue = outcome.error
    stubs = [i for i in test.block if STUB in nb.cells[i].get("source", "")
             and nb.cells[i].get("cell_type") == "code"]
    if ename == "NotImplementedError" or stubs:
        where = f"cell {stubs[0] + 1}" if stubs else "the answer"
        return row(RowStatus.NOT_ATTEMPTED, f"{where} still raises NotImplementedError")
    message = _message(ename, evalue)
    name = undefined_name(outcome.error)
    defined = definitions(nb) if defined is None else defined
    home = defined.get(name) if name else None
    if name and home is None:
        return row(RowStatus.FAILED, f"{message}: no cell of this notebook defines {name!r} "
                                     "(renamed?)")
    if name and home is not None and home > test.index:
        return row(RowStatus.FAILED, f"{message}: cell {home + 1} defines it, after this test: "
                                     "move it above")
    if name and home is not None and live:
        return row(RowStatus.RUN_FIRST, f"{name!r} is not defined in this kernel yet "
                                        f"(cell {home + 1} defines it)")
    broken = [i for i in test.block if outcomes.get(i, Outcome()).error is not None]
    if home is not None and home not in test.block and outcomes.get(home, Outcome()).error:
        broken.insert(0, home)  # the cell that should have defined the name failed
    if broken:
        first = outcomes[broken[0]]
        why = "ran out of time" if first.timed_out else f"failed: {first.error[0]}"  # type: ignore[index]
        where = " above" if broken[0] in test.block else f", which defines {name!r},"
        message += f" (cell {broken[0] + 1}{where} {why})"
    return row(RowStatus.FAILED, message)


def summarise(nb: NotebookNode, outcomes: Mapping[int, Outcome], *, notebook: str,
              manifest: Manifest | None = None, live: bool = False) -> CheckSummary:
    """The whole report from a notebook and what running its cells gave."""
    manifest = manifest or manifest_of(nb)
    tests, missing = find_test_cells(nb, manifest)
    defined = definitions(nb)
    rows = [question_row(nb, test, outcomes, live=live, defined=defined) for test in tests]
    order = {e.grade_id: n for n, e in enumerate(manifest.tests)}
    rows += [QuestionRow(e.grade_id, RowStatus.MISSING, "test cell deleted or changed: copy it "
                         "back from the released notebook", None, e.points) for e in missing]
    rows.sort(key=lambda r: order.get(r.grade_id, len(order)))
    team, problems, notes = team_problems(nb, manifest.team_size)
    waiting = [r for r in rows if r.status == RowStatus.RUN_FIRST]
    if waiting:
        problems.insert(0, f"this kernel has not run every cell ({waiting[0].message}): {RUN_ALL}")
    if manifest.guessed:
        notes.append("this notebook lost its metadata (saved by Colab or another editor?): "
                     "tests were taken to be the cells with assert statements; check against "
                     "the released notebook (--release) to spot deleted or edited cells")
    else:
        findings = instructor_cell_problems(nb, manifest)
        problems += findings.problems
        notes += findings.notes
        rows = [QuestionRow(r.grade_id, RowStatus.CHANGED, "this test was edited: the grader runs "
                            "the released one; copy it back from the released notebook", r.cell,
                            r.points) if r.grade_id in findings.changed_tests else r
                for r in rows]
    if not manifest.tests:
        problems.append("no test cells found: is this the homework notebook? If your editor "
                        "dropped its metadata, pass the released notebook with --release")
    elif not manifest.stored and not manifest.guessed:
        notes.append("this notebook has no release manifest: deleted cells cannot be seen")
    return CheckSummary(notebook, manifest.assignment, rows, team, problems, notes)
