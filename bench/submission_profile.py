"""One submission, phase by phase, against the bare work: where the grader's time goes.

The engine grades each submission as a batch does (workers.py): this process starts the kernel
template and prepares the assignment once, then forks a child per submission; each child
grades one notebook with timers around the engine's phases (installed before the fork, so the
code timed is the code that runs) and sends the timings back.

The bare work is what grading a notebook cannot avoid: fork a kernel from a process that has
imported the same modules (no cage), run the notebook's cells in it, and run the checks, test
cells included, in that same kernel (nbgrader's way: no judge, no proxies, nothing isolated).
It runs through the same client code (autograder.kernel.Kernel), alternating with the engine.

The overhead per submission is the engine's time (the child's, fork to result) less the bare
work's; the table says where it goes. A third line gives a bare nbclient run of the notebook in
a fresh kernel (what a notebook grader without a template pays), for scale.

    python bench/submission_profile.py [--runs 10] [--assignment mlp_small|tiny|hw1_features]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import grade_vs_nbgrader as batch_bench  # noqa: E402

from autograder import engine, feedback, judge, link, prepare, sandbox, starts  # noqa: E402
from autograder.cage import python_roots  # noqa: E402
from autograder.config import load_course  # noqa: E402
from autograder.kernel import Kernel  # noqa: E402
from autograder.notebook import Role, cells_of, read_notebook  # noqa: E402
from autograder.prepare import graded_source  # noqa: E402
from autograder.rebuild import rebuild  # noqa: E402
from autograder.results import write_result  # noqa: E402
from autograder.student_kernel import StudentKernel  # noqa: E402

# ---------------------------------------------------------------- timing the engine's phases

TIMES: dict[str, float] = collections.defaultdict(float)


def timed(owner, name: str, label: str) -> None:
    """Wrap owner.name so each call adds its wall time to TIMES[label]."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            TIMES[label] += time.perf_counter() - started
            TIMES[f"_calls {label}"] += 1

    setattr(owner, name, wrapper)


def install_timers() -> None:
    timed(engine, "content_hash", "read")
    timed(engine, "read_notebook", "read")
    timed(engine, "rebuild", "rebuild")
    timed(engine, "for_submission", "prepared state (files into the judge's folder)")
    timed(sandbox, "start", "_sandbox")  # cage set-up on the host, and the fork request
    timed(starts.Template, "spawn", "_spawn")
    timed(Kernel, "_connect", "_boot")  # the kernel's fork, cage build and ipykernel start
    timed(Kernel, "_wait_ready", "_boot")
    timed(Kernel, "start", "_kernel start")
    timed(StudentKernel, "_place_files", "files into the kernel")
    timed(StudentKernel, "run_cell", "cells in the kernel (answers, setup, demos)")
    timed(engine._Walk, "_setup_in_judge", "setup cells in the judge (those not prepared)")
    timed(engine._Walk, "_judge", "_tests")
    timed(judge, "bind_student_names", "_names")
    timed(link.KernelLink, "_exchange", "_trips")
    timed(link.KernelLink, "put_files", "_files trip")
    timed(StudentKernel, "close", "kernel stop (its sandbox's teardown after the result)")
    timed(engine, "grade_submission", "_total")


def phases(times: dict[str, float]) -> dict[str, float]:
    """The timers as disjoint phases (what is nested is subtracted from what holds it)."""
    out = {k: v for k, v in times.items() if not k.startswith("_")}
    boot, sandbox_s, spawn = times["_boot"], times["_sandbox"], times["_spawn"]
    out["fork: the kernel's start (template fork, cage build, ipykernel)"] = boot + spawn
    out["cage set-up on the host (uid, cgroup, mounts, folders)"] = sandbox_s - spawn
    out["agent into the kernel"] = times["_kernel start"] - sandbox_s - boot
    trips = times["_trips"] - times["_files trip"]
    out["checks: test cells in the judge, own work"] = times["_tests"] - trips
    out["checks: round trips to the kernel (names, calls, scenarios)"] = trips
    out["rest of grade_submission (result, flags, folders)"] = times["_total"] - sum(
        v for k, v in out.items())
    return out


BARE_WORK = ("fork: the kernel's start (template fork, cage build, ipykernel)",
             "cells in the kernel (answers, setup, demos)",
             "checks: test cells in the judge, own work",
             "checks: round trips to the kernel (names, calls, scenarios)")


