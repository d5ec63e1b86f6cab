"""The cages of graders that died: found by the owner stamped in their names, and removed.

Every cgroup, exchange folder and root folder a grader makes for a sandbox carries its owner:
the grader's pid and that process's start time (a pid alone can be reused). A grader that
starts removes what belongs to dead owners only, so the cages of graders running beside it
on the same machine are never touched. Killed graders leave their sandboxes' processes dead
already (each dies with its grader); what remains are mounts, folders and cgroups.

Owners are pids of this pid namespace: graders that share a cgroup tree and a temp folder must
share it too (as on one machine or in one container; Docker gives each its own cgroup view).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import cgroups

IPC_PREFIX, ROOT_PREFIX = "autograder-ipc-", "autograder-root-"
# <pid>.<start time>, then "-" and the rest (older graders wrote <pid>- in cgroup names).
_OWNER = re.compile(r"^(\d+)(?:\.(\d+))?-")
MNT_DETACH = 2


def start_time(pid: int) -> int | None:
    """When a process started (clock ticks since boot, /proc/<pid>/stat field 22); None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: the fields start after the last ")".
    fields = stat[stat.rfind(")") + 2:].split()
    return int(fields[19])


def owner(pid: int | None = None) -> str:
    """This process's stamp, `<pid>.<start time>`."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}.{start_time(pid)}"


def owner_of(name: str) -> tuple[int, int | None] | None:
    """(pid, start time) from a stamped name; None for a name that carries no owner."""
    match = _OWNER.match(name)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)) if match.group(2) else None


def is_dead(stamp: tuple[int, int | None]) -> bool:
    """Whether the owner is gone: no such pid, or the pid now belongs to a later process.

    A name without a start time (older graders) is dead only when its pid is.
    """
    pid, started = stamp
    current = start_time(pid)
    if current is None:
        return True
    return started is not None and current != started


@dataclass
class Swept:
    cgroups: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)


def sweep(*, tmp: Path | None = None, cgroup_root: Path = cgroups.ROOT,
          mountinfo: Path = Path("/proc/self/mountinfo")) -> Swept:
    """Remove the cgroups, exchange mounts and folders of dead graders; return what went."""
    tmp = Path(tmp or tempfile.gettempdir())
    swept = Swept()
    names: dict[str, list[Path]] = {}
    for parent in cgroups.parents(cgroup_root):
        with contextlib.suppress(OSError):
            for entry in parent.iterdir():
                if entry.is_dir():
                    names.setdefault(entry.name, []).append(entry)
    for name, paths in sorted(names.items()):
        stamp = owner_of(name)
        if stamp is not None and is_dead(stamp):
            cgroups.Cgroup.existing(paths).close()
            swept.cgroups.append(name)
    for point in _mount_points(mountinfo):
        path = Path(point)
        stamp = owner_of(path.name[len(IPC_PREFIX):]) if path.name.startswith(IPC_PREFIX) else None
        if path.parent == tmp and stamp is not None and is_dead(stamp):
            if _umount(path):
                swept.mounts.append(point)
    with contextlib.suppress(OSError):
        for entry in sorted(tmp.iterdir()):
            for prefix in (IPC_PREFIX, ROOT_PREFIX):
                if not entry.name.startswith(prefix):
                    continue
                stamp = owner_of(entry.name[len(prefix):])
                if stamp is None or not is_dead(stamp) or _is_mount(entry, mountinfo):
                    continue
                if entry.is_symlink() or not entry.is_dir():
                    continue
                shutil.rmtree(entry, ignore_errors=True)
                swept.folders.append(entry.name)
    return swept


def _mount_points(mountinfo: Path) -> list[str]:
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return []
    # Field 5 is the mount point, with spaces and such written as octal escapes.
    return [re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            for line in lines if len(line.split()) > 4]


def _is_mount(path: Path, mountinfo: Path) -> bool:
    return str(path) in _mount_points(mountinfo)


def _umount(path: Path) -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.umount2(str(path).encode(), MNT_DETACH) == 0
