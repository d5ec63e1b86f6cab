"""Scoring a test cell and what a student reads of its failures: checks, points, messages.

Pure: what running a cell in the judge recorded (its checks, its error) decides its points and
status, so scoring is tested without a kernel. What a student reads of a failure is decided here:
a short reason, never a printout of a hidden test's values; the full technical reason goes to
staff (`detail`).
"""

from __future__ import annotations

import linecache
import re
import sys
import traceback
import types
from dataclasses import dataclass, field

from . import codec
from .errors import (
    KernelBudget,
    KernelGone,
    KernelTimeout,
    NoGPU,
    NotAttempted,
    StaleObject,
    StudentError,
)
from .gpu import NO_GPU_MESSAGE
from .link import first_line
from .notebook import BEGIN_HIDDEN, END_HIDDEN
from .results import CheckResult, QuestionResult, QuestionStatus

VISIBLE_MESSAGE = 500  # a failed visible assertion's text, at most
HIDDEN_MESSAGE = 200  # what a student reads of a failure in a hidden part, at most


# Messages -----------------------------------------------------------------------------------

# Where numpy/torch assertion messages start printing the compared values (or their
# differences): in a hidden test the expected side is the hidden answer.
_VALUE_LINE = re.compile(
    r"^\s*((x|y|ACTUAL|DESIRED)\s*:|(Max|Greatest) (absolute|relative)|First |array\(|tensor\(|"
    r"\[)", re.I)


def _assertion_text(exc: AssertionError, *, hidden: bool) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    kept = []
    for line in lines:
        if _VALUE_LINE.match(line):
            break  # the values and everything after them (wrapped lines of an array)
        kept.append(line)
    if hidden:
        return first_line(kept[0], HIDDEN_MESSAGE) if kept else "an assertion failed"
    text = " ".join(kept)
    return (text[:VISIBLE_MESSAGE - 1] + "…" if len(text) > VISIBLE_MESSAGE else text) \
        or "an assertion failed"


def _failed_line(exc: BaseException) -> str:
    """The line of the test cell where exc was raised (the innermost one)."""
    line, tb = "", exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.startswith("<tests "):
            line = linecache.getline(name, tb.tb_lineno).strip()
        tb = tb.tb_next
    return line


def explain(exc: BaseException, *, hidden: bool = False) -> tuple[str, str]:
    """(what the student reads, what staff read) about an exception of a test cell.

    The student's sentence speaks of their code; text the student controls (their exceptions'
    messages) is cut to its first line and HIDDEN_MESSAGE characters; a failed hidden assertion
    shows its first line only (numpy's printout of the expected values follows it). Staff get
    the type, the full text and both tracebacks.
    """
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-3000:]
    kernel_tb = getattr(exc, "autograder_traceback", "")
    if kernel_tb:
        detail = f"{detail}\nin the student's kernel:\n{kernel_tb[-2000:]}"
    where = getattr(exc, "autograder_where", None)
    if isinstance(exc, NotAttempted):
        message = first_line(exc, HIDDEN_MESSAGE)
    elif where is not None:  # the student's code raised it, in the kernel
        text = getattr(exc, "autograder_text", "")
        message = f"{where} raised {type(exc).__name__}" + (f": {text}" if text else "")
    elif isinstance(exc, KernelTimeout | KernelGone | StudentError | KernelBudget):
        message = first_line(exc, 2 * HIDDEN_MESSAGE)
    elif isinstance(exc, StaleObject):
        message = ("the kernel was restarted during these tests (it died or ran out of time); "
                   "an object made before could not be used")
    elif isinstance(exc, codec.NotComparable):
        message = (f"your code gave back a {first_line(exc.type_name, 80)} object where the test "
                   "needs plain data (numbers, strings, lists, dicts, arrays or tensors)")
    elif isinstance(exc, codec.CodecError):
        message = "your code gave back data the grader cannot read (not plain data)"
    elif isinstance(exc, AssertionError):
        message = _assertion_text(exc, hidden=hidden)
        line = "" if hidden or str(exc).strip() else _failed_line(exc)
        if line:  # a bare `assert` of a visible test: its line says what was expected
            message = f"assertion failed: {first_line(line, VISIBLE_MESSAGE)}"
    elif isinstance(exc, NameError):
        message = (f"{first_line(exc, HIDDEN_MESSAGE)} (is it defined in your notebook, and did "
                   "its cell run?)")
    else:
        message = f"{type(exc).__name__}: {first_line(exc, HIDDEN_MESSAGE)}"
    return message, detail


def describe_error(exc: BaseException, *, hidden: bool = False) -> str:
    """The student's sentence about an exception (see explain)."""
    return explain(exc, hidden=hidden)[0]


# Scoring ----------------------------------------------------------------------------------


@dataclass
class CheckRecord:
    name: str
    points: float
    needs_gpu: bool
    status: QuestionStatus = QuestionStatus.PASSED
    message: str = ""
    hidden: bool = False
    detail: str = ""


@dataclass
class CellRun:
    """What running one test cell in the judge gave, before scoring."""

    checks: list[CheckRecord] = field(default_factory=list)
    error: BaseException | None = None
    message: str = ""
    detail: str = ""
    hidden: bool = False  # the error was raised in the hidden part
    output: str = ""  # printed by the visible part
    hidden_output: str = ""  # printed by the hidden part: staff only

    def fail(self, exc: BaseException, *, hidden: bool = False) -> None:
        self.error, self.hidden = exc, hidden
        self.message, self.detail = explain(exc, hidden=hidden)