def engine_once(notebook: Path, course, assignment: str) -> dict[str, float]:
    """Grade in a fork of this (prepared) process as workers.py does: the result goes back
    through a pipe closed before the kernel's sandbox is torn down; its phases, the fork's start
    and the time from fork to result."""
    read, write = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            TIMES.clear()
            forked = time.perf_counter()
            teardown: list = []
            result = engine.grade_submission(notebook, course=course, assignment=assignment,
                                             teardown=teardown)
            if result.status != "graded":
                raise SystemExit(f"not graded: {result.status} {result.reason}")
            out = phases(TIMES)
            out["_fork"] = forked - started
            out["_trip count"] = TIMES["_calls _trips"] - TIMES["_calls _files trip"]
            out["_points"] = result.points
            with os.fdopen(write, "wb") as pipe:
                pipe.write(json.dumps(out).encode())
            for step in teardown:
                step()
        finally:
            os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 65536):
        data += chunk
    os.close(read)
    out = json.loads(data) if data else None
    out["_child"] = time.perf_counter() - started
    os.waitpid(pid, 0)
    if out is None:
        raise SystemExit("the grading fork died")
    return out


def writing_once(notebook: Path, course, assignment: str, work: Path) -> float:
    """What the batch does with a result: the JSON file and the feedback page."""
    result = engine.SubmissionResult(assignment=assignment, submission_id=notebook.parent.name,
                                     status="graded")
    started = time.perf_counter()
    write_result(result, work / "results" / f"{result.submission_id}.json")
    feedback.write_feedback([result], out=work / "feedback",
                            source_notebook=course.assignment(assignment).notebook,
                            course=course)
    return time.perf_counter() - started


# ---------------------------------------------------------------- the bare work

BARE_SERVER = r"""
import importlib.util, json, os, signal, sys
spec = importlib.util.spec_from_file_location("template", sys.argv[1])
template = importlib.util.module_from_spec(spec)
spec.loader.exec_module(template)
for name in sys.argv[2:]:
    __import__(name)
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
print(json.dumps({"ready": os.getpid()}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        template.close_inherited()
        template.kernel_main(request)
    print(json.dumps({"pid": pid}), flush=True)
"""


class BareTemplate:
    """A process that imported what the template imports and forks plain kernels: no cage."""

    def __init__(self):
        preload = [m for m in starts.PRELOAD
                   if __import__("importlib").util.find_spec(m.split(".")[0])]
        self.process = subprocess.Popen(
            [sys.executable, "-c", BARE_SERVER, str(starts.TEMPLATE_SCRIPT), *preload],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            bufsize=1, start_new_session=True)
        json.loads(self.process.stdout.readline())

    def start(self, cage, stack) -> starts.ForkedProcess:
        env = dict(cage.env, HOME=str(cage.ipc_dir))
        request = {"env": env, "home": str(cage.ipc_dir), "connection_file": cage.connection_file,
                   "python_roots": [str(p) for p in python_roots()]}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        process = starts.ForkedProcess(json.loads(self.process.stdout.readline())["pid"])
        stack.callback(process.stop)
        return process


def bare_code(source, notebook: Path) -> tuple[str, list[str]]:
    """(the prelude the checks need, the cells to run): the rebuilt notebook's code cells, test
    cells whole, with `check`, `reference` and `in_kernel` defined in the kernel itself."""
    rebuilt = rebuild(source, read_notebook(notebook))
    in_judge = {i for i, flag in prepare.setup_cells(source).items() if flag}
    answers = "\n".join(prepare._solution_code(c.source) for c in cells_of(source)
                        if c.cell_type == "code" and (c.role == Role.ANSWER or c.index in in_judge))
    prelude = (
        "import types\n"
        "class check:\n"
        "    def __init__(self, name, points=1, needs_gpu=False): pass\n"
        "    def __enter__(self): return self\n"
        "    def __exit__(self, kind, *rest): return kind is not None and issubclass(kind, Exception)\n"
        "def in_kernel(fn, *args, **kwargs): return fn(*args, **kwargs)\n"
        "def kernel_used_gpu(): return False\n"
        "def facts(): return {}\n"
        f"_ns = {{}}; exec({answers!r}, _ns)\n"
        "reference = types.SimpleNamespace(**{k: v for k, v in _ns.items() if k[0] != '_'})\n")
    return prelude, [c.code for c in rebuilt.cells if c.cell_type == "code"]


