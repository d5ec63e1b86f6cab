"""Students' own check: run a notebook's visible tests and say, per question, where it stands.

Two ways in. From a shell, `autograder check NOTEBOOK` runs the whole notebook in a fresh local
kernel (nbclient), as "Restart and run all" would. From inside a running notebook (Jupyter,
VS Code, Google Colab), `from autograder.student import check; check()` reads the notebook's
content and runs each visible test cell in the kernel's own namespace. This is feedback on the
student's own machine, not a grade: the grader runs the hidden tests in a sandbox.

What is decided here (which cells are tests, each question's status, the team cell, whether an
instructor cell was altered or deleted) is pure and works on notebooks and per-cell outcomes,
so it is tested without kernels. The release stores a manifest of its instructor cells
(grade_id, fingerprint of the visible source, nbgrader checksum) in the notebook's metadata:
with it, test cells are found again even where an editor dropped the cells' metadata.
"""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from .errors import AutograderError, SubmissionError
from .notebook import (
    Role,
    cells_of,
    fingerprint,
    read_notebook,
    read_team,
    role_of,
    split_hidden,
    strip_magics,
)
from .results import CELL_TIMEOUT, FAILED, NOT_ATTEMPTED, PASSED

MISSING, NOT_RUN = "missing", "not_run"
STUB = "raise NotImplementedError"
TIMEOUT_ENAME = "CellTimeout"  # our marker for nbclient's timeout reply
DEFAULT_TEAM_SIZE = 2
LABELS = {
    PASSED: "passed",
    FAILED: "failed",
    NOT_ATTEMPTED: "not attempted",
    MISSING: "missing",
    CELL_TIMEOUT: "timed out",
    NOT_RUN: "not run",
}


# --- what the release says the notebook holds -------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """An instructor cell as released."""

    grade_id: str
    role: str  # "tests" | "locked"
    cell_type: str
    fingerprint: str
    checksum: str | None
    points: float = 0.0


@dataclass(frozen=True)
class Manifest:
    assignment: str | None
    team_size: int
    cells: tuple[Expected, ...]
    stored: bool  # False: rebuilt from the cells' own metadata (deletions cannot be seen)
    guessed: bool = False  # no metadata at all: tests guessed from their assert statements

    @property
    def tests(self) -> list[Expected]:
        return [e for e in self.cells if e.role == Role.TESTS.value]


def manifest_of(nb: nbformat.NotebookNode) -> Manifest:
    """The release's manifest, or one rebuilt from the cells' nbgrader metadata if it has none."""
    stored = nb.get("metadata", {}).get("autograder")
    if isinstance(stored, Mapping) and isinstance(stored.get("cells"), list):
        cells = []
        for entry in stored["cells"]:
            try:
                cells.append(Expected(
                    grade_id=str(entry["grade_id"]), role=str(entry["role"]),
                    cell_type=str(entry.get("cell_type", "code")),
                    fingerprint=str(entry["fingerprint"]), checksum=entry.get("checksum"),
                    points=float(entry.get("points", 0) or 0),
                ))
            except (KeyError, TypeError, ValueError):
                continue  # a damaged entry: check what can still be checked
        team_size = stored.get("team_size", DEFAULT_TEAM_SIZE)
        if not isinstance(team_size, int) or team_size < 1:
            team_size = DEFAULT_TEAM_SIZE
        return Manifest(stored.get("assignment"), team_size, tuple(cells), stored=True)
    cells = []
    for cell in cells_of(nb):
        if cell.is_instructor and cell.grade_id:
            meta = nb.cells[cell.index].metadata.get("nbgrader", {})
            cells.append(Expected(cell.grade_id, cell.role.value, cell.cell_type,
                                  fingerprint(split_hidden(cell.source)[0]),
                                  meta.get("checksum"), cell.points))
    if cells:
        return Manifest(None, DEFAULT_TEAM_SIZE, tuple(cells), stored=False)
    # Some editors (Colab) replace the notebook's metadata as well as the cells': still give
    # per-question feedback, taking as tests the code cells that assert something.
    guesses = tuple(
        Expected(f"cell {cell.number}", Role.TESTS.value, "code", fingerprint(cell.source), None)
        for cell in cells_of(nb) if cell.cell_type == "code" and _asserts(cell.source)
    )
    return Manifest(None, DEFAULT_TEAM_SIZE, guesses, stored=False, guessed=True)


