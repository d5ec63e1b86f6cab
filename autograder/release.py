"""Release: the students' notebook and the solutions notebook, generated from the source notebook.

source/<hw>/<hw>.ipynb  ──▶  release/<hw>/<hw>.ipynb    solutions stubbed, hidden tests removed
                        └─▶  solutions/<hw>/<hw>.ipynb  solutions kept, hidden tests removed

The markers are nbgrader's and so is the work on them: its preprocessors run in a fixed order
owned here. Our own steps only put the team cell first, drop volatile metadata, and store a
manifest of the instructor cells (grade_id, fingerprint, checksum) in the notebook's metadata,
so `autograder check` can spot a deleted or altered test cell even when an editor stripped the
cells' metadata. `### AUTOTEST` lines are expanded first (autograder/autotest.py), from the
solution's values. Output is deterministic: releasing twice gives the same bytes.

The files beside the source notebook are released with it (`data_files`): every file of its
folder and subfolders except notebooks, the autotest templates, and names that start with "." or
"_" (.ipynb_checkpoints, __pycache__, and instructor-only files such as hidden test data). The
release folders are generated: a file there that the source no longer gives is stale, and the
release removes it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

from . import autotest, datafiles
from .atomic import write_atomic
from .authoring import check_total, validate_source
from .config import Assignment, Course
from .errors import AuthoringError, SubmissionError
from .notebook import (
    Role,
    cells_of,
    fingerprint,
    notebook_bytes,
    read_notebook,
    role_of,
    split_hidden,
)

MANIFEST_KEY = "autograder"  # nb.metadata[MANIFEST_KEY], and cell.metadata[...] = {"team": true}
TEAM_CELL_ID = "team"
NOTEBOOK_METADATA = ("kernelspec", "language_info", MANIFEST_KEY)
LANGUAGE_INFO = ("name", "codemirror_mode", "file_extension", "mimetype", "pygments_lexer")
CELL_METADATA = ("nbgrader", "autograder", "deletable", "editable", "tags", "jupyter", "slideshow")

Step = Callable[[nbformat.NotebookNode], nbformat.NotebookNode]


def _nbgrader(name: str, **options: object) -> Step:
    """One nbgrader preprocessor with its default settings (or `options`), as a step."""

    def step(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
        from nbgrader import preprocessors  # heavy import, only when releasing

        preprocessor = getattr(preprocessors, name)(**options)
        try:
            nb, _ = preprocessor.preprocess(nb, {})
        except (RuntimeError, ValueError) as exc:  # validate_source catches most first
            raise AuthoringError(f"nbgrader {name}: {exc}") from None
        return nb

    step.__name__ = name
    return step


def team_cell_first(team_size: int) -> Step:
    """Every released notebook opens with the team cell; insert one if the source has none."""

    def step(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
        team = [i for i, cell in enumerate(nb.cells) if role_of(cell) is Role.TEAM]
        if team:
            cell = nb.cells.pop(team[0])
        else:
            cell = new_team_cell(team_size, nb)
        cell.metadata.setdefault(MANIFEST_KEY, {})["team"] = True
        cell.metadata["deletable"] = False
        nb.cells.insert(0, cell)
        return nb

    step.__name__ = "team_cell_first"
    return step


def new_team_cell(team_size: int, nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    ids = ", ".join(['"<student id>"'] * team_size)
    who = "both members of your pair" if team_size == 2 else f"the {team_size} members of your team"
    if team_size == 1:
        who = "yours"
    cell = new_code_cell(
        f"# Your team: the student ids of {who}, as in the course roster.\nTEAM = [{ids}]",
        metadata={MANIFEST_KEY: {"team": True}},
    )
    taken = {c.get("id") for c in nb.cells}
    cell.id = next(i for i in (TEAM_CELL_ID, *(f"{TEAM_CELL_ID}-{n}" for n in range(1, 1000)))
                   if i not in taken)  # a fixed id: new_code_cell's random one would not be
    return cell


def strip_volatile(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Keep only metadata that means something to the course; editors add the rest at will."""
    meta = {k: nb.metadata[k] for k in NOTEBOOK_METADATA if k in nb.metadata}
    if "language_info" in meta:
        meta["language_info"] = {k: v for k, v in meta["language_info"].items()
                                 if k in LANGUAGE_INFO}
    nb.metadata = nbformat.from_dict(meta)
    has_ids = (nb.nbformat, nb.nbformat_minor) >= (4, 5)
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        cell.metadata = nbformat.from_dict(
            {k: cell.metadata[k] for k in CELL_METADATA if k in cell.metadata})
        if "attachments" in cell and not cell.attachments:
            del cell["attachments"]
        if cell.cell_type == "code":
            cell.execution_count = None
            cell.outputs = []
        if has_ids:
            cell_id = cell.get("id") or f"cell-{index + 1}"
            while cell_id in seen:
                cell_id = f"{cell_id}-{index + 1}"
            cell.id = cell_id
            seen.add(cell_id)
        elif "id" in cell:
            del cell["id"]
    return nb


