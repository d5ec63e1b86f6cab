"""Grade one submission: rebuild it from the source, run it in a sandboxed kernel, judge its tests.

`grade_submission` never raises for a bad submission: a broken notebook is a result that says why.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import time
import types
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from . import autotest, datafiles, gpu, gpu_slots, judge, sandbox
from .authoring import check_total
from .config import Assignment, Course, Limits
from .errors import AuthoringError, SubmissionError
from .kernel import Kernel
from .link import KernelLink, code_fragments, first_line, withheld
from .messages import RunStatus
from .notebook import (
    BEGIN_SOLUTION,
    END_SOLUTION,
    MANUAL_ROLES,
    Role,
    bound_names,
    cells_of,
    read_notebook,
    split_hidden,
    strip_magics,
    total_points,
)
from .rebuild import Rebuilt, answer_names, rebuild
from .results import (
    NO_RESPONSE,
    QuestionResult,
    QuestionStatus,
    SubmissionResult,
    SubmissionStatus,
)
from .versions import grader_version

AGENT_SOURCE = (Path(__file__).parent / "agent.py").read_text(encoding="utf-8")
BOOT = (
    "def __autograder_boot(src):\n"
    "    import sys, types\n"
    "    m = types.ModuleType('_autograder_agent')\n"
    "    exec(compile(src, '<autograder agent>', 'exec'), m.__dict__)\n"
    "    sys.modules[m.__name__] = m\n"
    f"__autograder_boot({AGENT_SOURCE!r})\n"
    "del __autograder_boot\n"
)
MAX_RESTARTS = 2
# A student's cell that ran out of time or killed its kernel: the status of the question after it.
KERNEL_OUTCOMES = {RunStatus.TIMEOUT: QuestionStatus.TIMEOUT,
                   RunStatus.DIED: QuestionStatus.KERNEL_DIED}


@dataclass
class _Answer:
    """What happened to the student code run since the last test cell."""

    status: RunStatus = RunStatus.OK
    message: str = ""


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


def _solution_code(code: str) -> str:
    return "\n".join(line for line in code.splitlines()
                     if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION))


def _setup_cells(source) -> dict[int, bool]:
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
    in_judge = {i for i, flag in _setup_cells(source).items() if flag}
    return set().union(*(bound_names(c.source) for c in cells_of(source) if c.index in in_judge))


@dataclass(frozen=True)
class Judging:
    """What the judge needs of the source, read once per source file."""

    names: frozenset[str]  # the student's names a test cell reaches in the kernel
    hidden_code: frozenset[str]  # lines of hidden tests, as link.withheld compares them


@lru_cache(maxsize=8)
def _judging(course_path: Path, spec: Assignment, mtime: float,
             stored_mtime: float | None) -> Judging:
    # From the source as graded: hidden AUTOTEST lines are expanded there.
    source = _checked(course_path, spec, mtime, stored_mtime)
    hidden = "\n".join(split_hidden(c.source)[1] for c in cells_of(source) if c.role is Role.TESTS)
    return Judging(names=answer_names(source, judge_names=judge_names(source),
                                      path=spec.notebook),
                   hidden_code=code_fragments(hidden))


def judging_of(course: Course, spec: Assignment) -> Judging:
    graded_source(course, spec)  # the same checks, and the error a broken source deserves
    return _judging(course.path, spec, spec.notebook.stat().st_mtime,
                    _mtime(autotest.stored_path(spec.notebook)))


def build_reference(source, filename: str) -> types.SimpleNamespace:
    """The instructor's answers executed in the judge: `reference.f(...)` in hidden tests."""
    namespace: dict = {"__name__": "__reference__"}
    in_judge = {i for i, flag in _setup_cells(source).items() if flag}
    for cell in cells_of(source):
        if cell.cell_type == "code" and (cell.role == Role.ANSWER or cell.index in in_judge):
            code = strip_magics(_solution_code(cell.source))
            exec(judge.compile_cell(code, f"<reference {filename} cell {cell.number}>"),  # noqa: S102
                 namespace)
    return types.SimpleNamespace(**{k: v for k, v in namespace.items()
                                    if not k.startswith("__")})