def _asserts(source: str) -> bool:
    try:
        tree = ast.parse(strip_magics(source))
    except SyntaxError:
        return False
    return any(isinstance(node, ast.Assert) for node in tree.body)


def _locate(nb: nbformat.NotebookNode, expected: Expected, taken: set[int]) -> tuple[int, bool]:
    """(cell index, found by grade_id) of an instructor cell in the student's notebook; -1 if
    neither its grade_id nor the fingerprint of its visible source is anywhere."""
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if i not in taken and meta.get("grade_id") == expected.grade_id:
            return i, True
    for i, cell in enumerate(nb.cells):
        if i not in taken and cell.get("cell_type") == expected.cell_type \
                and fingerprint(split_hidden(cell.get("source", ""))[0]) == expected.fingerprint:
            return i, False
    return -1, False


# --- which cells are the tests, and were instructor cells touched -----------------------------


@dataclass(frozen=True)
class TestCell:
    """A visible test cell found in the student's notebook."""

    grade_id: str
    index: int  # 0-based, in the student's notebook
    source: str
    points: float
    block: tuple[int, ...] = ()  # the cells since the previous test cell: the answers it tests


def find_test_cells(nb: nbformat.NotebookNode,
                    manifest: Manifest) -> tuple[list[TestCell], list[Expected]]:
    """(the test cells found, in notebook order; the expected ones not found)."""
    found, missing, taken = [], [], set()
    for expected in manifest.tests:
        index, _ = _locate(nb, expected, taken)
        if index < 0:
            missing.append(expected)
            continue
        taken.add(index)
        found.append((index, expected))
    found.sort()
    tests, previous = [], -1
    for index, expected in found:
        tests.append(TestCell(expected.grade_id, index, nb.cells[index].source, expected.points,
                              tuple(range(previous + 1, index))))
        previous = index
    return tests, missing


def instructor_cell_problems(nb: nbformat.NotebookNode,
                             manifest: Manifest) -> tuple[list[str], list[str]]:
    """(problems, notes): instructor cells altered or deleted. The grader always uses the
    originals, so a changed test or setup cell means the student's run differs from the grader's."""
    from nbgrader.utils import compute_checksum

    problems, notes, taken = [], [], set()
    for expected in manifest.cells:
        index, by_id = _locate(nb, expected, taken)
        what = "test cell" if expected.role == Role.TESTS.value else f"read-only {expected.cell_type} cell"
        report = problems if expected.cell_type == "code" else notes  # prose matters less
        if index < 0:
            report.append(f"the {what} {expected.grade_id!r} was deleted or changed: copy it back "
                          f"from the released notebook (the grader uses the original)")
            continue
        taken.add(index)
        if not by_id:
            continue  # found by its content: unchanged up to comments and blank lines
        cell = nb.cells[index]
        stored = expected.checksum or cell.metadata.get("nbgrader", {}).get("checksum")
        if not stored:
            continue
        try:
            now = compute_checksum(cell)
        except (KeyError, TypeError, ValueError):
            now = None  # its nbgrader metadata is damaged: as good as changed
        if now != stored:
            report.append(f"cell {index + 1} ({expected.grade_id}) was changed: undo the change "
                          f"or copy it back from the released notebook (the grader uses the "
                          f"original)")
    return problems, notes


def team_problems(nb: nbformat.NotebookNode,
                  team_size: int) -> tuple[list[str] | None, list[str], list[str]]:
    """(team ids or None, problems, notes) of the notebook's team cell."""
    team_cells = [i for i, cell in enumerate(nb.cells) if role_of(cell) is Role.TEAM]
    if not team_cells:
        return None, ["no team cell: add a code cell TEAM = [\"<id>\", \"<id>\"] with your "
                      "student ids at the top"], []
    if len(team_cells) > 1:
        numbers = ", ".join(str(i + 1) for i in team_cells)
        return None, [f"cells {numbers} all set TEAM: keep only one team cell"], []
    number = team_cells[0] + 1
    team = read_team(nb.cells[team_cells[0]].source)
    if team is None:
        return None, [f"cell {number}: write TEAM as a list of student ids in quotes, e.g. "
                      f"TEAM = [\"21901234\", \"21905678\"]"], []
    problems, notes = [], []
    if not team:
        problems.append(f"cell {number}: TEAM is empty: fill in your student ids")
    elif len(set(team)) != len(team):
        problems.append(f"cell {number}: the same id appears twice in TEAM")
    elif len(team) > team_size:
        problems.append(f"cell {number}: TEAM has {len(team)} ids; teams have at most {team_size}")
    elif len(team) < team_size:
        notes.append(f"TEAM has {len(team)} id(s) of {team_size}: add your partner's id, unless "
                     f"you were allowed to work alone")
    return team, problems, notes


