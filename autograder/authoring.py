"""Authoring rules of a source notebook, checked before anything is released or graded."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .errors import AuthoringError
from .notebook import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    Role,
    cells_of,
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
NBGRADER_ROLES = (Role.ANSWER, Role.TESTS, Role.WRITTEN, Role.LOCKED)


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
    seen_ids: dict[str, int] = {}
    team_cells: list[int] = []
    for cell in cells_of(nb):
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
        elif grade_id in seen_ids:
            problems.append(Problem(
                "duplicate_grade_id", cell.number,
                f"grade_id {grade_id!r} is already used by cell {seen_ids[grade_id]}",
                "give each cell its own ID",
            ))
        else:
            seen_ids[grade_id] = cell.number
        if cell.role in (Role.TESTS, Role.WRITTEN) and not _positive(meta.get("points")):
            problems.append(Problem(
                f"{cell.role.value}_cell_without_points", cell.number,
                f"{cell.role.value} cell {grade_id!r} has no points "
                f"(got {meta.get('points')!r}): it could never be graded",
                "set its points (a number > 0) in the Create Assignment toolbar",
            ))
    if len(team_cells) > 1:
        problems.append(Problem(
            "several_team_cells", team_cells[1],
            f"cells {', '.join(map(str, team_cells))} are all team cells",
            "keep one cell with TEAM = [...]; the release puts it first",
        ))
    return problems


def _positive(points: object) -> bool:
    if isinstance(points, bool):
        return False
    try:
        return float(points) > 0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def validate_source(nb: nbformat.NotebookNode, path: Path | str) -> None:
    """Raise one AuthoringError listing every problem of the source notebook `path`."""
    problems = find_problems(nb)
    if not problems:
        return
    if len(problems) == 1:
        only = problems[0]
        error = AuthoringError(only.message, path=path, cell=only.cell, hint=only.hint)
    else:
        listing = "\n".join(f"  - {p}" for p in problems)
        error = AuthoringError(f"{len(problems)} authoring problems:\n{listing}", path=path,
                               hint="fix them in the source notebook, then release again")
    error.problems = problems  # for callers (and tests) that want them one by one
    raise error
