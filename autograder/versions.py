"""Which grader a result comes from: this package's version and the instructor's tests."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

from . import __version__, datafiles
from .autotest import stored_path
from .errors import AuthoringError


def grader_version(assignment_notebook: Path) -> str:
    """The key of a result with the submission's content hash: this package's version, the
    instructor's notebook and the files beside it (new hidden tests or new hidden data regrade
    everyone; a second run alone regrades no one)."""
    notebook = Path(assignment_notebook)
    digest = hashlib.sha256()
    try:
        digest.update(notebook.read_bytes())
    except OSError:
        return __version__
    # The expanded AUTOTEST lines are part of the hidden tests: new templates regrade everyone.
    with contextlib.suppress(OSError):
        digest.update(stored_path(notebook).read_bytes())
    # Every file the kernel or the judge opens (data.txt, _hidden.npz): path, size and bytes.
    with contextlib.suppress(OSError, AuthoringError):
        for relative, data in datafiles.read_files(notebook.parent, released=False):
            digest.update(f"\0{relative}\0{len(data)}\0".encode())
            digest.update(data)
    return f"{__version__}+{digest.hexdigest()[:12]}"