# --- statuses ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What running one cell gave."""

    error: tuple[str, str] | None = None  # (exception name, message)
    ran: bool = True
    timed_out: bool = False


@dataclass(frozen=True)
class QuestionRow:
    grade_id: str
    status: str  # passed | failed | not_attempted | missing | timeout | not_run
    message: str = ""
    cell: int | None = None  # 1-based position in the student's notebook
    points: float = 0.0


@dataclass
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
        return bool(self.questions) and all(q.status == PASSED for q in self.questions)

    @property
    def ok(self) -> bool:
        """Ready to submit, as far as a student's own machine can tell."""
        return self.passed and not self.problems

    def count(self, status: str) -> int:
        return sum(q.status == status for q in self.questions)


def _message(ename: str, evalue: str) -> str:
    if ename == "AssertionError":
        return evalue or "an assertion failed"
    return f"{ename}: {evalue}" if evalue else ename


def question_row(nb: nbformat.NotebookNode, test: TestCell,
                 outcomes: Mapping[int, Outcome]) -> QuestionRow:
    outcome = outcomes.get(test.index, Outcome(ran=False))
    row = dict(grade_id=test.grade_id, cell=test.index + 1, points=test.points)
    if outcome.timed_out:
        return QuestionRow(status=CELL_TIMEOUT, message="the cell ran out of time", **row)
    if not outcome.ran:
        return QuestionRow(status=NOT_RUN, message="not run: the kernel stopped earlier", **row)
    if outcome.error is None:
        return QuestionRow(status=PASSED, **row)
    ename, evalue = outcome.error
    stubs = [i for i in test.block if STUB in nb.cells[i].get("source", "")
             and nb.cells[i].get("cell_type") == "code"]
    if ename == "NotImplementedError" or stubs:
        where = f"cell {stubs[0] + 1}" if stubs else "the answer"
        return QuestionRow(status=NOT_ATTEMPTED,
                           message=f"{where} still raises NotImplementedError", **row)
    message = _message(ename, evalue)
    broken = [i for i in test.block if outcomes.get(i, Outcome()).error is not None]
    if broken:
        first = outcomes[broken[0]]
        why = "ran out of time" if first.timed_out else f"failed: {first.error[0]}"  # type: ignore[index]
        message += f" (cell {broken[0] + 1} above {why})"
    return QuestionRow(status=FAILED, message=message, **row)


def summarise(nb: nbformat.NotebookNode, outcomes: Mapping[int, Outcome], *, notebook: str,
              manifest: Manifest | None = None) -> CheckSummary:
    """The whole report from a notebook and what running its cells gave. Pure."""
    manifest = manifest or manifest_of(nb)
    tests, missing = find_test_cells(nb, manifest)
    rows = [question_row(nb, test, outcomes) for test in tests]
    order = {e.grade_id: n for n, e in enumerate(manifest.tests)}
    rows += [QuestionRow(e.grade_id, MISSING, "test cell deleted or changed: copy it back from "
                         "the released notebook", None, e.points) for e in missing]
    rows.sort(key=lambda r: order.get(r.grade_id, len(order)))
    team, problems, notes = team_problems(nb, manifest.team_size)
    if manifest.guessed:
        notes.append("this notebook lost its metadata (saved by Colab or another editor?): "
                     "tests were taken to be the cells with assert statements; check against "
                     "the released notebook (--release) to spot deleted or edited cells")
    else:
        cell_problems, cell_notes = instructor_cell_problems(nb, manifest)
        problems += cell_problems
        notes += cell_notes
    if not manifest.tests:
        problems.append("no test cells found: is this the homework notebook? If your editor "
                        "dropped its metadata, pass the released notebook with --release")
    elif not manifest.stored and not manifest.guessed:
        notes.append("this notebook has no release manifest: deleted cells cannot be seen")
    return CheckSummary(notebook, manifest.assignment, rows, team, problems, notes)


