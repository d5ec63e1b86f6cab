"""A kernel that floods the grader: the grader lives, its memory stays bounded, the submission is
flagged and the others are graded. Memory is read from /proc (the peak resident set, VmHWM)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from autograder.config import KernelStart, Limits
from autograder.kernel import Kernel
from autograder.messages import Budget, RunStatus

pytestmark = [pytest.mark.kernel, pytest.mark.sandbox]
ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "tests" / "data" / "engine"
FLOOD = ROOT / "tests" / "data" / "flood" / "kernel_flood.ipynb"
MB = 2**20
SLACK = 64 * MB  # the interpreter's own allocations around a message (buffers, a parse)


def peak_rss() -> int:
    """This process's peak resident memory in bytes since the last reset."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/self/status")


def reset_peak_rss() -> int:
    Path("/proc/self/clear_refs").write_text("5")  # the peak restarts from what is resident now
    return peak_rss()


def sent(kernel: Kernel) -> int:
    return kernel.received + sum(channel.received for channel in kernel.channels.values())


def test_eight_gigabytes_from_a_kernel_cost_the_grader_one_message_at_most():
    attacks = {
        "payloads": "from IPython.display import display\nfor _ in range(16):\n"
                    "    display({'application/vnd.autograder.result+json': [[]] * 8_000_000},"
                    " raw=True)",
        "print": "print('x' * (400 * 2**20))",
        "frames": "k = get_ipython().kernel\nchunk = memoryview(b'z' * 2**20)\n"
                  "k.session.send(k.iopub_socket, 'stream', {'name': 'stdout', 'text': 'x'},"
                  " parent=k.get_parent(), buffers=[chunk] * 7000)\n"
                  "import time\ntime.sleep(1)",
    }
    budget = Budget(submission_bytes=64 * 2**30)  # let all of it through to the grader
    with Kernel(limits=Limits(cell_timeout=300, memory_mb=3072), level=KernelStart.TEMPLATE,
                budget=budget) as kernel:
        before = reset_peak_rss()
        runs = {name: kernel.execute(code, timeout=300) for name, code in attacks.items()}
        growth = peak_rss() - before
        after = kernel.execute("print('alive')", timeout=30)
        total = sent(kernel)
    assert total > 7.5 * 2**30, total
    assert growth < budget.message_bytes + SLACK, growth >> 20
    assert runs["payloads"].dropped == 16 and runs["payloads"].payloads == []
    assert runs["print"].dropped >= 1 and runs["print"].truncated
    assert runs["frames"].dropped == 1
    assert all(run.status == RunStatus.OK for run in runs.values())
    assert after.status == RunStatus.OK and after.output == "alive\n"
    print(f"\ngrader peak RSS growth: {growth / MB:.0f} MiB for {total / 2**30:.1f} GiB sent")


def test_a_3_mb_frame_against_a_1_mb_budget_never_reaches_the_grader_whole():
    with Kernel(limits=Limits(cell_timeout=30), level=KernelStart.TEMPLATE,
                budget=Budget(message_bytes=MB)) as kernel:
        before = reset_peak_rss()
        big = kernel.execute("print('y' * 3 * 2**20, flush=True)", timeout=30)
        growth = peak_rss() - before
        small = kernel.execute("print('small')", timeout=30)
    assert big.dropped == 1 and "y" not in big.output and big.truncated
    assert growth < MB + SLACK
    assert small.output == "small\n" and kernel.problems()[0][0] == "kernel_message_dropped"


GRADER = """\
import json, sys
from pathlib import Path
from autograder.batch import grade_batch
from autograder.config import load_course
from autograder.engine import grade_submission
# The engine given explicitly, one worker: graded in this process, so its peak is the peak of
# the process that reads the kernel's messages (a batch's forks each read their own).
report = grade_batch(course=load_course(sys.argv[1]), assignment="tiny",
                     submissions=Path(sys.argv[2]), out=Path(sys.argv[3]), workers=1,
                     grade_one=grade_submission)
peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")]
print(json.dumps({"peak_kb": int(peak[0]), "results": {
    r.submission_id: {"status": r.status, "points": r.points, "flags": [f.code for f in r.flags]}
    for r in report.results}}))
"""


def grade_in_a_grader(tmp_path: Path, name: str, notebooks: list[Path], write_course) -> dict:
    tables = tomllib.loads((ENGINE / "course.toml").read_text(encoding="utf-8"))
    tables["course"]["roster"] = ROOT / "roster.csv"
    tables["grading"]["memory_mb"] = 3072  # the flood's own memory, not ours
    for spec in tables["assignments"].values():
        spec["notebook"] = ENGINE / spec["notebook"]
    course = write_course(tmp_path, name=f"{name}.toml", **tables)
    folder = tmp_path / name
    folder.mkdir()
    for notebook in notebooks:
        shutil.copy(notebook, folder / notebook.name)
    done = subprocess.run([sys.executable, "-c", GRADER, str(course), str(folder),
                           str(tmp_path / f"{name}-results")], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_the_flooding_submission_is_flagged_the_others_graded_the_grader_bounded(tmp_path,
                                                                              write_course):
    solution = ENGINE / "submissions" / "solution.ipynb"
    alone = grade_in_a_grader(tmp_path, "alone", [solution], write_course)
    both = grade_in_a_grader(tmp_path, "both", [FLOOD, solution], write_course)
    flood, solution = both["results"]["kernel_flood"], both["results"]["solution"]
    assert (solution["status"], solution["points"]) == ("graded", 4.0)
    assert alone["results"]["solution"]["points"] == 4.0
    assert flood["points"] == 0.0 and "kernel_output_budget" in flood["flags"]
    growth = (both["peak_kb"] - alone["peak_kb"]) * 1024
    assert growth < Budget().message_bytes + SLACK, growth >> 20
    print(f"\ngrader peak RSS: {alone['peak_kb'] >> 10} MiB grading the solution alone, "
          f"{both['peak_kb'] >> 10} MiB with the flood beside it")
