"""A student's kernel in its sandbox, driven over Unix sockets: execute code under a deadline.

Everything that comes back is untrusted text or JSON. Timeouts interrupt by message (a signal
would hit the sandbox's wrapper and kill the whole kernel), then kill if the code ignores it.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import zmq
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.connect import write_connection_file

from . import sandbox
from .config import Limits

RESULT_MIME = "application/vnd.autograder.result+json"
MAX_MESSAGE_BYTES = 256 * 2**20  # a bigger message from the kernel is dropped by zmq itself
INTERRUPT_GRACE_S = 3.0
START_TIMEOUT_S = 60.0

OK, ERROR, TIMEOUT, DIED = "ok", "error", "timeout", "died"


@dataclass
class Execution:
    """What one execute request gave: status, capped output, error, our result payloads."""

    status: str  # ok | error | timeout | died
    output: str = ""
    truncated: bool = False
    ename: str = ""
    evalue: str = ""
    traceback: str = ""
    payloads: list = field(default_factory=list)
    seconds: float = 0.0


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


class Kernel:
    """One sandboxed kernel. Use as a context manager: it is always killed on exit."""

    def __init__(self, *, limits: Limits, level: str, gpu_devices: list[str] = (),
                 threads: int = 1, prelude: str = ""):
        self.limits = limits
        self.level = level
        self.gpu_devices = list(gpu_devices)
        self.threads = threads
        self.prelude = prelude  # code run first in every (re)started kernel: the agent
        self.box: sandbox.SandboxProcess | None = None
        self.client: BlockingKernelClient | None = None
        self.starts = 0
        self.peak_memory_mb: float | None = None
        self.oom_killed = False

    # lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> Kernel:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        conn: dict = {}

        def command(ipc_dir: Path, uid: int) -> list[str]:
            fname, _ = write_connection_file(fname=str(ipc_dir / "kernel.json"),
                                             ip=str(ipc_dir / "k"), transport="ipc")
            if os.geteuid() == 0 and uid != os.getuid():
                os.chown(fname, uid, uid)
            conn["file"] = fname
            return [sys.executable, "-m", "ipykernel_launcher", "-f", fname,
                    "--HistoryManager.enabled=False", "--IPKernelApp.log_level=CRITICAL"]

        self.box = sandbox.start(command, limits=self.limits, level=self.level,
                                 gpu_devices=self.gpu_devices, threads=self.threads)
        self.starts += 1
        client = BlockingKernelClient()
        client.load_connection_file(conn["file"])
        client.start_channels()
        # zmq drops oversized messages before they reach Python: no memory bomb over the wire.
        for channel in (client.iopub_channel, client.shell_channel):
            with contextlib.suppress(Exception):
                channel.socket.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        self.client = client
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if not self.box.alive():
                raise RuntimeError(f"the kernel exited while starting ({self._cage_error()})")
            try:
                client.wait_for_ready(timeout=min(5.0, max(0.1, deadline - time.monotonic())))
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the kernel did not start in time") from None
        if self.prelude:
            result = self.execute(self.prelude, timeout=START_TIMEOUT_S)
            if result.status != OK:
                raise RuntimeError(f"the grader's agent did not load: {result.evalue}")

    def _cage_error(self) -> str:
        """Why the template could not build the cage, as its child wrote it (no link followed)."""
        try:
            fd = os.open(self.box.ipc_dir / "cage-error.txt", os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return "no reason given"
        with os.fdopen(fd, errors="replace") as fh:
            return fh.read(500)

    def close(self) -> None:
        if self.box is not None:
            peak = self.box.peak_memory_mb()
            if peak is not None:
                self.peak_memory_mb = max(self.peak_memory_mb or 0.0, peak)
            self.oom_killed = self.oom_killed or self.box.oom_killed()
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.stop_channels()
            self.client = None
        if self.box is not None:
            self.box.close()
            self.box = None

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

    # execution -------------------------------------------------------------------------
    def execute(self, code: str, *, timeout: float) -> Execution:
        """Run code; never raises for what the code does. A dead kernel stays dead (status died)."""
        if self.client is None or not self.alive():
            return Execution(DIED, evalue="the kernel is not running")
        started = time.monotonic()
        cap = self.limits.output_kb * 1024
        result = Execution(OK)
        chunks: list[str] = []
        size = 0
        msg_id = self.client.execute(code, silent=False, store_history=False,
                                     allow_stdin=False, stop_on_error=False)
        deadline = started + timeout
        interrupted_at: float | None = None
        while True:
            now = time.monotonic()
            if interrupted_at is None and now >= deadline:
                self._interrupt()
                interrupted_at = now
                result.status = TIMEOUT
            if interrupted_at is not None and now >= interrupted_at + INTERRUPT_GRACE_S:
                # The code ignored the interrupt (or swallowed KeyboardInterrupt in a loop).
                self.close()
                result.status = TIMEOUT
                result.evalue = "did not stop when interrupted; the kernel was killed"
                break
            try:
                msg = self.client.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                if not self.alive():
                    self.close()
                    result.status = DIED if result.status != TIMEOUT else TIMEOUT
                    break
                continue
            except Exception:  # a malformed message: count it as noise, keep reading
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg.get("msg_type"), msg.get("content", {})
            if kind == "status" and content.get("execution_state") == "idle":
                break
            text = ""
            if kind == "stream":
                text = str(content.get("text", ""))
            elif kind in ("display_data", "execute_result"):
                data = content.get("data", {})
                if isinstance(data, dict) and RESULT_MIME in data:
                    if len(result.payloads) < 16:
                        result.payloads.append(data[RESULT_MIME])
                    continue
                text = str(data.get("text/plain", "")) + "\n" if isinstance(data, dict) else ""
            elif kind == "error":
                if result.status == OK:
                    result.status = ERROR
                result.ename = str(content.get("ename", ""))[:200]
                result.evalue = str(content.get("evalue", ""))[:2000]
                tb = content.get("traceback", [])
                result.traceback = _strip_ansi("\n".join(str(t) for t in tb))[-5000:]
            if text and size < cap:
                chunks.append(text[: cap - size])
                size += len(text)
            elif text:
                result.truncated = True
                size += len(text)
        if size > cap:
            result.truncated = True
        result.output = "".join(chunks)
        result.seconds = time.monotonic() - started
        if result.status == TIMEOUT and self.alive():
            self._drain_reply(msg_id)
        return result

    def _interrupt(self) -> None:
        if self.client is None:
            return
        with contextlib.suppress(Exception):
            msg = self.client.session.msg("interrupt_request", {})
            self.client.control_channel.send(msg)

    def _drain_reply(self, msg_id: str) -> None:
        """Consume the shell reply of an interrupted request so the next one starts clean."""
        deadline = time.monotonic() + 1.0
        while self.client is not None and time.monotonic() < deadline:
            try:
                reply = self.client.get_shell_msg(timeout=0.2)
            except queue.Empty:
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return
