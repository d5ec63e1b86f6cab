"""Per-submission time of the grading engine against a bare nbclient run of the same notebook.

Both are measured in one run, alternating, on the same machine: the engine (rebuild, sandboxed
kernel, trusted judge, hidden tests) and nbclient executing the submitted notebook in a plain local
kernel (no sandbox, no judge, visible tests only): the floor any notebook grader pays.

    python bench/engine_vs_nbclient.py [--runs 5] [--assignment tiny|hw1_features]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.config import load_course  # noqa: E402
from autograder.engine import grade_submission  # noqa: E402

CASES = {
    "tiny": (ROOT / "tests/data/engine/course.toml", ROOT / "tests/data/engine/submissions/solution.ipynb"),
    "hw1_features": (ROOT / "course.toml", ROOT / "solutions/hw1_features/hw1_features.ipynb"),
}


def bare_nbclient(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True).execute()
    return time.perf_counter() - started


def engine(path: Path, course, assignment: str) -> tuple[float, float]:
    started = time.perf_counter()
    result = grade_submission(path, course=course, assignment=assignment)
    if result.status != "graded":
        raise SystemExit(f"the engine did not grade {path}: {result.status} {result.reason}")
    return time.perf_counter() - started, result.points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--assignment", choices=sorted(CASES), default="tiny")
    args = parser.parse_args()
    course_file, notebook = CASES[args.assignment]
    course = load_course(course_file)
    engine(notebook, course, args.assignment)  # warm the page cache and the reference
    bare_nbclient(notebook)
    bare, ours = [], []
    for _ in range(args.runs):  # alternate, so drift on a shared machine hits both alike
        bare.append(bare_nbclient(notebook))
        seconds, points = engine(notebook, course, args.assignment)
        ours.append(seconds)
    b, e = statistics.median(bare), statistics.median(ours)
    print(f"notebook: {notebook.relative_to(ROOT)} ({args.runs} runs each, alternating)")
    print(f"bare nbclient (no sandbox, no judge): median {b:.2f} s  min {min(bare):.2f} s")
    print(f"autograder engine (sandbox + judge):  median {e:.2f} s  min {min(ours):.2f} s"
          f"  ({points:g} points)")
    print(f"ratio engine / bare: {e / b:.2f}   overhead per submission: {e - b:+.2f} s "
          f"({(e - b) / b:+.0%})")


if __name__ == "__main__":
    main()
