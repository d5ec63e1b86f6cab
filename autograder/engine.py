"""Grade one submission: rebuild it from the source, run it in a sandboxed kernel, judge its tests.

`grade_submission` never raises for a bad submission: a broken notebook is a result that says why.
What the source gives every submission (its checks, the judge's setup, the reference, the files)
comes from prepare.py; the kernel's side of the walk from student_kernel.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from . import gpu_slots, sandbox
from .errors import NoGPU, SubmissionError
from .judge import as_in_the_kernel, bind_student_names, compile_cell, display, run_in_judge
from .link import KernelLink
from .messages import RunStatus
from .notebook import MANUAL_ROLES, Role, cells_of, read_notebook, total_points
from .prepare import Prepared, for_submission, gpu_plan, graded_source, working_directory
from .rebuild import Rebuilt, rebuild
from .results import (
    NO_RESPONSE,
    QuestionResult,
    QuestionStatus,
    SubmissionResult,
    SubmissionStatus,
)
from .scoring import CellRun, Checks, hidden_lines, score_cell
from .student_kernel import KERNEL_OUTCOMES, Outcome, StudentKernel
from .versions import grader_version


def content_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def grade_submission(notebook: Path, *, course, assignment: str,
                     submission_id: str | None = None, submitted_at: datetime | None = None,
                     require_sandbox: bool = True, gpu_index: int | None = None,
                     limits=None, teardown: list | None = None) -> SubmissionResult:
    """Grade one notebook. Bad input becomes a result (rejected/error/timeout), never an exception.

    Raises only for the grader's own setup problems (no sandbox where one is required, a broken
    course file), which no submission can fix. With `teardown`, the kernel is killed before the
    result is returned but its sandbox's teardown is appended there, for the caller to run once
    the result is sent (a batch's fork: workers.py).
    """
    notebook = Path(notebook)
    spec = course.assignment(assignment)
    source = graded_source(course, spec)
    limits = limits or course.limits
    level = sandbox.sandbox_level(require_sandbox, start=limits.kernel_start)
    plan = gpu_plan(limits, course)
    result = SubmissionResult(
        assignment=assignment, submission_id=submission_id or notebook.stem, status=SubmissionStatus.GRADED,
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
    with tempfile.TemporaryDirectory(prefix="autograder-judge-") as folder:
        try:
            prepared = for_submission(course, spec, Path(folder))
            rebuilt = rebuild(source, submission, source_path=spec.notebook,
                              submission_path=notebook)
        except SubmissionError as exc:  # an AuthoringError goes up: the source is at fault
            result.status, result.reason = SubmissionStatus.REJECTED, str(exc)
            return result
        except OSError as exc:  # the judge's folder could not be written: the grader's fault
            result.status = SubmissionStatus.ERROR
            result.reason = f"grading failed: {type(exc).__name__}: {exc}"[:2000]
            return result
        result.team = list(rebuilt.team or [])
        for flag in rebuilt.flags:
            result.flag(flag.code, flag.message)
        try:
            # One GPU of this grader's allotment per kernel, `gpu_slots` kernels per GPU.
            with gpu_slots.hold_gpu(plan, index=gpu_index) as kernel_gpu:
                result.gpu_index = kernel_gpu.index if kernel_gpu is not None else None
                kernel = StudentKernel(
                    limits=limits, level=level, gpu=kernel_gpu, use_gpu=plan.use_gpu,
                    deadline=started + limits.notebook_timeout, files=prepared.files,
                    hidden_code=prepared.hidden_code, notebook_name=spec.notebook.name)
                _Walk(result=result, rebuilt=rebuilt, prepared=prepared, kernel=kernel,
                      folder=Path(folder), started=started, gpu=plan.use_gpu).run(teardown)
        except Exception as exc:  # noqa: BLE001 - one broken submission never stops a batch
            result.status = SubmissionStatus.ERROR
            result.reason = f"grading failed: {type(exc).__name__}: {exc}"[:2000]
    result.runtime_s = round(time.monotonic() - started, 3)
    result.points = round(sum(q.points for q in result.questions if not q.manual), 4)
    return result


class _Walk:
    """The rebuilt notebook, cell by cell: code into the kernel, each test cell into the judge."""

    def __init__(self, *, result: SubmissionResult, rebuilt: Rebuilt, prepared: Prepared,
                 kernel: StudentKernel, folder: Path, started: float, gpu: bool):
        self.result, self.rebuilt, self.prepared = result, rebuilt, prepared
        self.kernel, self.folder, self.started, self.gpu = kernel, folder, started, gpu
        self.namespace = prepared.namespace  # this submission's own: prepared for it alone
        self.link = KernelLink(kernel.kernel, deadline=lambda: self.test_deadline,
                               hidden_code=prepared.hidden_code)
        self.test_deadline = kernel.deadline

    def run(self, teardown: list | None = None) -> None:
        kernel = self.kernel
        kernel.start()
        try:
            self._helpers()
            self._cells()
        finally:
            kernel.close(teardown)
            box = kernel.kernel
            self.result.peak_memory_mb = _max(self.result.peak_memory_mb, box.peak_memory_mb)
            for code, message in box.problems():
                self.result.flag(code, message)
            if box.oom_killed:
                self.result.flag("memory_limit", f"the kernel hit its memory limit "
                                 f"({kernel.limits.memory_mb} MB) and was killed")
            self.result.gpu_used = kernel.gpu_seen if self.gpu else None
            if self.gpu and not kernel.gpu_seen:
                self.result.flag("gpu_not_used", "the kernel never used the GPU")
            if kernel.timed_out:
                self.result.status = SubmissionStatus.TIMEOUT

    def _helpers(self) -> None:
        """What a test cell may call besides the student's names (see README)."""
        walk = self

        def in_kernel(fn, *args, **kwargs):
            return walk.link.run(fn, args, kwargs)

        def kernel_used_gpu() -> bool:
            if not walk.gpu:
                raise NoGPU("no GPU on this machine")
            return walk.kernel.used_gpu()

        def facts():
            return {"runtime_s": time.monotonic() - walk.started,
                    "peak_memory_mb": walk.kernel.kernel.current_peak_memory_mb()}

        # A setup cell that binds one of these names keeps its own, as it would run after them.
        for name, helper in (("in_kernel", in_kernel), ("kernel_used_gpu", kernel_used_gpu),
                             ("facts", facts), ("display", display)):
            self.namespace.setdefault(name, helper)

    def _cells(self) -> None:
        pending = Outcome()
        attempted: list[bool] = []  # answers since the last test cell
        for cell in self.rebuilt.cells:
            manual = self._manual_question(cell) if cell.role in MANUAL_ROLES else None
            if cell.cell_type != "code":
                continue
            if cell.role == Role.TESTS:
                question = self._judge(cell, pending)
                if question.points == 0 and attempted and not any(attempted) \
                        and question.status not in KERNEL_OUTCOMES.values():
                    question.status = QuestionStatus.NOT_ATTEMPTED  # the answers are missing or the stub
                self.result.questions.append(question)
                pending, attempted = Outcome(), []
                continue
            if cell.role == Role.ANSWER:
                attempted.append(cell.attempted)
            # Code that runs in the kernel: instructor setup and demos, the students' answers.
            where = (f"cell {cell.submission_index + 1}" if cell.submission_index is not None
                     else f"cell {(cell.source_index or 0) + 1} of the assignment")
            outcome = self.kernel.run_cell(cell.code, where)
            if manual is not None and manual.status == QuestionStatus.MANUAL \
                    and outcome.status != RunStatus.OK:
                manual.message += f" ({outcome.message})"  # for the one who reads the code
            if outcome.status != RunStatus.OK \
                    and (pending.status == RunStatus.OK or outcome.status != RunStatus.ERROR):
                pending = outcome  # a timeout or a death outweighs an earlier error
            if cell.role == Role.LOCKED and self.prepared.setup.get(cell.source_index) \
                    and cell.source_index not in self.prepared.ran:
                self._setup_in_judge(cell)
        if self.kernel.truncated:
            self.result.flag("output_truncated", f"output beyond {self.kernel.limits.output_kb} "
                                                 "kB per cell was dropped")

    def _manual_question(self, cell) -> QuestionResult:
        """A question graded by hand: a written answer, a manually graded code cell, a task.

        Its points come from the gradebook's manual column. An answer left as released (or
        blank) gets 0 and "No response", as nbgrader does, flagged so a TA can still mark it.
        """
        grade_id = cell.grade_id or f"cell-{cell.source_index}"
        question = QuestionResult(grade_id=grade_id, points=0.0, max_points=cell.points,
                                  status=QuestionStatus.MANUAL, manual=True, message="graded by hand")
        if cell.role == Role.WRITTEN and not cell.attempted:
            question.status, question.message = QuestionStatus.NOT_ATTEMPTED, NO_RESPONSE
            self.result.flag("no_response", f"{grade_id}: no response (the answer is still the "
                             "released stub, or blank): 0 unless marked by hand")
        self.result.questions.append(question)
        return question

    def _setup_in_judge(self, cell) -> None:
        """The instructor's setup cell, run in the judge too; its failure is the course's bug.

        What it prints is dropped: the kernel printed it already, and the grader's own output
        is the progress of the batch."""
        name = f"<setup cell {cell.source_index + 1}>"
        try:
            with working_directory(self.folder), contextlib.redirect_stdout(io.StringIO()):
                exec(compile_cell(cell.code, name), self.namespace)  # noqa: S102
        except Exception as exc:
            raise RuntimeError(
                f"{self.prepared.spec.notebook.name}, cell {cell.source_index + 1} (a setup cell) "
                f"failed in the judge: {type(exc).__name__}: {exc}; fix the source notebook or "
                "mark the cell with metadata autograder.judge = false") from exc

    def _judge(self, cell, pending: Outcome) -> QuestionResult:
        grade_id = cell.grade_id or f"cell-{cell.source_index}"
        filename = f"<tests {grade_id}>"
        kernel, names = self.kernel, self.prepared.names
        self.test_deadline = min(kernel.deadline, time.monotonic() + kernel.limits.cell_timeout)
        cellrun = CellRun()
        self.namespace["check"] = Checks(cellrun, gpu=self.gpu, filename=filename,
                                         hidden_lines=hidden_lines(cell.code))
        self.namespace["reference"] = self.prepared.reference
        if kernel.dead and not kernel.revive():
            return QuestionResult(grade_id, 0.0, cell.points, QuestionStatus.KERNEL_DIED,
                                  "the kernel died earlier and could not be restarted")
        self.link.kernel = kernel.kernel
        try:
            bind_student_names(self.namespace, self.link, names)
        except Exception as exc:  # noqa: BLE001 - the kernel's fault: this question's result
            cellrun.fail(exc)
        else:
            with working_directory(self.folder), as_in_the_kernel(self.link):
                run_in_judge(cell.code, filename, self.namespace, run=cellrun,
                             student_names=names, link=self.link)
        question = score_cell(grade_id=grade_id, points=cell.points, run=cellrun)
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
        if kernel.dead:
            kernel.revive()
        return question


def _max(a, b):
    values = [v for v in (a, b) if v is not None]
    return max(values) if values else None
