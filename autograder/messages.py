"""What a kernel's messages mean for one execution: parsed under a budget, folded into a result.

Pure: frames in, an `Execution` out, so every rule here is tested with fake Jupyter messages and
no kernel. Nothing the kernel sends is trusted: a message too big, too deep in JSON items or not
in the wire format is dropped (and counted), never parsed; output is cut at the cell's cap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .agent import RESULT_MIME
from .strenum import StrEnum

DELIMITER = b"<IDS|MSG>"
HEADER_BYTES = 64 * 1024  # a Jupyter header is a few hundred bytes
MAX_PAYLOADS = 16


class RunStatus(StrEnum):
    """How one execute request ended, as the grader saw it from outside the kernel."""

    OK = "ok"
    ERROR = "error"  # the code raised
    TIMEOUT = "timeout"  # past its deadline: interrupted, or killed
    DIED = "died"  # the kernel is gone (killed, out of memory, over its byte budget)


@dataclass(frozen=True)
class Budget:
    """What a kernel may send; the grader's memory follows from these, whatever the kernel does.

    The largest honest message is an answer of the agent: a 64 MiB array (the judge's limit) is
    86 MiB of base64.
    """

    message_bytes: int = 96 * 2**20  # one message, all frames: bigger ones are skipped unread
    text_bytes: int = 16 * 2**20  # a message that is not plain ASCII (its text may take 4x)
    items: int = 1_000_000  # JSON containers and separators in one message (~64 bytes each)
    payload_bytes: int = 128 * 2**20  # result payloads kept for one execution
    submission_bytes: int = 2**30  # all a submission's kernels send; past it, the kernel dies


@dataclass
class Execution:
    """What one execute request gave: status, capped output, error, our result payloads."""

    status: RunStatus
    output: str = ""
    truncated: bool = False
    ename: str = ""
    evalue: str = ""
    traceback: str = ""
    payloads: list[Any] = field(default_factory=list)  # JSON values, as sent
    seconds: float = 0.0
    dropped: int = 0  # messages over budget, thrown away unread
    output_chars: int = 0  # text seen, kept or not
    payload_bytes: int = 0  # bytes of the payloads kept
    parts: list[str] = field(default_factory=list, repr=False)  # output kept so far

    def finish(self, seconds: float) -> Execution:
        self.output, self.parts = "".join(self.parts), []
        self.seconds = seconds
        return self


@dataclass(frozen=True)
class Incoming:
    """One parsed message: its type, the request it answers, its content, its size on the wire."""

    kind: str
    parent: str
    content: dict[str, Any]
    size: int


def parse(frames: Sequence[bytes | bytearray], budget: Budget) -> Incoming | str:
    """A Jupyter message from its frames, or why it was not parsed (a one-line reason).

    [routing ids..., <IDS|MSG>, signature, header, parent header, metadata, content, buffers...].
    The signature is not checked: the kernel holds the key, so it proves nothing here.
    """
    try:
        at = next(i for i, f in enumerate(frames) if f == DELIMITER)
    except StopIteration:
        return "not a Jupyter message"
    if len(frames) < at + 6:
        return "a Jupyter message with missing parts"
    header, parent, content = frames[at + 2], frames[at + 3], frames[at + 5]
    size = sum(len(f) for f in frames)
    if len(header) > HEADER_BYTES or len(parent) > HEADER_BYTES:
        return "a Jupyter header over 64 kB"
    reason = _too_heavy(content, budget)
    if reason:
        return reason
    try:
        header, parent, content = json.loads(header), json.loads(parent), json.loads(content)
    except (ValueError, RecursionError):
        return "a message that is not JSON"
    if not (isinstance(header, dict) and isinstance(parent, dict) and isinstance(content, dict)):
        return "a message whose parts are not JSON objects"
    return Incoming(str(header.get("msg_type", "")), str(parent.get("msg_id", "")), content, size)


def _too_heavy(content: bytes | bytearray, budget: Budget) -> str:
    """Refuse before parsing what would cost more memory parsed than the budget allows."""
    if len(content) > budget.text_bytes and not content.isascii():
        return f"a message of {len(content) >> 20} MB that is not plain ASCII"
    items = content.count(b"[") + content.count(b"{") + content.count(b",")
    if items > budget.items:
        return f"a message with {items} JSON items (limit {budget.items})"
    return ""


def fold(run: Execution, msg: Incoming, *, request: str, cap: int, budget: Budget) -> bool:
    """Take one message into `run`; True when the request is over (the kernel went idle).

    Messages that answer another request (an earlier, interrupted one) are ignored.
    """
    if msg.parent != request:
        return False
    content = msg.content
    if msg.kind == "status":
        return content.get("execution_state") == "idle"
    if msg.kind == "stream":
        _output(run, str(content.get("text", "")), cap)
    elif msg.kind in ("display_data", "execute_result"):
        data = content.get("data", {})
        if not isinstance(data, dict):
            return False
        if RESULT_MIME in data:
            if len(run.payloads) < MAX_PAYLOADS \
                    and run.payload_bytes + msg.size <= budget.payload_bytes:
                run.payloads.append(data[RESULT_MIME])
                run.payload_bytes += msg.size
            else:
                run.dropped += 1
            return False
        _output(run, str(data.get("text/plain", "")) + "\n", cap)
    elif msg.kind == "error":
        if run.status == RunStatus.OK:
            run.status = RunStatus.ERROR
        run.ename = str(content.get("ename", ""))[:200]
        run.evalue = str(content.get("evalue", ""))[:2000]
        tb = content.get("traceback", [])
        tb = tb if isinstance(tb, list) else [tb]
        run.traceback = strip_ansi("\n".join(str(t) for t in tb[-100:]))[-5000:]
    return False


def dropped(run: Execution) -> None:
    """A message of this execution (or one we could not tell) was thrown away unread."""
    run.dropped += 1
    run.truncated = True


def _output(run: Execution, text: str, cap: int) -> None:
    if not text:
        return
    room = cap - run.output_chars
    if room > 0:
        run.parts.append(text[:room])
    if len(text) > room:
        run.truncated = True
    run.output_chars += len(text)


def strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
