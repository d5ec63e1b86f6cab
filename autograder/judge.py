"""The trusted judge: test cells run in the grader's process, student names are kernel proxies.

A test cell passes when its code raises nothing here. Named checks inside it score on their own.
Nothing the kernel says is executed or unpickled: answers are decoded by codec.decode.
"""

from __future__ import annotations

import contextlib
import inspect
import linecache
import os
import secrets
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import codec
from .kernel import DIED, TIMEOUT, Kernel
from .results import (
    CELL_TIMEOUT,
    FAILED,
    KERNEL_DIED,
    NOT_ATTEMPTED,
    NOT_GRADED,
    PARTIAL,
    PASSED,
    CheckResult,
    QuestionResult,
)

MAX_VALUE_BYTES = 64 * 2**20  # a student variable bigger than this stays in the kernel
INLINE_REQUEST_BYTES = 64 * 1024  # bigger requests go through a file


class StudentError(Exception):
    """The student's code raised in the kernel; its type travels as a name, never as a class."""

    def __init__(self, type_name: str, message: str, where: str = ""):
        self.type_name, self.message, self.where = type_name, message, where
        super().__init__(f"{where}raised {type_name}: {message}" if where else
                         f"{type_name}: {message}")


class NotAttempted(Exception):
    """The student's code still raises NotImplementedError: the release stub is untouched."""


class KernelTimeout(Exception):
    pass


class KernelGone(Exception):
    """The kernel died (killed, out of memory, os._exit) during a request."""


class NoGPU(Exception):
    """A check that needs a GPU, on a machine without one: reported as not graded."""


class KernelLink:
    """Requests from the judge to the agent in the kernel, under the current deadline."""

    def __init__(self, kernel: Kernel, *, deadline: Callable[[], float]):
        self.kernel = kernel
        self.deadline = deadline

    def request(self, request: dict, *, what: str = "") -> Any:
        nonce = secrets.token_hex(8)
        blob = codec.encode_request(request, ref_of=_ref_of)
        agent = "__import__('sys').modules['_autograder_agent'].agent"
        exchange = self.kernel.box.ipc_dir if self.kernel.box is not None else None
        remaining = self.deadline() - time.monotonic()
        if remaining <= 0:
            raise KernelTimeout(f"{what}: no time left for this test")
        if len(blob) > INLINE_REQUEST_BYTES and exchange is not None:
            # A big argument (a data set, a tensor) travels as a file in the folder the kernel
            # shares with us: megabytes of string literal in the code would cost seconds to parse.
            path = exchange / f"request-{nonce}.b64"
            # The kernel owns that folder: never follow or reuse a name it may have planted.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(blob)
            code = f"{agent}.serve_file({nonce!r}, {str(path)!r})"
        else:
            path = None
            code = f"{agent}.serve({nonce!r}, {blob!r})"
        try:
            run = self.kernel.execute(code, timeout=remaining)
        finally:
            if path is not None:
                path.unlink(missing_ok=True)
        if run.status == TIMEOUT:
            raise KernelTimeout(f"{what} ran past the time limit")
        if run.status == DIED or not self.kernel.alive():
            raise KernelGone(f"the kernel died while running {what or 'a test'}")
        answers = [p for p in run.payloads if isinstance(p, dict) and p.get("nonce") == nonce]
        if not answers:
            raise StudentError("NoAnswer", "the notebook's code prevented the call from "
                               f"returning a value ({run.ename or 'no answer'})", _where(what))
        value = answers[-1].get("value")
        if isinstance(value, dict) and value.get("t") == "error":
            type_name = str(value.get("type", "Exception"))[:100]
            message = str(value.get("message", ""))[:2000]
            if type_name == "NotImplementedError":
                raise NotAttempted(f"{what} is not implemented yet")
            raise StudentError(type_name, message, _where(what))
        return codec.decode(value, link=self)

    def call(self, ref: tuple, args: tuple, kwargs: dict, what: str = "") -> Any:
        return self.request({"op": "call", "target": ref, "args": args, "kwargs": kwargs},
                            what=what or _describe(ref))

    def getattr(self, ref: tuple, name: str) -> Any:
        return self.request({"op": "getattr", "target": ref, "name": name},
                            what=f"{_describe(ref)}.{name}")

    def getitem(self, ref: tuple, key: Any) -> Any:
        return self.request({"op": "getitem", "target": ref, "key": key},
                            what=f"{_describe(ref)}[...]")

    def len(self, ref: tuple) -> Any:
        return self.request({"op": "len", "target": ref}, what=f"len({_describe(ref)})")

    def value(self, name: str) -> Any:
        return self.request({"op": "value", "target": ("name", name)}, what=name)

    def describe(self, names: list[str]) -> dict[str, str]:
        kinds = self.request({"op": "describe", "names": sorted(names),
                              "max_bytes": MAX_VALUE_BYTES}, what="the notebook's names")
        if not isinstance(kinds, dict):
            return {}
        return {k: v for k, v in kinds.items() if isinstance(k, str) and v in
                ("value", "object", "missing")}

    def run(self, fn: Callable, args: tuple, kwargs: dict) -> Any:
        if not inspect.isfunction(fn):
            raise TypeError("in_kernel() takes a function defined in the test cell")
        source = inspect.getsource(fn)
        return self.request({"op": "run", "source": source, "filename": f"<scenario {fn.__name__}>",
                             "name": fn.__name__, "args": args, "kwargs": kwargs},
                            what=f"scenario {fn.__name__}()")


