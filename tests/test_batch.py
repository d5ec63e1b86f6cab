import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import course_toml

from autograder.batch import (
    GRADER_ERROR,
    grade_batch,
    in_shard,
    parse_shard,
    plan_workers,
    read_results,
    shard_of,
)
from autograder.config import Limits, load_course
from autograder.errors import ConfigError
from autograder.results import QuestionResult, SubmissionResult, SubmissionStatus

ROOT = Path(__file__).resolve().parents[1]
HW = "hw1_features"


def fake_grade(notebook, *, course, assignment, submission_id=None, submitted_at=None,
               require_sandbox=True):
    """A grade that depends only on the notebook's bytes, as a real one should."""
    score = int(hashlib.sha256(Path(notebook).read_bytes()).hexdigest(), 16) % 21
    return SubmissionResult(
        assignment=assignment, submission_id=submission_id or "", status=SubmissionStatus.GRADED,
        points=float(score), max_points=20.0,
        questions=[QuestionResult("q1", float(score), 20.0, "partial")],
    )


def make_course(tmp_path: Path, due: str = "2099-10-12T23:59") -> Path:
    """A course of one empty assignment due `due`, with the example roster: its course.toml."""
    (tmp_path / "source" / HW).mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "source" / HW / f"{HW}.ipynb")
    return course_toml(tmp_path, roster=(ROOT / "roster.csv").read_text(encoding="utf-8"),
                       course={"name": "test", "timezone": "Europe/Paris"},
                       grading={"memory_mb": 512},
                       assignments={HW: {"notebook": f"source/{HW}/{HW}.ipynb", "due": due}})


def make_class(folder: Path, n: int = 8, *, first: int = 101) -> Path:
    for k in range(n):
        nb = nbformat.v4.new_notebook()
        team = [f"21900{first + 2 * k}", f"21900{first + 2 * k + 1}"]
        cell = nbformat.v4.new_code_cell(f"TEAM = {team!r}")
        cell.metadata["autograder"] = {"team": True}
        nb.cells = [cell, nbformat.v4.new_code_cell(f"answer = {k}")]
        (folder / f"pair{k:02d}").mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"pair{k:02d}" / f"{HW}.ipynb")
    return folder


def points_by_id(folder: Path) -> dict[str, float]:
    return {r.submission_id: r.points for r in read_results(folder)}


# ---------------------------------------------------------------- pure parts