# --- running the cells ------------------------------------------------------------------------


def execute_notebook(nb: nbformat.NotebookNode, *, timeout: float,
                     cwd: Path) -> dict[int, Outcome]:
    """Run every cell in a fresh local kernel, errors allowed; the outcome of each code cell."""
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    replies: dict[int, dict[str, Any]] = {}

    def record(cell: Any, cell_index: int, execute_reply: dict[str, Any], **_: Any) -> None:
        replies[cell_index] = execute_reply.get("content", {})

    client = NotebookClient(
        nb, timeout=int(max(1, timeout)), allow_errors=True, kernel_name="python3",
        interrupt_on_timeout=True,
        error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": f"over {timeout:g} s",
                          "traceback": []},
        resources={"metadata": {"path": str(cwd)}}, on_cell_executed=record,
    )
    try:
        # The kernel's own stderr is start-up chatter; what the cells print comes over iopub.
        client.execute(stderr=subprocess.DEVNULL)
    except DeadKernelError:
        pass  # the cells after it did not run: their outcome says so
    outcomes = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        content = replies.get(i)
        if content is None:
            outcomes[i] = Outcome(ran=False)
        elif content.get("status") == "error":
            ename = str(content.get("ename", "Error"))
            outcomes[i] = Outcome(error=(ename, str(content.get("evalue", ""))),
                                  timed_out=ename == TIMEOUT_ENAME)
        else:
            outcomes[i] = Outcome()
    return outcomes


def run_in_namespace(tests: list[TestCell], namespace: dict[str, Any],
                     shell: Any = None) -> dict[int, Outcome]:
    """Run test cells' sources in a live namespace (the student's kernel), one at a time,
    catching what each raises. `shell` (IPython) turns magics into Python first."""
    outcomes = {}
    for test in tests:
        try:
            source = shell.transform_cell(test.source) if shell is not None else test.source
            exec(compile(source, f"<test cell {test.index + 1}>", "exec"), namespace)
        except Exception as exc:  # the student's code may raise anything
            outcomes[test.index] = Outcome(error=(type(exc).__name__, str(exc)))
        else:
            outcomes[test.index] = Outcome()
    return outcomes


# --- entry points -----------------------------------------------------------------------------


def _release_manifest(release: Path | str | None) -> Manifest | None:
    return manifest_of(read_notebook(release)) if release is not None else None


def check_notebook(path: Path | str, *, timeout: float = 120.0,
                   release: Path | str | None = None) -> CheckSummary:
    """Run the notebook at `path` in a fresh kernel and report per question (CLI entry point)."""
    path = Path(path)
    nb = read_notebook(path)
    manifest = _release_manifest(release) or manifest_of(nb)
    run = nbformat.from_dict(json.loads(json.dumps(nb)))  # executed copy; `nb` stays as saved
    outcomes = execute_notebook(run, timeout=timeout, cwd=path.resolve().parent)
    return summarise(nb, outcomes, notebook=path.name, manifest=manifest)


def notebook_path_from(user_ns: Mapping[str, Any], environ: Mapping[str, str],
                       cwd: Path) -> Path | None:
    """The running notebook's file, from what VS Code and Jupyter leave in the kernel."""
    for value in (user_ns.get("__vsc_ipynb_file__"), user_ns.get("__session__"),
                  environ.get("JPY_SESSION_NAME")):
        if not isinstance(value, str) or not value.endswith(".ipynb"):
            continue
        path = Path(value)
        for candidate in (path if path.is_absolute() else cwd / path, cwd / path.name):
            if candidate.is_file():
                return candidate
    return None


def _colab_notebook() -> nbformat.NotebookNode | None:
    try:
        from google.colab import _message  # type: ignore[import-not-found]
    except ImportError:
        return None
    reply = _message.blocking_request("get_ipynb", request="", timeout_sec=60)
    if not reply or "ipynb" not in reply:
        return None
    return nbformat.reads(json.dumps(reply["ipynb"]), as_version=4)


