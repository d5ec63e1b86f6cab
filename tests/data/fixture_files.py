"""What the scripts that generate notebooks from a homework's solution share: the solution they
start from, and bringing a folder to the planned files (or, with --check, naming what differs)."""

from __future__ import annotations

import sys
from pathlib import Path


def solution_notebook(course, assignment: str):
    """The solutions notebook as `autograder release` writes it (hidden tests removed)."""
    from autograder.release import apply_steps, read_source, solution_steps

    spec = course.assignment(assignment)
    return apply_steps(read_source(spec), solution_steps(spec))


def sync(files: dict[Path, bytes], folder: Path, assignments: list[str], *, root: Path,
         check: bool) -> int:
    """Write the planned files that are missing or differ, remove the notebooks of `assignments`
    that are no longer planned; with `check`, name them on stderr and return 1 if any."""
    stale = [p for p, data in files.items() if not p.is_file() or p.read_bytes() != data]
    for assignment in assignments:  # notebooks no longer planned
        known = {p.name for p in files if p.parent.name == assignment}
        stale += [p for p in sorted((folder / assignment).glob("*.ipynb")) if p.name not in known]
    if check:
        for path in stale:
            print(f"stale: {path.relative_to(root)}", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        if path in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(files[path])
            print(f"wrote {path.relative_to(root)}")
        else:
            path.unlink()
            print(f"removed {path.relative_to(root)}")
    return 0