def _where(what: str) -> str:
    return f"{what} " if what else ""


def _describe(ref: tuple) -> str:
    kind, key = ref
    return str(key) if kind == "name" else "a kernel object"


def _ref_of(obj: Any) -> Any:
    if isinstance(obj, KernelName):
        return ("name", object.__getattribute__(obj, "_name"))
    if isinstance(obj, codec.Handle):
        return obj._ref()
    return None


class KernelName(codec.Handle):
    """A name the student defined, resolved in the kernel each time it is used."""

    __slots__ = ("_name",)

    def __init__(self, name: str, link: KernelLink):
        super().__init__(0, name, link)
        object.__setattr__(self, "_name", name)

    def _ref(self) -> tuple[str, str]:
        return ("name", self._name)

    def __repr__(self) -> str:
        return f"<{self._name} in the student's kernel>"


# Scoring ----------------------------------------------------------------------------------


@dataclass
class CheckRecord:
    name: str
    points: float
    needs_gpu: bool
    status: str = PASSED
    message: str = ""


@dataclass
class CellRun:
    """What running one test cell in the judge gave, before scoring."""

    checks: list[CheckRecord] = field(default_factory=list)
    error: BaseException | None = None
    message: str = ""


# Lines of numpy/torch assertion messages that print the compared values: in a hidden test, the
# expected side is the hidden answer, so they never reach a student's feedback.
_VALUE_LINES = ("x:", "y:", "ACTUAL:", "DESIRED:")


def describe_error(exc: BaseException) -> str:
    """A short message for the student: the assertion's text, or what their code raised."""
    if isinstance(exc, AssertionError):
        lines = [line for line in str(exc).splitlines() if line.strip()
                 and not line.lstrip().startswith(_VALUE_LINES)
                 and not line.lstrip().startswith(("array(", "tensor(", "[", "]"))]
        return " ".join(lines)[:500] or "an assertion failed"
    if isinstance(exc, StudentError | NotAttempted | KernelTimeout | KernelGone):
        return str(exc)[:1000]
    if isinstance(exc, NameError):
        return f"{exc} (is it defined in your notebook, and did its cell run?)"
    return f"{type(exc).__name__}: {exc}"[:1000]


