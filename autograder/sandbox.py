"""The untrusted side's cage: a sandbox with its own uid, limits and a private work dir.

The student's kernel runs here. It gets no network (own network namespace), sees only the system,
the Python installation and its own work dir (no source, no other submission, no result, no
grader file), runs as an unprivileged uid with every capability dropped (bwrap run as root would
otherwise leave it able to remount /usr writable), with an environment built from nothing, and
limits enforced from outside: memory and process count by a cgroup, CPU, file size and open files
by rlimits, disk by a sized tmpfs, wall time by the caller. It dies with the grader, and a grader
that starts removes what dead graders left (orphans.py).

This module holds the policy (which isolation this machine gives) and a sandbox's life: what it
is made of is cage.py, how it is started starts.py.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from . import orphans, starts
from .cage import HOME, Cage, bwrap_argv, kernel_env
from .cgroups import Cgroup
from .config import KERNEL_STARTS, KernelStart, Limits
from .errors import NoFreeUid, SandboxUnavailable

__all__ = ["FULL", "HOME", "STARTS", "SandboxProcess", "UidLease", "sandbox_level", "start"]

FULL = KERNEL_STARTS  # the starts that build a cage
STARTS: dict[KernelStart, Callable[[Cage, contextlib.ExitStack], starts.Watched]] = {
    KernelStart.TEMPLATE: starts.from_template, KernelStart.BWRAP: starts.with_bwrap,
    KernelStart.NONE: starts.uncaged}
FIRST_UID = 61000  # one uid per concurrent sandbox, so RLIMIT_NPROC counts this sandbox alone
UID_SLOTS = 512
PROBE_UID = FIRST_UID + UID_SLOTS  # runs only the capability probes, for an instant
LOCK_DIR = Path(tempfile.gettempdir()) / "autograder-uids"
EXCHANGE_MB = 512  # sockets, the connection file, and judge requests too big to inline


# --- what this machine gives ------------------------------------------------------------------

@functools.cache
def probe(level: KernelStart) -> str:
    """Why `level` cannot build a cage here ("" when it can), found by building one.

    Not a guess from a binary's presence or the uid: a root container without user or mount
    namespaces has both and still cannot build a cage.
    """
    if sys.platform != "linux":
        return "sandboxes need Linux"
    if os.geteuid() != 0:
        return "the grader is not root, so it cannot drop the kernel to its own uid"
    if level == KernelStart.TEMPLATE:
        if not hasattr(os, "pidfd_open") or os.uname().machine not in ("x86_64", "aarch64"):
            return "forking kernels into cages needs Linux >= 5.3 on x86_64 or aarch64"
        argv = [sys.executable, "-I", str(starts.TEMPLATE_SCRIPT), "--probe", str(PROBE_UID)]
    elif level == KernelStart.BWRAP:
        missing = [tool for tool in ("bwrap", "setpriv", "prlimit") if shutil.which(tool) is None]
        if missing:
            return f"{' and '.join(missing)} not installed (apt-get install bubblewrap util-linux)"
        folder = Path(tempfile.mkdtemp(prefix="autograder-probe-"))
        cage = Cage(uid=PROBE_UID, ipc_dir=folder, limits=Limits(), env={"HOME": HOME},
                    command=("true",))
        argv = bwrap_argv(cage)
    else:
        return ""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the {level} cage did not start: {exc}"
    finally:
        if level == KernelStart.BWRAP:
            shutil.rmtree(folder, ignore_errors=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return f"the {level} cage could not be built here: {last[:300]}"
    return ""


def template_available() -> bool:
    return probe(KernelStart.TEMPLATE) == ""


def bwrap_available() -> bool:
    return probe(KernelStart.BWRAP) == ""


def sandbox_level(required: bool, *, start: KernelStart = KernelStart.TEMPLATE) -> KernelStart:
    """The isolation this machine gives: refuse, or degrade loudly, where it is not full.

    `start` is the course's choice of how kernels start (grading.kernel_start): `template` where
    the machine allows it, else bubblewrap.
    """
    if start == KernelStart.TEMPLATE and template_available():
        return KernelStart.TEMPLATE
    if bwrap_available():
        return KernelStart.BWRAP
    if required:
        raise SandboxUnavailable(
            f"cannot sandbox student kernels: {probe(KernelStart.BWRAP)}",
            hint="install bubblewrap (apt-get install bubblewrap) and grade as root, as CI and "
                 "the container do; or pass --no-require-sandbox to grade UNSANDBOXED on a "
                 "machine you do not mind students' code running on",
        )
    return KernelStart.NONE


# --- what one sandbox holds ----------------------------------------------------------------------

@dataclass
class UidLease:
    """A uid no other running sandbox on this machine uses (a flock held while it lives).

    A grader that dies, even by SIGKILL, frees its leases with its file descriptors.
    """

    uid: int
    _fh: IO[str] | None = field(repr=False, default=None)

    @classmethod
    def acquire(cls) -> UidLease:
        LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
        start = (os.getpid() * 7) % UID_SLOTS
        for i in range(UID_SLOTS):
            uid = FIRST_UID + (start + i) % UID_SLOTS
            fh = open(LOCK_DIR / f"{uid}.lock", "w")  # noqa: SIM115 - held for the lease
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                continue
            return cls(uid, fh)
        raise NoFreeUid(f"all {UID_SLOTS} sandbox uids are in use on this machine",
                        hint="fewer workers, or wait for other grading runs to finish")

    def __enter__(self) -> UidLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def exchange_mount(path: Path, *, uid: int, size_mb: int = EXCHANGE_MB) -> Iterator[Path]:
    """A sized tmpfs on the folder the kernel shares with the grader (sockets, big requests).

    The kernel must be able to write there (its sockets), and the folder lives on the host: without
    a size, a kernel could fill the grader's disk through it.
    """
    options = f"size={size_mb * 2**20},mode=0700,uid={uid},gid={uid},nr_inodes=4096"
    if _libc.mount(b"tmpfs", str(path).encode(), b"tmpfs", ctypes.c_ulong(2 | 4 | 8),
                   options.encode()) != 0:  # nosuid, nodev, noexec
        raise SandboxUnavailable(f"cannot mount a tmpfs on {path}",
                                 hint="grade as root on Linux, as CI and the container do")
    try:
        yield path
    finally:
        _libc.umount2(str(path).encode(), orphans.MNT_DETACH)


@dataclass
class SandboxProcess:
    """One started sandbox: the process, its cgroup, its private folders. Close it always."""

    level: KernelStart
    process: starts.Watched  # a Popen or a starts.ForkedProcess
    ipc_dir: Path
    cgroup: Cgroup | None
    uid: int
    _stack: contextlib.ExitStack = field(repr=False, default_factory=contextlib.ExitStack)

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def alive(self) -> bool:
        return self.process.poll() is None

    def pids(self) -> list[int]:
        """Host pids of every process in the sandbox (for per-process GPU accounting)."""
        if self.cgroup is not None and self.cgroup.active:
            return self.cgroup.pids()
        return [self.process.pid]

    def peak_memory_mb(self) -> float | None:
        return self.cgroup.peak_memory_mb() if self.cgroup is not None else None

    def oom_killed(self) -> bool:
        return self.cgroup.oom_killed() if self.cgroup is not None else False

    def cage_error(self) -> str:
        """Why the template could not build the cage, as its child wrote it (no link followed)."""
        try:
            fd = os.open(self.ipc_dir / "cage-error.txt", os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return ""
        with os.fdopen(fd, errors="replace") as fh:
            return fh.read(500)

    def kill(self) -> None:
        """SIGKILL the sandbox's first process now (its cage follows it); close() frees the rest."""
        with contextlib.suppress(ProcessLookupError, OSError):
            self.process.kill()

    def close(self) -> None:
        """Kill the kernel and everything it started, then free what the sandbox held."""
        self._stack.close()