def check(notebook: Path | str | None = None, *, timeout: float = 120.0,
          release: Path | str | None = None) -> CheckSummary:
    """Check a notebook and print the report; returns it too.

    In a running notebook: `check()` runs the visible tests in this kernel, on the answers as
    they are now in memory (run your cells first). Elsewhere: `check("hw1_features.ipynb")`
    runs the whole notebook in a fresh kernel.
    """
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is None or not hasattr(shell, "user_ns"):
        if notebook is None:
            raise AutograderError("which notebook? call check('path/to/notebook.ipynb')")
        summary = check_notebook(notebook, timeout=timeout, release=release)
    else:
        summary = _check_here(shell, notebook, release)
    print(render_summary(summary, rich=sys.stdout.isatty()))
    return summary


def _check_here(shell: Any, notebook: Path | str | None,
                release: Path | str | None) -> CheckSummary:
    note = ""
    if notebook is not None:
        nb, name = read_notebook(notebook), Path(notebook).name
    elif (colab := _colab_notebook()) is not None:
        nb, name = colab, "this notebook"
    else:
        path = notebook_path_from(shell.user_ns, os.environ, Path.cwd())
        if path is None:
            raise SubmissionError(
                "cannot tell which file this notebook is",
                hint="pass its path: check('hw1_features.ipynb'), in this notebook's folder",
            )
        nb, name = read_notebook(path), path.name
        note = f"read {path.name} as last saved: save it (Ctrl+S) so the team cell is current"
    manifest = _release_manifest(release) or manifest_of(nb)
    tests, _ = find_test_cells(nb, manifest)
    outcomes = run_in_namespace(tests, shell.user_ns, shell)
    summary = summarise(nb, outcomes, notebook=name, manifest=manifest)
    if note:
        summary.notes.append(note)
    return summary


# --- report -----------------------------------------------------------------------------------


def _headline(summary: CheckSummary) -> str:
    total = len(summary.questions)
    passed = summary.count(PASSED)
    text = f"{passed}/{total} visible tests pass"
    if summary.count(NOT_ATTEMPTED):
        text += f", {summary.count(NOT_ATTEMPTED)} not attempted"
    return text + (". Ready to submit." if summary.ok else ".")


def render_summary(summary: CheckSummary, *, rich: bool = False) -> str:
    """The report as text: a rich table (for a terminal) or plain aligned columns."""
    team = ", ".join(summary.team) if summary.team else "(not filled)"
    head = f"{summary.notebook}" + (f" ({summary.assignment})" if summary.assignment else "")
    lines_after = [f"problem: {p}" for p in summary.problems]
    lines_after += [f"note: {n}" for n in summary.notes]
    lines_after.append(_headline(summary))
    lines_after.append("Visible tests are feedback only: the grade comes from hidden tests too.")
    if rich:
        return _render_rich(summary, head, team, lines_after)
    rows = [(q.grade_id, LABELS.get(q.status, q.status), "" if q.cell is None else str(q.cell),
             q.message) for q in summary.questions]
    header = ("question", "status", "cell", "message")
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(3)]
    out = [head, f"team: {team}", ""]
    for r in [header, *rows]:
        out.append("  ".join(r[k].ljust(widths[k]) for k in range(3)) + "  " + r[3])
    out.append("")
    return "\n".join(out + lines_after).rstrip() + "\n"


def _render_rich(summary: CheckSummary, head: str, team: str, lines_after: list[str]) -> str:
    from rich.console import Console
    from rich.table import Table

    colours = {PASSED: "green", FAILED: "red", NOT_ATTEMPTED: "yellow", MISSING: "magenta",
               CELL_TIMEOUT: "red", NOT_RUN: "dim"}
    table = Table(title=head, caption=f"team: {team}")
    for name in ("question", "status", "cell", "message"):
        table.add_column(name, overflow="fold")
    for q in summary.questions:
        colour = colours.get(q.status, "")
        table.add_row(q.grade_id, f"[{colour}]{LABELS.get(q.status, q.status)}[/]",
                      "" if q.cell is None else str(q.cell), q.message)
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=min(120, _width()))
    console.print(table)
    for line in lines_after:
        style = "red" if line.startswith("problem:") else ""
        console.print(line, style=style, markup=False, highlight=False)
    return buffer.getvalue()


def _width() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 100
