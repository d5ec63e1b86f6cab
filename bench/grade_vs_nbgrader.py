"""Grading a class: `autograder grade` against `nbgrader autograde` on the same batch, same run.

Default mode: a batch of N submissions (correct, partial, broken, unanswered) generated from one
assignment's source notebook is graded, alternately, by

  ours      `python -m autograder.cli grade HW SUBS --force --out FRESH` of this checkout (the
            real command, sandbox and judge on), and with --baseline REV the same command of an
            earlier revision (`git archive REV`), so before and after are measured in one run;
  theirs    `nbgrader autograde HW` in a throwaway nbgrader course built from the same source
            notebook (nbgrader's format), on the same submitted notebooks,

and the floor is measured in the same run: nbclient executing the same notebooks one after the
other in plain local kernels (no sandbox, no judge, no hidden tests). The load average is
printed with every timed run (the machine is shared). The grader's memory is sampled from /proc
while it runs: PSS and RSS summed over its own processes, the kernel template apart (procmem.py).

nbgrader has no `check`, `reference` or `in_kernel`: the hidden parts of the test cells that use
them fail under nbgrader, so its points mean nothing here; only its time is compared.

`--workers-sweep 1,2,4,8`: the grader's memory on the batch at each number of workers.
`--light N`: N light submissions of a tiny numpy-only assignment, graded once, to show the
grader's memory against the batch size (peak PSS when 10%, 100, ..., N results exist), then a
gradebook of 1,000 students (generated roster, 500 fake pair results) timed in-process.

    python bench/grade_vs_nbgrader.py --n 20 --rounds 2 --baseline 45feaa5
    python bench/grade_vs_nbgrader.py --n 20 --rounds 2 --assignment hw1_features
    python bench/grade_vs_nbgrader.py --workers-sweep 1,2,4,8 --skip-nbgrader --skip-floor
    python bench/grade_vs_nbgrader.py --light 1000         # memory over the batch, gradebook
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import revisions
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from procmem import ProcessSampler  # noqa: E402

from autograder.config import Assignment, load_course  # noqa: E402
from autograder.notebook import nbgrader_metadata  # noqa: E402
from autograder.release import apply_steps, read_source, release_steps, solution_steps  # noqa: E402
from autograder.results import (  # noqa: E402
    CheckResult,
    QuestionResult,
    SubmissionResult,
    read_result,
    write_result,
)


def _script(name: str) -> str:
    """The console script installed with this interpreter (not a pyenv shim: no extra start)."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else (shutil.which(name) or name)


NBGRADER = [_script("nbgrader")]
SMALL = "mlp_small"

# ---------------------------------------------------------------- the benchmark's own assignment

# A small numpy + torch MLP homework, the size of the baseline's notebooks (student code and tests
# take milliseconds; `import torch` in the setup cell is most of the kernel's work).
SETUP = "import numpy as np\nimport torch\nfrom torch import nn"
FORWARD = '''def relu(z):
    """max(z, 0), elementwise."""
    ### BEGIN SOLUTION
    return np.maximum(z, 0.0)
    ### END SOLUTION


def forward(params, X):
    """Logits of a one-hidden-layer MLP: relu(X @ W1 + b1) @ W2 + b2."""
    ### BEGIN SOLUTION
    h = relu(X @ params["W1"] + params["b1"])
    return h @ params["W2"] + params["b2"]
    ### END SOLUTION'''
