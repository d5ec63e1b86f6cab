"""Authoring rules of a source notebook, checked before anything is released or graded."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .autotest import directive
from .config import Assignment
from .errors import AuthoringError
from .notebook import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    GRADED_ROLES,
    NBGRADER_ROLES,
    RUN_CELL_MAGICS,
    Role,
    cell_magic,
    cells_of,
    grade_id_clashes,
    strip_magics,
    total_points,
)

# nbgrader's preprocessors treat any line *containing* these words as a marker, so we look for
# them the same way, then insist on the exact spelling our own parser (notebook.split_hidden)
# reads: a line nbgrader acts on but we do not would make the two disagree silently.
MARKER_WORDS = {
    "BEGIN SOLUTION": ("solution", "begin", BEGIN_SOLUTION),
    "END SOLUTION": ("solution", "end", END_SOLUTION),
    "BEGIN HIDDEN TESTS": ("hidden", "begin", BEGIN_HIDDEN),
    "END HIDDEN TESTS": ("hidden", "end", END_HIDDEN),
}
BLOCK_NAME = {"solution": "solution", "hidden": "hidden-tests"}
GRADE_ID_RE = re.compile(r"^[A-Za-z0-9_\-]+$")
CHECK_DEFAULT_POINTS = 1.0  # scoring.Checks: `check(name)` without points is worth one point
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Problem:
    """One broken authoring rule: where it is and how to fix it."""

    code: str  # stable name, also the name of its example in tests/data/authoring/
    cell: int | None  # 1-based
    message: str
    hint: str

    def __str__(self) -> str:
        where = f"cell {self.cell}: " if self.cell is not None else ""
        return f"{where}{self.message} (fix: {self.hint})"


def _marker(line: str) -> tuple[str, str, str] | None:
    for word, kind in MARKER_WORDS.items():
        if word in line:
            return kind
    return None


def _marker_problems(number: int, source: str) -> tuple[list[Problem], set[str]]:
    """Balance and placement of the markers of one cell; also which blocks it holds."""
    problems: list[Problem] = []
    blocks: set[str] = set()
    open_block: str | None = None
    for line in source.splitlines():
        found = _marker(line)
        if found is None:
            continue
        block, edge, spelling = found
        blocks.add(block)
        if line.strip() != spelling:
            problems.append(Problem(
                "marker_not_alone", number,
                f"the marker line {line.strip()!r} is not exactly {spelling!r}",
                f"write {spelling!r} alone on its line (indentation is fine)",
            ))
        if edge == "begin":
            if open_block is not None:
                problems.append(Problem(
                    "nested_markers", number,
                    f"a {BLOCK_NAME[block]} block begins inside a {BLOCK_NAME[open_block]} block",
                    f"close the {BLOCK_NAME[open_block]} block before opening another",
                ))
                continue
            open_block = block
        else:
            if open_block != block:
                problems.append(Problem(
                    "end_before_begin", number,
                    f"{spelling!r} without a {BLOCK_NAME[block]} block open",
                    "put the matching BEGIN line before it, or delete it",
                ))
                continue
            open_block = None
    if open_block is not None:
        end = END_SOLUTION if open_block == "solution" else END_HIDDEN
        problems.append(Problem(
            "begin_without_end", number,
            f"a {BLOCK_NAME[open_block]} block is never closed",
            f"add {end!r} where the block ends",
        ))
    return problems, blocks


def find_problems(nb: nbformat.NotebookNode) -> list[Problem]:
    """Every broken authoring rule of a source notebook, in cell order; empty when it is fine."""
    problems: list[Problem] = []
    team_cells: list[int] = []
    cells = cells_of(nb)
    clashes = grade_id_clashes(cells)
    for cell in cells:
        meta = nb.cells[cell.index].get("metadata", {}).get("nbgrader", {})
        marker_problems, blocks = _marker_problems(cell.number, cell.source)
        problems += marker_problems
        if cell.role is Role.TEAM:
            team_cells.append(cell.number)

        if "solution" in blocks:
            if cell.role in (Role.LOCKED, Role.TESTS):
                kind = "read-only" if cell.role is Role.LOCKED else "autograder tests"
                problems.append(Problem(
                    f"solution_in_{cell.role.value}_cell", cell.number,
                    f"a solution block in a {kind} cell would be shipped to students as is",
                    "move the solution into an answer cell (nbgrader type 'Autograded answer')",
                ))
            elif cell.role not in (Role.ANSWER, Role.WRITTEN):
                problems.append(Problem(
                    "solution_outside_solution_cell", cell.number,
                    "a solution block in a cell that is not marked as a solution",
                    "mark the cell 'Autograded answer' (or 'Manually graded answer') "
                    "in the Create Assignment toolbar",
                ))
        if "hidden" in blocks and cell.role is not Role.TESTS:
            problems.append(Problem(
                "hidden_tests_outside_tests_cell", cell.number,
                "a hidden-tests block outside an autograder tests cell",
                "move it into an 'Autograder tests' cell (grade=true, solution=false)",
            ))

        problems += _code_problems(cell, blocks)
        if cell.role not in NBGRADER_ROLES:
            continue
        grade_id = meta.get("grade_id")
        if not grade_id:
            problems.append(Problem(
                "missing_grade_id", cell.number,
                f"{cell.role.value} cell without a grade_id",
                "give the cell a unique ID in the Create Assignment toolbar",
            ))
        elif not isinstance(grade_id, str) or not GRADE_ID_RE.match(grade_id):
            problems.append(Problem(
                "bad_grade_id", cell.number,
                f"grade_id {grade_id!r} is not made of letters, digits, '_' and '-'",
                "rename it, e.g. 'q1_polynomial_features'",
            ))
        elif cell.index in clashes:
            problems.append(Problem(
                "duplicate_grade_id", cell.number,
                f"grade_id {grade_id!r} is already used by cell {clashes[cell.index].number}",
                "give each cell its own ID",
            ))
        if cell.role in GRADED_ROLES and not _points(meta.get("points")):
            problems.append(Problem(
                f"{cell.role.value}_cell_without_points", cell.number,
                f"{cell.role.value} cell {grade_id!r} has no points "
                f"(got {meta.get('points')!r}): it could never be graded",
                "set its points (a number >= 0; 0 for a check worth nothing) in the Create "
                "Assignment toolbar",
            ))
        if cell.role is Role.TASK and cell.cell_type != "markdown":
            problems.append(Problem(
                "task_cell_not_markdown", cell.number,
                f"task cell {grade_id!r} is a {cell.cell_type} cell",
                "a task is a markdown statement graded by hand: make it a markdown cell, or "
                "make a code cell a 'Manually graded answer'",
            ))
    if len(team_cells) > 1:
        problems.append(Problem(
            "several_team_cells", team_cells[1],
            f"cells {', '.join(map(str, team_cells))} are all team cells",
            "keep one cell with TEAM = [...]; the release puts it first",
        ))
    return problems


def _points(points: object) -> bool:
    """A cell's points as nbgrader accepts them: a number (or numeric text) >= 0."""
    if isinstance(points, bool):
        return False
    try:
        return float(points) >= 0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _code_problems(cell, blocks: set[str]) -> list[Problem]:
    """What only reading the code finds: syntax errors, misplaced autotests, check points."""
    if cell.cell_type != "code":
        return []
    problems = _autotest_problems(cell)
    if cell.role not in (Role.TESTS, Role.ANSWER):
        return problems
    kind = "test" if cell.role is Role.TESTS else "answer"
    magic = cell_magic(cell.source)
    if cell.role is Role.TESTS and magic is not None and magic not in RUN_CELL_MAGICS:
        # nbgrader runs it in the kernel; our judge runs tests as Python and would check nothing.
        return [*problems, Problem(
            "test_cell_magic", cell.number,
            f"the test cell is a %%{magic} cell: tests run in the grader's judge as Python, "
            "where its body would not run, so it would check nothing",
            "write the test in Python (a %%time, %%timeit or %%capture cell is fine; %time and "
            "%timeit lines run their statement)",
        )]
    try:
        tree = ast.parse(strip_magics(cell.source))
    except SyntaxError as exc:
        what = "hidden tests included" if kind == "test" else "the solution"
        return [*problems, Problem(
            f"{kind}_cell_syntax_error", cell.number,
            f"line {exc.lineno}: {exc.msg} ({(exc.text or '').strip()[:80]!r})",
            f"fix the code ({what}): it could never run",
        )]
    if cell.role is Role.TESTS:
        problems += _check_points_problems(cell, tree)
    elif "solution" not in blocks:
        defined = [n.name for n in tree.body
                   if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
        if defined:
            problems.append(Problem(
                "answer_without_markers", cell.number,
                f"answer cell {cell.grade_id!r} has no {BEGIN_SOLUTION!r} / {END_SOLUTION!r} "
                f"markers: students would get a bare stub, without the signature of "
                f"{defined[0]}",
                f"put the markers around the body of {defined[0]} so students keep its "
                "signature and docstring (or around the whole cell to release it empty on "
                "purpose)",
            ))
    return problems


def _autotest_problems(cell) -> list[Problem]:
    problems = []
    for number, line in enumerate(cell.source.splitlines(), start=1):
        found = directive(line)
        if found is None:
            continue
        if cell.role is not Role.TESTS:
            problems.append(Problem(
                "autotest_outside_tests_cell", cell.number,
                f"line {number}: {line.strip()!r} is an AUTOTEST directive outside an "
                "autograder tests cell",
                "move it into an 'Autograder tests' cell (grade=true, solution=false)",
            ))
            continue
        if not found.snippets:
            problems.append(Problem(
                "bad_autotest", cell.number, f"line {number}: {line.strip()!r} names nothing to test",
                "write the expressions to test after it, e.g. '### AUTOTEST squares(3); "
                "squares(4)'",
            ))
        for snippet in found.snippets:
            try:
                compile(snippet, f"cell {cell.number}", "eval")
            except SyntaxError as exc:
                problems.append(Problem(
                    "bad_autotest", cell.number,
                    f"line {number}: {snippet!r} is not a Python expression ({exc.msg})",
                    "write one expression per test, separated by ';'",
                ))
    return problems


def _literal_points(call: ast.Call) -> float | None:
    """The points of `check(name, points=...)` when written as a number; None otherwise."""
    node = next((k.value for k in call.keywords if k.arg == "points"),
                call.args[1] if len(call.args) > 1 else None)
    if node is None:
        return CHECK_DEFAULT_POINTS
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


# Where a `check(...)` surely runs once if its parent does: the cell's straight path. Loops,
# branches, functions, comprehensions and except clauses may run it any number of times.
_STRAIGHT = {
    ast.Module: ("body",), ast.Expr: ("value",), ast.Assign: ("value",),
    ast.AnnAssign: ("value",), ast.With: ("items", "body"), ast.AsyncWith: ("items", "body"),
    ast.withitem: ("context_expr",), ast.Try: ("body", "finalbody"),
}


def _check_calls(tree: ast.Module) -> list[tuple[ast.Call, bool]]:
    """Every `check(...)` call of a test cell, and whether it surely runs exactly once."""
    found: list[tuple[ast.Call, bool]] = []

    def visit(node: ast.AST, once: bool) -> None:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "check":
            found.append((node, once))
        straight = _STRAIGHT.get(type(node), ())
        for name, value in ast.iter_fields(node):
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    visit(child, once and name in straight)

    visit(tree, True)
    return found


def _check_points_problems(cell, tree: ast.Module) -> list[Problem]:
    """Checks worth more than their cell: the judge could give more than the cell's points."""
    if cell.points < 0:
        return []  # reported as points that are not points
    calls = [(call, once, _literal_points(call)) for call, once in _check_calls(tree)]
    problems = []
    for call, _, points in calls:
        if points is not None and points > cell.points + TOLERANCE:
            problems.append(Problem(
                "check_points_over_cell", cell.number,
                f"line {call.lineno}: a check worth {points:g} points in test cell "
                f"{cell.grade_id!r}, which is worth {cell.points:g}",
                f"raise the cell's points to at least {points:g} in the Create Assignment "
                "toolbar, or lower the check's points",
            ))
    sure = [(call, points) for call, once, points in calls if once and points is not None]
    total = sum(points for _, points in sure)
    if not problems and sure and total > cell.points + TOLERANCE:
        lines = ", ".join(str(call.lineno) for call, _ in sure)
        problems.append(Problem(
            "check_points_over_cell", cell.number,
            f"the checks of test cell {cell.grade_id!r} (lines {lines}) are worth {total:g} "
            f"points together, but the cell is worth {cell.points:g}",
            f"raise the cell's points to {total:g} in the Create Assignment toolbar, or lower "
            "the checks' points",
        ))
    return problems


def validate_source(nb: nbformat.NotebookNode, path: Path | str) -> None:
    """Raise one AuthoringError listing every problem of the source notebook `path`."""
    problems = find_problems(nb)
    if not problems:
        return
    if len(problems) == 1:
        only = problems[0]
        raise AuthoringError(only.message, path=path, cell=only.cell, hint=only.hint,
                             problems=problems)
    listing = "\n".join(f"  - {p}" for p in problems)
    raise AuthoringError(f"{len(problems)} authoring problems:\n{listing}", path=path,
                         hint="fix them in the source notebook, then release again",
                         problems=problems)


def expected_total(assignment: Assignment) -> float:
    """The points the notebook's cells must add up to: notebook_points, else points."""
    if assignment.notebook_points is not None:
        return assignment.notebook_points
    return assignment.points


def check_total(nb: nbformat.NotebookNode, *, course_path: Path, assignment: Assignment) -> None:
    """Stop when the notebook's points (automatic + by hand) are not what course.toml says."""
    auto, manual = total_points(cells_of(nb))
    total, expected = auto + manual, expected_total(assignment)
    if abs(total - expected) <= TOLERANCE:
        return
    where = f"[assignments.{assignment.name}] of {Path(course_path).name}"
    parts = f"{auto:g} automatic + {manual:g} by hand"
    if assignment.notebook_points is None:
        message = (f"{assignment.notebook.name} is worth {total:g} points ({parts}) but "
                   f"{where} says points = {assignment.points:g}")
        hint = (f"make the cells' points add up to {assignment.points:g}, or keep them and add "
                f"notebook_points = {total:g} to {where}: grades are then scaled from "
                f"{total:g} to {assignment.points:g}")
    else:
        message = (f"{assignment.notebook.name} is worth {total:g} points ({parts}) but "
                   f"{where} says notebook_points = {assignment.notebook_points:g}")
        hint = f"set notebook_points = {total:g}, or change the cells' points"
    raise AuthoringError(message, path=assignment.notebook, hint=hint)
