"""The untrusted side's cage: a bubblewrap sandbox with its own uid, limits and a private work dir.

The student's kernel runs here. It gets no network (own network namespace), sees only the system,
the Python installation and its own work dir (no source, no other submission, no result, no
grader file), runs as an unprivileged uid with every capability dropped (bwrap run as root would
otherwise leave it able to remount /usr writable), with an environment built from nothing, and
limits enforced from outside: memory and process count by a cgroup, CPU, file size and open files
by rlimits, disk by a sized tmpfs, wall time by the caller.
"""

from __future__ import annotations

import contextlib
import fcntl
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
import time
from dataclasses import dataclass, field
from pathlib import Path

from .config import Limits
from .errors import SandboxUnavailable

# How a kernel is isolated. `template` and `bwrap` build the same cage (see template.py); the
# template forks kernels from a process that has already imported torch, bwrap starts each anew.
TEMPLATE, BWRAP, NONE = "template", "bwrap", "none"
FULL = (TEMPLATE, BWRAP)
HOME = "/home/student"  # the kernel's work dir, as the kernel sees it
FIRST_UID = 61000  # one uid per concurrent sandbox, so RLIMIT_NPROC counts this sandbox alone
UID_SLOTS = 512
LOCK_DIR = Path(tempfile.gettempdir()) / "autograder-uids"
CGROUP_ROOT = Path("/sys/fs/cgroup")
SYSTEM_FILES = ("/etc/alternatives", "/etc/ld.so.cache", "/etc/ssl", "/etc/localtime")
TEMPLATE_SCRIPT = Path(__file__).with_name("template.py")
EXCHANGE_MB = 512  # sockets, the connection file, and judge requests too big to inline
# Imported once by the template, so kernels start with them loaded (CUDA stays uninitialised).
PRELOAD = ("ipykernel.kernelapp", "numpy", "torch")


def bwrap_available() -> bool:
    return shutil.which("bwrap") is not None and shutil.which("setpriv") is not None \
        and os.geteuid() == 0


def template_available() -> bool:
    return os.geteuid() == 0 and sys.platform == "linux" and hasattr(os, "pidfd_open") \
        and os.uname().machine in ("x86_64", "aarch64")


def sandbox_level(required: bool, *, start: str = TEMPLATE) -> str:
    """The isolation this machine gives: refuse, or degrade loudly, where it is not full.

    `start` is the course's choice of how kernels start (grading.kernel_start): `template` where
    the machine allows it, else bubblewrap.
    """
    if start == TEMPLATE and template_available():
        return TEMPLATE
    if bwrap_available():
        return BWRAP
    why = ("bubblewrap is not installed" if shutil.which("bwrap") is None
           else "the grader is not root, so it cannot drop the kernel to its own uid")
    if required:
        raise SandboxUnavailable(
            f"cannot sandbox student kernels: {why}",
            hint="install bubblewrap (apt-get install bubblewrap) and grade as root, as CI and "
                 "the container do; or pass --no-require-sandbox to grade UNSANDBOXED on a "
                 "machine you do not mind students' code running on",
        )
    return NONE