def score_cell(*, grade_id: str, points: float, run: CellRun) -> QuestionResult:
    """Points of one test cell: each check on its own, the rest only if the cell raised nothing.

    Pure: the statuses decide everything, so it is tested without a kernel.
    """
    checks = [
        CheckResult(name=c.name, points=c.points if c.status == PASSED else 0.0,
                    max_points=c.points, status=c.status, message=c.message,
                    needs_gpu=c.needs_gpu)
        for c in run.checks
    ]
    rest = max(0.0, points - sum(c.max_points for c in checks))
    earned = sum(c.points for c in checks) + (rest if run.error is None else 0.0)
    graded_max = rest + sum(c.max_points for c in checks if c.status != NOT_GRADED)
    message = run.message
    if isinstance(run.error, NotAttempted) and not any(c.status == PASSED for c in checks):
        status = NOT_ATTEMPTED
    elif isinstance(run.error, KernelTimeout):
        status = CELL_TIMEOUT
    elif isinstance(run.error, KernelGone):
        status = KERNEL_DIED
    elif points == 0:  # an ungraded check (nbgrader accepts 0-point cells): run, reported
        failed = run.error is not None or any(c.status == FAILED for c in checks)
        status = FAILED if failed else PASSED
    elif graded_max == 0 and checks:
        status = NOT_GRADED
    elif earned >= graded_max - 1e-9:
        status = PASSED
    elif earned > 0:
        status = PARTIAL
    else:
        status = FAILED
    if not message:
        failed = [c for c in checks if c.status == FAILED]
        message = failed[0].message if failed else ""
    return QuestionResult(grade_id=grade_id, points=round(earned, 4), max_points=points,
                          status=status, message=message, checks=checks)


class Checks:
    """`with check("what", points=1): ...` in a test cell: one scored check."""

    def __init__(self, run: CellRun, *, gpu: bool):
        self.run = run
        self.gpu = gpu

    def __call__(self, name: str, points: float = 1.0, needs_gpu: bool = False) -> _Check:
        record = CheckRecord(str(name), float(points), bool(needs_gpu))
        self.run.checks.append(record)
        return _Check(record, gpu=self.gpu)


class _Check:
    def __init__(self, record: CheckRecord, *, gpu: bool):
        self.record, self.gpu = record, gpu

    def __enter__(self) -> CheckRecord:
        return self.record

    def __exit__(self, kind, exc, tb) -> bool:
        if self.record.needs_gpu and not self.gpu:
            self.record.status, self.record.message = NOT_GRADED, "not graded (no GPU)"
            return kind is None or issubclass(kind, Exception)
        if exc is None:
            return False
        if isinstance(exc, KernelGone):
            self.record.status, self.record.message = FAILED, describe_error(exc)
            return False  # nothing after this can run: let the cell stop
        if isinstance(exc, NoGPU):
            self.record.status, self.record.message = NOT_GRADED, "not graded (no GPU)"
            return True
        if isinstance(exc, Exception):
            self.record.status, self.record.message = FAILED, describe_error(exc)
            return True
        return False


# Namespaces --------------------------------------------------------------------------------


def compile_cell(code: str, filename: str) -> types.CodeType:
    """Compile trusted cell code so tracebacks and inspect.getsource (scenarios) see it."""
    lines = [line + "\n" for line in code.splitlines()]
    linecache.cache[filename] = (len(code), None, lines, filename)
    return compile(code, filename, "exec")


def run_in_judge(code: str, filename: str, namespace: dict) -> CellRun:
    """Run one test cell's full source (visible + hidden) in the judge."""
    run = namespace["__cellrun__"]
    try:
        exec(compile_cell(code, filename), namespace)  # noqa: S102 - instructor's trusted tests
    except BaseException as exc:  # noqa: BLE001 - every failure of a test cell is a result
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        run.error = exc
        run.message = describe_error(exc)
    return run


def bind_student_names(namespace: dict, link: KernelLink, names: set[str]) -> None:
    """Bind each student name: small plain data as its value, anything else as a proxy."""
    if not names:
        return
    kinds = link.describe(sorted(names))
    for name in names:
        kind = kinds.get(name, "missing")
        if kind == "missing":
            namespace.pop(name, None)
        elif kind == "value":
            with contextlib.suppress(StudentError, codec.CodecError):
                namespace[name] = link.value(name)
                continue
            namespace[name] = KernelName(name, link)
        else:
            namespace[name] = KernelName(name, link)