@lru_cache(maxsize=4)
def _reference(path: Path, mtime: float) -> types.SimpleNamespace:
    return build_reference(_source(path, mtime), path.name)


def content_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def grade_submission(notebook: Path, *, course: Course, assignment: str,
                     submission_id: str | None = None, submitted_at: datetime | None = None,
                     require_sandbox: bool = True, gpu_index: int | None = None,
                     limits: Limits | None = None) -> SubmissionResult:
    """Grade one notebook. Bad input becomes a result (rejected/error/timeout), never an exception.

    Raises only for what no submission can fix: the grader's own setup (no sandbox where one is
    required, a broken course file) and the instructor's source (AuthoringError), which would
    otherwise reject every submission in turn.
    """
    notebook = Path(notebook)
    spec = course.assignment(assignment)
    source = graded_source(course, spec)
    limits = limits or course.limits
    level = sandbox.sandbox_level(require_sandbox, start=limits.kernel_start)
    plan = gpu.gpu_plan(limits.gpu, limits.gpu_slots, path=course.path)
    result = SubmissionResult(
        assignment=assignment, submission_id=submission_id or notebook.stem,
        status=SubmissionStatus.GRADED,
        submitted_at=submitted_at.isoformat() if submitted_at else None,
        max_points=sum(total_points(cells_of(source))), sandbox=level,
        grader_version=grader_version(spec.notebook),
        graded_at=datetime.now(UTC).isoformat(timespec="seconds"), source=str(notebook),
        device="cuda" if plan.use_gpu else "cpu",
    )
    if level not in sandbox.FULL:
        result.flag("sandbox_reduced", "graded WITHOUT a sandbox: the kernel was not isolated")
    started = time.monotonic()
    try:
        result.content_hash = content_hash(notebook)
        submission = read_notebook(notebook)
    except (OSError, SubmissionError) as exc:
        result.status, result.reason = SubmissionStatus.REJECTED, str(exc)
        return result
    try:
        judging = judging_of(course, spec)
        files = datafiles.read_files(spec.notebook.parent)
        judge_files = datafiles.read_files(spec.notebook.parent, released=False)
        rebuilt = rebuild(source, submission, source_path=spec.notebook, submission_path=notebook)
    except SubmissionError as exc:  # an AuthoringError goes up: the source is at fault
        result.status, result.reason = SubmissionStatus.REJECTED, str(exc)
        return result
    result.team = list(rebuilt.team or [])
    for flag in rebuilt.flags:
        result.flag(flag.code, flag.message)
    try:
        # One GPU of this grader's allotment per kernel, `gpu_slots` kernels per GPU.
        with gpu_slots.hold_gpu(plan, index=gpu_index) as kernel_gpu:
            result.gpu_index = kernel_gpu.index if kernel_gpu is not None else None
            session = _Session(result=result, rebuilt=rebuilt, source=source, spec=spec,
                               limits=limits, level=level, gpu=kernel_gpu, plan=plan,
                               started=started, judging=judging, files=files,
                               judge_files=judge_files)
            session.run()
    except Exception as exc:  # noqa: BLE001 - one broken submission never stops a batch
        result.status = SubmissionStatus.ERROR
        result.reason = f"grading failed: {type(exc).__name__}: {exc}"[:2000]
    result.runtime_s = round(time.monotonic() - started, 3)
    result.points = round(sum(q.points for q in result.questions if not q.manual), 4)
    return result


