"""The files beside an assignment's notebook: data its cells open, the same for kernel and judge.

Every file of `source/<hw>/` but the notebooks, hidden files and caches (`.ipynb_checkpoints`,
`__pycache__`, names starting with a dot) belongs to the assignment. Those the students get (the
*released* files: not under a name starting with `_`, not the AUTOTEST templates) are copied by
the release next to the student notebook and put by grading into each kernel's work dir; the
judge's folder holds them at the same relative paths plus the instructor-only `_` files (hidden
test data), so `open("data.txt")` in an answer or a test cell reads the same bytes wherever the
grader was started.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import AuthoringError

MAX_BYTES = 32 * 2**20  # all files together: they travel into every kernel
SKIPPED_FOLDERS = frozenset({".ipynb_checkpoints", "__pycache__"})
TEMPLATES_FILE = "autotests.yml"  # the instructor's AUTOTEST templates (nbgrader's name)


def is_released(relative: str) -> bool:
    """Whether students get this file (and kernels see it): not instructor-only."""
    parts = relative.split("/")
    return not any(p.startswith("_") for p in parts) and relative != TEMPLATES_FILE


def assignment_files(folder: Path, *, released: bool = True) -> list[str]:
    """Relative paths (POSIX, sorted) of the files beside the notebook in `folder`: those the
    students get, or (`released=False`) those too that only the judge sees.

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
            relative = path.relative_to(folder).as_posix()
            if not released or is_released(relative):
                found.append(relative)
    return sorted(found)


def read_files(folder: Path, *, released: bool = True,
               limit: int = MAX_BYTES) -> list[tuple[str, bytes]]:
    """(relative path, content) of each file beside the notebook, within `limit` bytes in all."""
    folder = Path(folder)
    out, total = [], 0
    for relative in assignment_files(folder, released=released):
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
