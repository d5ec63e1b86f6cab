"""The trusted judge: test cells run in the grader's process, student names are kernel objects.

A test cell passes when its code raises nothing here. Named checks inside it score on their own.
Nothing the kernel says is executed or unpickled: answers are decoded by codec.decode (see
link.py for the requests). What a student reads of a failure is decided here: a short reason,
never a printout of a hidden test's values; the full technical reason goes to staff (`detail`).
"""

from __future__ import annotations

import ast
import contextlib
import io
import linecache
import re
import sys
import traceback
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

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
from .link import MAX_VALUE_BYTES, MISSING, KernelLink, first_line
from .notebook import BEGIN_HIDDEN, END_HIDDEN
from .results import CheckResult, QuestionResult, QuestionStatus

__all__ = ["MAX_VALUE_BYTES", "KernelBudget", "KernelGone", "KernelLink", "KernelTimeout",
           "NoGPU", "NotAttempted", "StaleObject", "StudentError"]

OUTPUT_CHARS = 4000  # printed by one test cell and kept, visible and hidden parts each
VISIBLE_MESSAGE = 500  # a failed visible assertion's text, at most
HIDDEN_MESSAGE = 200  # what a student reads of a failure in a hidden part, at most
NAMES = "__autograder_names__"  # the judge's object behind `del name` / `name = ...` of a test


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
        hidden = _in_hidden_part(sys._getframe(1), self.filename, self.hidden_lines)
        record = CheckRecord(str(name), float(points), bool(needs_gpu), hidden=hidden)
        self.run.checks.append(record)
        return _Check(record, gpu=self.gpu, where=self)


