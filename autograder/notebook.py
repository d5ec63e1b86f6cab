"""The notebook model: what each cell is for the course (nbgrader metadata), read from a file."""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .atomic import write_atomic
from .errors import SubmissionError
from .strenum import StrEnum

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
TEAM_NAME = "TEAM"
# What the judge binds for a test cell (engine.py; autotest.py's stand-ins at release): never a
# name of the student's, whatever a cell binds.
JUDGE_HELPERS = ("check", "in_kernel", "reference", "kernel_used_gpu", "facts")


class Role(StrEnum):
    """What a cell is, from nbgrader's flags (solution, grade, locked) and our team marker."""

    ANSWER = "answer"  # solution=True, grade=False: student code, graded by a later test cell
    TESTS = "tests"  # grade=True, solution=False: visible tests (+ hidden in the source)
    WRITTEN = "written"  # grade=True, solution=True: answer graded by hand (markdown or code)
    TASK = "task"  # nbgrader task=True: a locked statement whose points are given by hand
    LOCKED = "locked"  # locked instructor cell: setup, explanations, demos
    TEAM = "team"  # the pair writes TEAM = [...] here
    FREE = "free"  # any other cell: students may add, edit and delete these


@dataclass(frozen=True)
class Cell:
    index: int  # 0-based position; messages say index + 1
    cell_type: str  # "code" | "markdown" | "raw"
    source: str
    role: Role
    grade_id: str | None = None
    points: float = 0.0

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def is_instructor(self) -> bool:
        """Cells always taken from the source, never from a submission."""
        return self.role in (Role.TESTS, Role.LOCKED, Role.TASK)


# Cells whose points count in the notebook's total; the last two are graded by hand.
GRADED_ROLES = (Role.TESTS, Role.WRITTEN, Role.TASK)
MANUAL_ROLES = (Role.WRITTEN, Role.TASK)
# Cells nbgrader's metadata gives a role: each has a grade_id of its own.
NBGRADER_ROLES = (Role.ANSWER, Role.TESTS, Role.WRITTEN, Role.TASK, Role.LOCKED)


def total_points(cells: list[Cell]) -> tuple[float, float]:
    """(automatic, manual) points of a notebook's cells: what a perfect submission can get."""
    auto = sum(c.points for c in cells if c.role is Role.TESTS)
    manual = sum(c.points for c in cells if c.role in MANUAL_ROLES)
    return auto, manual


def grade_id_clashes(cells: list[Cell]) -> dict[int, Cell]:
    """Cells (by index) whose grade_id an earlier cell of an nbgrader role already uses → that
    earlier cell. A grade_id names one cell: the authoring rules and the matching of a
    submission both rely on it."""
    first: dict[object, Cell] = {}
    clashes: dict[int, Cell] = {}
    for cell in cells:
        if cell.role in NBGRADER_ROLES and cell.grade_id:
            if cell.grade_id in first:
                clashes[cell.index] = first[cell.grade_id]
            else:
                first[cell.grade_id] = cell
    return clashes


def role_of(cell: nbformat.NotebookNode) -> Role:
    meta = cell.get("metadata", {})
    if meta.get("autograder", {}).get("team"):
        return Role.TEAM
    nb = meta.get("nbgrader", {})
    solution, grade, locked = bool(nb.get("solution")), bool(nb.get("grade")), bool(nb.get("locked"))
    if nb.get("task") and not (solution or grade):
        return Role.TASK
    if solution and grade:
        return Role.WRITTEN
    if solution:
        return Role.ANSWER
    if grade:
        return Role.TESTS
    if locked:
        return Role.LOCKED
    if cell.get("cell_type") == "code" and re.search(rf"^{TEAM_NAME}\s*=", cell.get("source", ""),
                                                      re.MULTILINE):
        return Role.TEAM  # an editor dropped our metadata; the assignment still says what it is
    return Role.FREE


def nbgrader_checksum(cell: nbformat.NotebookNode) -> str:
    """nbgrader's checksum of an instructor cell (nbgrader.utils.compute_checksum), computed the
    same way so that the student side can spot an edited cell without installing nbgrader and its
    Jupyter server; tests/test_student_check.py compares both on every released cell."""
    meta = cell.metadata["nbgrader"]
    grade, solution = meta.get("grade", False), meta.get("solution", False)
    locked = False if solution else True if grade else meta.get("locked", False)
    digest = hashlib.md5()
    # str() of the raw values, as nbgrader does: a non-boolean flag changes the checksum the same way
    for part in (cell.source, cell.cell_type, str(grade), str(solution), str(locked),
                 meta["grade_id"]):
        digest.update(part.encode("utf-8"))
    if grade:
        digest.update(str(float(meta["points"])).encode("utf-8"))
    return digest.hexdigest()


def nbgrader_metadata(grade_id: str, *, solution: bool = False, grade: bool = False,
                      locked: bool = False, points: float = 0) -> dict:
    """A cell's metadata as JupyterLab's "Create Assignment" panel writes it (for built notebooks)."""
    meta = {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": locked,
            "schema_version": 3}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def cells_of(nb: nbformat.NotebookNode) -> list[Cell]:
    out = []
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        points = meta.get("points", 0) or 0
        try:
            points = float(points)
        except (TypeError, ValueError):
            points = 0.0
        out.append(Cell(
            index=i,
            cell_type=cell.get("cell_type", "code"),
            source=cell.get("source", ""),
            role=role_of(cell),
            grade_id=meta.get("grade_id") or None,
            points=points,
        ))
    return out


