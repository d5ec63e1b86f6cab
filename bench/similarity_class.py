"""A class of hw2_mlp compared: `autograder similarity`'s time and memory, against pairwise loops.

A class of N submissions is generated from the committed release: each pair's answers are drawn
cell by cell from the four hand-written correct solutions (tests/data/similarity/solutions.py),
with statements of its own between about half of the lines (checks, traces, scratch values:
random), its local names renamed, and one or two cells of its own added (random helper code, as
pairs write to explore and plot). Then `--copies` planted copies replace
honest notebooks, a third of each kind: another pair's notebook renamed with its functions
reordered, with other comments and spacing, and half of it copied. Two honest notebooks that drew
the same solution for a cell share its lines but not its runs of lines, as honest pairs share
idioms; a synthetic class stays a rough model of a real one, so "other flags" and "best honest"
are indications, the planted copies found a check, and the times and memory the figures.

Each size runs in a fresh process:

  ours       `similarity_report` end to end (discover, read and rebuild every notebook, fingerprint,
             score every pair from the index, write the pages and the report), wall time and peak
             RSS (its own and its worker processes'); then the scoring step alone;
  pairwise   the same fingerprints scored pair by pair with Python sets, per cell and overall (what
             a pairwise tool such as copydetect does for each pair of files), same process;
  copydetect (with --copydetect-python PY, an interpreter where `pip install copydetect` was
             done) copydetect 0.5 on the same own code, one file per submission (it knows no
             cells), its report disabled: its comparison loop only.

    python bench/similarity_class.py                       # 500 submissions, 15 planted copies
    python bench/similarity_class.py --sizes 125,250,500,1000 --copydetect-python /tmp/cd/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "data" / "similarity"))

import make  # noqa: E402  (the fixtures' builder: fill, rename, reorder, recomment)

from autograder.notebook import write_notebook  # noqa: E402
from solutions import SOLUTIONS  # noqa: E402

HW = "hw2_mlp"
CELLS = ["init_params", "forward", "softmax_cross_entropy", "numerical_gradient", "backward",
         "train_mlp", "torch_mlp", "train_torch"]
WORDS = ["loss", "acc", "grad", "data", "model", "curve", "batch", "layer", "step", "score"]


# ---------------------------------------------------------------- the class

def _helper(rng: random.Random, k: int) -> str:
    """A random function of the kind pairs add to explore their results: each one different."""
    name = f"{rng.choice(['plot', 'show', 'check', 'look_at', 'debug'])}_{rng.choice(WORDS)}_{k}"
    names = [f"{rng.choice(WORDS)}{j}" for j in range(4)]
    lines = [f"def {name}({names[0]}, {names[1]}={rng.randint(1, 9)}):"]
    for _ in range(rng.randint(4, 9)):
        a, b = rng.sample(names, 2)
        kind = rng.randrange(6)
        if kind == 0:
            lines.append(f"    {a} = np.{rng.choice(['mean', 'std', 'max', 'sum', 'abs'])}"
                         f"({b}, axis={rng.randint(0, 1)})")
        elif kind == 1:
            lines.append(f"    {a} = {b} {rng.choice(['+', '-', '*', '/'])} {rng.randint(2, 99)}")
        elif kind == 2:
            lines.append(f"    for i in range({rng.randint(2, 20)}):\n"
                         f"        {a} = {a} {rng.choice(['+', '*'])} {b}[i % len({b})]")
        elif kind == 3:
            lines.append(f"    if {a} {rng.choice(['<', '>', '>='])} {rng.random():.2f}:\n"
                         f"        print(f\"{name}: {{{a}}}\")")
        elif kind == 4:
            lines.append(f"    {a} = [{b} ** {rng.randint(2, 4)} for {b} in "
                         f"range({rng.randint(3, 30)})]")
        else:
            lines.append(f"    {a} = np.clip({b}, {rng.randint(-5, 0)}, {rng.randint(1, 5)})")
    lines.append(f"    return {rng.choice(names)}")
    return "\n".join(lines)


def _noise(rng: random.Random, k: int) -> str:
    """A statement of the pair's own between two lines: a check, a trace, a scratch value."""
    a, b = rng.randint(1, 99), rng.randint(1, 99)
    return rng.choice([
        f"_check{k} = {a} {rng.choice(['+', '-', '*'])} {b}",
        f"assert {a} {rng.choice(['<', '<=', '!='])} {a + b}, \"step {k}\"",
        f"_trace{k} = np.{rng.choice(['zeros', 'ones', 'arange'])}({a})",
        f"_seen{k} = [{a}] * {b % 5 + 1}",
    ])


def _own_hand(body: str, rng: random.Random) -> str:
    """A solution as one pair writes it: the same algorithm with statements of its own between
    the lines, so that two pairs who drew the same solution share lines, not whole functions."""
    lines = body.strip("\n").split("\n")
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        if rng.random() < 0.5 and i + 1 < len(lines) and line.strip():
            nxt = lines[i + 1]
            indent = nxt[: len(nxt) - len(nxt.lstrip())] if line.rstrip().endswith(":") \
                else line[: len(line) - len(line.lstrip())]
            out.append(indent + _noise(rng, i))
    return "\n".join(out)


