"""Files written whole or not at all: a grader killed mid-write leaves the old file or none."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "w", *, shared: bool = False,
                encoding: str | None = "utf-8", newline: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside `path`; on a clean exit it is synced and renamed over it.

    `shared`: readable by everyone (feedback pages, gradebooks handed to the staff); otherwise
    private to the grader, as mkstemp makes it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        if shared:
            os.fchmod(fd, 0o644)
        kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_atomic(path: Path, data: str | bytes, *, shared: bool = False) -> None:
    """Write `data` to `path` atomically (text as UTF-8)."""
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w", shared=shared) as fh:
        fh.write(data)