def test_parse_shard():
    assert parse_shard("0/4") == (0, 4) and parse_shard("3/4") == (3, 4)
    for bad in ("4/4", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(ConfigError):
            parse_shard(bad)


def test_shards_partition_the_class():
    ids = [f"pair{k:03d}" for k in range(300)]
    shards = [[i for i in ids if in_shard(i, (k, 4))] for k in range(4)]
    assert sorted(sum(shards, [])) == ids
    assert all(40 < len(s) < 110 for s in shards)  # roughly even
    assert shard_of("pair001", 4) == shard_of("pair001", 4)
    assert all(in_shard(i, None) for i in ids)


def test_plan_workers():
    limits = Limits(memory_mb=4096)
    assert plan_workers(limits=limits, cores=16, memory_mb=128_000, pending=100) == 16
    assert plan_workers(limits=limits, cores=16, memory_mb=128_000, gpu_slots=4, pending=100) == 4
    assert plan_workers(limits=limits, cores=16, memory_mb=10_000, pending=100) == 1
    assert plan_workers(limits=limits, cores=2, memory_mb=64_000, pending=1) == 1
    assert plan_workers(limits=Limits(workers=3), cores=16, memory_mb=1e6, pending=100) == 3
    assert plan_workers(limits=limits, cores=16, memory_mb=1e6, pending=100, requested=5) == 5


# ---------------------------------------------------------------- a batch, in process

def test_a_second_run_grades_nothing_and_force_regrades(tmp_path):
    course = load_course(make_course(tmp_path))
    subs = make_class(tmp_path / "subs", 5)
    (tmp_path / "subs" / "broken.ipynb").write_text("{not json", encoding="utf-8")
    calls = []

    def counting(notebook, **kw):
        calls.append(kw["submission_id"])
        return fake_grade(notebook, **kw)

    out = tmp_path / "results"
    seen = []
    first = grade_batch(course=course, assignment=HW, submissions=subs, out=out, workers=1,
                        grade_one=counting, progress=seen.append)
    assert first.complete and sorted(first.graded) == sorted(
        ["broken", *[f"pair{k:02d}" for k in range(5)]])
    assert first.failed == ["broken"] and len(calls) == 5
    assert seen[0].done == 0 and seen[-1].done == seen[-1].total == 6
    broken = next(r for r in first.results if r.submission_id == "broken")
    assert broken.status == SubmissionStatus.REJECTED and "not a valid notebook" in broken.reason
    one = next(r for r in first.results if r.submission_id == "pair00")
    assert one.team == ["21900101", "21900102"] and one.source == f"pair00/{HW}.ipynb"
    assert one.grader_version.startswith("0.") and len(one.content_hash) == 64

    second = grade_batch(course=course, assignment=HW, submissions=subs, out=out, workers=1,
                         grade_one=counting)
    assert second.graded == [] and len(second.skipped) == 6 and len(calls) == 5

    nb = subs / "pair03" / f"{HW}.ipynb"
    nb.write_text(nb.read_text(encoding="utf-8").replace("answer = 3", "answer = 33"),
                  encoding="utf-8")
    third = grade_batch(course=course, assignment=HW, submissions=subs, out=out, workers=1,
                        grade_one=counting)
    assert third.graded == ["pair03"] and calls[-1] == "pair03"

    forced = grade_batch(course=course, assignment=HW, submissions=subs, out=out, workers=1,
                         grade_one=counting, force=True)
    assert len(forced.graded) == 6 and len(calls) == 11


@pytest.mark.parametrize("name", ["data.txt", "data/train.csv", "_hidden.npy"])
def test_editing_a_file_beside_the_notebook_regrades_everyone(tmp_path, name):
    """Data the kernel or the judge opens is part of the tests: a new one regrades everyone;
    a rerun with the same files regrades no one."""
    course = load_course(make_course(tmp_path))
    data = tmp_path / "source" / HW / name
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text("1 2 3", encoding="utf-8")
    subs = make_class(tmp_path / "subs", 3)
    out = tmp_path / "results"
    first = grade_batch(course=course, assignment=HW, submissions=subs, out=out, workers=1,
                        grade_one=fake_grade)
    assert len(first.graded) == 3
    again = grade_batch(course=course, assignment=HW, submissions=subs, out=out, workers=1,
                        grade_one=fake_grade)
    assert again.graded == [] and len(again.skipped) == 3
    data.write_text("1 2 4", encoding="utf-8")
    edited = grade_batch(course=course, assignment=HW, submissions=subs, out=out, workers=1,
                         grade_one=fake_grade)
    assert sorted(edited.graded) == ["pair00", "pair01", "pair02"]
    (tmp_path / "source" / HW / "notes.ipynb").write_text("{}", encoding="utf-8")
    assert grade_batch(course=course, assignment=HW, submissions=subs, out=out, workers=1,
                       grade_one=fake_grade).graded == []  # another notebook is not a data file


def test_shards_merge_to_the_same_grades(tmp_path):
    course = load_course(make_course(tmp_path))
    subs = make_class(tmp_path / "subs", 9)
    whole = grade_batch(course=course, assignment=HW, submissions=subs, out=tmp_path / "all",
                        workers=1, grade_one=fake_grade)
    merged: dict[str, float] = {}
    for k in range(3):
        part = grade_batch(course=course, assignment=HW, submissions=subs,
                           out=tmp_path / f"shard{k}", shard=(k, 3), workers=1,
                           grade_one=fake_grade)
        assert not set(part.graded) & set(merged)
        merged.update(points_by_id(tmp_path / f"shard{k}" / HW))
    assert merged == points_by_id(whole.out) and len(merged) == 9


def test_a_grader_failure_is_an_error_result_retried_next_run(tmp_path):
    course = load_course(make_course(tmp_path))
    subs = make_class(tmp_path / "subs", 2)

    def flaky(notebook, **kw):
        if kw["submission_id"] == "pair01":
            raise RuntimeError("judge crashed")
        return fake_grade(notebook, **kw)

    out = tmp_path / "results"
    report = grade_batch(course=course, assignment=HW, submissions=subs, out=out, workers=1,
                         grade_one=flaky)
    bad = next(r for r in report.results if r.submission_id == "pair01")
    assert bad.status == SubmissionStatus.ERROR and any(f.code == GRADER_ERROR for f in bad.flags)
    again = grade_batch(course=course, assignment=HW, submissions=subs, out=out, workers=1,
                        grade_one=fake_grade)
    assert again.graded == ["pair01"]
    pair01 = next(r for r in again.results if r.submission_id == "pair01")
    assert pair01.status == SubmissionStatus.GRADED


def test_team_flags_and_late_flag_after_the_batch(tmp_path):
    course = load_course(make_course(tmp_path, due="2026-10-12T23:59"))
    subs = make_class(tmp_path / "subs", 3)
    nb = subs / "pair02" / f"{HW}.ipynb"  # pair02 reuses a student of pair00
    nb.write_text(nb.read_text(encoding="utf-8").replace("21900105", "21900101"),
                  encoding="utf-8")
    (subs / "manifest.csv").write_text(
        "submission_id,submitted_at\npair00,2026-10-12T10:00:00\npair01,2026-10-14T10:00:00\n"
        "pair02,2026-10-12T23:59:00\n", encoding="utf-8")
    report = grade_batch(course=course, assignment=HW, submissions=subs,
                         out=tmp_path / "results", workers=1, grade_one=fake_grade)
    flags = {r.submission_id: sorted(f.code for f in r.flags) for r in report.results}
    assert flags["pair00"] == ["student_in_two_teams"]
    assert flags["pair02"] == ["student_in_two_teams"]
    assert flags["pair01"] == ["late"]
    late = next(r for r in report.results if r.submission_id == "pair01")
    assert late.submitted_at == "2026-10-14T10:00:00+02:00"
    assert "2 days late: -20%" in late.flags[0].message
    # A corrected manifest changes the late flag without regrading.
    (subs / "manifest.csv").write_text(
        "submission_id,submitted_at\npair00,2026-10-12T10:00:00\npair01,2026-10-12T10:00:00\n"
        "pair02,2026-10-12T23:59:00\n", encoding="utf-8")
    again = grade_batch(course=course, assignment=HW, submissions=subs,
                        out=tmp_path / "results", workers=1, grade_one=fake_grade)
    assert again.graded == []
    assert [f.code for f in read_results(again.out)[1].flags] == []


def test_ctrl_c_stops_cleanly_and_the_next_run_finishes(tmp_path):
    course = load_course(make_course(tmp_path))
    subs = make_class(tmp_path / "subs", 4)
    out = tmp_path / "results"

    def interrupted(notebook, **kw):
        if kw["submission_id"] == "pair02":
            raise KeyboardInterrupt
        return fake_grade(notebook, **kw)

    report = grade_batch(course=course, assignment=HW, submissions=subs, out=out, workers=1,
                         grade_one=interrupted)
    assert report.interrupted and not report.complete
    assert sorted(p.name for p in (out / HW).iterdir() if p.is_file()) == [
        "pair00.json", "pair01.json"]
    done = grade_batch(course=course, assignment=HW, submissions=subs, out=out, workers=1,
                       grade_one=fake_grade)
    assert done.complete and sorted(done.graded) == ["pair02", "pair03"]


def test_a_pool_of_worker_processes(tmp_path):
    course = load_course(make_course(tmp_path))
    subs = make_class(tmp_path / "subs", 4)
    report = grade_batch(course=course, assignment=HW, submissions=subs,
                         out=tmp_path / "results", workers=2, grade_one=fake_grade)
    assert report.workers == 2 and report.complete and len(report.graded) == 4
    single = grade_batch(course=course, assignment=HW, submissions=subs,
                         out=tmp_path / "single", workers=1, grade_one=fake_grade)
    assert points_by_id(report.out) == points_by_id(single.out)


# ---------------------------------------------------------------- kill -9 and resume

RUNNER = '''
import hashlib, sys, time
from pathlib import Path
from autograder.batch import grade_batch
from autograder.config import load_course
from autograder.results import SubmissionResult, SubmissionStatus

def slow_grade(notebook, *, course, assignment, submission_id=None, submitted_at=None,
               require_sandbox=True):
    time.sleep(0.4)
    score = int(hashlib.sha256(Path(notebook).read_bytes()).hexdigest(), 16) % 21
    return SubmissionResult(assignment=assignment, submission_id=submission_id,
                            status=SubmissionStatus.GRADED,
                            points=float(score), max_points=20.0)

if __name__ == "__main__":
    report = grade_batch(course=load_course(sys.argv[1]), assignment="hw1_features",
                         submissions=Path(sys.argv[2]), out=Path(sys.argv[3]), workers=2,
                         grade_one=slow_grade)
    print(len(report.graded), len(report.skipped),
          "interrupted" if report.interrupted else "complete")
'''


def _wait_for_results(proc, folder: Path, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(list(folder.glob("pair*.json"))) < count:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the batch never got that far"
        time.sleep(0.05)


def _group_gone(pgid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_ctrl_c_then_kill_9_then_rerun_gives_the_same_grades(tmp_path):
    course_file = make_course(tmp_path)
    subs = make_class(tmp_path / "subs", 12)
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER, encoding="utf-8")
    out = tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, str(runner), str(course_file), str(subs), str(out)]

    def start():
        return subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    # Ctrl-C (SIGINT to the whole process group, as a terminal sends it): a clean stop.
    proc = start()
    try:
        _wait_for_results(proc, out / HW, 2)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, _ = proc.communicate(timeout=60)
        assert stdout.split()[-1] == b"interrupted"
        assert _group_gone(proc.pid), "a worker outlived Ctrl-C"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    after_ctrl_c = len(list((out / HW).glob("pair*.json")))
    assert not list((out / HW).glob(".tmp-*"))

    # kill -9 of the grader alone: its workers die with it.
    proc = start()
    try:
        _wait_for_results(proc, out / HW, after_ctrl_c + 2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert _group_gone(proc.pid), "a worker outlived its grader"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    partial = len(list((out / HW).glob("pair*.json")))
    assert after_ctrl_c + 2 <= partial < 12

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=True)
    graded, skipped, state = rerun.stdout.split()
    assert int(skipped) >= partial and int(graded) + int(skipped) == 12 and state == "complete"
    assert not list((out / HW).glob(".tmp-*"))
    expected = {f"pair{k:02d}": float(int(hashlib.sha256(
        (subs / f"pair{k:02d}" / f"{HW}.ipynb").read_bytes()).hexdigest(), 16) % 21)
        for k in range(12)}
    assert points_by_id(out / HW) == expected


# ---------------------------------------------------------------- the command line

def test_grade_command_passes_its_options(tmp_path, monkeypatch, capsys):
    import autograder.batch
    from autograder.batch_report import BatchReport
    from autograder.cli import main

    course_file = make_course(tmp_path)
    seen = {}

    def fake_batch(**kwargs):
        seen.update(kwargs)
        return BatchReport(HW, kwargs["out"] / HW, 2, 0)

    monkeypatch.setattr(autograder.batch, "grade_batch", fake_batch)
    code = main(["--course", str(course_file), "grade", HW, str(tmp_path / "subs"),
                 "--workers", "2", "--shard", "1/3", "--out", str(tmp_path / "r"), "--force",
                 "--manifest", str(tmp_path / "m.csv"), "--feedback", str(tmp_path / "fb"),
                 "--no-require-sandbox"])
    assert code == 0
    assert (seen["assignment"], seen["workers"], seen["shard"], seen["force"]) == (
        HW, 2, (1, 3), True)
    assert seen["require_sandbox"] is False and seen["manifest"] == tmp_path / "m.csv"
    assert seen["out"] == tmp_path / "r" and callable(seen["progress"])
    assert "0 submissions in shard 1/3" in capsys.readouterr().out
    assert main(["--course", str(course_file), "grade", HW, "subs", "--shard", "3/3"]) == 2


# ---------------------------------------------------------------- what the batch tells

def test_the_eta_follows_the_submissions_really_graded():
    from autograder.batch_report import BatchProgress, remaining_seconds

    assert remaining_seconds(0.0, 0, 10) is None  # nothing graded yet: no guess
    assert remaining_seconds(20.0, 4, 6) == pytest.approx(30.0)
    assert remaining_seconds(5.0, 3, 0) == 0.0
    # 14 skipped and 2 rejected at once, then 1 of 4 graded in 20 s: 60 s left, not 1 s.
    event = BatchProgress(total=20, done=17, skipped=14, failures=2, workers=1, to_grade=4,
                          graded_now=1, elapsed_s=20.0)
    assert event.eta_s == pytest.approx(60.0)


def test_a_line_per_submission_and_the_eta_in_a_terminal(tmp_path, capsys):
    from autograder.batch_report import BatchProgress
    from autograder.terminal import ProgressDisplay

    result = SubmissionResult(assignment=HW, submission_id="[red]pair01",
                              status=SubmissionStatus.GRADED,
                              points=12, max_points=20)
    for rich in (True, False):
        with ProgressDisplay(HW, rich=rich) as show:
            show(BatchProgress(3, 0, 0, 0, 2, to_grade=3))
            show(BatchProgress(3, 1, 0, 0, 2, result, to_grade=3, graded_now=1, elapsed_s=10))
        seen = capsys.readouterr()
        text = seen.out + seen.err
        assert "3 submissions, 0 already graded, 3 to grade with 2 worker(s)" in text
        # The id is shown as text (never as rich markup), with the pace-based ETA.
        assert "[1/3] [red]pair01: graded 12/20, ETA 0:00:20" in text


def test_an_empty_folder_is_an_error_that_says_where(tmp_path):
    from autograder.cli import main

    course_file = make_course(tmp_path)
    empty = tmp_path / "subs"
    empty.mkdir()
    (empty / "manifest.csv").write_text("submission_id,submitted_at\n", encoding="utf-8")
    (empty / ".DS_Store").write_bytes(b"")
    with pytest.raises(ConfigError, match="no submission found") as info:
        grade_batch(course=load_course(course_file), assignment=HW, submissions=empty,
                    out=tmp_path / "r", grade_one=fake_grade)
    assert info.value.path == empty and "manifest.csv" in info.value.hint
    assert main(["--course", str(course_file), "grade", HW, str(empty)]) == 2


def test_negative_workers_are_refused(tmp_path, capsys):
    from autograder.cli import main

    course_file = make_course(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["--course", str(course_file), "grade", HW, "subs", "--workers", "-1"])
    assert info.value.code == 2 and "cannot be negative" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="cannot be negative"):
        grade_batch(course=load_course(course_file), assignment=HW, submissions=tmp_path,
                    out=tmp_path / "r", workers=-1, grade_one=fake_grade)