TEST_FORWARD = '''params = {"W1": np.array([[1.0, -1.0]]), "b1": np.zeros(2), "W2": np.array([[1.0], [1.0]]),
          "b2": np.array([0.5])}
assert np.allclose(forward(params, np.array([[2.0]])), [[2.5]]), "relu(2) + relu(-2) + 0.5 = 2.5"
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(3)
params = {"W1": rng.normal(size=(4, 8)), "b1": rng.normal(size=8), "W2": rng.normal(size=(8, 3)),
          "b2": rng.normal(size=3)}
X = rng.normal(size=(32, 4))
with check("relu on random values", points=1):
    z = rng.normal(size=(5, 5))
    np.testing.assert_allclose(relu(z), reference.relu(z))
with check("forward matches the reference", points=2):
    np.testing.assert_allclose(forward(params, X), reference.forward(params, X), rtol=1e-6)
### END HIDDEN TESTS'''
MLP = '''class MLP(nn.Module):
    """Linear layers of the given sizes with ReLU between them; outputs logits."""

    def __init__(self, sizes):
        super().__init__()
        ### BEGIN SOLUTION
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.net = nn.Sequential(*layers[:-1])
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.net(x)
        ### END SOLUTION'''
TEST_MLP = '''model = MLP([2, 16, 3])
assert tuple(model(torch.zeros(5, 2)).shape) == (5, 3), "5 inputs, 3 classes: output shape (5, 3)"
### BEGIN HIDDEN TESTS
def count_parameters(sizes):
    return sum(p.numel() for p in MLP(sizes).parameters())


with check("output shape of a deeper net", points=1):
    out = MLP([4, 8, 8, 2])(torch.zeros(7, 4))
    assert tuple(out.shape) == (7, 2), f"expected (7, 2), got {tuple(out.shape)}"
with check("parameter count", points=1):
    n = in_kernel(count_parameters, [4, 8, 8, 2])
    assert n == 4 * 8 + 8 + 8 * 8 + 8 + 8 * 2 + 2, f"got {n} parameters"
### END HIDDEN TESTS'''




def small_source() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [
        new_code_cell('TEAM = ["<student id>", "<student id>"]',
                      metadata={"autograder": {"team": True}}),
        new_markdown_cell("# A small MLP\nA forward pass in numpy, then the same net in PyTorch.",
                          metadata=nbgrader_metadata("intro", locked=True)),
        new_code_cell(SETUP, metadata=nbgrader_metadata("setup", locked=True)),
        new_code_cell(FORWARD, metadata=nbgrader_metadata("forward", solution=True)),
        new_code_cell(TEST_FORWARD, metadata=nbgrader_metadata("test_forward", grade=True, locked=True,
                                                  points=3)),
        new_code_cell(MLP, metadata=nbgrader_metadata("mlp", solution=True)),
        new_code_cell(TEST_MLP, metadata=nbgrader_metadata("test_mlp", grade=True, locked=True, points=2)),
    ]
    return nb


# ---------------------------------------------------------------- a throwaway course and batch

@dataclass
class Course:
    root: Path
    toml: Path
    assignment: str
    source: Path  # the instructor's notebook (nbgrader's format)
    ids: list[str]  # roster ids, two per pair


def make_course(root: Path, assignment: str, pairs: int, *, kernel_start: str | None,
                workers: int | None) -> Course:
    """A course folder of its own: the assignment's source, a roster of 2 x pairs students."""
    root.mkdir(parents=True)
    if assignment == SMALL:
        src_dir = root / "source" / SMALL
        src_dir.mkdir(parents=True)
        nbformat.write(small_source(), src_dir / f"{SMALL}.ipynb")
        points, limits = 5, "cell_timeout = 60.0\nnotebook_timeout = 300.0\nmemory_mb = 2048\n"
    elif assignment == "tiny":
        shutil.copytree(ROOT / "tests/data/engine/source/tiny", root / "source" / "tiny")
        points, limits = 5, "cell_timeout = 10.0\nnotebook_timeout = 60.0\nmemory_mb = 1024\n"
    else:
        spec = load_course(ROOT / "course.toml").assignment(assignment)
        shutil.copytree(spec.notebook.parent, root / "source" / assignment)
        limits = "cell_timeout = 120.0\nnotebook_timeout = 900.0\nmemory_mb = 4096\n"
        points = spec.points
    if kernel_start:
        limits += f'kernel_start = "{kernel_start}"\n'
    if workers:
        limits += f"workers = {workers}\n"
    ids = [f"{22000000 + i:08d}" for i in range(1, 2 * pairs + 1)]
    with open(root / "roster.csv", "w", encoding="utf-8") as f:
        f.write("student_id,last_name,first_name,email\n")
        for sid in ids:
            f.write(f"{sid},Name{sid},First{sid},s{sid}@etu.example.edu\n")
    toml = root / "course.toml"
    toml.write_text(
        f'[course]\nname = "Benchmark"\ntimezone = "Europe/Paris"\nroster = "roster.csv"\n\n'
        f"[grading]\n{limits}gpu = \"off\"\n\n"
        f'[assignments.{assignment}]\nnotebook = "source/{assignment}/{assignment}.ipynb"\n'
        f'due = "2026-12-31T23:59"\nteam_size = 2\npoints = {points}\n', encoding="utf-8")
    return Course(root, toml, assignment, root / "source" / assignment / f"{assignment}.ipynb",
                  ids)


