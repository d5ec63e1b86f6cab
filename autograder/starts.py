"""The ways a cage is started, one function each: forked from the template, bubblewrap, none.

Each takes the cage's description and the ExitStack that owns the sandbox, registers there what
it made, and returns the process to watch. sandbox.STARTS maps `grading.kernel_start` to one.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import importlib.util
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any, Protocol

from . import orphans
from .cage import Cage, bwrap_argv, kernel_env, rlimit_argv, template_spec
from .config import Limits
from .errors import TemplateError

TEMPLATE_SCRIPT = Path(__file__).with_name("template.py")
# Imported once by the template, so kernels start with them loaded (CUDA stays uninitialised).
PRELOAD = ("ipykernel.kernelapp", "numpy", "torch")


class Watched(Protocol):
    """A sandbox's main process as the grader watches it: a child (Popen) or a forked kernel."""

    pid: int

    def poll(self) -> int | None: ...


def from_template(cage: Cage, stack: ExitStack) -> ForkedProcess:
    """Fork the kernel from this grader's template: the cage is built by template.py."""
    root = Path(tempfile.mkdtemp(prefix=f"{orphans.ROOT_PREFIX}{orphans.owner()}-"))
    stack.callback(_remove_dir, root)  # empty on the host: the cage mounted it in its own view
    spec = template_spec(dataclasses.replace(cage, root_dir=root))
    process = ForkedProcess(Template.get(cage.threads).spawn(spec))
    stack.callback(process.stop)
    return process


def with_bwrap(cage: Cage, stack: ExitStack) -> subprocess.Popen[bytes]:
    """Start the kernel under bubblewrap, which dies with this grader (--die-with-parent)."""
    # Join the cgroup before bwrap starts, so every process of the sandbox is in it.
    joins = "".join(f'echo $$ > "{f}" && ' for f in cage.cgroup_procs)
    argv = ["sh", "-c", joins + 'exec "$@"', "sh", *bwrap_argv(cage)]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True,
                               env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    stack.callback(_stop_popen, process)
    return process


def uncaged(cage: Cage, stack: ExitStack) -> subprocess.Popen[bytes]:
    """No isolation: a scrubbed environment and rlimits only (recorded in every result)."""
    env = dict(cage.env, HOME=str(cage.ipc_dir))
    dies_with_us = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []
    argv = dies_with_us + rlimit_argv(cage.limits, own_uid=False) + list(cage.command)
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True, env=env,
                               cwd=cage.ipc_dir)
    stack.callback(_stop_popen, process)
    return process


def _stop_popen(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _remove_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


class ForkedProcess:
    """A kernel forked by the template: not our child, so watched through a pidfd (no pid reuse)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        self._fd: int | None = os.pidfd_open(pid)

    def poll(self) -> int | None:
        if self._fd is not None and select.select([self._fd], [], [], 0)[0]:
            self.returncode = -1  # exited; its status belongs to the template, its parent
            self._close()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self._fd is not None and not select.select([self._fd], [], [], timeout)[0]:
            raise subprocess.TimeoutExpired(f"sandbox {self.pid}", timeout or 0)
        code = self.poll()
        return -1 if code is None else code

    def kill(self) -> None:
        if self.returncode is None and self._fd is not None:
            with contextlib.suppress(ProcessLookupError, OSError):
                signal.pidfd_send_signal(self._fd, signal.SIGKILL)

    def stop(self) -> None:
        self.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.wait(timeout=5)
        self._close()

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.returncode is None:
            self.returncode = -1  # no longer watched (stop() killed it): never polled again


class Template:
    """The pre-imported template process of this grader process (one per pid and thread count).

    `with Template(threads) as t:` or `Template.get(threads)`, shut down when the grader exits
    (atexit). Its stdin is its lifeline: when the grader is gone, even killed, the template
    reads end-of-file and dies, and every cage it forked dies with it (template.py).
    """

    _instances: dict[tuple[int, int], Template] = {}
    _guard = threading.Lock()
    _at_exit = False

    def __init__(self, threads: int):
        env = kernel_env(Limits(), threads)
        del env["CUDA_VISIBLE_DEVICES"]  # each kernel gets its own after the fork
        preload = [m for m in PRELOAD if importlib.util.find_spec(m.split(".")[0]) is not None]
        # -I: no script folder, user site or PYTHON* variables; the template holds no grader code.
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(TEMPLATE_SCRIPT), *preload], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd="/",
            start_new_session=True, text=True, bufsize=1)
        assert self.process.stdin is not None and self.process.stdout is not None  # pipes
        self.stdin: IO[str] = self.process.stdin  # the template's lifeline, and its orders
        self.stdout: IO[str] = self.process.stdout
        self.lock = threading.Lock()
        try:
            if "ready" not in self._read(timeout=120):
                raise TemplateError("the kernel template did not start")
        except BaseException:
            self.shutdown()
            raise

    def __enter__(self) -> Template:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    @classmethod
    def get(cls, threads: int) -> Template:
        key = (os.getpid(), threads)
        with cls._guard:
            template = cls._instances.get(key)
            if template is None or template.process.poll() is not None:
                if not cls._at_exit:
                    atexit.register(cls.shutdown_all)
                    cls._at_exit = True
                template = cls._instances[key] = cls(threads)
            return template

    @classmethod
    def shutdown_all(cls) -> None:
        with cls._guard:
            for key in [k for k in cls._instances if k[0] == os.getpid()]:
                cls._instances.pop(key).shutdown()

    def shutdown(self) -> None:
        """Close the lifeline: the template and any cage still running from it exit."""
        with contextlib.suppress(OSError):
            self.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        with contextlib.suppress(OSError):
            self.stdout.close()

    def _read(self, timeout: float) -> dict[str, Any]:
        if not select.select([self.stdout], [], [], timeout)[0]:
            raise TemplateError("the kernel template did not answer")
        line = self.stdout.readline()
        if not line:
            raise TemplateError("the kernel template exited")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def spawn(self, spec: dict[str, Any]) -> int:
        with self.lock:
            try:
                self.stdin.write(json.dumps(spec) + "\n")
                self.stdin.flush()
            except OSError as exc:
                raise TemplateError(f"the kernel template is gone ({exc.strerror})") from None
            return int(self._read(timeout=30)["pid"])
