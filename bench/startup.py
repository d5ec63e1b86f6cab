"""Start-up of the `autograder` command: import time, `--help`, `release` of an up-to-date
homework, and what `check` adds over executing the notebook.

For this checkout and, with --baseline, an earlier revision (from `git archive`), each run as a
fresh process with the tree on PYTHONPATH, alternating so drift on a shared machine hits both:

- import: `python -X importtime -c "import autograder.cli"` (what every command pays first);
- help: wall time of `python -m autograder.cli --help`;
- release: wall time of `release hw1_features` on a copy of the course already released;
- check: wall time of `check` on hw1's solution against a bare nbclient run of the same notebook
  in a fresh process (imports included): the difference is what the check adds.

    python bench/startup.py [--baseline REV] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from revisions import checkout

ROOT = Path(__file__).resolve().parents[1]
HW = "hw1_features"
BARE_NBCLIENT = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
               resources={"metadata": {"path": sys.argv[2]}}).execute()
"""


def env_for(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree)}


def wall(cmd: list[str], tree: Path, cwd: Path | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env_for(tree), cwd=cwd, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def import_time(tree: Path) -> tuple[float, list[tuple[float, str]]]:
    """(seconds to import autograder.cli, its five slowest imports by self time)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import autograder.cli"],
                          env=env_for(tree), capture_output=True, text=True, check=True)
    rows = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if match:
            rows.append((int(match.group(1)), int(match.group(2)), match.group(4)))
    total = next(c for _, c, name in rows if name == "autograder.cli") / 1e6
    return total, sorted(((s / 1e6, n) for s, _, n in rows), reverse=True)[:5]


def course_copy(tree: Path, where: Path) -> Path:
    """The course (course.toml, roster, source/, release/, solutions/) released by `tree`."""
    for name in ("course.toml", "roster.csv"):
        shutil.copy(ROOT / name, where / name)
    for name in ("source", "release", "solutions"):
        shutil.copytree(ROOT / name, where / name)
    subprocess.run([sys.executable, "-m", "autograder.cli", "--course", str(where / "course.toml"),
                    "release", HW], env=env_for(tree), check=True, stdout=subprocess.DEVNULL)
    return where / "course.toml"


def student_copy(where: Path) -> Path:
    nb = json.loads((ROOT / "solutions" / HW / f"{HW}.ipynb").read_text())
    for cell in nb["cells"]:
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code" and "TEAM = [" in text:
            cell["source"] = 'TEAM = ["21900001", "21900002"]'
            break
    for extra in (ROOT / "solutions" / HW).iterdir():
        if extra.suffix != ".ipynb":
            shutil.copy(extra, where / extra.name)
    path = where / f"{HW}.ipynb"
    path.write_text(json.dumps(nb))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="REV", help="also measure this git revision")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        trees = [("now", ROOT)]
        if args.baseline:
            trees.insert(0, (args.baseline, checkout(args.baseline, tmp / "baseline")))
        courses, results = {}, {label: {"help": [], "release": [], "check": []}
                                  for label, _ in trees}
        for n, (label, tree) in enumerate(trees):
            (tmp / f"course{n}").mkdir()
            courses[label] = course_copy(tree, tmp / f"course{n}")
        student = tmp / "student"
        student.mkdir()
        notebook = student_copy(student)
        bare = []
        for _ in range(args.runs):
            bare.append(wall([py, "-c", BARE_NBCLIENT, str(notebook), str(student)], ROOT))
            for label, tree in trees:
                r = results[label]
                r["help"].append(wall([py, "-m", "autograder.cli", "--help"], tree))
                r["release"].append(wall([py, "-m", "autograder.cli", "--course",
                                          str(courses[label]), "release", HW], tree))
                r["check"].append(wall([py, "-m", "autograder.cli", "check", str(notebook)],
                                       tree, cwd=student))
        bare_s = statistics.median(bare)
        print(f"medians of {args.runs} runs; bare nbclient run of {HW}: {bare_s:.2f} s")
        print(f"{'tree':<12} {'import cli s':>12} {'--help s':>9} {'release s':>10} "
              f"{'check s':>8} {'check - bare s':>15}")
        medians = {}
        for label, tree in trees:
            imported, slowest = import_time(tree)
            m = {k: statistics.median(v) for k, v in results[label].items()}
            medians[label] = {**m, "import": imported}
            print(f"{label:<12} {imported:>12.3f} {m['help']:>9.2f} {m['release']:>10.2f} "
                  f"{m['check']:>8.2f} {m['check'] - bare_s:>15.2f}")
            print("  slowest imports of `import autograder.cli`: "
                  + ", ".join(f"{name} {s * 1000:.0f} ms" for s, name in slowest))
        if args.baseline:
            before, now = medians[args.baseline], medians["now"]
            print("ratio baseline / now: " + ", ".join(
                f"{k} {before[k] / now[k]:.1f}x" for k in ("import", "help", "release", "check")))


if __name__ == "__main__":
    main()
