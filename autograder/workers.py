"""The grading workers: one process prepares the assignment, then forks a fresh child per submission.

Why a fork per submission: the judge runs each submission's tests with the instructor's seeds,
and numpy's, torch's and Python's global state (random generators, default dtypes, whatever a
test changes in a module or in an object a setup cell made) must not carry over from one
submission to the next. A child forked from a process that has imported what the judge needs,
run the source's setup cells and built the reference starts from that very state every time, in
milliseconds, and shares those memory pages with its siblings: a worker costs what its
submission changes, not another copy of torch.

Why that process is spawned: forking a process that holds threads, kernel sockets or a CUDA
context is unsafe. The preparer starts as a fresh interpreter, never grades, holds no kernel,
and computes on one thread (as the kernels do: a process that ran torch's thread pool cannot
use it again in a fork), so its forks are clean. The batch's own process only sends submissions
and receives results, and stays light. Each process dies with its parent: the batch, the
preparer, its children; the kernel template (started by the preparer) and its cages follow.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import multiprocessing
import os
import pickle
import select
import signal
import struct
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .config import Course, KernelStart
from .errors import AuthoringError, SandboxUnavailable
from .results import SubmissionResult, SubmissionStatus

# Where the judge computes, the kernels' thread counts (cage.kernel_env), set before numpy and
# torch are imported; and torch.cuda.is_available() asked through NVML, which leaves CUDA
# uninitialised in the preparer, so its forks may still use it.
JUDGE_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTORCH_NVML_BASED_CUDA_CHECK": "1"}
READ_CHUNK = 1 << 16
LENGTH = struct.Struct("!Q")  # before a child's result: its size, so a cut one is known
TEARDOWN: list[Callable[[], None]] = []  # in a child: its sandbox's, run once the result is sent


GRADER_ERROR = "grader_error"  # the grader itself failed on this submission: retried next run


class WorkersGone(Exception):
    """The preparer exited (killed, out of memory): the submissions in flight have no result."""


@dataclass
class Finished:
    """A submission's outcome, as its child sent it."""

    key: int  # what the batch gave with the submission
    result: object = None  # what the grading function returned
    raised: BaseException | None = None  # or what it raised (the batch decides what stops it)
    died: str = ""  # or why the child gave nothing: it died, or ran past its time


def grading_limit(course: Course) -> float:
    """How long a child may take: the notebook's limit is the kernel's; past twice that (a test
    looping in the judge, a hang), the child is killed and its submission has no result."""
    return 2 * course.limits.notebook_timeout + 60


class Workers:
    """A preparer and its forks. `submit` a submission, `next` gives outcomes as they finish.

    `grade_one(notebook, course=, assignment=, submission_id=, submitted_at=, require_sandbox=)`
    runs in the child (through grade_safely); None means the engine's grade_submission, whose
    source the preparer prepares first (prepare.py). Use as a context manager: leaving it stops
    every process.
    """

    def __init__(self, *, course: Course, assignment: str, require_sandbox: bool,
                 grade_one: Callable | None = None, limit_s: float | None = None):
        context = multiprocessing.get_context("spawn")
        self._conn, theirs = context.Pipe()
        self.process = context.Process(
            target=serve, name="autograder-preparer", daemon=True,
            args=(theirs, grade_one, course, assignment, require_sandbox,
                  limit_s or grading_limit(course)))
        self.process.start()
        theirs.close()
        self._next_key = 0
        self.running: dict[int, object] = {}  # key → what was submitted

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, kind, *exc) -> None:
        self.close(kill=kind is not None)

    def submit(self, submission) -> int:
        key = self._next_key
        self._next_key += 1
        self.running[key] = submission
        try:
            self._conn.send_bytes(pickle.dumps(("grade", key, submission)))
        except OSError:
            raise WorkersGone("the grading workers' parent process exited") from None
        return key

    def next(self) -> tuple[object, Finished]:
        """The next submission to finish, and how (blocks until one does)."""
        try:
            message = pickle.loads(self._conn.recv_bytes())  # noqa: S301 - our own preparer
        except (EOFError, OSError):
            raise WorkersGone("the grading workers' parent process exited") from None
        if message[0] == "fatal":
            raise message[1]
        _, key, payload, died = message
        outcome = Finished(key, died=died)
        if payload:
            try:
                kind, value = pickle.loads(payload)  # noqa: S301 - our own child's
            except Exception as exc:  # noqa: BLE001 - a torn message: as if it died
                outcome.died = f"its result could not be read ({type(exc).__name__})"
            else:
                if kind == "ok":
                    outcome.result = value
                else:
                    outcome.raised = value
        return self.running.pop(key), outcome

    def close(self, *, kill: bool = False) -> None:
        """Stop the preparer: at once (kill: its forks die with it), or by closing its pipe (it
        stops the forks still grading, removes what it prepared, and exits)."""
        pid = self.process.pid
        if kill and pid is not None and self.process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self._conn.close()
        self.process.join(timeout=30)
        if pid is not None and self.process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self.process.join()


