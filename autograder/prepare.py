"""What grading needs of an assignment's source, prepared once: checked, the judge's setup cells
run, the reference built, the files read.

A batch prepares it once, in the process its grading forks come from (workers.py): each
submission is graded in a fork of that process and starts from the very same state, so nothing
one submission's tests change (an object a setup cell made, numpy's or torch's global random
state, a library's setting) reaches the next, and nothing is paid twice. Called in a process that
grades directly (grade-one, validate, the tests), `for_submission` prepares afresh for each
submission: prepared state is never used by two gradings in one process.
"""

from __future__ import annotations

import contextlib
import io
import os
import types
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from . import autotest, datafiles, gpu
from .authoring import check_total
from .config import Assignment, Course, Limits
from .errors import AuthoringError, SubmissionError
from .judge import compile_cell
from .link import code_fragments
from .notebook import (
    BEGIN_SOLUTION,
    END_SOLUTION,
    Role,
    bound_names,
    cells_of,
    read_notebook,
    split_hidden,
    strip_magics,
)
from .rebuild import answer_names

JUDGE = "__judge__"  # __name__ of the judge's namespace


# The source, read and checked once per file version ------------------------------------------

@lru_cache(maxsize=8)
def _source(path: Path, mtime: float):
    return read_notebook(path)


def source_notebook(path: Path):
    return _source(path, path.stat().st_mtime)


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return None


@lru_cache(maxsize=8)
def _checked(course_path: Path, spec: Assignment, mtime: float, stored_mtime: float | None):
    try:
        source = _source(spec.notebook, mtime)
    except SubmissionError as exc:
        raise AuthoringError(exc.message, path=spec.notebook, hint=exc.hint) from None
    check_total(source, course_path=course_path, assignment=spec)
    return autotest.apply(source, autotest.load_stored(source, spec.notebook))


def graded_source(course: Course, spec: Assignment):
    """The source as grading runs it (AUTOTEST lines expanded as the release stored them).

    Raises AuthoringError for what no submission can fix: an unreadable source, points that do
    not add up to course.toml's, autotests not expanded by a release of the current source.
    """
    try:
        mtime = spec.notebook.stat().st_mtime
    except OSError as exc:
        raise AuthoringError(f"cannot read the source notebook: {exc.strerror}",
                             path=spec.notebook, hint="fix the notebook path in course.toml") \
            from None
    return _checked(course.path, spec, mtime, _mtime(autotest.stored_path(spec.notebook)))


def setup_cells(source) -> dict[int, bool]:
    """Every locked code cell of the source: its index → whether it runs in the judge too.

    Setup cells (before the first answer) also run in the judge, so tests see the same imports
    and data; later locked cells (demos, training runs) run in the kernel only, unless the cell's
    metadata says `autograder.judge`.
    """
    out, seen_answer = {}, False
    for cell, raw in zip(cells_of(source), source.cells, strict=True):
        if cell.role in (Role.ANSWER, Role.WRITTEN):
            seen_answer = True
        if cell.role == Role.LOCKED and cell.cell_type == "code":
            flag = raw.get("metadata", {}).get("autograder", {}).get("judge")
            out[cell.index] = (not seen_answer) if flag is None else bool(flag)
    return out


def judge_names(source) -> set[str]:
    """What the setup cells bind in the judge (imports, data): never a student's name."""
    in_judge = {i for i, flag in setup_cells(source).items() if flag}
    return set().union(*(bound_names(c.source) for c in cells_of(source) if c.index in in_judge))


def leading_setup(source) -> list[int]:
    """The setup cells that run in the judge before any test cell or answer: their judge side
    cannot depend on the submission, so it runs once, before the forks. The walk runs the rest."""
    in_judge = setup_cells(source)
    out = []
    for cell in cells_of(source):
        if cell.role in (Role.ANSWER, Role.WRITTEN, Role.TESTS):
            break
        if in_judge.get(cell.index):
            out.append(cell.index)
    return out


# The reference: the instructor's answers, executed in the judge ------------------------------

def _solution_code(code: str) -> str:
    return "\n".join(line for line in code.splitlines()
                     if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION))


def build_reference(source, filename: str) -> types.SimpleNamespace:
    """The instructor's answers executed in the judge: `reference.f(...)` in hidden tests."""
    namespace: dict = {"__name__": "__reference__"}
    in_judge = {i for i, flag in setup_cells(source).items() if flag}
    for cell in cells_of(source):
        if cell.cell_type == "code" and (cell.role == Role.ANSWER or cell.index in in_judge):
            code = strip_magics(_solution_code(cell.source))
            exec(compile_cell(code, f"<reference {filename} cell {cell.number}>"),  # noqa: S102
                 namespace)
    return types.SimpleNamespace(**{k: v for k, v in namespace.items()
                                    if not k.startswith("__")})


class Reference:
    """`reference` in a test cell. Built before any submission is graded; a source whose answers
    do not run in the judge fails the tests that use it, with the error building it raised."""

    def __init__(self, source, filename: str):
        self._names: types.SimpleNamespace | None
        self._error: Exception | None
        try:
            self._names, self._error = build_reference(source, filename), None
        except Exception as exc:  # noqa: BLE001 - raised to the tests that use `reference`
            self._names, self._error = None, exc

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if self._error is not None:
            raise self._error
        return getattr(self._names, name)


