"""Grading in forks of one prepared process: what is prepared once, what each submission starts
from, and what happens when a fork dies, hangs or its parent goes.

The isolation test grades two submissions one after the other whose tests change everything a
careless test can change (numpy's and torch's global random state and settings, an object of a
setup cell, the reference); the second scores as if it were graded alone.
"""

from __future__ import annotations

import os
import signal
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder import prepare as prepared_state
from autograder.batch import grade_batch
from autograder.config import load_course
from autograder.notebook import nbgrader_metadata
from autograder.results import SubmissionResult, SubmissionStatus
from autograder.submissions import Submission
from autograder.workers import GRADER_ERROR, Workers, WorkersGone

ROOT = Path(__file__).resolve().parents[1]
HW = "iso"

SETUP = """import numpy as np
import torch
np.random.seed(2026)
torch.manual_seed(2026)
FIRST_NUMPY = np.random.RandomState(2026).rand()
FIRST_TORCH = torch.rand(1, generator=torch.Generator().manual_seed(2026)).item()
SEEN = []  # what the tests of this submission appended"""
ANSWER = """def secret():
    ### BEGIN SOLUTION
    return 1
    ### END SOLUTION"""
TESTS = """v = secret()
### BEGIN HIDDEN TESTS
with check("numpy's global random state is the setup's", points=1):
    assert np.random.rand() == FIRST_NUMPY
with check("torch's global random state is the setup's", points=1):
    assert torch.rand(1).item() == FIRST_TORCH
with check("settings of numpy and torch are the setup's", points=1):
    assert np.get_printoptions()["precision"] == 8 and torch.get_default_dtype() == torch.float32
with check("objects of the setup and the reference are this submission's alone", points=1):
    assert SEEN == [] and reference.SEEN == [], (SEEN, reference.SEEN)
# A careless test changes them all, from the submission's value.
np.random.seed(v)
torch.manual_seed(v)
np.set_printoptions(precision=v % 5 + 1)
torch.set_default_dtype(torch.float64)
SEEN.append(v)
reference.SEEN.append(v)
### END HIDDEN TESTS"""


def make_course(tmp_path: Path, *, tests: str = TESTS, setup: str = SETUP,
                notebook_timeout: float = 60.0) -> Path:
    nb = new_notebook()
    nb.cells = [
        new_code_cell('TEAM = ["<student id>", "<student id>"]',
                      metadata={"autograder": {"team": True}}),
        new_code_cell(setup, metadata=nbgrader_metadata("setup", locked=True)),
        new_code_cell(ANSWER, metadata=nbgrader_metadata("secret", solution=True)),
        new_code_cell(tests, metadata=nbgrader_metadata("test_secret", grade=True, locked=True,
                                                        points=4)),
    ]
    (tmp_path / "source" / HW).mkdir(parents=True)
    nbformat.write(nb, tmp_path / "source" / HW / f"{HW}.ipynb")
    (tmp_path / "roster.csv").write_text((ROOT / "roster.csv").read_text(encoding="utf-8"),
                                         encoding="utf-8")
    (tmp_path / "course.toml").write_text(textwrap.dedent(f"""\
        [course]
        name = "isolation"
        timezone = "Europe/Paris"
        [grading]
        cell_timeout = 20.0
        notebook_timeout = {notebook_timeout}
        memory_mb = 2048
        gpu = "off"
        [assignments.{HW}]
        notebook = "source/{HW}/{HW}.ipynb"
        due = "2099-10-12T23:59"
        points = 4
        """), encoding="utf-8")
    return tmp_path / "course.toml"


def submit(folder: Path, name: str, value: int) -> Path:
    nb = new_notebook()
    team = new_code_cell('TEAM = ["21900101", "21900102"]')
    team.metadata["autograder"] = {"team": True}
    answer = new_code_cell(f"def secret():\n    return {value}",
                           metadata=nbgrader_metadata("secret", solution=True))
    nb.cells = [team, answer]
    path = folder / name / f"{HW}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    return path


# ---------------------------------------------------------------- isolation, end to end

@pytest.mark.kernel
@pytest.mark.sandbox
def test_what_one_submissions_tests_change_never_reaches_the_next(tmp_path):
    course = load_course(make_course(tmp_path))
    subs = tmp_path / "subs"
    for name, value in (("a-first", 7), ("b-second", 11), ("c-third", 13)):
        submit(subs, name, value)
    report = grade_batch(course=course, assignment=HW, submissions=subs,
                         out=tmp_path / "results", workers=1)
    results = {r.submission_id: r for r in report.results}
    assert sorted(results) == ["a-first", "b-second", "c-third"]
    for result in results.values():  # one after the other, each as if it were graded alone
        assert result.status == SubmissionStatus.GRADED, result.reason
        failed = [(c.name, c.detail[-300:]) for q in result.questions for c in q.checks
                  if c.status != "passed"]
        assert result.points == 4.0, failed


