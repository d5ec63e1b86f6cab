"""The kernel's wire, read by hand: ZMTP frames over Unix sockets, budgeted before they are kept.

libzmq assembles a whole multipart message in the grader's memory before Python sees any of it,
and its per-frame size limit only applies to connections made after it is set: a kernel could
send ten thousand 1 MiB frames (10 GB) in one message, built from one 1 MiB buffer on its side.
So the grader speaks the wire protocol itself (ZMTP 3.0, NULL security, as libzmq does over
`ipc://`): every frame's size is read from its header, and a frame that would take a message past
its budget is skipped as its bytes arrive, never held. The grader's memory for what a kernel
sends is then one message at most, whatever the kernel does.

`FrameReader` is pure (bytes in, messages out) and tested without a socket; `Channel` is the
socket around it.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

SUB, DEALER = b"SUB", b"DEALER"
_MORE, _LONG, _COMMAND = 1, 2, 4
# Signature, version 3.0 (libzmq speaks 3.0 to a 3.0 peer, subscriptions as \x01 messages),
# the NULL mechanism, not a server, filler: 64 bytes.
GREETING = b"\xff" + bytes(8) + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00") + bytes(32)
READ_CHUNK = 256 * 1024
MAX_COMMAND_BYTES = 4096  # READY, PING: a few dozen bytes


class WireError(OSError):
    """The peer broke the protocol or went away; the channel is unusable."""


@dataclass
class Message:
    frames: list[bytearray]

    @property
    def size(self) -> int:
        return sum(len(f) for f in self.frames)


@dataclass(frozen=True)
class Dropped:
    """A message over budget: its bytes were read and thrown away as they came."""

    size: int  # bytes it had (at least; counted as they were skipped)
    reason: str


@dataclass(frozen=True)
class Command:
    name: bytes
    body: bytes


def command_frame(name: bytes, body: bytes = b"") -> bytes:
    return frame(bytes([len(name)]) + name + body, command=True)


def frame(body: bytes, *, more: bool = False, command: bool = False) -> bytes:
    flags = (_MORE if more else 0) | (_COMMAND if command else 0)
    if len(body) > 255:
        return bytes([flags | _LONG]) + struct.pack(">Q", len(body)) + body
    return bytes([flags, len(body)]) + body


def ready(socket_type: bytes) -> bytes:
    name = b"Socket-Type"
    return command_frame(b"READY", bytes([len(name)]) + name
                         + struct.pack(">I", len(socket_type)) + socket_type)


def multipart(frames: list[bytes]) -> bytes:
    last = len(frames) - 1
    return b"".join(frame(f, more=i < last) for i, f in enumerate(frames))


class FrameReader:
    """ZMTP 3 from a byte stream: the greeting, then commands and messages, within a budget.

    Holds at most a frame header and the kept frames of the current message (at most
    `message_bytes` in all, each frame filled in place as its bytes arrive; at most `frames`
    frames: a Jupyter message has seven and its buffers). A frame that would
    pass the budget drops its whole message: its bytes, and those of the frames after it, are
    counted and thrown away. `received` counts every byte fed, kept or not.
    """

    def __init__(self, message_bytes: int, frames: int = 64):
        self.message_bytes, self.max_frames = message_bytes, frames
        self.received = 0
        self.greeted = False
        self._head = bytearray()  # the greeting, then each frame's flags and size
        self._flags = 0
        self._body: bytearray | None = None  # the frame being filled (None while skipping)
        self._left = 0  # bytes of the current frame still to come
        self._in_body = False
        self._frames: list[bytearray] = []  # kept frames of the message being read
        self._kept = 0
        self._dropping: str | None = None  # why the current message is being dropped
        self._dropped = 0

    @property
    def held(self) -> int:
        """Bytes held now for the message being read (what a kernel can make the grader keep)."""
        return len(self._head) + self._kept + (len(self._body) if self._body is not None else 0)

    def feed(self, data: bytes) -> list[Message | Dropped | Command]:
        self.received += len(data)
        out: list[Message | Dropped | Command] = []
        view, pos = memoryview(data), 0
        while pos < len(view):
            if not self.greeted:
                take = min(64 - len(self._head), len(view) - pos)
                self._head += view[pos:pos + take]
                pos += take
                if len(self._head) == 64:
                    head = self._head
                    if head[0] != 0xFF or head[9] != 0x7F or head[10] < 3:
                        raise WireError(errno.EPROTO, "the kernel's socket does not speak ZMTP 3")
                    self.greeted, self._head = True, bytearray()
            elif not self._in_body:
                self._head.append(view[pos])
                pos += 1
                self._header_done(out)
            else:
                take = min(self._left, len(view) - pos)
                if self._body is not None:
                    start = len(self._body) - self._left
                    self._body[start:start + take] = view[pos:pos + take]
                else:
                    self._dropped += take
                pos += take
                self._left -= take
                if not self._left:
                    self._body_done(out)
        return out

    def _header_done(self, out: list[Message | Dropped | Command]) -> None:
        head = self._head
        long = bool(head[0] & _LONG)
        if len(head) < (9 if long else 2):
            return
        flags = head[0]
        size = struct.unpack(">Q", bytes(head[1:9]))[0] if long else head[1]
        self._head = bytearray()
        self._flags, self._left, self._in_body = flags, size, True
        if flags & _COMMAND:
            if size > MAX_COMMAND_BYTES:
                raise WireError(errno.EPROTO, f"a ZMTP command of {size} bytes")
            self._body = bytearray(size)
        else:
            self._admit(size)
            self._body = bytearray(size) if self._dropping is None else None
        if not size:
            self._body_done(out)

    def _admit(self, size: int) -> None:
        if self._dropping is not None:
            return
        if len(self._frames) >= self.max_frames:
            self._dropping = f"more than {self.max_frames} frames"
        elif self._kept + size > self.message_bytes:
            self._dropping = f"over {self.message_bytes} bytes"
        else:
            return
        self._dropped = self._kept
        self._frames, self._kept = [], 0

    def _body_done(self, out: list[Message | Dropped | Command]) -> None:
        self._in_body = False
        body, self._body = self._body, None
        if self._flags & _COMMAND:
            if not body or len(body) < 1 + body[0]:
                raise WireError(errno.EPROTO, "a malformed ZMTP command")
            out.append(Command(bytes(body[1:1 + body[0]]), bytes(body[1 + body[0]:])))
            return
        if body is not None:
            self._frames.append(body)
            self._kept += len(body)
        if self._flags & _MORE:
            return
        if self._dropping is not None:
            out.append(Dropped(self._dropped, self._dropping))
            self._dropping, self._dropped = None, 0
        else:
            out.append(Message(self._frames))
        self._frames, self._kept = [], 0


class Channel:
    """One ZMTP connection to a kernel socket: a SUB (iopub) or a DEALER (shell, control)."""

    def __init__(self, path: str, socket_type: bytes, *, message_bytes: int, deadline: float,
                 alive: Callable[[], bool] = lambda: True):
        self.path, self.socket_type = path, socket_type
        self.reader = FrameReader(message_bytes)
        self.sock: socket.socket | None = _connect(path, deadline, alive)
        self._peer_ready = False
        try:
            self._send_all(GREETING + ready(socket_type), deadline)
            while not self._peer_ready:
                if time.monotonic() > deadline:
                    raise WireError(errno.ETIMEDOUT, f"no ZMTP handshake on {path}")
                if select.select([self.sock], [], [], 0.1)[0] and self.read():
                    raise WireError(errno.EPROTO, f"{path}: a message before the handshake")
            if socket_type == SUB:
                self._send_all(frame(b"\x01"), deadline)  # subscribe to every topic
        except BaseException:
            self.close()
            raise

    def fileno(self) -> int:
        return self.sock.fileno() if self.sock is not None else -1

    @property
    def received(self) -> int:
        return self.reader.received

    def send(self, frames: list[bytes], *, timeout: float = 10.0) -> None:
        self._send_all(multipart(frames), time.monotonic() + timeout)

    def read(self) -> list[Message | Dropped]:
        """One read of what is there (call when select says the socket is readable)."""
        if self.sock is None:
            raise WireError(0, f"{self.path}: the channel is closed")
        try:
            data = self.sock.recv(READ_CHUNK)
        except BlockingIOError:
            return []
        except OSError as exc:
            raise WireError(exc.errno, f"{self.path}: {exc.strerror}") from None
        if not data:
            raise WireError(errno.ECONNRESET, f"the kernel closed {self.path}")
        out: list[Message | Dropped] = []
        for event in self.reader.feed(data):
            if not isinstance(event, Command):
                out.append(event)
            elif event.name == b"READY":
                self._peer_ready = True
            elif event.name == b"PING":  # a ZMTP 3.1 heartbeat: answer with its context
                self._send_all(command_frame(b"PONG", event.body[2:18]), time.monotonic() + 1)
            elif event.name == b"ERROR":
                raise WireError(errno.EPROTO, f"{self.path}: the kernel refused the connection")
        return out

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _send_all(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            if self.sock is None:
                raise WireError(errno.EBADF, f"{self.path} is closed")
            if not select.select([], [self.sock], [], max(0.0, deadline - time.monotonic()))[1]:
                raise WireError(errno.ETIMEDOUT, f"the kernel does not read {self.path}")
            try:
                view = view[self.sock.send(view):]
            except BlockingIOError:
                continue
            except OSError as exc:
                raise WireError(exc.errno, f"{self.path}: {exc.strerror}") from None


def _connect(path: str, deadline: float, alive: Callable[[], bool]) -> socket.socket:
    """Connect to a socket the kernel binds as it starts: retry while it lives, until deadline."""
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            if time.monotonic() > deadline or not alive():
                raise WireError(exc.errno, f"the kernel never opened {os.path.basename(path)}") \
                    from None
            time.sleep(0.02)
            continue
        sock.setblocking(False)
        return sock
