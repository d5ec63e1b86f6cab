"""Submissions that attack the grader through their files, not their code: each must end as a
rejected row with its reason (or be graded as the same notebook without the attack), while the
valid submissions beside it are graded, nothing runs, nothing is written outside, nothing hangs.

The fixtures come from tests/data/intake/make.py: the zips are committed, what git cannot hold
(a FIFO, a `.git` folder, links, a sparse file) and the 1 GiB zip bomb are made here by it.
"""

import importlib.util
import json
import os
import shutil
import signal
import stat
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_batch import HW, fake_grade, make_course

from autograder.batch import TIME_UNVERIFIED, grade_batch
from autograder.config import load_course
from autograder.results import SubmissionStatus
from autograder.submissions import discover

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "intake"
HOSTILE = DATA / "hostile"
GOOD, BAD = "Léa Martin_1001", "Zoé Petit_1666"
NOTEBOOK = f"{HW}.ipynb"


def _load_make():
    spec = importlib.util.spec_from_file_location("intake_make", DATA / "make.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make = _load_make()


@contextmanager
def deadline(seconds: int):
    """Fail (instead of hanging the suite) if the block blocks."""
    def expired(*_):
        raise TimeoutError(f"blocked for more than {seconds} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def nothing_runs(monkeypatch):
    """No program may start while submissions are read: no git, no unzip, no shell."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"a program was started: {args[:1]}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(os, "system", refuse)
    monkeypatch.setattr(os, "posix_spawn", refuse)
    monkeypatch.setattr(os, "posix_spawnp", refuse)


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def grade(tmp_path: Path, submissions: Path, **kw):
    course = load_course(make_course(tmp_path, due=kw.pop("due", "2099-10-12T23:59")))
    with deadline(120):
        return grade_batch(course=course, assignment=HW, submissions=submissions,
                           out=tmp_path / "results", workers=1, grade_one=fake_grade, **kw)


REASONS = {
    "file_and_folder": "is both a file and a folder in the archive",
    "traversal": "a path that climbs out of its folder (..)",
    "symlink_entry": "a symbolic link in the archive",
    "fifo_entry": "a named pipe (FIFO) in the archive",
    "duplicate_entry": "appears twice in the archive",
    "control_characters": "a file name with control or invisible characters",
    "bidi_override": "a file name with control or invisible characters",
    "long_name": "a file name longer than the file system allows",
    "nul_in_name": "a file name with a NUL byte",
    "encrypted_entry": "a password-protected entry",
    "corrupt_entry": "cannot be extracted",
    "nested_zip_without_notebook": "no notebook in Zoé Petit_1666_assignsubmission_file_: "
                                   "hw1.zip holds hw1/readme.txt",
    "nested_zip_attack": "hw1/../../../escape.ipynb: a path that climbs out of its folder",
}


def hostile_archive(name: str, folder: Path) -> tuple[Path, Path]:
    """The archive of an attack, and where an absolute entry of it would land (the traversal's
    is made here, aimed inside this test's own folder)."""
    absolute = folder / "outside" / "absolute.ipynb"
    if name == "traversal":
        return make.traversal(folder / "archives" / "traversal.zip", absolute), absolute
    return HOSTILE / f"{name}.zip", absolute


@pytest.mark.parametrize("name", sorted(REASONS))
def test_a_hostile_archive_rejects_only_its_own_submission(tmp_path, name, nothing_runs):
    archive, absolute = hostile_archive(name, tmp_path)
    before = tree(tmp_path)
    report = grade(tmp_path, archive)
    results = {r.submission_id: r for r in report.results}
    assert sorted(results) == [GOOD, BAD]
    # The batch completed; the valid one is graded.
    assert results[GOOD].status == SubmissionStatus.GRADED
    bad = results[BAD]
    assert bad.status == SubmissionStatus.REJECTED and REASONS[name] in bad.reason
    assert "\x1b" not in bad.reason and "\x00" not in bad.reason  # shown escaped, never raw
    assert list(report.not_graded) == [BAD] and report.complete
    # Nothing written outside the results folder, and nothing left of the extraction.
    assert {p for p in tree(tmp_path) - before if not p.startswith("results")} <= {
        "source", f"source/{HW}", f"source/{HW}/{NOTEBOOK}", "roster.csv", "course.toml"}
    assert not (tmp_path / "results" / HW / ".unpacked" / str(os.getpid())).exists()
    assert not absolute.exists() and not (tmp_path.parent / "traversal.ipynb").exists()


def test_the_grade_command_lists_the_rejected_and_says_so_by_its_exit_code(tmp_path, capsys,
                                                                            monkeypatch):
    import autograder.batch
    from autograder.cli import EXIT_NOT_GRADED, main

    # The command's batch, graded by a fake engine in this process.
    batch = autograder.batch.grade_batch
    monkeypatch.setattr(autograder.batch, "grade_batch",
                        lambda **kwargs: batch(**kwargs, grade_one=fake_grade))
    course = make_course(tmp_path)
    argv = ["--course", str(course), "grade", HW, str(HOSTILE / "file_and_folder.zip"),
            "--workers", "1", "--out", str(tmp_path / "r"), "--feedback", str(tmp_path / "fb")]
    assert main(argv) == EXIT_NOT_GRADED
    out = capsys.readouterr().out
    assert "1 graded (1 now, 0 already), 1 not graded" in out
    assert f"not graded: {BAD} (rejected: the archive's entry" in out
    # A rerun grades nothing and still names it.
    assert main(argv) == EXIT_NOT_GRADED
    out = capsys.readouterr().out
    assert "1 graded (0 now, 1 already), 1 not graded" in out and f"not graded: {BAD}" in out


# ---------------------------------------------------------------- the .git attack

def test_an_uploaded_git_never_runs_and_its_date_is_never_taken(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv(make.PWNED_VARIABLE, str(marker))
    if shutil.which("git"):
        # The fixture is a real attack: the command the grader used to run (as root) runs the
        # student's script and takes the backdated date.
        demo = make.git_attack_folder(tmp_path / "demo")
        done = subprocess.run(["git", "-c", "safe.directory=*", "-c", "core.fsmonitor=false",
                               "-C", str(demo), "log", "-1", "--format=%cI"],
                              capture_output=True, text=True, check=False)
        assert marker.exists() and done.stdout.startswith("2025-10-09")
        marker.unlink()

    subs = tmp_path / "subs"
    (subs / "lea-martin").mkdir(parents=True)
    (subs / "lea-martin" / NOTEBOOK).write_bytes(make.GOOD_NB)
    make.git_attack_folder(subs / "zoe-petit")
    with monkeypatch.context() as guard:
        guard.setattr(subprocess, "Popen", _refuse)
        folder = grade(tmp_path / "a", subs, due="2026-10-12T23:59")
        archive = grade(tmp_path / "b", HOSTILE / "git_config_attack.zip", due="2026-10-12T23:59")
    assert not marker.exists()
    for report, sid in ((folder, "zoe-petit"), (archive, BAD)):
        zoe = next(r for r in report.results if r.submission_id == sid)
        # Its notebook is valid, so it is graded like the same notebook without the .git ...
        assert zoe.status == SubmissionStatus.GRADED
        # ... the commit's date is never its submission time, nor any date, nor a penalty:
        assert zoe.submitted_at is None and "2025-10-09" not in json.dumps(zoe.to_dict())
        assert zoe.submitted_at_source in ("file date", "archive date")
        assert [f.code for f in zoe.flags] == [TIME_UNVERIFIED]
        assert not [f for f in zoe.flags if f.code == "late"]
    # Nothing of the .git was extracted from the zip, and the folder's was left untouched.
    assert not list((tmp_path / "b").rglob("config"))


def _refuse(*args, **kwargs):
    raise AssertionError(f"a program was started: {args[:1]}")


# ---------------------------------------------------------------- files that are not files

def test_fifo_links_devices_and_giant_files_never_block_nor_leak(tmp_path, nothing_runs):
    secret = tmp_path / "grader-secret" / "answers.ipynb"
    secret.parent.mkdir()
    secret.write_bytes(make.notebook(["SECRET-ID"], "SECRET_ANSWER = 42"))
    subs = tmp_path / "subs"
    (subs / "pair01").mkdir(parents=True)
    (subs / "pair01" / NOTEBOOK).write_bytes(make.GOOD_NB)
    make.fifo_submission(subs / "pair-fifo")
    os.mkfifo(subs / "pair-loose-fifo.ipynb")
    make.link_submissions(subs, secret)
    make.sparse_submission(subs / "pair-big")
    expected = {
        "pair-fifo": "is a named pipe (FIFO), not a file",
        "pair-loose-fifo": "is a named pipe (FIFO), not a file",
        "pair-link": "is a symbolic link, not a file",
        "pair-linkdir": "no notebook in pair-linkdir: it holds work",
        "pair-toplink": "is a symbolic link, not a file or a folder",
        "pair-big": "is larger than 50 MB",
    }
    if os.geteuid() == 0:  # a device node needs CAP_MKNOD
        (subs / "pair-device").mkdir()
        os.mknod(subs / "pair-device" / NOTEBOOK, stat.S_IFCHR | 0o644, os.makedev(1, 3))
        expected["pair-device"] = "is a device, not a file"
    report = grade(tmp_path, subs)  # a FIFO read with open() would block here forever
    results = {r.submission_id: r for r in report.results}
    assert results["pair01"].status == SubmissionStatus.GRADED
    for sid, reason in expected.items():
        assert results[sid].status == SubmissionStatus.REJECTED, sid
        assert reason in results[sid].reason, (sid, results[sid].reason)
    everything = json.dumps([r.to_dict() for r in report.results])
    assert "SECRET" not in everything and "grader-secret" not in everything
    assert sorted(report.not_graded) == sorted(expected)


# ---------------------------------------------------------------- the zip bomb

@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    where = tmp_path_factory.mktemp("bombs")
    return {"honest": make.zip_bomb(where / "bomb.zip"),
            "lying": make.zip_bomb(where / "bomb-lie.zip", lie=True)}


@pytest.mark.parametrize("kind, reason", [
    ("honest", "1024 MB once extracted, more than the 50 MB allowed for one file"),
    ("lying", "cannot be extracted (Bad CRC-32"),
])
def test_a_1_mb_zip_holding_1_gib_is_never_extracted_in_full(tmp_path, bombs, kind, reason):
    assert bombs[kind].stat().st_size < 2 * 1024 * 1024
    with deadline(60):
        found = {s.submission_id: s for s in discover(
            bombs[kind], notebook_name=NOTEBOOK, unpack_to=tmp_path / "unpacked")}
    assert found[GOOD].gradable
    assert not found[BAD].gradable and reason in found[BAD].problem
    written = sum(p.stat().st_size for p in (tmp_path / "unpacked").rglob("*") if p.is_file())
    assert written < 64 * 1024  # Léa's notebook; none of the bomb stays on disk


def test_odd_file_names_in_a_folder_are_rejected_as_in_a_zip(tmp_path):
    subs = tmp_path / "subs"
    (subs / "pair01").mkdir(parents=True)
    (subs / "pair01" / NOTEBOOK).write_bytes(make.GOOD_NB)
    (subs / "pair02").mkdir()
    (subs / "pair02" / "\x1b[2Jhw1_features.ipynb").write_bytes(make.BAD_NB)
    (subs / "pair03\u202egnp.ipynb").write_bytes(make.BAD_NB)
    found = {s.submission_id: s for s in discover(subs, notebook_name=NOTEBOOK)}
    assert found["pair01"].gradable
    assert "control or invisible characters" in found["pair02"].problem
    assert "\x1b" not in found["pair02"].problem
    bidi = next(s for sid, s in found.items() if sid.startswith("pair03"))
    assert "control or invisible characters" in bidi.problem