def read_notebook(path: Path | str) -> nbformat.NotebookNode:
    """Read any notebook version; what cannot be read is a SubmissionError naming the file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SubmissionError(f"cannot read the file: {exc.strerror}", path=path) from None
    if not raw.strip():
        raise SubmissionError("the file is empty", path=path,
                              hint="save the notebook in Jupyter before submitting")
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except UnicodeDecodeError:
        raise SubmissionError("not a text file (is it a notebook?)", path=path) from None
    except Exception as exc:  # nbformat raises several types for malformed JSON
        raise SubmissionError(
            f"not a valid notebook: {str(exc).splitlines()[0][:200]}", path=path,
            hint="open it in Jupyter and save it again, or submit the .ipynb file itself",
        ) from None
    if not isinstance(nb.get("cells"), list):
        raise SubmissionError("not a valid notebook: no list of cells", path=path)
    return nb


def notebook_bytes(nb: nbformat.NotebookNode) -> bytes:
    """Deterministic output: same notebook, same bytes (sorted keys, fixed indent, newline)."""
    text = nbformat.writes(nb, version=4)
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


def write_notebook(nb: nbformat.NotebookNode, path: Path | str) -> None:
    """The notebook's bytes (notebook_bytes), written whole or not at all."""
    write_atomic(Path(path), notebook_bytes(nb), shared=True)  # shared: notebooks are handed out


def split_hidden(source: str) -> tuple[str, str]:
    """(visible part, hidden part) of a test cell's source."""
    visible: list[str] = []
    hidden: list[str] = []
    inside = False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == BEGIN_HIDDEN:
            inside = True
        elif stripped == END_HIDDEN:
            inside = False
        else:
            (hidden if inside else visible).append(line)
    return "\n".join(visible), "\n".join(hidden)


def normalise(source: str) -> str:
    """Code as a fingerprint sees it: no comments, no blank lines, single spaces."""
    lines = []
    for line in source.splitlines():
        line = re.sub(r"#.*$", "", line).strip()
        if line:
            lines.append(re.sub(r"\s+", " ", line))
    return "\n".join(lines)


def fingerprint(source: str) -> str:
    return hashlib.sha256(normalise(source).encode()).hexdigest()[:16]


def bound_names(source: str) -> set[str]:
    """Top-level names a cell binds (def, class, assignment, import, for, with), from its AST.

    Parsing is safe on hostile text: nothing is executed. A cell that does not parse binds nothing.
    """
    try:
        tree = ast.parse(strip_magics(source))
    except SyntaxError:
        return set()
    names: set[str] = set()

    def targets(node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                targets(elt)
        elif isinstance(node, ast.Starred):
            targets(node.value)

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                targets(t)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets(node.target)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            targets(node.target)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    targets(item.optional_vars)
    return names


# IPython magics whose code is Python that runs: `%time stmt` runs stmt, a `%%time` cell its body.
RUN_LINE_MAGICS = frozenset({"time", "timeit"})
RUN_CELL_MAGICS = frozenset({"time", "timeit", "capture"})
_TIMEIT_OPTION = re.compile(r"\s*(-[nrp]\s*\d+|-[tcqo])(?=\s)")


def cell_magic(source: str) -> str | None:
    """The cell magic a cell starts with (`%%time` -> "time"), None if none."""
    for line in source.splitlines():
        if line.strip():
            text = line.strip()
            return text[2:].split(maxsplit=1)[0] if text.startswith("%%") and len(text) > 2 \
                else None
    return None


def strip_magics(source: str) -> str:
    """A cell's code as plain Python runs it, line for line (line numbers kept), as IPython
    would run it where that is Python: `%time stmt` and `%timeit [options] stmt` become stmt; a
    `%%time`, `%%timeit` or `%%capture` cell keeps its body; other magics and `!shell` lines
    become `pass`, and so does every line under another cell magic (`%%bash`: not Python).

    Code that parses as Python is returned unchanged: a line that starts with `%` inside a
    string or a bracket is not a magic.
    """
    try:
        ast.parse(source)
        return source
    except (SyntaxError, ValueError):
        pass
    magic = cell_magic(source)
    body_is_python = magic is None or magic in RUN_CELL_MAGICS
    magic_line_ahead = magic is not None
    out: list[str] = []
    for line in source.splitlines():
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if magic_line_ahead and stripped:
            out.append(indent + "pass")  # the %%magic line itself
            magic_line_ahead = False
        elif not body_is_python:
            out.append("pass" if stripped else "")
        elif stripped.startswith("%"):
            name, _, rest = stripped[1:].partition(" ")
            if name in RUN_LINE_MAGICS and rest.strip():
                if name == "timeit":
                    rest = " " + rest
                    while (option := _TIMEIT_OPTION.match(rest)) is not None:
                        rest = rest[option.end():]
                out.append(indent + rest.strip())
            else:
                out.append(indent + "pass")
        elif stripped.startswith("!"):
            out.append(indent + "pass")
        else:
            out.append(line)
    return "\n".join(out)


def read_team(source: str) -> list[str] | None:
    """The ids in `TEAM = [...]`, read with ast.literal_eval, never executed. None if absent."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == TEAM_NAME):
            try:
                value = ast.literal_eval(node.value)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                return None
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, (list, tuple)):
                return None
            ids = [str(v).strip() for v in value if isinstance(v, (str, int)) and str(v).strip()]
            return [i for i in ids if not i.startswith("<")]  # the release's placeholders
    return None