def _honest(release, rng: random.Random, team: list[str]) -> nbformat.NotebookNode:
    answers = {cell: [_own_hand(body, rng) for body in
                      rng.choice([s[cell] for s in SOLUTIONS.values() if cell in s])]
               for cell in CELLS}
    nb = make.fill(release, answers, team)
    renames = {old: f"{new}_{rng.randint(0, 9)}" for old, new in make.RENAMES.items()
               if rng.random() < 0.5}
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = make.rename(cell.source, renames)
    for k in range(rng.randint(1, 2)):  # the pair's own cells, after the demos
        nb.cells.insert(len(nb.cells) - 2, new_code_cell(_helper(rng, k)))
    return nb


def _copied(of: nbformat.NotebookNode, kind: int, rng: random.Random,
            team: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(json.loads(json.dumps(of)))
    for cell in nb.cells:
        if "TEAM = [" in cell.source:
            cell.source = cell.source.split("TEAM = ")[0] + "TEAM = " + json.dumps(team)
    answers = [c for c in nb.cells if c.cell_type == "code"
               and (c.metadata.get("nbgrader", {}).get("solution") or not c.metadata)]
    if kind == 0:
        for cell in answers:
            cell.source = make.reorder(make.rename(cell.source, make.RENAMES))
    elif kind == 1:
        for n, cell in enumerate(answers):
            cell.source = make.recomment(cell.source, n)
    else:  # half copied: the other half is the copier's own draw
        own = _honest(make_release(), rng, team)
        mine = [c for c in own.cells if c.cell_type == "code"
                and (c.metadata.get("nbgrader", {}).get("solution") or not c.metadata)]
        for cell, replacement in list(zip(answers, mine, strict=False))[len(answers) // 2:]:
            cell.source = replacement.source
    return nb


_RELEASE = None


def make_release():
    global _RELEASE
    if _RELEASE is None:
        _RELEASE = nbformat.read(make.RELEASE, as_version=4)
    return _RELEASE


def generate(folder: Path, n: int, copies: int, seed: int = 0) -> list[tuple[str, str]]:
    """Write n submissions into folder; returns the planted (original, copy) pairs."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    notebooks = {f"pair{i:04d}": _honest(make_release(), rng, [f"2{i:06d}1", f"2{i:06d}2"])
                 for i in range(n)}
    names = list(notebooks)
    planted = []
    for k in range(copies):
        original, copy = rng.sample([x for x in names if x not in {y for p in planted for y in p}], 2)
        notebooks[copy] = _copied(notebooks[original], k % 3, rng, [f"{copy}a", f"{copy}b"])
        planted.append(tuple(sorted((original, copy))))
    for name, nb in notebooks.items():
        write_notebook(nb, folder / f"{name}.ipynb")
    return planted


# ---------------------------------------------------------------- one size, in a fresh process

def _child(folder: Path, workers: int) -> dict:
    from autograder.config import load_course
    from autograder.notebook import read_notebook
    from autograder.own_code import units_of
    from autograder.pair_scores import score_pairs
    from autograder.similarity import _read, _start_worker, similarity_report

    course_dir = folder.parent / "course"
    course_dir.mkdir()
    (course_dir / "course.toml").write_text(
        f'[assignments.{HW}]\nnotebook = "{ROOT / "source" / HW / (HW + ".ipynb")}"\n'
        'due = "2026-11-02T23:59"\n', encoding="utf-8")
    (course_dir / "roster.csv").write_text("student_id,last_name,first_name,email\n")
    course = load_course(course_dir / "course.toml")

    def cpu() -> float:
        return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                     resource.getrusage(resource.RUSAGE_CHILDREN)))

    cpu_start, start = cpu(), time.perf_counter()
    report = similarity_report(course=course, assignment=HW, submissions=folder,
                               results=[course_dir / "results"], pages=course_dir / "pages",
                               workers=workers)
    total, total_cpu = time.perf_counter() - start, cpu() - cpu_start
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    source = read_notebook(course.assignment(HW).notebook)
    units = units_of(source)
    _start_worker(source, units)
    prints = [_read(p)[1] for p in sorted(folder.glob("*.ipynb"))]
    start = time.process_time()
    score_pairs(prints, units, threshold=course.similarity.threshold)
    index = time.process_time() - start
    start = time.process_time()
    _pairwise(prints, len(units))
    pairwise = time.process_time() - start
    return {"n": report.submissions, "pairs": report.compared_pairs, "total_s": total,
            "cpu_s": total_cpu,
            "index_s": index, "pairwise_s": pairwise, "rss_mb": rss_self,
            "worker_rss_mb": rss_workers, "threshold": report.threshold,
            "flagged": [sorted((p.a, p.b)) for p in report.flagged],
            "listed": [[*sorted((p.a, p.b)), p.score] for p in report.pairs],
            "common": report.common_fingerprints}


def _pairwise(prints, n_units: int) -> None:
    """The baseline: every pair, every cell, with Python sets (no index)."""
    cells = [[set(p.hashes[p.units == u].tolist()) for u in range(n_units)] for p in prints]
    whole = [set(p.hashes.tolist()) for p in prints]
    for a in range(len(prints)):
        for b in range(a + 1, len(prints)):
            shared = size = 0
            for u in range(n_units):
                x, y = cells[a][u], cells[b][u]
                shared += len(x & whole[b]) + len(y & whole[a])
                size += len(x) + len(y)


def _copydetect(python: str, folder: Path, work: Path, threshold: float) -> float:
    """copydetect's comparison loop on one file of own code per submission (CPU seconds)."""
    from autograder.notebook import read_notebook
    from autograder.own_code import handout_texts, own_cells

    source = read_notebook(ROOT / "source" / HW / (HW + ".ipynb"))
    files, boiler = work / "code", work / "handout"
    files.mkdir()
    boiler.mkdir()
    (boiler / "handout.py").write_text("\n\n".join(handout_texts(source)), encoding="utf-8")
    for path in sorted(folder.glob("*.ipynb")):
        cells = own_cells(source, read_notebook(path))
        (files / f"{path.stem}.py").write_text("\n\n".join(c.source for c in cells),
                                               encoding="utf-8")
    script = (
        "import sys, time, logging; logging.disable(logging.WARNING)\n"
        "from copydetect import CopyDetector\n"
        "d = CopyDetector(test_dirs=[sys.argv[1]], ref_dirs=[sys.argv[1]],"
        " boilerplate_dirs=[sys.argv[2]], extensions=['py'], display_t=float(sys.argv[3]),"
        " silent=True, autoopen=False, same_name_only=False)\n"
        "t = time.process_time(); d.run(); print(time.process_time() - t)\n")
    done = subprocess.run([python, "-c", script, str(files), str(boiler), str(threshold)],
                          capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500", help="class sizes, e.g. 125,250,500,1000")
    parser.add_argument("--copies", type=int, default=15, help="planted copies per class")
    parser.add_argument("--workers", type=int, default=2, help="processes reading notebooks")
    parser.add_argument("--copydetect-python", default=None, metavar="PY",
                        help="an interpreter with copydetect installed: adds it as a baseline")
    parser.add_argument("--child", nargs=2, metavar=("FOLDER", "WORKERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(Path(args.child[0]), int(args.child[1]))))
        return 0

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; {args.workers} reading processes; load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    print(f"{'n':>6} {'pairs':>8} {'ours (s)':>9} {'ours CPU':>9} {'scoring CPU':>12} {'pairwise CPU':>13} "
          f"{'ratio':>6} {'copydetect CPU':>15} {'peak RSS (MB)':>14} {'workers RSS':>12} "
          f"{'planted found':>14} {'other flags':>12} {'best honest':>12}")
    for n in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="similarity-bench-") as tmp:
            folder = Path(tmp) / "submissions"
            planted = generate(folder, n, args.copies)
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            done = subprocess.run([sys.executable, __file__, "--child", str(folder),
                                   str(args.workers)], capture_output=True, text=True, env=env)
            if done.returncode:
                print(done.stderr[-3000:], file=sys.stderr)
                return 1
            r = json.loads(done.stdout.strip().splitlines()[-1])
            flagged = {tuple(p) for p in r["flagged"]}
            found = len(flagged & set(planted))
            honest = max((s for a, b, s in r["listed"] if (a, b) not in set(planted)), default=0)
            cd = (f"{_copydetect(args.copydetect_python, folder, Path(tmp), r['threshold']):15.1f}"
                  if args.copydetect_python else f"{'-':>15}")
            print(f"{r['n']:>6} {r['pairs']:>8} {r['total_s']:>9.1f} {r['cpu_s']:>9.1f} "
                  f"{r['index_s']:>12.2f} "
                  f"{r['pairwise_s']:>13.1f} {r['pairwise_s'] / r['index_s']:>5.0f}x {cd} "
                  f"{r['rss_mb']:>14.0f} {r['worker_rss_mb']:>12.0f} "
                  f"{found:>8}/{len(planted):<5} {len(flagged - set(planted)):>12} {honest:>12.0%}",
                  flush=True)
    print("ours: similarity_report end to end (read + rebuild + fingerprints + scoring + pages), "
          "wall time and CPU seconds (all its processes: on a loaded machine, wall > CPU / 2); "
          "scoring: the index alone; pairwise: the same fingerprints, pair by pair with sets; "
          "ratio = pairwise / scoring; copydetect: its comparison of the same own code, whole "
          "files (CPU seconds, like the two before). Peak RSS of the comparing process; workers: the largest "
          "reading process. best honest: the highest score of a pair that is not a planted copy.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