class _Session:
    """One submission's run: the kernel, the judge's namespace, the questions as they come."""

    def __init__(self, *, result, rebuilt: Rebuilt, source, spec, limits: Limits, level: str,
                 gpu: gpu_slots.KernelGpu | None, plan, started: float, judging: Judging,
                 files: list[tuple[str, bytes]], judge_files: list[tuple[str, bytes]]):
        self.result, self.rebuilt, self.source, self.spec = result, rebuilt, source, spec
        self.limits, self.level, self.gpu, self.plan = limits, level, gpu, plan
        self.started = started
        self.names, self.hidden_code = judging.names, judging.hidden_code
        self.files = files  # what students get: into each kernel's work dir
        self.judge_files = judge_files  # and the instructor-only ones: the judge's folder
        self.folder: Path | None = None  # the judge's copy of the files, for this submission
        self.deadline = started + limits.notebook_timeout
        self.kernel: Kernel | None = None
        self.replay: list[str] = []  # student and instructor code that ran fine, for a restart
        self.gpu_seen = False
        self.truncated = False

    # the kernel --------------------------------------------------------------------------
    def _start_kernel(self) -> Kernel:
        kernel = Kernel(limits=self.limits, level=self.level,
                        gpu_devices=self.gpu.devices if self.gpu else (),
                        gpu_visible=self.gpu.visible if self.gpu else "",
                        threads=1, prelude=BOOT)
        kernel.start()
        try:
            self._place_files(kernel)
        except BaseException:
            kernel.close()
            raise
        return kernel

    def _place_files(self, kernel: Kernel) -> None:
        """The files beside the notebook, into the kernel's work dir, before any cell runs."""
        if not self.files:
            return
        try:
            KernelLink(kernel, deadline=lambda: time.monotonic() + 60).put_files(self.files)
        except Exception as exc:
            raise RuntimeError(f"the files beside {self.spec.notebook.name} could not be put in "
                               f"the kernel's work dir ({type(exc).__name__}: {first_line(exc)}); "
                               "are they bigger than grading.disk_mb?") from None

    def _restart(self) -> bool:
        """A fresh kernel with everything that ran fine so far, so later questions are graded."""
        self._note_gpu()
        self.kernel.close()
        if self.kernel.starts > MAX_RESTARTS:
            return False
        try:
            self.kernel.start()
            self._place_files(self.kernel)
        except RuntimeError:
            return False
        for code in self.replay:
            run = self.kernel.execute(code, timeout=self._cell_budget())
            if run.status in (RunStatus.DIED, RunStatus.TIMEOUT):
                self.kernel.close()
                return False
        return True

    def _cell_budget(self) -> float:
        return max(0.0, min(self.limits.cell_timeout, self.deadline - time.monotonic()))

    def _note_gpu(self) -> None:
        if self.plan.use_gpu and self.kernel is not None and self.kernel.alive():
            if gpu.process_gpu_memory(self.kernel.pids()):
                self.gpu_seen = True

    def kernel_used_gpu(self) -> bool:
        if not self.plan.use_gpu:
            raise judge.NoGPU("no GPU on this machine")
        self._note_gpu()
        return self.gpu_seen

    # the walk ------------------------------------------------------------------------------
    def run(self) -> None:
        self.kernel = self._start_kernel()
        try:
            with tempfile.TemporaryDirectory(prefix="autograder-judge-") as folder:
                self.folder = Path(folder)
                datafiles.write_files(self.judge_files, self.folder)
                self._walk()
        finally:
            self._note_gpu()
            self.kernel.close()
            self.result.peak_memory_mb = _max(self.result.peak_memory_mb,
                                              self.kernel.peak_memory_mb)
            for code, message in self.kernel.problems():
                self.result.flag(code, message)
            if self.kernel.oom_killed:
                self.result.flag("memory_limit", f"the kernel hit its memory limit "
                                 f"({self.limits.memory_mb} MB) and was killed")
            self.result.gpu_used = self.gpu_seen if self.plan.use_gpu else None
            if self.plan.use_gpu and not self.gpu_seen:
                self.result.flag("gpu_not_used", "the kernel never used the GPU")

    def _walk(self) -> None:
        setup = _setup_cells(self.source)
        namespace: dict = {"__name__": "__judge__"}
        link = KernelLink(self.kernel, deadline=lambda: self._test_deadline,
                          hidden_code=self.hidden_code)
        self._test_deadline = self.deadline
        session = self

        def in_kernel(fn, *args, **kwargs):
            return link.run(fn, args, kwargs)

        def facts():
            return {"runtime_s": time.monotonic() - session.started,
                    "peak_memory_mb": session.kernel.current_peak_memory_mb()}

        namespace.update(in_kernel=in_kernel, kernel_used_gpu=self.kernel_used_gpu, facts=facts)
        pending = _Answer()
        attempted: list[bool] = []  # answers since the last test cell
        for cell in self.rebuilt.cells:
            manual = self._manual_question(cell) if cell.role in MANUAL_ROLES else None
            if cell.cell_type != "code":
                continue
            if cell.role == Role.TESTS:
                self._test_deadline = min(self.deadline, time.monotonic() + self.limits.cell_timeout)
                question = self._judge(cell, namespace, link, pending)
                if question.points == 0 and attempted and not any(attempted) \
                        and question.status not in KERNEL_OUTCOMES.values():
                    # the answers are missing or still the stub
                    question.status = QuestionStatus.NOT_ATTEMPTED
                self.result.questions.append(question)
                pending, attempted = _Answer(), []
                continue
            if cell.role == Role.ANSWER:
                attempted.append(cell.attempted)
            # Code that runs in the kernel: instructor setup and demos, the students' answers.
            outcome = self._run_in_kernel(cell)
            if manual is not None and manual.status == QuestionStatus.MANUAL \
                    and outcome.status != RunStatus.OK:
                manual.message += f" ({outcome.message})"  # for the one who reads the code
            if outcome.status != RunStatus.OK \
                    and (pending.status == RunStatus.OK or outcome.status != RunStatus.ERROR):
                pending = outcome  # a timeout or a death outweighs an earlier error
            if cell.role == Role.LOCKED and setup.get(cell.source_index):
                self._setup_in_judge(cell, namespace)
        if self.truncated:
            self.result.flag("output_truncated",
                             f"output beyond {self.limits.output_kb} kB per cell was dropped")

    def _manual_question(self, cell) -> QuestionResult:
        """A question graded by hand: a written answer, a manually graded code cell, a task.

        Its points come from the gradebook's manual column. An answer left as released (or
        blank) gets 0 and "No response", as nbgrader does, flagged so a TA can still mark it.
        """
        grade_id = cell.grade_id or f"cell-{cell.source_index}"
        question = QuestionResult(grade_id=grade_id, points=0.0, max_points=cell.points,
                                  status=QuestionStatus.MANUAL, manual=True,
                                  message="graded by hand")
        if cell.role == Role.WRITTEN and not cell.attempted:
            question.status, question.message = QuestionStatus.NOT_ATTEMPTED, NO_RESPONSE
            self.result.flag("no_response", f"{grade_id}: no response (the answer is still the "
                             "released stub, or blank): 0 unless marked by hand")
        self.result.questions.append(question)
        return question

    @contextlib.contextmanager
    def _in_folder(self):
        """The judge's working directory while trusted cell code runs: its copy of the files
        beside the notebook. Test cells written for Jupyter open `data.txt` relative to the
        notebook's folder, through any library (open, numpy, pandas, torch); only the process's
        working directory makes all of them see the same files without rewriting the
        instructor's code. A grading worker is one single-threaded process and runs one
        submission at a time, and the previous directory is restored after each cell."""
        try:
            previous = os.getcwd()
        except OSError:  # the folder the grader was started in is gone
            previous = "/"
        os.chdir(self.folder)
        try:
            yield
        finally:
            os.chdir(previous)

    def _run_in_kernel(self, cell) -> _Answer:
        """Run one cell in the kernel; a dead kernel is restarted for the cells after it."""
        if self.kernel.box is None and not self._restart():
            return _Answer(RunStatus.DIED, "the kernel died and could not be restarted")
        budget = self._cell_budget()
        if budget <= 0:
            self.result.status = SubmissionStatus.TIMEOUT
            return _Answer(RunStatus.TIMEOUT, f"the notebook ran past its "
                                         f"{self.limits.notebook_timeout:g} s limit")
        run = self.kernel.execute(cell.code, timeout=budget)
        self.truncated = self.truncated or run.truncated
        where = (f"cell {cell.submission_index + 1}" if cell.submission_index is not None
                 else f"cell {cell.source_index + 1} of the assignment")
        outcome = _Answer()
        if run.status == RunStatus.OK:
            self.replay.append(cell.code)
        elif run.status == RunStatus.ERROR:
            # The student's text, capped, and never hidden test code their kernel saw before.
            text = ("[text withheld: it holds hidden test code]"
                    if withheld(run.evalue, self.hidden_code) else first_line(run.evalue))
            outcome = _Answer(RunStatus.ERROR, f"{where} raised {first_line(run.ename, 100)}"
                                     + (f": {text}" if text else ""))
        elif run.status == RunStatus.TIMEOUT:
            outcome = _Answer(RunStatus.TIMEOUT, f"{where} ran past its "
                                            f"{self.limits.cell_timeout:g} s limit")
            if time.monotonic() >= self.deadline:
                self.result.status = SubmissionStatus.TIMEOUT
        elif run.status == RunStatus.DIED:
            outcome = _Answer(RunStatus.DIED, f"the kernel died in {where}"
                              + (" (memory limit)" if self.kernel.oom_killed else ""))
        if self.kernel.box is None:
            self._restart()
        return outcome

    def _setup_in_judge(self, cell, namespace: dict) -> None:
        """The instructor's setup cell, run in the judge too; its failure is the course's bug.

        What it prints is dropped: the kernel printed it already, and the grader's own output
        is the progress of the batch."""
        name = f"<setup cell {cell.source_index + 1}>"
        try:
            with self._in_folder(), contextlib.redirect_stdout(io.StringIO()):
                exec(judge.compile_cell(strip_magics(cell.code), name), namespace)  # noqa: S102
        except Exception as exc:
            raise RuntimeError(
                f"{self.spec.notebook.name}, cell {cell.source_index + 1} (a setup cell) failed "
                f"in the judge: {type(exc).__name__}: {exc}; fix the source notebook or mark the "
                "cell with metadata autograder.judge = false") from exc

    def _judge(self, cell, namespace: dict, link: KernelLink, pending: _Answer) -> QuestionResult:
        grade_id = cell.grade_id or f"cell-{cell.source_index}"
        filename = f"<tests {grade_id}>"
        cellrun = judge.CellRun()
        namespace["check"] = judge.Checks(cellrun, gpu=self.plan.use_gpu, filename=filename,
                                          hidden_lines=judge.hidden_lines(cell.code))
        namespace["reference"] = _LazyReference(self.spec.notebook)
        if self.kernel.box is None and not self._restart():
            return QuestionResult(grade_id, 0.0, cell.points, QuestionStatus.KERNEL_DIED,
                                  "the kernel died earlier and could not be restarted")
        link.kernel = self.kernel
        try:
            judge.bind_student_names(namespace, link, self.names)
        except Exception as exc:  # noqa: BLE001 - the kernel's fault: this question's result
            cellrun.fail(exc)
        else:
            with self._in_folder():
                judge.run_in_judge(cell.code, filename, namespace, run=cellrun,
                                   student_names=self.names, link=link)
        question = judge.score_cell(grade_id=grade_id, points=cell.points, run=cellrun)
        # What happened in the student's cells explains a failure better than a NameError.
        if pending.status != RunStatus.OK and question.status != QuestionStatus.PASSED:
            if pending.status in KERNEL_OUTCOMES and question.points == 0:
                question.status = KERNEL_OUTCOMES[pending.status]
            question.message = pending.message + (f"; {question.message}"
                                                  if question.message else "")
        if question.status == QuestionStatus.NOT_ATTEMPTED:
            question.message = question.message or "not attempted"
        if any(c.status == QuestionStatus.NOT_GRADED for c in question.checks):
            self.result.flag("gpu_checks_not_graded",
                             "checks that need a GPU were not graded (no GPU here)")
        if self.kernel.box is None:
            self._restart()
        return question


class _LazyReference:
    """`reference` built on first use: most test cells never touch it."""

    def __init__(self, path: Path):
        self._path = path

    def __getattr__(self, name: str):
        ns = _reference(self._path, self._path.stat().st_mtime)
        return getattr(ns, name)


def _max(a, b):
    values = [v for v in (a, b) if v is not None]
    return max(values) if values else None
