"""What the release says a student's notebook holds, and whether the student's copy still does.

The release stores a manifest of its instructor cells (grade_id, fingerprint of the visible
source, nbgrader checksum) in the notebook's metadata: with it, test cells are found again even
where an editor dropped the cells' metadata, and a deleted or edited instructor cell is seen.
Everything here is pure: notebooks in, findings out.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..notebook import (
    Role,
    cells_of,
    fingerprint,
    nbgrader_checksum,
    read_team,
    role_of,
    split_hidden,
    strip_magics,
)

if TYPE_CHECKING:
    from nbformat import NotebookNode

DEFAULT_TEAM_SIZE = 2


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


def manifest_of(nb: NotebookNode) -> Manifest:
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


def _locate(nb: NotebookNode, expected: Expected, taken: set[int]) -> tuple[int, bool]:
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


@dataclass(frozen=True)
class TestCell:
    """A visible test cell found in the student's notebook."""

    __test__ = False  # not a pytest class, despite its name

    grade_id: str
    index: int  # 0-based, in the student's notebook
    source: str
    points: float
    block: tuple[int, ...] = ()  # the cells since the previous test cell: the answers it tests


def find_test_cells(nb: NotebookNode, manifest: Manifest) -> tuple[list[TestCell], list[Expected]]:
    """(the test cells found, in notebook order; the expected ones not found)."""
    found, missing, taken = [], [], set[int]()
    for expected in manifest.tests:
        index, _ = _locate(nb, expected, taken)
        if index < 0:
            missing.append(expected)
            continue
        taken.add(index)
        found.append((index, expected))
    found.sort(key=lambda pair: pair[0])
    tests, previous = [], -1
    for index, expected in found:
        tests.append(TestCell(expected.grade_id, index, nb.cells[index].source, expected.points,
                              tuple(range(previous + 1, index))))
        previous = index
    return tests, missing


@dataclass
class CellFindings:
    """Instructor cells altered or deleted. The grader always uses the originals, so a changed
    test or setup cell means the student's run differs from the grader's."""

    problems: list[str]  # to fix before submitting
    notes: list[str]  # prose changed: worth knowing
    changed_tests: set[str]  # grade_ids of test cells found but edited


def instructor_cell_problems(nb: NotebookNode, manifest: Manifest) -> CellFindings:
    findings, taken = CellFindings([], [], set()), set[int]()
    for expected in manifest.cells:
        index, by_id = _locate(nb, expected, taken)
        what = ("test cell" if expected.role == Role.TESTS.value
                else f"read-only {expected.cell_type} cell")
        report = findings.problems if expected.cell_type == "code" else findings.notes
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
            now = nbgrader_checksum(cell)
        except (KeyError, TypeError, ValueError, AttributeError):
            now = None  # its nbgrader metadata is damaged: as good as changed
        if now != stored:
            report.append(f"cell {index + 1} ({expected.grade_id}) was changed: undo the change "
                          f"or copy it back from the released notebook (the grader uses the "
                          f"original)")
            if expected.role == Role.TESTS.value:
                findings.changed_tests.add(expected.grade_id)
    return findings


def team_problems(nb: NotebookNode, team_size: int) -> tuple[list[str] | None, list[str], list[str]]:
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
