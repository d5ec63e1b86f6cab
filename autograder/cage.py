"""What one sandbox is made of, as data: the bubblewrap command line and the template's spec.

Pure: nothing here starts a process, so the cage's description is tested without one. Both
starts read the same `Cage`: the template builds with system calls what bubblewrap builds from
its command line, and tests/test_cage.py compares the two cages a kernel really gets.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Limits

HOME = "/home/student"  # the kernel's work dir, as the kernel sees it
SYSTEM_FILES = ("/etc/alternatives", "/etc/ld.so.cache", "/etc/ssl", "/etc/localtime")
TMP_BYTES = 64 * 2**20  # /tmp and /dev/shm in the cage


@dataclass(frozen=True)
class Cage:
    """One sandbox: who runs in it, what it sees, what it may use, what it runs."""

    uid: int
    ipc_dir: Path  # shared with the grader (sockets, big requests): same path inside and out
    limits: Limits
    env: dict[str, str]
    command: tuple[str, ...]  # the kernel's argv
    devices: tuple[tuple[str, str], ...] = ()  # (node on the host, path in the cage): a GPU
    cgroup_procs: tuple[str, ...] = ()  # cgroup.procs files the cage joins before it starts
    root_dir: Path | None = None  # where the template mounts the cage's root
    threads: int = 1  # the template to fork from: one per thread count

    @property
    def connection_file(self) -> str:
        return self.command[self.command.index("-f") + 1]


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


def bwrap_argv(cage: Cage) -> list[str]:
    """The bubblewrap command line.

    Order matters: tmpfs mounts come before the binds placed under them; / is remounted
    read-only last, as the template does after pivot_root.
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
    argv += ["--dev", "/dev", "--size", str(TMP_BYTES), "--perms", "1777", "--tmpfs", "/dev/shm",
             "--proc", "/proc",
             "--size", str(TMP_BYTES), "--perms", "1777", "--tmpfs", "/tmp",
             "--perms", "0755", "--dir", "/home",
             # bwrap cannot chown: the work dir is open to all, and only the kernel's uid is here.
             "--size", str(cage.limits.disk_mb * 2**20), "--perms", "0777", "--tmpfs", HOME]
    for host, inside in cage.devices:
        argv += ["--dev-bind", host, inside]
    argv += _ro_binds(python_roots())
    argv += ["--bind", str(cage.ipc_dir), str(cage.ipc_dir), "--remount-ro", "/",
             "--chdir", HOME]
    for key, value in sorted(cage.env.items()):
        argv += ["--setenv", key, value]
    # Drop to the sandbox's own uid, with no capability left to regain root inside.
    argv += ["--", "setpriv", f"--reuid={cage.uid}", f"--regid={cage.uid}", "--clear-groups",
             "--inh-caps=-all", "--bounding-set=-all", "--"]
    return argv + rlimit_argv(cage.limits) + list(cage.command)


def template_spec(cage: Cage) -> dict[str, Any]:
    """What template.py needs to build the same cage as bwrap_argv."""
    symlinks = {name: os.readlink(f"/{name}") for name in ("bin", "lib", "lib64", "sbin")
                if Path(f"/{name}").is_symlink()}
    return {
        "uid": cage.uid, "root": str(cage.root_dir), "ipc_dir": str(cage.ipc_dir), "home": HOME,
        "disk_bytes": cage.limits.disk_mb * 2**20, "tmp_bytes": TMP_BYTES, "symlinks": symlinks,
        "ro_files": [p for p in SYSTEM_FILES if Path(p).exists()],
        "python_roots": [str(p) for p in python_roots()],
        "devices": [list(pair) for pair in cage.devices],
        "env": cage.env, "connection_file": cage.connection_file,
        "rlimits": rlimits(cage.limits), "cgroup_procs": list(cage.cgroup_procs),
    }


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


def kernel_env(limits: Limits, threads: int, *, gpu_visible: str = "") -> dict[str, str]:
    """Everything the kernel sees of its environment: built from nothing, no grader variable.

    CUDA_VISIBLE_DEVICES names the one GPU the kernel was given ("" for none), so the CUDA
    libraries agree with the device nodes the cage holds.
    """
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
        "CUDA_VISIBLE_DEVICES": gpu_visible,
    }