@pytest.mark.parametrize("broken", ["missing", "folder"])
def test_a_missing_or_unreadable_roster_stops_before_grading(tmp_path, broken):
    course_file = make_course(tmp_path)
    subs = make_class(tmp_path / "subs", 2)
    (tmp_path / "roster.csv").unlink()
    if broken == "folder":
        (tmp_path / "roster.csv").mkdir()
    calls = []

    def counting(notebook, **kw):
        calls.append(notebook)
        return fake_grade(notebook, **kw)

    with pytest.raises(ConfigError, match="roster"):
        grade_batch(course=load_course(course_file), assignment=HW, submissions=subs,
                    out=tmp_path / "r", workers=1, grade_one=counting)
    assert calls == [] and not (tmp_path / "r" / HW / "pair00.json").exists()


def test_results_of_vanished_submissions_are_moved_away(tmp_path):
    course = load_course(make_course(tmp_path))
    subs = make_class(tmp_path / "subs", 3)
    out = tmp_path / "results"
    grade_batch(course=course, assignment=HW, submissions=subs, out=out, workers=1,
                grade_one=fake_grade)
    import shutil

    shutil.rmtree(subs / "pair02")
    again = grade_batch(course=course, assignment=HW, submissions=subs, out=out, workers=1,
                        grade_one=fake_grade)
    assert again.stale == ["pair02"] and again.total == 2
    assert sorted(p.name for p in (out / HW).glob("*.json")) == ["pair00.json", "pair01.json"]
    assert (out / HW / "stale" / "pair02.json").is_file()  # kept, but out of the gradebook's way


