"""A student's kernel in its sandbox, driven over Unix sockets: execute code under a deadline.

Everything that comes back is untrusted and budgeted before it is kept (wire.py reads the frames,
messages.py decides what they mean): one message, the payloads of one execution, and all that a
submission's kernels send have byte limits, so the grader's memory does not depend on what the
kernel does. Timeouts interrupt by message (a signal would hit the sandbox's wrapper and kill
the whole kernel), then kill if the code ignores it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import select
import sys
import time
from pathlib import Path
from typing import Any

from jupyter_client.connect import write_connection_file
from jupyter_client.session import Session

from . import sandbox, wire
from .agent import REQUEST_TYPE
from .config import KernelStart, Limits
from .errors import CageError, KernelStartError
from .messages import Budget, Execution, RunStatus, dropped, fold, parse

__all__ = ["Budget", "Execution", "Kernel", "RunStatus"]

INTERRUPT_GRACE_S = 3.0
START_TIMEOUT_S = 60.0
POLL_S = 0.2


class OverBudget(Exception):
    """The kernels of one submission sent more bytes than its budget allows."""


class Kernel:
    """One sandboxed kernel. Use as a context manager: it is always killed on exit.

    `start()` again after a death gives a fresh kernel to the same submission: the byte budget
    and the counts of dropped messages go on across restarts.
    """

    def __init__(self, *, limits: Limits, level: KernelStart,
                 gpu_devices: tuple[tuple[str, str], ...] = (), gpu_visible: str = "",
                 threads: int = 1, prelude: str = "", budget: Budget | None = None):
        self.limits = limits
        self.level = level
        self.gpu_devices = tuple(gpu_devices)  # (node on the host, path in the cage)
        self.gpu_visible = gpu_visible  # CUDA_VISIBLE_DEVICES in the cage
        self.threads = threads
        self.prelude = prelude  # code run first in every (re)started kernel: the agent
        self.budget = budget or Budget()
        self.box: sandbox.SandboxProcess | None = None
        self.channels: dict[str, wire.Channel] = {}
        self.session: Session | None = None
        self.starts = 0
        self.peak_memory_mb: float | None = None
        self.oom_killed = False
        self.received = 0  # bytes sent by this submission's closed kernels
        self.over_budget = False
        self.dropped = 0  # messages thrown away unread, over every execution

    # lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> Kernel:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        if self.over_budget:
            raise KernelStartError(self._budget_message())
        conn: dict[str, Any] = {}

        def command(ipc_dir: Path, uid: int) -> list[str]:
            fname, info = write_connection_file(fname=str(ipc_dir / "kernel.json"),
                                                ip=str(ipc_dir / "k"), transport="ipc",
                                                key=secrets.token_hex(16).encode())
            if os.geteuid() == 0 and uid != os.getuid():
                os.chown(fname, uid, uid)
            # Kept here: the file is in the kernel's folder, so it is never read back.
            conn["info"] = info
            return [sys.executable, "-m", "ipykernel_launcher", "-f", fname,
                    "--HistoryManager.enabled=False", "--IPKernelApp.log_level=CRITICAL"]

        self.box = sandbox.start(command, limits=self.limits, level=self.level,
                                 devices=self.gpu_devices, gpu_visible=self.gpu_visible,
                                 threads=self.threads)
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            self._connect(conn["info"], deadline)
            self._wait_ready(deadline)
        except (wire.WireError, OverBudget) as exc:
            reason = self.box.cage_error() if self.box is not None else ""
            self.close()
            if reason:
                raise CageError(f"the kernel's cage could not be built: {reason}") from None
            raise KernelStartError(f"the kernel did not start: {exc}") from None
        except BaseException:
            self.close()
            raise
        if self.prelude:
            result = self.execute(self.prelude, timeout=START_TIMEOUT_S)
            if result.status != RunStatus.OK:
                self.close()
                raise KernelStartError(f"the grader's agent did not load: {result.evalue}")

    def _connect(self, info: dict[str, Any], deadline: float) -> None:
        self.session = Session(key=str(info.get("key", "")).encode(),
                               signature_scheme=info.get("signature_scheme", "hmac-sha256"),
                               username="grader")
        kinds = {"iopub": wire.SUB, "shell": wire.DEALER, "control": wire.DEALER}
        for name, kind in kinds.items():
            path = f"{info['ip']}-{info[f'{name}_port']}"
            self.channels[name] = wire.Channel(path, kind, deadline=deadline,
                                               message_bytes=self.budget.message_bytes,
                                               alive=self.alive)

    def _wait_ready(self, deadline: float) -> None:
        """Ready when the kernel answers on shell and its iopub reaches us (we are subscribed)."""
        heard, answered, asked = False, False, 0.0
        while not (heard and answered):
            now = time.monotonic()
            if now > deadline:
                raise wire.WireError(0, "no answer within the start-up time")
            if not self.alive():
                raise wire.WireError(0, "it exited while starting")
            if now - asked >= 1.0:
                self._send("shell", "kernel_info_request", {})
                asked = now
            for name, event in self._receive(POLL_S):
                if name == "iopub":
                    heard = True
                elif name == "shell" and isinstance(event, wire.Message):
                    msg = parse(event.frames, self.budget)
                    answered = answered or (not isinstance(msg, str)
                                            and msg.kind == "kernel_info_reply")

    def close(self) -> None:
        box = self.stop()
        if box is not None:
            box.close()

    def stop(self) -> sandbox.SandboxProcess | None:
        """Kill the kernel and record what its sandbox says (peak memory, OOM): the facts of
        the result. Returns the sandbox, whose teardown (cgroup, mounts, folders) is the
        caller's to finish, at once (close) or once the result is out."""
        box, self.box = self.box, None
        if box is not None:
            peak = box.peak_memory_mb()
            if peak is not None:
                self.peak_memory_mb = max(self.peak_memory_mb or 0.0, peak)
            self.oom_killed = self.oom_killed or box.oom_killed()
            box.kill()
        for channel in self.channels.values():
            self.received += channel.received
            channel.close()
        self.channels = {}
        return box

    def restart(self) -> None:
        self.close()
        self.start()

    def alive(self) -> bool:
        return self.box is not None and self.box.alive()

    def pids(self) -> list[int]:
        return self.box.pids() if self.box is not None else []

    def current_peak_memory_mb(self) -> float | None:
        now = self.box.peak_memory_mb() if self.box is not None else None
        values = [v for v in (now, self.peak_memory_mb) if v is not None]
        return max(values) if values else None

    def problems(self) -> list[tuple[str, str]]:
        """Flags for the submission's result: (code, message)."""
        out = []
        if self.over_budget:
            out.append(("kernel_output_budget", self._budget_message()))
        if self.dropped:
            out.append(("kernel_message_dropped",
                        f"{self.dropped} message(s) from the kernel were over the grader's limits "
                        f"({self.budget.message_bytes >> 20} MB, {self.budget.items} JSON items) "
                        "and were dropped unread"))
        return out

    def _budget_message(self) -> str:
        return (f"the kernel sent more than {self.budget.submission_bytes >> 20} MB in all; "
                "it was stopped and not restarted")

    # the wire --------------------------------------------------------------------------
    def _send(self, channel: str, kind: str, content: dict[str, Any]) -> str:
        if self.session is None or channel not in self.channels:
            raise wire.WireError(0, "the kernel is not connected")
        msg = self.session.msg(kind, content)
        self.channels[channel].send(self.session.serialize(msg))
        return str(msg["header"]["msg_id"])

    def _receive(self, timeout: float) -> list[tuple[str, wire.Message | wire.Dropped]]:
        """What arrived on any channel within `timeout`; raises OverBudget past the budget."""
        by_fd = {ch.fileno(): name for name, ch in self.channels.items()}
        readable = select.select(list(by_fd), [], [], timeout)[0]
        events = []
        for fd in readable:
            name = by_fd[fd]
            events += [(name, event) for event in self.channels[name].read()]
        total = self.received + sum(ch.received for ch in self.channels.values())
        if total > self.budget.submission_bytes:
            self.over_budget = True
            raise OverBudget(self._budget_message())
        return events

    # execution -------------------------------------------------------------------------
    def execute(self, code: str, *, timeout: float) -> Execution:
        """Run code; never raises for what the code does. A dead kernel stays dead (status died)."""
        return self._request("execute_request", {
            "code": code, "silent": False, "store_history": False, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": False}, timeout=timeout)

    def ask_agent(self, content: dict[str, Any], *, timeout: float) -> Execution:
        """One request to the grader's agent in the kernel (agent.REQUEST_TYPE): answered like
        a cell (output, answer payloads, busy then idle) without going through IPython."""
        return self._request(REQUEST_TYPE, content, timeout=timeout)

    def _request(self, kind: str, content: dict[str, Any], *, timeout: float) -> Execution:
        if not self.channels or not self.alive():
            return Execution(RunStatus.DIED, evalue="the kernel is not running")
        started = time.monotonic()
        run = Execution(RunStatus.OK)
        try:
            self._run(kind, content, run, deadline=started + timeout)
        except wire.WireError:
            self.close()
            if run.status != RunStatus.TIMEOUT:
                run.status = RunStatus.DIED
        except OverBudget as exc:
            self.close()
            run.status, run.evalue = RunStatus.DIED, str(exc)
        self.dropped += run.dropped
        return run.finish(time.monotonic() - started)

    def _run(self, kind: str, content: dict[str, Any], run: Execution, *,
             deadline: float) -> None:
        cap = self.limits.output_kb * 1024
        request = self._send("shell", kind, content)
        interrupted_at: float | None = None
        while True:
            now = time.monotonic()
            if interrupted_at is None and now >= deadline:
                with contextlib.suppress(wire.WireError):
                    self._send("control", "interrupt_request", {})
                interrupted_at, run.status = now, RunStatus.TIMEOUT
            if interrupted_at is not None and now >= interrupted_at + INTERRUPT_GRACE_S:
                # The code ignored the interrupt (or swallowed KeyboardInterrupt in a loop).
                self.close()
                run.evalue = "did not stop when interrupted; the kernel was killed"
                return
            events = self._receive(POLL_S)
            if not events and not self.alive():
                self.close()
                if run.status != RunStatus.TIMEOUT:
                    run.status = RunStatus.DIED
                return
            for name, event in events:
                if name != "iopub":
                    continue  # replies on shell and control: read (and counted), not needed
                msg = parse(event.frames, self.budget) if isinstance(event, wire.Message) \
                    else event.reason
                if isinstance(msg, str):
                    dropped(run)
                elif fold(run, msg, request=request, cap=cap, budget=self.budget):
                    return