def bare_once(course, prelude: str, cells: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    with Kernel(limits=course.limits, level="bare", threads=1) as kernel:
        booted = time.perf_counter()
        kernel.execute(prelude, timeout=60)
        ran = time.perf_counter()
        for code in cells:
            kernel.execute(code, timeout=course.limits.cell_timeout)
        done = time.perf_counter()
    return {"fork": booted - started, "prelude": ran - booted, "cells": done - ran,
            "teardown": time.perf_counter() - done}


# ---------------------------------------------------------------- the report

def nbclient_once(notebook: Path) -> float:
    nb = nbformat.read(notebook, as_version=4)
    started = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True).execute()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--assignment", default="mlp_small",
                        help="mlp_small (the batch benchmark's), tiny, hw1_features, hw2_mlp")
    parser.add_argument("--skip-nbclient", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    made = batch_bench.make_course(work / "course", args.assignment, 1, kernel_start=None,
                                   workers=None)
    notebook = batch_bench.make_batch(made, work / "subs", 1)[0]  # the solution
    course = load_course(made.toml)
    spec = course.assignment(args.assignment)
    print(f"machine: {batch_bench.machine()}")
    print(f"commit:  {batch_bench._git()}")
    print(f"notebook: the solution of {args.assignment}, {args.runs} runs each, alternating")

    # As the preparer does (workers.py): one thread, the template, the source prepared, frozen.
    os.environ.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    sandbox.sandbox_level(True, start=course.limits.kernel_start)  # probed once, as there
    starts.Template.get(1)
    (work / "prepared").mkdir()
    prepare.prepare_for_forks(course, spec, work / "prepared")
    bare = BareTemplate()
    sandbox.STARTS["bare"] = bare.start
    prelude, cells = bare_code(graded_source(course, spec), notebook)
    install_timers()
    gc.freeze()
    engine_once(notebook, course, args.assignment)  # warm: the template's first answer
    bare_once(course, prelude, cells)

    ours, bares, fresh, writes = [], [], [], []
    for _ in range(args.runs):
        ours.append(engine_once(notebook, course, args.assignment))
        bares.append(bare_once(course, prelude, cells))
        writes.append(writing_once(notebook, course, args.assignment, work))
        if not args.skip_nbclient:
            fresh.append(nbclient_once(notebook))
    load = os.getloadavg()[0]

    def med(values):
        """A mean of the middle 60% (ms): robust to a run the machine's load hit, and the
        phases of one submission still add up to its total."""
        ordered = sorted(values)
        cut = len(ordered) // 5
        return statistics.mean(ordered[cut:len(ordered) - cut] or ordered) * 1000

    engine_ms = med([o["_child"] for o in ours])
    writing_ms = med(writes)
    bare_ms = {k: med([b[k] for b in bares]) for k in bares[0]}
    bare_work = bare_ms["fork"] + bare_ms["prelude"] + bare_ms["cells"]
    print(f"load average at the end: {load:.1f}")
    print(f"\nbare work (plain kernel forked from the same imports, cells and checks in it): "
          f"{bare_work:.0f} ms  = fork {bare_ms['fork']:.0f} + checks' prelude "
          f"{bare_ms['prelude']:.0f} + cells and checks {bare_ms['cells']:.0f}"
          f"   (its teardown: {bare_ms['teardown']:.0f} ms, not counted)")
    total = engine_ms + writing_ms
    print(f"engine, per submission: {total:.0f} ms  = the grading fork {engine_ms:.0f} "
          f"(fork to result) + writing the result and the feedback page {writing_ms:.0f}"
          f"   ({ours[-1]['_points']:g} points)")
    print(f"overhead above the bare work: {total - bare_work:+.0f} ms "
          f"({(total - bare_work) / bare_work:+.0%})   (target <= +15%)")
    trips = statistics.median(o["_trip count"] for o in ours)
    print(f"round trips to the kernel from the checks: {trips:.0f} per submission, "
          f"{med([o['checks: round trips to the kernel (names, calls, scenarios)'] for o in ours]) / max(trips, 1):.1f} ms each")
    rows = {k: med([o[k] for o in ours]) for k in ours[0] if not k.startswith("_")}
    rows["fork of the grading process (until it runs)"] = med([o["_fork"] for o in ours])
    rows["the result back through the pipe"] = engine_ms - sum(rows.values())
    rows["writing the result and the feedback page (the batch's process)"] = writing_ms
    print(f"\n{'phase (per submission, mean of the middle 60% of runs)':<68}{'ms':>8}"
          f"{'share':>8}")
    for name, ms in sorted(rows.items(), key=lambda kv: -kv[1]):
        mark = "  bare work" if name in BARE_WORK else ""
        print(f"{name:<68}{ms:8.1f}{ms / total:8.0%}{mark}")
    if fresh:
        print(f"\nfor scale: nbclient running the notebook in a fresh kernel (imports included): "
              f"{med(fresh):.0f} ms")
    with contextlib.suppress(OSError):
        bare.process.stdin.close()


if __name__ == "__main__":
    main()