class _Check:
    def __init__(self, record: CheckRecord, *, gpu: bool, where: Checks):
        self.record, self.gpu, self.where = record, gpu, where

    def __enter__(self) -> CheckRecord:
        return self.record

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: types.TracebackType | None) -> bool:
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
        record.hidden = record.hidden or _raised_in_hidden_part(exc, self.where.filename,
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


def _in_hidden_part(frame: types.FrameType | None, filename: str, hidden: frozenset[int]) -> bool:
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


def _raised_in_hidden_part(exc: BaseException, filename: str, hidden: frozenset[int]) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename and tb.tb_lineno in hidden:
            return True
        tb = tb.tb_next
    return False


class CellOutput(io.TextIOBase):
    """sys.stdout while a test cell runs: what it prints goes to its result, split by the part
    (visible or hidden) that printed it, each capped."""

    def __init__(self, filename: str, hidden: frozenset[int], limit: int = OUTPUT_CHARS):
        self.filename, self.hidden, self.limit = filename, hidden, limit
        self.parts: dict[bool, list[str]] = {False: [], True: []}
        self.sizes = {False: 0, True: 0}
        self.cut = {False: False, True: False}

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        part = _in_hidden_part(sys._getframe(1), self.filename, self.hidden)
        room = self.limit - self.sizes[part]
        if len(text) > room:
            self.cut[part] = True
        if room > 0:
            self.parts[part].append(text[:room])
            self.sizes[part] += min(len(text), room)
        return len(text)

    def text(self, hidden: bool) -> str:
        out = "".join(self.parts[hidden])
        return out + ("\n[… output cut]" if self.cut[hidden] else "")


# Student names in a test cell -------------------------------------------------------------


class StudentNames:
    """`del name` and `name = value` of a student's name in a test cell act in the kernel too,
    as they would in nbgrader where the test runs in the kernel: nbgrader's "does not use
    `squares`" idiom deletes it, calls the function, and puts it back."""

    def __init__(self, namespace: dict[str, Any], link: KernelLink | None, names: frozenset[str]):
        self.namespace, self.link, self.names = namespace, link, names

    def delete(self, name: str) -> None:
        if name not in self.namespace:
            raise NameError(f"name {name!r} is not defined")
        if self.link is not None:
            self.link.delete_name(name)
        del self.namespace[name]

    def assigned(self, name: str) -> None:
        if self.link is not None and name in self.namespace:
            self.link.set_name(name, self.namespace[name])


class _SyncStudentNames(ast.NodeTransformer):
    """Rewrites the cell's own statements (not those of functions or classes it defines):
    `del name` → `__autograder_names__.delete("name")`, and after `name = ...` a call to
    `__autograder_names__.assigned("name")`, for the student's names only."""

    def __init__(self, names: frozenset[str]):
        self.names = names

    def _call(self, method: str, name: str, where: ast.AST) -> ast.stmt:
        call = ast.Expr(ast.Call(ast.Attribute(ast.Name(NAMES, ast.Load()), method, ast.Load()),
                                 [ast.Constant(name)], []))
        return ast.copy_location(call, where)

    def _bound(self, target: ast.AST) -> list[str]:
        if isinstance(target, ast.Name):
            return [target.id] if target.id in self.names else []
        if isinstance(target, ast.Tuple | ast.List):
            return [n for elt in target.elts for n in self._bound(elt)]
        if isinstance(target, ast.Starred):
            return self._bound(target.value)
        return []

    def visit_FunctionDef(self, node: ast.AST) -> ast.AST:
        return node

    visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = visit_FunctionDef

    def visit_Delete(self, node: ast.Delete) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for target in node.targets:  # in order: `del a, b` deletes a, then b
            if isinstance(target, ast.Name) and target.id in self.names:
                out.append(self._call("delete", target.id, node))
            else:
                out.append(ast.copy_location(ast.Delete([target]), node))
        return out

    def _assignment(self, node: ast.stmt, targets: Sequence[ast.AST]) -> list[ast.stmt]:
        self.generic_visit(node)
        names = [n for t in targets for n in self._bound(t)]
        return [node] + [self._call("assigned", n, node) for n in dict.fromkeys(names)]

    def visit_Assign(self, node: ast.Assign) -> list[ast.stmt]:
        return self._assignment(node, node.targets)

    def visit_AugAssign(self, node: ast.AugAssign) -> list[ast.stmt]:
        return self._assignment(node, [node.target])

    def visit_AnnAssign(self, node: ast.AnnAssign) -> list[ast.stmt]:
        return self._assignment(node, [node.target] if node.value is not None else [])


def compile_cell(code: str, filename: str, *,
                 student_names: frozenset[str] = frozenset()) -> types.CodeType:
    """Compile trusted cell code so tracebacks and inspect.getsource (scenarios) see it; with
    student_names, `del` and assignments of those names are rewritten (see StudentNames)."""
    lines = [line + "\n" for line in code.splitlines()]
    linecache.cache[filename] = (len(code), None, lines, filename)
    tree = ast.parse(code, filename)
    if student_names:
        tree = ast.fix_missing_locations(_SyncStudentNames(student_names).visit(tree))
    return compile(tree, filename, "exec")


def run_in_judge(code: str, filename: str, namespace: dict[str, Any], *, run: CellRun,
                 student_names: frozenset[str] = frozenset(),
                 link: KernelLink | None = None) -> CellRun:
    """Run one test cell's full source (visible + hidden) in the judge.

    What it prints is kept in the run (visible and hidden parts apart), not on the grader's
    stdout; `del` and assignments of the student's names reach the kernel.
    """
    hidden = hidden_lines(code)
    output = CellOutput(filename, hidden)
    namespace[NAMES] = StudentNames(namespace, link, student_names)
    try:
        with contextlib.redirect_stdout(output):
            exec(compile_cell(code, filename, student_names=student_names),  # noqa: S102
                 namespace)  # the instructor's trusted tests
    except BaseException as exc:  # noqa: BLE001 - every failure of a test cell is a result
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        run.fail(exc, hidden=_raised_in_hidden_part(exc, filename, hidden))
    run.output, run.hidden_output = output.text(False), output.text(True)
    return run


def bind_student_names(namespace: dict[str, Any], link: KernelLink,
                       names: set[str] | frozenset[str]) -> None:
    """Bind each student name to its value in the kernel: plain data as a copy, anything else as
    a handle to that very object (so `orig = f; del f` keeps `orig`); a missing name is unbound."""
    if not names:
        return
    for name, value in link.names(sorted(names)).items():
        if value is MISSING:
            namespace.pop(name, None)
        else:
            namespace[name] = value