def python_roots() -> list[Path]:
    """Folders the kernel's Python needs, read-only: the interpreter and its packages."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    return sorted(roots)


def _ro_binds(paths: list[Path]) -> list[str]:
    """--ro-bind each path, creating its parents 0755 so the unprivileged uid can pass."""
    argv: list[str] = []
    made: set[Path] = set()
    for path in paths:
        for parent in reversed(path.parents):
            if parent == Path("/") or parent in made or str(parent) in ("/usr",):
                continue
            if parent.is_relative_to("/usr"):
                break
            argv += ["--perms", "0755", "--dir", str(parent)]
            made.add(parent)
        argv += ["--ro-bind", str(path), str(path)]
    return argv


def bwrap_argv(*, uid: int, ipc_dir: Path, limits: Limits, env: dict[str, str],
               gpu_devices: list[str], command: list[str]) -> list[str]:
    """The bubblewrap command line (pure: tested without starting anything).

    Order matters: tmpfs mounts come before the binds placed under them.
    """
    argv = ["bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--hostname", "sandbox",
            "--die-with-parent", "--new-session", "--clearenv",
            "--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib64", "sbin"):
        target = Path("/") / link
        if target.is_symlink():
            argv += ["--symlink", os.readlink(target), f"/{link}"]
        elif target.exists():
            argv += ["--ro-bind", str(target), f"/{link}"]
    argv += ["--perms", "0755", "--dir", "/etc"]
    for path in SYSTEM_FILES:
        if Path(path).exists():
            argv += ["--ro-bind", path, path]
    # A minimal passwd so tools asking "who am I" get an answer instead of a crash.
    argv += ["--dev", "/dev", "--proc", "/proc",
             "--size", str(64 * 2**20), "--perms", "1777", "--tmpfs", "/tmp",
             "--perms", "0755", "--dir", "/home",
             # bwrap cannot chown: the work dir is open to all, and only the kernel's uid is here.
             "--size", str(limits.disk_mb * 2**20), "--perms", "0777", "--tmpfs", HOME]
    for dev in gpu_devices:
        argv += ["--dev-bind", dev, dev]
    argv += _ro_binds(python_roots())
    argv += ["--bind", str(ipc_dir), str(ipc_dir), "--chdir", HOME]
    for key, value in sorted(env.items()):
        argv += ["--setenv", key, value]
    # Drop to the sandbox's own uid, with no capability left to regain root inside.
    argv += ["--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
             "--inh-caps=-all", "--bounding-set=-all", "--"]
    return argv + rlimit_argv(limits) + command


def rlimits(limits: Limits, *, own_uid: bool = True) -> dict[str, int]:
    """Per-process limits; memory and process count are the cgroup's job where there is one.

    RLIMIT_NPROC counts every process of the uid on the machine, so it is only set where the
    sandbox has a uid of its own.
    """
    out = {
        "RLIMIT_CPU": int(limits.notebook_timeout * max(1, os.cpu_count() or 1)) + 60,
        "RLIMIT_FSIZE": limits.disk_mb * 2**20,
        "RLIMIT_NOFILE": 1024,
        "RLIMIT_CORE": 0,
    }
    if own_uid:
        out["RLIMIT_NPROC"] = limits.processes
    return out


def rlimit_argv(limits: Limits, *, own_uid: bool = True) -> list[str]:
    option = {"RLIMIT_CPU": "--cpu", "RLIMIT_FSIZE": "--fsize", "RLIMIT_NOFILE": "--nofile",
              "RLIMIT_CORE": "--core", "RLIMIT_NPROC": "--nproc"}
    return ["prlimit", *(f"{option[k]}={v}" for k, v in rlimits(limits, own_uid=own_uid).items()),
            "--"]


def kernel_env(limits: Limits, threads: int) -> dict[str, str]:
    """Everything the kernel sees of its environment: built from nothing, no grader variable."""
    return {
        "HOME": HOME,
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "JPY_SESSION_NAME": "submission.ipynb",
    }


class Cgroup:
    """A memory + pids cgroup for one sandbox (v1 here, v2 where the machine has it).

    Enforced by the kernel of the OS, outside the sandbox; also gives the peak memory.
    """

    def __init__(self, name: str, *, memory_mb: int, processes: int):
        self.paths: list[Path] = []
        self.version = 0
        v2 = CGROUP_ROOT / "cgroup.controllers"
        try:
            if v2.exists() and "memory" in v2.read_text():
                path = CGROUP_ROOT / "autograder" / name
                path.mkdir(parents=True, exist_ok=True)
                with contextlib.suppress(OSError):
                    (path.parent / "cgroup.subtree_control").write_text("+memory +pids")
                (path / "memory.max").write_text(str(memory_mb * 2**20))
                with contextlib.suppress(OSError):
                    (path / "memory.swap.max").write_text("0")
                (path / "pids.max").write_text(str(processes))
                self.paths, self.version = [path], 2
            elif (CGROUP_ROOT / "memory" / "cgroup.procs").exists():
                mem = CGROUP_ROOT / "memory" / "autograder" / name
                pids = CGROUP_ROOT / "pids" / "autograder" / name
                mem.mkdir(parents=True, exist_ok=True)
                self.paths = [mem]
                (mem / "memory.limit_in_bytes").write_text(str(memory_mb * 2**20))
                with contextlib.suppress(OSError):
                    (mem / "memory.memsw.limit_in_bytes").write_text(str(memory_mb * 2**20))
                if (CGROUP_ROOT / "pids").exists():
                    pids.mkdir(parents=True, exist_ok=True)
                    (pids / "pids.max").write_text(str(processes))
                    self.paths.append(pids)
                self.version = 1
        except OSError:
            self.remove()
            self.paths, self.version = [], 0

    @property
    def active(self) -> bool:
        return bool(self.paths)

    def procs_files(self) -> list[str]:
        return [str(p / "cgroup.procs") for p in self.paths]

    def peak_memory_mb(self) -> float | None:
        if not self.paths:
            return None
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        try:
            return int((self.paths[0] / name).read_text()) / 2**20
        except (OSError, ValueError):
            return None

    def oom_killed(self) -> bool:
        if not self.paths:
            return False
        try:
            if self.version == 2:
                events = (self.paths[0] / "memory.events").read_text()
                return any(line.startswith("oom_kill ") and line.split()[1] != "0"
                           for line in events.splitlines())
            for name in ("memory.failcnt", "memory.memsw.failcnt"):
                with contextlib.suppress(OSError, ValueError):
                    if int((self.paths[0] / name).read_text()) > 0:
                        return True
            control = (self.paths[0] / "memory.oom_control").read_text()
            return any(line.startswith("oom_kill ") and line.split()[1] != "0"
                       for line in control.splitlines())
        except (OSError, ValueError, IndexError):
            return False

    def pids(self) -> list[int]:
        out: set[int] = set()
        for f in self.procs_files():
            with contextlib.suppress(OSError, ValueError):
                out.update(int(x) for x in Path(f).read_text().split())
        return sorted(out)

    def kill_all(self) -> None:
        for _ in range(20):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)

    def remove(self) -> None:
        for path in self.paths:
            for _ in range(20):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


@dataclass
class UidLease:
    """A uid no other running sandbox on this machine uses (a flock held while it lives)."""

    uid: int
    _fh: object = field(repr=False, default=None)

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
        raise RuntimeError("no free sandbox uid")

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # type: ignore[attr-defined]
            self._fh = None


@dataclass
class SandboxProcess:
    """One started sandbox: the process, its cgroup, its private folders. Close it always."""

    level: str
    process: subprocess.Popen
    ipc_dir: Path
    cgroup: Cgroup | None
    lease: UidLease | None
    root_dir: Path | None = None  # mount point of the cage's root (template starts)
    _closed: bool = False

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

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        if self.cgroup is not None:
            self.cgroup.kill_all()
            self.cgroup.remove()
        if self.level in FULL:
            _unmount_exchange(self.ipc_dir)
        shutil.rmtree(self.ipc_dir, ignore_errors=True)
        if self.root_dir is not None:
            with contextlib.suppress(OSError):
                self.root_dir.rmdir()
        if self.lease is not None:
            self.lease.release()


_libc = None


def _mount_exchange(path: Path, *, uid: int, size_mb: int) -> bool:
    """A sized tmpfs on the folder the kernel shares with the grader (sockets, big requests).

    The kernel must be able to write there (its sockets), and the folder lives on the host: without
    a size, a kernel could fill the grader's disk through it.
    """
    global _libc
    import ctypes

    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    options = f"size={size_mb * 2**20},mode=0700,uid={uid},gid={uid},nr_inodes=4096"
    return _libc.mount(b"tmpfs", str(path).encode(), b"tmpfs", ctypes.c_ulong(2 | 4 | 8),
                       options.encode()) == 0  # nosuid, nodev, noexec


def _unmount_exchange(path: Path) -> None:
    if _libc is not None:
        _libc.umount2(str(path).encode(), 2)  # MNT_DETACH


class ForkedProcess:
    """A kernel forked by the template: not our child, so watched through a pidfd (no pid reuse)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        self._fd = os.pidfd_open(pid)

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._fd], [], [], 0)[0]:
            self.returncode = -1  # exited; its status belongs to the template, its parent
            os.close(self._fd)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not select.select([self._fd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(f"sandbox {self.pid}", timeout or 0)
        return self.poll()  # type: ignore[return-value]

    def kill(self) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError, OSError):
                signal.pidfd_send_signal(self._fd, signal.SIGKILL)


class Template:
    """The pre-imported template process of this grader process (one per pid and thread count)."""

    _instances: dict[tuple[int, int], Template] = {}
    _guard = threading.Lock()

    def __init__(self, threads: int):
        env = kernel_env(Limits(), threads)
        preload = [m for m in PRELOAD if importlib.util.find_spec(m.split(".")[0]) is not None]
        # -I: no script folder, user site or PYTHON* variables; the template holds no grader code.
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(TEMPLATE_SCRIPT), *preload], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd="/",
            start_new_session=True, text=True, bufsize=1)
        self.lock = threading.Lock()
        ready = self._read(timeout=120)
        if "ready" not in ready:
            raise RuntimeError("the kernel template did not start")

    @classmethod
    def get(cls, threads: int) -> Template:
        key = (os.getpid(), threads)
        with cls._guard:
            template = cls._instances.get(key)
            if template is None or template.process.poll() is not None:
                template = cls._instances[key] = cls(threads)
            return template

    def _read(self, timeout: float) -> dict:
        if not select.select([self.process.stdout], [], [], timeout)[0]:
            raise RuntimeError("the kernel template did not answer")
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the kernel template exited")
        return json.loads(line)

    def spawn(self, spec: dict) -> int:
        with self.lock:
            self.process.stdin.write(json.dumps(spec) + "\n")
            self.process.stdin.flush()
            return int(self._read(timeout=30)["pid"])