def test_only_a_trusted_time_decides_lateness(tmp_path):
    from autograder.batch import TIME_UNVERIFIED, time_flags

    course = load_course(make_course(tmp_path, due="2026-10-12T23:59"))

    def flags(**fields):
        result = SubmissionResult(assignment=HW, submission_id="p", status=SubmissionStatus.GRADED,
                                  graded_at=fields.pop("graded_at", "2026-11-01T10:00:00+00:00"),
                                  **fields)
        time_flags(result, course, HW)
        return {f.code: f.message for f in result.flags}

    assert flags(submitted_at="2026-10-14T10:00:00+02:00", submitted_at_source="lms") == {
        "late": "2 days late: -20%"}
    assert flags(submitted_at="2026-10-12T10:00:00+02:00", submitted_at_source="manifest") == {}
    # A date from the files: flagged with what it would mean, never a late flag.
    unverified = flags(submitted_at_source="archive date",
                       unverified_submitted_at="2026-11-30T10:00:00+00:00")
    assert list(unverified) == [TIME_UNVERIFIED]
    assert "archive date 2026-11-30T10:00:00+00:00" in unverified[TIME_UNVERIFIED]
    assert "it would be 49 days late" in unverified[TIME_UNVERIFIED]
    # A stray submitted_at without a trusted source (an older result) decides nothing either.
    assert "late" not in flags(submitted_at="2026-11-30T10:00:00+00:00",
                               submitted_at_source="file date")
    assert list(flags()) == [TIME_UNVERIFIED]
    # Files graded before the deadline cannot be late: nothing to flag.
    assert flags(graded_at="2026-10-01T10:00:00+00:00") == {}


def test_the_summary_names_what_is_not_graded_on_every_run(tmp_path):
    from autograder.batch_report import summary_lines

    course = load_course(make_course(tmp_path))
    subs = make_class(tmp_path / "subs", 3)
    (subs / "broken.ipynb").write_text("{not json", encoding="utf-8")
    (subs / "report.pdf").write_bytes(b"%PDF")
    out = tmp_path / "results"
    for run in ("first", "rerun"):
        report = grade_batch(course=course, assignment=HW, submissions=subs, out=out, workers=1,
                             grade_one=fake_grade)
        lines = summary_lines(report, shard=None, out="results/hw1_features")
        now, before = (3, 0) if run == "first" else (0, 3)
        assert lines[0].startswith(f"{HW}: 5 submissions: 3 graded ({now} now, {before} already),"
                                   " 2 not graded;")
        assert lines[1].startswith(f"{HW}: not graded: broken (rejected: not a valid notebook")
        assert "report.pdf (rejected: not a notebook: report.pdf" in lines[1]