def grade_safely(grade_one: Callable, submission, course: Course, assignment: str,
                 require_sandbox: bool) -> SubmissionResult:
    """Grade one submission (a batch's Submission). A failure of the grader on it becomes a
    result, not a dead batch; the machine's or the course's problem stops the batch."""
    try:
        return grade_one(submission.notebook, course=course, assignment=assignment,
                         submission_id=submission.submission_id,
                         submitted_at=submission.submitted_at, require_sandbox=require_sandbox)
    except Exception as exc:  # noqa: BLE001 - anything, so the other 999 submissions go on
        if isinstance(exc, SandboxUnavailable | AuthoringError):
            raise  # the machine's or the course's problem, not the submission's: stop the batch
        result = SubmissionResult(assignment=assignment, submission_id=submission.submission_id,
                                  status=SubmissionStatus.ERROR, reason=f"the grader failed: {exc!r}"[:500])
        last = traceback.format_exception(exc)[-1].strip()
        result.flag(GRADER_ERROR, f"the grader failed ({last[:300]}); retried on the next run")
        return result


# ---------------------------------------------------------------- in the preparer

@dataclass
class _Child:
    key: int
    pid: int
    started: float
    data: bytearray = field(default_factory=bytearray)
    late: bool = False


def serve(conn, grade_one: Callable | None, course: Course, assignment: str,
          require_sandbox: bool, limit_s: float) -> None:
    """The preparer's loop: fork a child per submission, relay what each one sends back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the batch's to handle
    die_with_parent()
    os.environ.update(JUDGE_ENV)
    with tempfile.TemporaryDirectory(prefix="autograder-prepared-") as folder:
        if grade_one is None:
            try:
                grade_one = _prepare_engine(course, assignment, require_sandbox, Path(folder))
            except BaseException as exc:  # noqa: BLE001 - the batch says it
                conn.send_bytes(pickle.dumps(("fatal", exc)))
                return
        children: dict[int, _Child] = {}  # read end → child, until its result is in
        leaving: set[int] = set()  # children whose result is in: reaped when they exit
        while True:
            ready = _wait([conn, *children], children, limit_s)
            leaving = {pid for pid in leaving if not os.waitpid(pid, os.WNOHANG)[0]}
            if conn in ready:
                try:
                    message = pickle.loads(conn.recv_bytes())  # noqa: S301 - the batch's
                except (EOFError, OSError):
                    break  # the batch is done with us
                _, key, submission = message
                fd, pid = _fork(conn, grade_one, submission, course, assignment,
                                require_sandbox)
                children[fd] = _Child(key, pid, time.monotonic())
            for fd in [f for f in ready if f is not conn]:
                child = children[fd]
                chunk = os.read(fd, READ_CHUNK)
                if chunk:
                    child.data += chunk
                    continue
                os.close(fd)
                del children[fd]
                payload = _complete(bytes(child.data))
                if payload is not None:  # sent before its kernel's teardown: relay it now
                    leaving.add(child.pid)
                    died = ""
                else:
                    _, status = os.waitpid(child.pid, 0)
                    died = _why(child, status, limit_s)
                conn.send_bytes(pickle.dumps(("done", child.key, payload or b"", died)))
        for child in children.values():  # the batch stopped listening: stop them
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
        for pid in [c.pid for c in children.values()] + list(leaving):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _prepare_engine(course: Course, assignment: str, require_sandbox: bool,
                    folder: Path) -> Callable:
    """Import the engine, start the kernel template, prepare the source: once, for every fork.

    The template is started first, so its imports and the judge's overlap. A source that cannot
    be prepared is left to each child: it fails there as a direct grading does."""
    from . import sandbox
    from .errors import AutograderError
    from .starts import Template

    spec = course.assignment(assignment)
    # The template's imports are the longest start-up: begin them before the probe that says
    # whether this machine can build cages (a root process can, mostly), stop them if not.
    if course.limits.kernel_start == KernelStart.TEMPLATE and os.geteuid() == 0:
        with contextlib.suppress(Exception):  # the children say what went wrong, one by one
            Template.get(1)
    with contextlib.suppress(Exception):
        if sandbox.sandbox_level(require_sandbox, start=course.limits.kernel_start) \
                != KernelStart.TEMPLATE:
            Template.shutdown_all()
    from .engine import grade_submission
    from .prepare import prepare_for_forks

    with contextlib.suppress(AutograderError):
        prepare_for_forks(course, spec, folder)
    _one_thread()
    # What the forks share stays shared: the collector would otherwise write into every object
    # it tracks, in every fork, and so copy the pages of the whole heap into each of them.
    gc.freeze()
    return functools.partial(grade_submission, teardown=TEARDOWN)


def _one_thread() -> None:
    """A setup cell may have changed torch's thread count: its forks could not use the pool."""
    torch = __import__("sys").modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def _wait(conns: list, children: dict[int, _Child], limit_s: float) -> list:
    """What is readable; children past their time are killed (their pipe then ends)."""
    now = time.monotonic()
    for child in children.values():
        if not child.late and now - child.started > limit_s:
            child.late = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
    pending = [c.started + limit_s - now for c in children.values() if not c.late]
    timeout = max(0.0, min(pending)) + 0.01 if pending else None
    fds = [c.fileno() if hasattr(c, "fileno") else c for c in conns]
    readable = set(select.select(fds, [], [], timeout)[0])
    return [c for c, fd in zip(conns, fds, strict=True) if fd in readable]


