"""The files beside an assignment's notebook: data its cells open, the same for kernel and judge.

Every file of `source/<hw>/` but the notebooks, hidden files and caches (`.ipynb_checkpoints`,
`__pycache__`, names starting with a dot) belongs to the assignment: the release copies them
next to the student notebook, and grading puts them in each kernel's work dir and in the judge's
folder at the same relative paths, so `open("data.txt")` in an answer or a test cell reads the
same bytes wherever the grader was started.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import AuthoringError

MAX_BYTES = 32 * 2**20  # all files together: they travel into every kernel
SKIPPED_FOLDERS = frozenset({".ipynb_checkpoints", "__pycache__"})


def assignment_files(folder: Path) -> list[str]:
    """Relative paths (POSIX, sorted) of the files beside the notebook in `folder`.

    Links are not followed into folders (no loop, nothing outside by accident); a link to a file
    counts as the file it names.
    """
    folder = Path(folder)
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_FOLDERS)
        for name in files:
            path = Path(root) / name
            if name.startswith(".") or name.endswith(".ipynb") or not path.is_file():
                continue
            found.append(path.relative_to(folder).as_posix())
    return sorted(found)


def read_files(folder: Path, *, limit: int = MAX_BYTES) -> list[tuple[str, bytes]]:
    """(relative path, content) of each file beside the notebook, within `limit` bytes in all."""
    folder = Path(folder)
    out, total = [], 0
    for relative in assignment_files(folder):
        path = folder / relative
        total += path.stat().st_size
        if total > limit:
            raise AuthoringError(
                f"the files beside the notebook exceed {limit >> 20} MB (at {relative})",
                path=folder, hint="keep big data sets out of the assignment's folder: load them "
                                  "from a package or generate them in a setup cell")
        out.append((relative, path.read_bytes()))
    return out


def write_files(files: list[tuple[str, bytes]], folder: Path) -> None:
    """Put the files under `folder` at their relative paths (the judge's copy)."""
    for relative, data in files:
        path = Path(folder) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
