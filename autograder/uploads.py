"""Read a file that came from a student as data: regular files only, no link followed, capped.

A submission's folder is hostile input. A FIFO named like the notebook would block a plain
`open()` forever, a link would make the grader read its own files, a device could do anything on
open, and a 40 GB file would fill the grader's memory. So nothing from a submission is opened
with `open()`: each path component is opened relative to the one above it with O_NOFOLLOW, the
last one only after `lstat` says it is a regular file, non-blocking, and `fstat` on the open
descriptor must agree (same file, still regular) before a byte is read; sizes are checked before
reading and counted while reading.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .errors import ConfigError, UploadRefused

MIB = 1024 * 1024
MAX_FILE_MB = 50  # one notebook with its outputs; beyond that it is a mistake or an attack

# What a file that is not a regular file is, in words an instructor reads in a rejection.
KINDS = {stat.S_IFLNK: "a symbolic link", stat.S_IFIFO: "a named pipe (FIFO)",
         stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device",
         stat.S_IFDIR: "a folder"}


@dataclass(frozen=True)
class Upload:
    data: bytes
    modified: datetime  # the file's mtime (UTC): whoever wrote the file chose it


def kind_of(mode: int) -> str:
    return KINDS.get(stat.S_IFMT(mode), "not a regular file")


def open_regular(path: Path, *, under: Path | None = None) -> int:
    """A read-only descriptor on `path`, a regular file, reached without following any link at
    or below `under` (the submissions folder, chosen by the grader; above it links are fine).

    Raises UploadRefused for a link, a FIFO, a device or a folder, and OSError when it is gone.
    """
    path = Path(path)
    if under is None:
        under, parts = path.parent, [path.name]
    else:
        parts = list(path.relative_to(under).parts)
    if not parts or any(p in ("", ".", "..") for p in parts):
        raise UploadRefused(f"not a file path: {printable(str(path))}")
    dir_fd = os.open(under, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            try:
                next_fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                  dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno in (errno.ENOTDIR, errno.ELOOP):  # a link, or a file where a folder was
                    raise UploadRefused(f"{printable(part)} is a symbolic link or not a folder") \
                        from None
                raise
            os.close(dir_fd)
            dir_fd = next_fd
        name = parts[-1]
        # lstat first: a FIFO or a device is never opened at all (opening one can block or act).
        before = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if not stat.S_ISREG(before.st_mode):
            raise UploadRefused(f"{printable(name)} is {kind_of(before.st_mode)}, not a file",
                                "submit the .ipynb file itself")
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY
                         | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # swapped for a link since the lstat
                raise UploadRefused(f"{printable(name)} is a symbolic link") from None
            raise
    finally:
        os.close(dir_fd)
    after = os.fstat(fd)
    if not stat.S_ISREG(after.st_mode) or (after.st_dev, after.st_ino) != (before.st_dev,
                                                                            before.st_ino):
        os.close(fd)
        raise UploadRefused(f"{printable(name)} changed while it was being opened")
    return fd


def read_capped(fd: int, limit: int, *, what: str) -> bytes:
    """At most `limit` bytes from `fd`; UploadRefused beyond (the size on disk may lie: a file
    can grow while it is read, so the bytes are counted, not only the size checked)."""
    size = os.fstat(fd).st_size
    if size > limit:
        raise UploadRefused(f"{what} is larger than {limit // MIB} MB ({size // MIB} MB)",
                            "clear the outputs (Edit > Clear all outputs) and save again")
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = os.read(fd, min(MIB, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise UploadRefused(f"{what} is larger than {limit // MIB} MB",
                                "clear the outputs (Edit > Clear all outputs) and save again")


def read_upload(path: Path, *, under: Path | None = None, limit_mb: int = MAX_FILE_MB) -> Upload:
    """The bytes and mtime of one submitted file, read as data (see the module's docstring)."""
    fd = open_regular(path, under=under)
    try:
        modified = datetime.fromtimestamp(os.fstat(fd).st_mtime, tz=UTC)
        return Upload(read_capped(fd, limit_mb * MIB, what=printable(Path(path).name)), modified)
    finally:
        os.close(fd)


def read_csv_text(path: Path, *, what: str, limit_mb: int,
                  hint: str = "save it as 'CSV UTF-8'") -> tuple[str, bool]:
    """(text, whether it began with a byte order mark) of a CSV file an instructor gives (a file
    of times, Moodle's worksheet), read as an upload is; a ConfigError naming `what` otherwise."""
    try:
        raw = read_upload(path, limit_mb=limit_mb).data
    except UploadRefused as exc:
        raise ConfigError(f"cannot read {what}: {exc.reason}", path=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc}", path=path) from None
    try:
        return raw.decode("utf-8-sig"), raw.startswith(b"\xef\xbb\xbf")
    except UnicodeDecodeError:
        raise ConfigError(f"{what} is not UTF-8 text", path=path, hint=hint) from None


def printable(text: str, limit: int = 120) -> str:
    """A name from a submission as it may be shown in a terminal, a log or a result: control
    characters (a terminal escape in a file name) shown escaped, the length capped."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
