"""The memory of a running grader, sampled from /proc: its own processes, and its kernels' side.

PSS (proportional set size, /proc/<pid>/smaps_rollup) divides each shared page between the
processes that map it, so the PSS of a grader's processes adds up to what they cost the machine
together; RSS counts a page shared by ten forks ten times. Both are reported.

The grader is started in a session of its own (start_new_session). Its own processes are its
descendants in that same session: the batch's process, the preparer and its grading forks,
multiprocessing's helpers. Every sandbox (the kernel template and the kernels it forks, or
bubblewrap) is started with start_new_session=True by autograder/starts.py, so it leaves the
grader's session: a descendant in another session is kernel-side and is counted apart; the
kernel templates (template.py) are reported on their own, since they hold what every kernel
starts from.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, session id) from /proc/<pid>/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the command name may hold spaces
    return int(fields[1]), int(fields[3])


def rollup_kb(pid: int) -> dict[str, int]:
    """Rss, Pss, Private_* ... of one process, in kB (empty if it is gone)."""
    found = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[-1] == "kB":
                found[parts[0].rstrip(":")] = int(parts[1])
    except (OSError, ValueError):
        pass
    return found


def _cmdline(pid: int) -> list[str]:
    try:
        return [a.decode(errors="replace") for a in
                Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    except OSError:
        return []


@dataclass
class Sample:
    t: float  # seconds since the start
    pss_mb: float  # sum of PSS over the grader's own processes
    rss_mb: float  # sum of RSS over them
    processes: int
    template_pss_mb: float  # the kernel template(s)
    done: int  # result files written so far


@dataclass
class ProcessSampler:
    """Samples, every `period` s, the memory of the grader's own processes and its templates."""

    root: int
    period: float = 0.1
    count_done: Callable[[], int] = lambda: 0
    samples: list[Sample] = field(default_factory=list)
    peak_pss_kb: dict[int, int] = field(default_factory=dict)  # pid -> its highest PSS seen
    names: dict[int, str] = field(default_factory=dict)
    templates: set[int] = field(default_factory=set)  # pids of kernel templates seen

    def __post_init__(self):
        self._stop = threading.Event()
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _tree(self) -> tuple[list[int], list[int]]:
        children: dict[int, list[int]] = {}
        session: dict[int, int] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                st = _stat(int(entry.name))
                if st:
                    children.setdefault(st[0], []).append(int(entry.name))
                    session[int(entry.name)] = st[1]
        own, kernel_side, stack = [], [], [self.root]
        root_sid = session.get(self.root)
        while stack:
            pid = stack.pop()
            if pid != self.root and session.get(pid) != root_sid:
                kernel_side.append(pid)  # not the grader's memory; its subtree neither
                continue
            own.append(pid)
            stack.extend(children.get(pid, []))
        return own, kernel_side

    def _loop(self) -> None:
        while not self._stop.is_set():
            own, kernel_side = self._tree()
            pss = rss = 0
            for pid in own:
                mem = rollup_kb(pid)
                pss += mem.get("Pss", 0)
                rss += mem.get("Rss", 0)
                if mem.get("Pss", 0) > self.peak_pss_kb.get(pid, -1):
                    self.peak_pss_kb[pid] = mem.get("Pss", 0)
                    # Read again: a process spawned from the grader bears its command until exec.
                    self.names[pid] = " ".join(_cmdline(pid)[1:4])[:60] or "?"
            template = 0
            for pid in kernel_side:
                if any(a.endswith("template.py") for a in _cmdline(pid)[:3]):
                    self.templates.add(pid)
                    template += rollup_kb(pid).get("Pss", 0)
            self.samples.append(Sample(time.perf_counter() - self._started, pss / 1024,
                                       rss / 1024, len(own), template / 1024, self.count_done()))
            self._stop.wait(self.period)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_pss_mb(self) -> float:
        return max((s.pss_mb for s in self.samples), default=0.0)

    @property
    def peak_rss_mb(self) -> float:
        return max((s.rss_mb for s in self.samples), default=0.0)

    @property
    def peak_template_mb(self) -> float:
        return max((s.template_pss_mb for s in self.samples), default=0.0)

    @property
    def most_processes(self) -> int:
        return max((s.processes for s in self.samples), default=0)

    def peak_until(self, done: int) -> float:
        """Peak of the sampled PSS sum until `done` results existed."""
        return max((s.pss_mb for s in self.samples if s.done <= done), default=0.0)

    def top(self, n: int = 5) -> list[tuple[int, float, str]]:
        """The n processes with the highest PSS seen: (pid, MB, command)."""
        ranked = sorted(self.peak_pss_kb.items(), key=lambda kv: -kv[1])[:n]
        return [(pid, kb / 1024, self.names.get(pid, "")) for pid, kb in ranked]