def score_cell(*, grade_id: str, points: float, run: CellRun) -> QuestionResult:
    """Points of one test cell: each check on its own, the rest only if the cell raised nothing.

    Pure: the statuses decide everything, so it is tested without a kernel.
    """
    checks = [
        CheckResult(name=c.name, points=c.points if c.status == QuestionStatus.PASSED else 0.0,
                    max_points=c.points, status=c.status, message=c.message,
                    needs_gpu=c.needs_gpu, hidden=c.hidden, detail=c.detail)
        for c in run.checks
    ]
    rest = max(0.0, points - sum(c.max_points for c in checks))
    earned = sum(c.points for c in checks) + (rest if run.error is None else 0.0)
    graded_max = rest + sum(c.max_points for c in checks if c.status != QuestionStatus.NOT_GRADED)
    message, detail = run.message, run.detail
    if isinstance(run.error, NotAttempted) \
            and not any(c.status == QuestionStatus.PASSED for c in checks):
        status = QuestionStatus.NOT_ATTEMPTED
    elif isinstance(run.error, KernelTimeout):
        status = QuestionStatus.TIMEOUT
    elif isinstance(run.error, KernelGone):
        status = QuestionStatus.KERNEL_DIED
    elif points == 0:  # an ungraded check (nbgrader accepts 0-point cells): run, reported
        failed = run.error is not None or any(c.status == QuestionStatus.FAILED for c in checks)
        status = QuestionStatus.FAILED if failed else QuestionStatus.PASSED
    elif graded_max == 0 and checks:
        status = QuestionStatus.NOT_GRADED
    elif earned >= graded_max - 1e-9:
        status = QuestionStatus.PASSED
    elif earned > 0:
        status = QuestionStatus.PARTIAL
    else:
        status = QuestionStatus.FAILED
    if not message:
        first = next((c for c in checks if c.status == QuestionStatus.FAILED), None)
        message = first.message if first else ""
        detail = detail or (first.detail if first else "")
    return QuestionResult(grade_id=grade_id, points=round(earned, 4), max_points=points,
                          status=status, message=message, checks=checks, detail=detail,
                          output=run.output, hidden_output=run.hidden_output)


class Checks:
    """`with check("what", points=1): ...` in a test cell: one scored check."""

    def __init__(self, run: CellRun, *, gpu: bool, filename: str = "",
                 hidden_lines: frozenset[int] = frozenset()):
        self.run = run
        self.gpu = gpu
        self.filename, self.hidden_lines = filename, hidden_lines

    def __call__(self, name: str, points: float = 1.0, needs_gpu: bool = False) -> _Check:
        hidden = in_hidden_part(sys._getframe(1), self.filename, self.hidden_lines)
        record = CheckRecord(str(name), float(points), bool(needs_gpu), hidden=hidden)
        self.run.checks.append(record)
        return _Check(record, gpu=self.gpu, where=self)


class _Check:
    def __init__(self, record: CheckRecord, *, gpu: bool, where: Checks):
        self.record, self.gpu, self.where = record, gpu, where

    def __enter__(self) -> CheckRecord:
        return self.record

    def __exit__(self, kind, exc, tb) -> bool:
        record = self.record
        if record.needs_gpu and not self.gpu:
            record.status, record.message = QuestionStatus.NOT_GRADED, NO_GPU_MESSAGE
            return kind is None or issubclass(kind, Exception)
        if exc is None:
            return False
        if isinstance(exc, NoGPU):
            record.status, record.message = QuestionStatus.NOT_GRADED, NO_GPU_MESSAGE
            return True
        if not isinstance(exc, Exception):
            return False
        record.hidden = record.hidden or raised_in_hidden_part(exc, self.where.filename,
                                                                self.where.hidden_lines)
        record.status = QuestionStatus.FAILED
        record.message, record.detail = explain(exc, hidden=record.hidden)
        # Nothing after a dead kernel or a spent budget can run: let the cell stop.
        return not isinstance(exc, KernelGone | KernelBudget)


# Where in a test cell ------------------------------------------------------------------------


def hidden_lines(code: str) -> frozenset[int]:
    """Line numbers (1-based) of a test cell's hidden parts, markers included."""
    out, inside = set(), False
    for number, line in enumerate(code.splitlines(), start=1):
        stripped = line.strip()
        if stripped == BEGIN_HIDDEN:
            inside = True
        if inside:
            out.add(number)
        if stripped == END_HIDDEN:
            inside = False
    return frozenset(out)


def in_hidden_part(frame: types.FrameType | None, filename: str, hidden: frozenset[int]) -> bool:
    """Whether code running now was reached from a hidden line of the cell: a helper defined in
    the visible part but called from the hidden part counts as hidden. Code reached from no line
    of the cell counts as hidden too."""
    seen = False
    while frame is not None:
        if frame.f_code.co_filename == filename:
            seen = True
            if frame.f_lineno in hidden:
                return True
        frame = frame.f_back
    return not seen


def raised_in_hidden_part(exc: BaseException, filename: str, hidden: frozenset[int]) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename and tb.tb_lineno in hidden:
            return True
        tb = tb.tb_next
    return False