# ---------------------------------------------------------------- the prepared state

def test_a_fork_starts_from_the_prepared_state_once_its_owner_never(tmp_path):
    course = load_course(make_course(tmp_path, setup="import numpy as np\nSEEN = []"))
    spec = course.assignment(HW)
    (tmp_path / "prepared").mkdir()
    made = prepared_state.prepare_for_forks(course, spec, tmp_path / "prepared")
    assert made.ran == frozenset({1}) and made.namespace["SEEN"] == []
    # Its owner prepares afresh for each submission it grades itself.
    (tmp_path / "own").mkdir()
    assert prepared_state.for_submission(course, spec, tmp_path / "own") is not made
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a fork: the prepared state, for its first submission only
        try:
            first = prepared_state.for_submission(course, spec, tmp_path / "own")
            second = prepared_state.for_submission(course, spec, tmp_path / "own")
            os.write(write, bytes([first is made, second is not made]))
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 2)
    os.waitpid(pid, 0)
    assert answer == bytes([True, True])


def test_setup_cells_that_need_the_kernel_are_left_to_each_submission(tmp_path):
    setup = "import numpy as np\nSTART = facts()['runtime_s']  # the kernel's helper"
    course = load_course(make_course(tmp_path, setup=setup))
    (tmp_path / "folder").mkdir()
    made = prepared_state.prepare(course, course.assignment(HW), tmp_path / "folder")
    assert made.ran == frozenset() and "START" not in made.namespace


def test_a_reference_that_cannot_be_built_fails_only_the_tests_that_use_it(tmp_path):
    course = load_course(make_course(tmp_path, setup="import numpy as np\n1 / 0"))
    (tmp_path / "folder").mkdir()
    made = prepared_state.prepare(course, course.assignment(HW), tmp_path / "folder")
    with pytest.raises(ZeroDivisionError):
        made.reference.secret  # noqa: B018 - the attribute is the test


# ---------------------------------------------------------------- forks that die, hang, or lose
# their parent

def graded(notebook, *, course, assignment, submission_id=None, submitted_at=None,
           require_sandbox=True):
    """A fake engine: pair01 kills its own fork, pair02 hangs, the rest are graded."""
    if submission_id == "pair01":
        os.kill(os.getpid(), signal.SIGKILL)
    if submission_id == "pair02":
        time.sleep(60)
    return SubmissionResult(assignment=assignment, submission_id=submission_id, status=SubmissionStatus.GRADED,
                            points=1.0, max_points=1.0)


def sub(name: str, tmp_path: Path) -> Submission:
    path = tmp_path / name / f"{HW}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}", encoding="utf-8")
    return Submission(submission_id=name, name=name, source=name, notebook=path)


def test_a_fork_that_dies_or_hangs_is_that_submissions_error_only(tmp_path):
    course = load_course(make_course(tmp_path))
    with Workers(course=course, assignment=HW, require_sandbox=False,
                 grade_one=graded, limit_s=3.0) as workers:
        for name in ("pair00", "pair01", "pair02", "pair03"):
            workers.submit(sub(name, tmp_path))
        done = {}
        while workers.running:
            submission, outcome = workers.next()
            done[submission.submission_id] = outcome
    assert done["pair00"].result.status == SubmissionStatus.GRADED and done["pair03"].result.status == SubmissionStatus.GRADED
    assert "killed by signal 9" in done["pair01"].died
    assert "ran past 3 s" in done["pair02"].died


def test_the_batch_records_a_dead_fork_as_an_error_retried_next_run(tmp_path):
    course = load_course(make_course(tmp_path))
    subs = tmp_path / "subs"
    for name in ("pair00", "pair01", "pair03"):
        submit(subs, name, 1)
    report = grade_batch(course=course, assignment=HW, submissions=subs,
                         out=tmp_path / "results", workers=2, grade_one=graded)
    results = {r.submission_id: r for r in report.results}
    assert results["pair01"].status == SubmissionStatus.ERROR
    assert GRADER_ERROR in [f.code for f in results["pair01"].flags]
    assert results["pair00"].status == results["pair03"].status == SubmissionStatus.GRADED


def test_when_the_preparer_dies_the_submissions_in_flight_have_no_result(tmp_path):
    course = load_course(make_course(tmp_path))
    with Workers(course=course, assignment=HW, require_sandbox=False,
                 grade_one=graded) as workers:
        workers.submit(sub("pair02", tmp_path))  # hangs
        time.sleep(0.5)
        os.kill(workers.process.pid, signal.SIGKILL)
        with pytest.raises(WorkersGone):
            workers.next()