def _spec(course: Course) -> Assignment:
    return load_course(course.toml).assignment(course.assignment)


def _answer_cells(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
            and c.metadata.get("nbgrader", {}).get("solution")]


def _with_team(nb, ids: list[str]):
    nb = copy.deepcopy(nb)
    for c in nb.cells:
        if c.metadata.get("autograder", {}).get("team"):
            c.source = f"TEAM = {ids!r}"
    return nb


KINDS = ("correct", "partial", "correct", "broken", "unanswered")


def make_batch(course: Course, out: Path, n: int) -> list[Path]:
    """n submissions in out/<pair>/<hw>.ipynb: the solution, one answer reverted to its stub,
    a syntax error in one answer, the untouched release; every pair a distinct roster pair."""
    spec = _spec(course)
    source = read_source(spec)
    solved = apply_steps(source, solution_steps(spec))
    stub = apply_steps(source, release_steps(spec))
    answers = _answer_cells(solved)
    paths = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        nb = stub if kind == "unanswered" else copy.deepcopy(solved)
        if kind == "partial":
            j = answers[(i // len(KINDS)) % len(answers)]
            match = [c for c in stub.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                     == nb.cells[j].metadata["nbgrader"]["grade_id"]]
            nb.cells[j].source = match[0].source
        elif kind == "broken":
            nb.cells[answers[0]].source += "\n    return (  # unfinished edit"
        path = out / f"pair{i + 1:04d}-{kind}" / f"{course.assignment}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(_with_team(nb, course.ids[2 * i:2 * i + 2]), path)
        paths.append(path)
    return paths


# ---------------------------------------------------------------- the three graders

@dataclass
class Run:
    name: str
    wall_s: float
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Checkout:
    """A tree of the package to run the command from: this checkout, or a revision's."""

    label: str
    tree: Path


def baseline_checkout(rev: str, work: Path) -> Checkout:
    """`git archive REV` of this repository, unpacked under work/."""
    tree = revisions.checkout(rev, work / f"baseline-{rev}")
    described = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h", rev],
                               capture_output=True, text=True).stdout.strip()
    return Checkout(f"baseline {described}", tree)


def _load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def run_ours(course: Course, subs: Path, work: Path, tag: str, n: int,
             checkout: Checkout) -> Run:
    out, feedback = work / f"results-{tag}", work / f"feedback-{tag}"
    folder = out / course.assignment
    cmd = [sys.executable, "-m", "autograder.cli", "--course", str(course.toml), "grade",
           course.assignment, str(subs), "--force", "--out", str(out), "--feedback",
           str(feedback)]
    log = open(work / f"ours-{tag}.log", "w")
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            cwd=course.root, env={**os.environ, "PYTHONPATH": str(checkout.tree)})
    sampler = ProcessSampler(proc.pid, count_done=lambda: _count(folder))
    rc = proc.wait()
    wall = time.perf_counter() - started
    sampler.stop()
    log.close()
    if rc not in (0, 3):  # 3: every submission handled, some not graded
        raise SystemExit(f"autograder grade failed ({rc}); see {work / f'ours-{tag}.log'}:\n"
                         + (work / f"ours-{tag}.log").read_text()[-3000:])
    results = [read_result(p) for p in sorted(folder.glob("*.json"))]
    if len(results) != n:
        raise SystemExit(f"autograder grade wrote {len(results)} results for {n} submissions")
    return Run("autograder", wall, {"sampler": sampler, "results": results, "load": load,
                                    "log": (work / f"ours-{tag}.log").read_text()})