def _template_spec(*, uid: int, ipc_dir: Path, root_dir: Path, limits: Limits,
                   env: dict[str, str], gpu_devices: list[str], connection_file: str,
                   cgroup: Cgroup) -> dict:
    """What template.py needs to build the same cage as bwrap_argv (pure, tested)."""
    symlinks = {name: os.readlink(f"/{name}") for name in ("bin", "lib", "lib64", "sbin")
                if Path(f"/{name}").is_symlink()}
    return {
        "uid": uid, "root": str(root_dir), "ipc_dir": str(ipc_dir), "home": HOME,
        "disk_bytes": limits.disk_mb * 2**20, "symlinks": symlinks,
        "ro_files": [p for p in SYSTEM_FILES if Path(p).exists()],
        "python_roots": [str(p) for p in python_roots()], "gpu_devices": list(gpu_devices),
        "env": env, "connection_file": connection_file, "rlimits": rlimits(limits),
        "cgroup_procs": cgroup.procs_files(),
    }


def start(command_for: callable, *, limits: Limits, level: str, gpu_devices: list[str] = (),
          threads: int = 1) -> SandboxProcess:
    """Start `command_for(ipc_dir, uid)` (the kernel's argv) inside a new sandbox.

    The caller owns the result and must close() it (the kernel module does, in a context manager).
    """
    ipc_dir = Path(tempfile.mkdtemp(prefix="autograder-ipc-"))
    lease = cgroup = root_dir = None
    try:
        env = kernel_env(limits, threads)
        if level in FULL:
            lease = UidLease.acquire()
            if not _mount_exchange(ipc_dir, uid=lease.uid, size_mb=EXCHANGE_MB):
                raise SandboxUnavailable(f"cannot mount a tmpfs on {ipc_dir}",
                                         hint="grade as root on Linux, as CI and the container do")
            cgroup = Cgroup(f"{os.getpid()}-{lease.uid}-{time.monotonic_ns()}",
                            memory_mb=limits.memory_mb, processes=limits.processes)
            command = command_for(ipc_dir, lease.uid)
        if level == TEMPLATE:
            root_dir = Path(tempfile.mkdtemp(prefix="autograder-root-"))
            spec = _template_spec(uid=lease.uid, ipc_dir=ipc_dir, root_dir=root_dir,
                                  limits=limits, env=env, gpu_devices=list(gpu_devices),
                                  connection_file=command[command.index("-f") + 1],
                                  cgroup=cgroup)
            process = ForkedProcess(Template.get(threads).spawn(spec))
        elif level == BWRAP:
            argv = bwrap_argv(uid=lease.uid, ipc_dir=ipc_dir, limits=limits, env=env,
                              gpu_devices=list(gpu_devices), command=command)
            # Join the cgroup before bwrap starts, so every process of the sandbox is in it.
            joins = "".join(f'echo $$ > "{f}" && ' for f in cgroup.procs_files())
            argv = ["sh", "-c", joins + 'exec "$@"', "sh", *argv]
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, start_new_session=True,
                                       env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        else:
            # No isolation: only a scrubbed environment and rlimits. Recorded in every result.
            env["HOME"] = str(ipc_dir)
            argv = rlimit_argv(limits, own_uid=False) + command_for(ipc_dir, os.getuid())
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, start_new_session=True,
                                       env=env, cwd=ipc_dir)
    except BaseException:
        if cgroup is not None:
            cgroup.kill_all()
            cgroup.remove()
        if lease is not None:
            lease.release()
            _unmount_exchange(ipc_dir)
        shutil.rmtree(ipc_dir, ignore_errors=True)
        if root_dir is not None:
            with contextlib.suppress(OSError):
                root_dir.rmdir()
        raise
    return SandboxProcess(level, process, ipc_dir, cgroup, lease, root_dir)