def store_manifest(assignment: str, team_size: int) -> Step:
    """What the student-side check compares a notebook with: the instructor cells as released."""

    def step(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
        cells = []
        for cell in cells_of(nb):
            if not cell.is_instructor or cell.grade_id is None:
                continue
            checksum = nb.cells[cell.index].metadata.get("nbgrader", {}).get("checksum")
            cells.append({
                "grade_id": cell.grade_id,
                "role": cell.role.value,
                "cell_type": cell.cell_type,
                "fingerprint": fingerprint(split_hidden(cell.source)[0]),
                "checksum": checksum,
                "points": cell.points,
            })
        nb.metadata[MANIFEST_KEY] = {
            "assignment": assignment,
            "team_size": team_size,
            "cells": cells,
        }
        return nb

    step.__name__ = "store_manifest"
    return step


def expand_autotests(assignment: Assignment,
                     expansion: autotest.Expansion | None = None) -> Step:
    """The test cells with their AUTOTEST lines expanded: as given, else as the release stored."""

    def step(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
        found = expansion or autotest.load_stored(nb, assignment.notebook)
        return autotest.apply(nb, found)

    step.__name__ = "expand_autotests"
    return step


def release_steps(assignment: Assignment,
                  expansion: autotest.Expansion | None = None) -> list[Step]:
    # Order matters: autotests expanded before the hidden tests go, stub and hide before the
    # outputs go, lock before the checksums (LockCells only adds editor flags, the checksums
    # cover source and roles), the manifest last.
    return [
        expand_autotests(assignment, expansion),
        _nbgrader("ClearSolutions"),
        # A mark scheme left once the solutions are gone sits in a task cell (removed here) or
        # where nbgrader refuses one (outside a solution region of any other cell): the release
        # stops rather than hand the rubric to the students.
        _nbgrader("ClearMarkScheme"),
        _nbgrader("ClearHiddenTests"),
        _nbgrader("ClearOutput"),
        _nbgrader("LockCells"),
        _nbgrader("ComputeChecksums"),
        team_cell_first(assignment.team_size),
        strip_volatile,
        store_manifest(assignment.name, assignment.team_size),
    ]


def solution_steps(assignment: Assignment,
                   expansion: autotest.Expansion | None = None) -> list[Step]:
    return [
        expand_autotests(assignment, expansion),
        # The solutions are published; the rubric is the staff's (in answers too).
        _nbgrader("ClearMarkScheme", enforce_metadata=False),
        _nbgrader("ClearHiddenTests"),
        _nbgrader("ClearOutput"),
        _nbgrader("ComputeChecksums"),
        team_cell_first(assignment.team_size),
        strip_volatile,
        store_manifest(assignment.name, assignment.team_size),
    ]


def apply_steps(source: nbformat.NotebookNode, steps: Iterable[Step]) -> nbformat.NotebookNode:
    nb = copy.deepcopy(source)
    for step in steps:
        nb = step(nb)
    return nb


def data_files(source_dir: Path) -> list[Path]:
    """Files next to the source notebook that students get too, relative to its folder: the same
    list a grading kernel finds in its work dir (datafiles.assignment_files). Sorted, so releases
    and kernels see the files in one order."""
    return [Path(rel) for rel in datafiles.assignment_files(source_dir)]


def read_source(assignment: Assignment) -> nbformat.NotebookNode:
    path = assignment.notebook
    if not path.is_file():
        raise AuthoringError(
            f"no source notebook for {assignment.name}", path=path,
            hint="create it, or fix the notebook path in course.toml",
        )
    try:
        return read_notebook(path)
    except SubmissionError as exc:
        raise AuthoringError(exc.message, path=path, hint=exc.hint) from None


def planned_files(*, course: Course, assignment: str) -> dict[Path, bytes]:
    """Every file a release of `assignment` writes, with its content; nothing is written."""
    spec = course.assignment(assignment)
    source = read_source(spec)
    validate_source(source, spec.notebook)
    check_total(source, course_path=course.path, assignment=spec)
    expansion = autotest.expand(source, notebook=spec.notebook, course_root=course.root,
                                timeout=course.limits.notebook_timeout)
    files = {
        spec.release_path: notebook_bytes(apply_steps(source, release_steps(spec, expansion))),
        spec.solution_path: notebook_bytes(apply_steps(source, solution_steps(spec, expansion))),
    }
    if expansion is not None:  # for grading: the hidden autotests too, never released
        files[autotest.stored_path(spec.notebook)] = expansion.stored()
    source_dir = spec.notebook.parent
    for rel in data_files(source_dir):
        content = (source_dir / rel).read_bytes()
        files[spec.release_path.parent / rel] = content
        files[spec.solution_path.parent / rel] = content
    return files


@dataclass
class ReleaseResult:
    assignment: str
    release: Path  # the students' notebook
    solution: Path  # the solutions notebook
    written: list[Path] = field(default_factory=list)  # files created or changed
    unchanged: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)  # left over from an older release


def leftover_files(spec: Assignment, planned: dict[Path, bytes]) -> list[Path]:
    """Files in the release and solutions folders of `spec` that the source no longer gives."""
    out = []
    for folder in (spec.release_path.parent, spec.solution_path.parent):
        if folder.is_dir():
            out += [p for p in sorted(folder.rglob("*"))
                    if (p.is_file() or p.is_symlink()) and p not in planned]
    return out


def release_assignment(*, course: Course, assignment: str) -> ReleaseResult:
    """Validate the source of `assignment`, then write its release, solutions and data files."""
    spec = course.assignment(assignment)
    files = planned_files(course=course, assignment=assignment)
    result = ReleaseResult(assignment, spec.release_path, spec.solution_path)
    for path, content in files.items():
        if path.is_file() and path.read_bytes() == content:
            result.unchanged.append(path)  # left alone: its timestamp stays too
            continue
        write_atomic(path, content, shared=True)
        result.written.append(path)
    for path in leftover_files(spec, files):
        path.unlink()
        result.removed.append(path)
    return result


def stale_files(*, course: Course, assignment: str) -> list[Path]:
    """Committed release files that differ from what releasing the source now would write,
    and files of the release folders that it would not write at all."""
    spec = course.assignment(assignment)
    planned = planned_files(course=course, assignment=assignment)
    changed = [path for path, content in planned.items()
               if not path.is_file() or path.read_bytes() != content]
    return changed + leftover_files(spec, planned)