def _count(folder: Path) -> int:
    try:
        return sum(1 for p in os.scandir(folder) if p.name.endswith(".json"))
    except OSError:
        return 0


def make_nbgrader_course(course: Course, root: Path, notebooks: list[Path]) -> Path:
    """nbgrader_config.py, source/<hw>/ copied from our source, generate_assignment, then
    submitted/<student>/<hw>/<hw>.ipynb: a template course copied afresh for every round."""
    hw = course.assignment
    root.mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        "c.CourseDirectory.course_id = 'bench'\n"
        "c.ExecutePreprocessor.timeout = 120\n", encoding="utf-8")
    shutil.copytree(course.source.parent, root / "source" / hw)
    _nbgrader(["generate_assignment", hw, "--force"], root)
    for path in notebooks:
        student = path.parent.name
        dest = root / "submitted" / student / hw / f"{hw}.ipynb"
        dest.parent.mkdir(parents=True)
        shutil.copy(path, dest)
    return root


def _nbgrader(args: list[str], cwd: Path, log: Path | None = None) -> None:
    done = subprocess.run([*NBGRADER, *args], cwd=cwd, capture_output=True, text=True)
    if log:
        log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"nbgrader {' '.join(args)} failed:\n{done.stdout[-2000:]}"
                         f"{done.stderr[-3000:]}")


def run_nbgrader(template: Path, work: Path, tag: str, n: int) -> Run:
    root = work / f"nbgrader-{tag}"
    shutil.copytree(template, root)
    (root / "nbgrader_config.py").write_text(
        (root / "nbgrader_config.py").read_text().replace(str(template), str(root)))
    hw = next(p.name for p in (root / "source").iterdir())
    load = os.getloadavg()[0]
    started = time.perf_counter()
    _nbgrader(["autograde", hw], root, log=work / f"nbgrader-{tag}.log")
    wall = time.perf_counter() - started
    graded = list((root / "autograded").glob(f"*/{hw}/{hw}.ipynb"))
    if len(graded) != n:
        raise SystemExit(f"nbgrader autograded {len(graded)} of {n}; see {work}/nbgrader-{tag}.log")
    return Run("nbgrader", wall, {"load": load})


def run_floor(notebooks: list[Path]) -> Run:
    """nbclient, plain local kernel, sequential: what any notebook grader pays at least."""
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)  # the kernels inherit stderr: their TCP warning, per kernel
    try:
        load = os.getloadavg()[0]
        started = time.perf_counter()
        for path in notebooks:
            nb = nbformat.read(path, as_version=4)
            NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True).execute()
        return Run("floor", time.perf_counter() - started, {"load": load})
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# ---------------------------------------------------------------- reports

def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem = 0
    load = os.getloadavg()
    return (f"{os.cpu_count()} cores ({model}), {mem / 2**20:.1f} GiB memory, "
            f"Python {platform.python_version()}, load average {load[0]:.1f} {load[1]:.1f} "
            f"{load[2]:.1f} at the start")


def _git() -> str:
    done = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"],
                          capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "autograder"],
                           capture_output=True, text=True).stdout.strip()
    return done.stdout.strip()[:70] + (" (+ uncommitted changes in autograder/)" if dirty else "")