def _why(child: _Child, status: int, limit_s: float) -> str:
    if child.late:
        return f"it ran past {limit_s:g} s (twice the notebook's limit) and was stopped"
    if os.WIFSIGNALED(status):
        return f"it was killed by signal {os.WTERMSIG(status)} (out of memory?)"
    return f"it exited with status {os.waitstatus_to_exitcode(status)} before its result"


def _complete(data: bytes) -> bytes | None:
    """The payload a child sent (its length first), or None if it did not send all of it."""
    if len(data) < LENGTH.size:
        return None
    (size,) = LENGTH.unpack_from(data)
    return bytes(data[LENGTH.size:]) if len(data) == LENGTH.size + size else None


def _fork(conn, grade_one: Callable, submission, course: Course, assignment: str,
          require_sandbox: bool) -> tuple[int, int]:
    """A child grading one submission; (the read end of its result pipe, its pid)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write)
        return read, pid
    # The child: its result goes into `write`, which it closes before tearing down its kernel's
    # sandbox; then it exits without running the preparer's exit handlers (the template and the
    # prepared folder are the preparer's to remove).
    status = 0
    try:
        os.close(read)
        conn.close()
        die_with_parent()
        try:
            payload = pickle.dumps(("ok", grade_safely(grade_one, submission, course,
                                                       assignment, require_sandbox)))
        except BaseException as exc:  # noqa: BLE001 - sent to the batch, which decides
            payload = _raised(exc)
        with os.fdopen(write, "wb") as out:
            out.write(LENGTH.pack(len(payload)) + payload)
        for step in TEARDOWN:
            step()
    except BaseException:  # noqa: BLE001 - nothing may return into the preparer's loop
        status = 1
    finally:
        os._exit(status)


def _raised(exc: BaseException) -> bytes:
    try:
        return pickle.dumps(("raised", exc))
    except Exception:  # noqa: BLE001 - an exception that does not pickle: its text
        return pickle.dumps(("raised", RuntimeError(f"{type(exc).__name__}: {exc}")))


def die_with_parent() -> None:
    """SIGKILL when the parent dies (checked after arming: it may have died already)."""
    parent = os.getppid()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)