_swept: set[int] = set()
_sweep_lock = threading.Lock()


def sweep_once() -> None:
    """Remove the leftovers of dead graders, once per grader process, before its first cage."""
    with _sweep_lock:
        if os.getpid() not in _swept:
            _swept.add(os.getpid())
            orphans.sweep()


def start(command_for: Callable[[Path, int], list[str]], *, limits: Limits, level: KernelStart,
          devices: tuple[tuple[str, str], ...] = (), gpu_visible: str = "",
          threads: int = 1) -> SandboxProcess:
    """Start `command_for(ipc_dir, uid)` (the kernel's argv) inside a new sandbox.

    Everything the sandbox holds is entered on one ExitStack, in order: a failure at any step
    unwinds what was made so far, and close() later unwinds all of it the same way.
    """
    launch = STARTS[level]
    if level in FULL:
        sweep_once()
    owner = orphans.owner()
    stack = contextlib.ExitStack()
    with stack:
        ipc_dir = Path(tempfile.mkdtemp(prefix=f"{orphans.IPC_PREFIX}{owner}-"))
        stack.callback(shutil.rmtree, ipc_dir, ignore_errors=True)
        cgroup, uid = None, os.getuid()
        if level in FULL:
            uid = stack.enter_context(UidLease.acquire()).uid
            stack.enter_context(exchange_mount(ipc_dir, uid=uid))
            cgroup = stack.enter_context(Cgroup(f"{owner}-{uid}-{time.monotonic_ns()}",
                                                memory_mb=limits.memory_mb,
                                                processes=limits.processes))
        cage = Cage(uid=uid, ipc_dir=ipc_dir, limits=limits,
                    env=kernel_env(limits, threads, gpu_visible=gpu_visible),
                    command=tuple(command_for(ipc_dir, uid)), devices=tuple(devices),
                    cgroup_procs=tuple(cgroup.procs_files()) if cgroup else (), threads=threads)
        box = SandboxProcess(level, launch(cage, stack), ipc_dir, cgroup, uid, stack.pop_all())
    return box
