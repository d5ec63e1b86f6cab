"""A memory + pids cgroup per sandbox (v1 here, v2 where the machine has it), and the leftovers.

Enforced by the OS kernel, outside the sandbox; it also gives the peak memory and every process
of the sandbox, so a cage can be emptied whatever its processes did (forked, changed session).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
GROUP = "autograder"  # every sandbox's cgroup sits under this one


def parents(root: Path = ROOT) -> list[Path]:
    """The folders holding the sandboxes' cgroups on this machine (v2, or v1 memory and pids)."""
    return [root / GROUP, root / "memory" / GROUP, root / "pids" / GROUP]


class Cgroup:
    """One sandbox's cgroup; `with Cgroup(...)` kills what is left in it and removes it on exit."""

    def __init__(self, name: str, *, memory_mb: int, processes: int, root: Path = ROOT):
        self.name = name
        self.paths: list[Path] = []
        self.version = 0
        v2 = root / "cgroup.controllers"
        try:
            if v2.exists() and "memory" in v2.read_text():
                path = root / GROUP / name
                path.mkdir(parents=True, exist_ok=True)
                self.paths, self.version = [path], 2
                with contextlib.suppress(OSError):
                    (path.parent / "cgroup.subtree_control").write_text("+memory +pids")
                (path / "memory.max").write_text(str(memory_mb * 2**20))
                with contextlib.suppress(OSError):
                    (path / "memory.swap.max").write_text("0")
                (path / "pids.max").write_text(str(processes))
            elif (root / "memory" / "cgroup.procs").exists():
                mem = root / "memory" / GROUP / name
                mem.mkdir(parents=True, exist_ok=True)
                self.paths, self.version = [mem], 1
                (mem / "memory.limit_in_bytes").write_text(str(memory_mb * 2**20))
                with contextlib.suppress(OSError):
                    (mem / "memory.memsw.limit_in_bytes").write_text(str(memory_mb * 2**20))
                if (root / "pids").exists():
                    pids = root / "pids" / GROUP / name
                    pids.mkdir(parents=True, exist_ok=True)
                    self.paths.append(pids)
                    (pids / "pids.max").write_text(str(processes))
        except OSError:
            self.close()
            self.paths, self.version = [], 0

    @classmethod
    def existing(cls, paths: list[Path]) -> Cgroup:
        """A cgroup found on disk (left by a grader that died), to empty and remove."""
        found = cls.__new__(cls)
        found.name, found.paths = paths[0].name if paths else "", list(paths)
        found.version = 2 if paths and (paths[0] / "memory.max").exists() else 1
        return found

    def __enter__(self) -> Cgroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    def kill_all(self, patience: float = 2.0) -> None:
        """SIGKILL every process in the cgroup until none is left (or `patience` has passed).

        Killed processes leave within milliseconds: look again soon, then less often."""
        deadline, pause = time.monotonic() + patience, 0.001
        while True:
            pids = self.pids()
            if not pids or time.monotonic() > deadline:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(pause)
            pause = min(2 * pause, 0.05)

    def close(self) -> None:
        """Kill every process left in the cgroup, then remove it."""
        self.kill_all()
        for path in self.paths:
            for _ in range(40):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
        self.paths = []