def compare(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-grade-"))
    print(f"machine: {machine()}")
    print(f"commit:  {_git()}")
    print(f"work dir: {work}")
    checkouts = [Checkout("this checkout", ROOT)]
    if args.baseline:
        checkouts.append(baseline_checkout(args.baseline, work))
    starts = args.kernel_start.split(",") if args.kernel_start else [None]
    base = make_course(work / "course", args.assignment, args.n, kernel_start=None,
                       workers=args.workers)
    variants = [(f"{c.label}{f', {s}' if s else ''}", c, _variant(base, s))
                for c in checkouts for s in starts]
    subs = work / "submissions"
    notebooks = make_batch(base, subs, args.n)
    kinds = {k: sum(1 for p in notebooks if p.parent.name.endswith(k)) for k in dict.fromkeys(KINDS)}
    print(f"batch: {args.n} submissions of {args.assignment} "
          f"({', '.join(f'{v} {k}' for k, v in kinds.items())})")
    nbg = None if args.skip_nbgrader else make_nbgrader_course(base, work / "nbgrader-template",
                                                                notebooks)
    # Warm the page cache (torch's files) once for all, untimed.
    run_floor(notebooks[:1])
    ours: dict[str, list[Run]] = {label: [] for label, _, _ in variants}
    theirs, floors = [], []
    for r in range(args.rounds):  # alternate, so the shared machine's drift hits all alike
        print(f"round {r + 1}/{args.rounds}:", flush=True)
        for i, (label, checkout, course) in enumerate(variants):
            run = run_ours(course, subs, work, f"r{r}-{i}", args.n, checkout)
            ours[label].append(run)
            print(f"   autograder ({label}): {run.wall_s:.1f} s ({_load()} at its start: "
                  f"{run.extra['load']:.1f})", flush=True)
        if nbg:
            theirs.append(run_nbgrader(nbg, work, f"r{r}", args.n))
            print(f"   nbgrader: {theirs[-1].wall_s:.1f} s (load at its start "
                  f"{theirs[-1].extra['load']:.1f})", flush=True)
        if not args.skip_floor:
            floors.append(run_floor(notebooks))
            print(f"   floor (nbclient): {floors[-1].wall_s:.1f} s (load at its start "
                  f"{floors[-1].extra['load']:.1f})", flush=True)
    print()
    print(f"== {args.n} submissions of {args.assignment}, {args.rounds} round(s), medians; "
          f"load average now {os.getloadavg()[0]:.1f} ==")
    if theirs:
        t = _median(theirs)
        print(f"nbgrader autograde (sequential):    {t:7.1f} s  {60 * args.n / t:6.1f} "
              f"submissions/min   (time only: its hidden cells using check/reference/in_kernel "
              f"fail)")
    if floors:
        f = _median(floors)
        print(f"floor, bare nbclient (sequential):  {f:7.1f} s  {60 * args.n / f:6.1f} "
              f"submissions/min   {f / args.n:.2f} s per notebook")
    for label, _, _ in variants:
        report(args, label, ours[label], theirs, floors)
    if args.workers_sweep:
        sweep(args, variants, subs, work)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def _variant(course: Course, start: str | None) -> Course:
    """The same course with grading.kernel_start set: one course file per way of starting."""
    if start is None:
        return course
    toml = course.toml.with_name(f"course-{start}.toml")
    toml.write_text(course.toml.read_text().replace(
        "[grading]\n", f'[grading]\nkernel_start = "{start}"\n'), encoding="utf-8")
    return replace(course, toml=toml)


def _median(runs: list[Run]) -> float:
    return statistics.median(r.wall_s for r in runs)


def report(args, label: str, ours: list[Run], theirs: list[Run], floors: list[Run]) -> None:
    n = args.n
    o = _median(ours)
    results = ours[-1].extra["results"]
    statuses: dict[str, int] = {}
    for res in results:
        statuses[res.status] = statuses.get(res.status, 0) + 1
    points = sorted({res.points for res in results})
    found = re.search(r"(\d+) worker\(s\)", ours[-1].extra["log"])
    workers = int(found.group(1)) if found else 1
    engine_s = statistics.mean(res.runtime_s for res in results)
    sandboxes = "/".join(sorted({res.sandbox for res in results}))
    print(f"-- autograder grade, {label}: sandbox {sandboxes}, {workers} workers")
    print(f"   wall {o:.1f} s  ({', '.join(f'{r.wall_s:.1f}' for r in ours)}), "
          f"{60 * n / o:.1f} submissions/min   ({', '.join(f'{v} {k}' for k, v in statuses.items())};"
          f" points seen {points})")
    if theirs:
        print(f"   throughput autograder / nbgrader: {_median(theirs) / o:.2f}x   (target >= 10x)")
    per_slot = o * workers / n
    print(f"   per submission: {per_slot:.2f} s of a worker slot (wall x workers / N), "
          f"{engine_s:.2f} s engine time (mean runtime_s)"
          + (f"; floor {_median(floors) / n:.2f} s" if floors else ""))
    s = max((r.extra["sampler"] for r in ours), key=lambda p: p.peak_pss_mb)
    print(f"   grader memory (its own processes, kernels aside): peak PSS {s.peak_pss_mb:.0f} MB "
          f"summed (RSS {s.peak_rss_mb:.0f} MB) over up to {s.most_processes} processes; "
          f"kernel template {s.peak_template_mb:.0f} MB PSS ({len(s.templates)} seen)")
    for pid, mb, name in s.top(4):
        print(f"      pid {pid:>7} PSS {mb:6.0f} MB  {name}")


def sweep(args, variants, subs: Path, work: Path) -> None:
    """The grader's memory on the same batch with 1, 2, 4, ... workers, each variant."""
    counts = [int(x) for x in args.workers_sweep.split(",")]
    print(f"\n== memory by number of workers ({args.n} submissions, one run each) ==")
    for label, checkout, course in variants:
        line = []
        for count in counts:
            toml = course.toml.with_name(f"{course.toml.stem}-w{count}.toml")
            toml.write_text(re.sub(r"workers = \d+\n", "", course.toml.read_text()).replace(
                "[grading]\n", f"[grading]\nworkers = {count}\n"), encoding="utf-8")
            run = run_ours(replace(course, toml=toml), subs, work, f"w{count}-{label[:4]}",
                           args.n, checkout)
            s = run.extra["sampler"]
            line.append(f"{count}: {s.peak_pss_mb:.0f} MB PSS ({s.peak_rss_mb:.0f} RSS; "
                        f"template {s.peak_template_mb:.0f} x {len(s.templates)}; "
                        f"{run.wall_s:.1f} s, {_load()})")
        print(f"{label}:\n   " + "\n   ".join(line))


# ---------------------------------------------------------------- --light: memory and gradebook

def light(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-light-"))
    print(f"machine: {machine()}")
    print(f"commit:  {_git()}")
    n = args.light
    if n > 0:
        checkouts = [Checkout("this checkout", ROOT)]
        if args.baseline:
            checkouts.append(baseline_checkout(args.baseline, work))
        start = (args.kernel_start or "").split(",")[0] or None
        course = make_course(work / "course", "tiny", n, kernel_start=start, workers=args.workers)
        subs = work / "submissions"
        make_batch(course, subs, n)
        for i, checkout in enumerate(checkouts):
            print(f"\ngrading {n} light submissions of the engine tests' `tiny` assignment "
                  f"({checkout.label}) ...", flush=True)
            run = run_ours(course, subs, work, f"light-{i}", n, checkout)
            s = run.extra["sampler"]
            print(f"autograder grade: {run.wall_s:.1f} s, {60 * n / run.wall_s:.1f} "
                  f"submissions/min ({_load()} now, {run.extra['load']:.1f} at the start)")
            marks = sorted({max(1, n // 10), min(100, n), n // 2, n})
            print("grader peak PSS (its own processes, kernels aside) until k results existed:")
            for k in marks:
                print(f"    k = {k:>5}: {s.peak_until(k):6.0f} MB")
            print(f"    whole run: {s.peak_pss_mb:.0f} MB PSS summed (RSS {s.peak_rss_mb:.0f} MB); "
                  f"kernel template {s.peak_template_mb:.0f} MB PSS ({len(s.templates)} seen)")
            step = max(1, len(s.samples) // 12)
            print("sampled over time (t s: MB PSS summed, results):  " + "  ".join(
                f"{x.t:.0f}: {x.pss_mb:.0f}, {x.done}" for x in s.samples[::step]))
    gradebook_bench(work / "gradebook", args.students)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def gradebook_bench(root: Path, students: int) -> None:
    from autograder.gradebook import build_gradebook

    pairs = students // 2
    course = make_course(root, SMALL, pairs, kernel_start=None, workers=None)
    folder = root / "results" / SMALL
    checks = [("relu on random values", 1), ("forward matches the reference", 2)]
    for i in range(pairs):
        passed = i % 7 != 0
        res = SubmissionResult(
            assignment=SMALL, submission_id=f"pair{i + 1:04d}", status="graded",
            team=course.ids[2 * i:2 * i + 2], content_hash=f"{i:064x}", max_points=5,
            submitted_at=datetime(2026, 12, 31, 20, 0, tzinfo=UTC).isoformat(),
            graded_at=datetime.now(UTC).isoformat(timespec="seconds"), runtime_s=1.0,
            questions=[
                QuestionResult("test_forward", 3 if passed else 1, 3,
                               "passed" if passed else "partial",
                               checks=[CheckResult(name, pts if passed else 0, pts,
                                                   "passed" if passed else "failed")
                                       for name, pts in checks]),
                QuestionResult("test_mlp", 2, 2, "passed"),
            ])
        res.points = sum(q.points for q in res.questions)
        write_result(res, folder / f"{res.submission_id}.json")
    c = load_course(course.toml)
    started = time.perf_counter()
    book = build_gradebook(course=c, assignments=[SMALL], results=[root / "results"],
                           out=root / "grades.xlsx")
    took = time.perf_counter() - started
    print(f"gradebook: {students} roster students, {pairs} results: build_gradebook {took:.2f} s"
          f" ({len(book.rows)} rows; xlsx, csv, Moodle csv written)   (target < 5 s)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Timings on a shared machine are noisy: compare figures of one run only.")
    parser.add_argument("--n", type=int, default=20, help="submissions in the batch (20)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (2)")
    parser.add_argument("--assignment", default=SMALL,
                        help=f"{SMALL} (default: a small numpy + torch MLP made here), tiny, or a "
                             "course assignment (hw1_features, hw2_mlp)")
    parser.add_argument("--workers", type=int, default=None,
                        help="grading.workers of the benchmark course (default: sized by it)")
    parser.add_argument("--kernel-start", default=None, metavar="WAY[,WAY]",
                        help="grading.kernel_start of the benchmark course: template, bwrap, or "
                             "both (template,bwrap: each graded in every round, before/after); "
                             "default: the engine's")
    parser.add_argument("--baseline", metavar="REV", default=None,
                        help="also run the command of this git revision, alternating (before/"
                             "after in one run); with --light, after this checkout's")
    parser.add_argument("--workers-sweep", metavar="N,N,...", default=None,
                        help="then the grader's memory at each number of workers (1,2,4,8)")
    parser.add_argument("--skip-nbgrader", action="store_true")
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument("--light", type=int, default=None, metavar="N",
                        help="memory mode: grade N light submissions once, then the gradebook "
                             "(0: the gradebook only)")
    parser.add_argument("--students", type=int, default=1000,
                        help="roster size of the gradebook benchmark (1000)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, results)")
    args = parser.parse_args()
    if args.light is not None:
        light(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