# Everything together ------------------------------------------------------------------------

@dataclass
class Prepared:
    """What grading one submission needs of the source, shared by every submission."""

    spec: Assignment
    source: object  # the notebook as graded (AUTOTEST lines expanded)
    names: frozenset[str]  # the student's names a test cell reaches in the kernel
    hidden_code: frozenset[str]  # lines of hidden tests, as link.withheld compares them
    setup: dict[int, bool]  # locked code cell → whether it runs in the judge too (setup_cells)
    files: list[tuple[str, bytes]]  # the released files: into each kernel's work dir
    judge_files: list[tuple[str, bytes]]  # and the instructor-only ones: the judge's folder
    namespace: dict  # the judge's namespace, with the leading setup cells run
    ran: frozenset[int]  # setup cells whose judge side already ran in `namespace`
    reference: Reference
    owner: int = field(default_factory=os.getpid)  # the process that prepared it


def prepare(course: Course, spec: Assignment, folder: Path) -> Prepared:
    """Read, check and run what the source gives every submission, with `folder` (where the
    judge's copy of the files is written) as the working directory of the instructor's code.

    Raises AuthoringError for a source no submission can be graded against. A setup cell that
    fails in the judge is left to each submission's walk, which reports it as a direct grading
    does: the state before it is kept, so it fails there the same way.
    """
    source = graded_source(course, spec)
    hidden = "\n".join(split_hidden(c.source)[1] for c in cells_of(source) if c.role is Role.TESTS)
    names = answer_names(source, judge_names=judge_names(source), path=spec.notebook)
    files = datafiles.read_files(spec.notebook.parent)
    judge_files = datafiles.read_files(spec.notebook.parent, released=False)
    datafiles.write_files(judge_files, folder)
    with working_directory(folder), contextlib.redirect_stdout(io.StringIO()):
        # First the reference, then the setup cells: the judge's random state when the tests
        # start is the one the setup cells leave, whatever the reference drew.
        reference = Reference(source, spec.notebook.name)
        namespace, ran = run_leading_setup(source)
    return Prepared(spec=spec, source=source, names=names, hidden_code=code_fragments(hidden),
                    setup=setup_cells(source), files=files, judge_files=judge_files,
                    namespace=namespace, ran=ran, reference=reference)


def run_leading_setup(source) -> tuple[dict, frozenset[int]]:
    """The judge's namespace with the leading setup cells run (what they print is dropped: the
    kernel prints it). Stops at the first that fails (it may need the kernel's helpers, or be
    the source's bug): the walk runs it, and those after it, for each submission."""
    namespace: dict = {"__name__": JUDGE}
    ran = []
    cells = cells_of(source)
    for index in leading_setup(source):
        name = f"<setup cell {index + 1}>"
        try:
            exec(compile_cell(cells[index].source, name), namespace)  # noqa: S102
        except Exception:  # noqa: BLE001 - the walk runs it again and reports it
            break
        ran.append(index)
    return namespace, frozenset(ran)


@contextlib.contextmanager
def working_directory(folder: Path):
    """The judge's working directory while trusted cell code runs: its copy of the files beside
    the notebook. Cells written for Jupyter open `data.txt` relative to the notebook's folder,
    through any library (open, numpy, pandas, torch); only the process's working directory makes
    all of them see the same files without rewriting the instructor's code. A grading process
    is single-threaded and runs one submission, and the previous directory is restored."""
    try:
        previous = os.getcwd()
    except OSError:  # the folder the grader was started in is gone
        previous = "/"
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


# Prepared once for the forks, afresh otherwise ---------------------------------------------------

_for_forks: dict[tuple[Path, str], Prepared] = {}
_taken: set[int] = set()  # pids of forks that used theirs
_gpu_plans: dict[tuple[str, int, Path], tuple[int, gpu.GpuPlan]] = {}  # → (owner pid, plan)


def prepare_for_forks(course: Course, spec: Assignment, folder: Path) -> Prepared:
    """Prepare in the process the grading forks come from (it never grades itself); the
    machine's GPU plan too, which asks the driver (NVML) for every GPU."""
    prepared = prepare(course, spec, folder)
    _for_forks[(course.path, spec.name)] = prepared
    limits = course.limits
    with contextlib.suppress(Exception):  # e.g. none where one is required: each grading says so
        _gpu_plans[(limits.gpu, limits.gpu_slots, course.path)] = (
            os.getpid(), gpu.gpu_plan(limits.gpu, limits.gpu_slots, path=course.path))
    return prepared


def gpu_plan(limits: Limits, course: Course) -> gpu.GpuPlan:
    """The GPU plan, as the forks' parent found it; else found now."""
    owner, plan = _gpu_plans.get((limits.gpu, limits.gpu_slots, course.path), (None, None))
    if plan is not None and owner != os.getpid():
        return plan
    return gpu.gpu_plan(limits.gpu, limits.gpu_slots, path=course.path)


def for_submission(course: Course, spec: Assignment, folder: Path) -> Prepared:
    """The state one submission starts from: the one prepared before this process was forked,
    once; else prepared now, in `folder`."""
    prepared = _for_forks.get((course.path, spec.name))
    if prepared is not None and prepared.owner != os.getpid() and os.getpid() not in _taken:
        _taken.add(os.getpid())
        datafiles.write_files(prepared.judge_files, folder)
        return prepared
    return prepare(course, spec, folder)
