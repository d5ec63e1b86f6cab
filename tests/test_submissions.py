import hashlib
import os
import shutil
import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest

from autograder.errors import ConfigError
from autograder.moodle import moodle_name
from autograder.results import SubmissionStatus
from autograder.submissions import (
    discover,
    pick_notebook,
    safe_id,
    submission_id_for,
    unique_ids,
)
from autograder.times import read_times

EXPECTED = "hw1_features.ipynb"


def notebook_bytes(team: list[str] | None = None, answer: str = "x = 1") -> bytes:
    nb = nbformat.v4.new_notebook()
    if team is not None:
        cell = nbformat.v4.new_code_cell(f"TEAM = {team!r}")
        cell.metadata["autograder"] = {"team": True}
        nb.cells.append(cell)
    nb.cells.append(nbformat.v4.new_code_cell(answer))
    return nbformat.writes(nb).encode()


def put(path: Path, data: bytes | str = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def by_id(found):
    return {s.submission_id: s for s in found}


# ---------------------------------------------------------------- pure parts

def test_moodle_names():
    name = moodle_name("Léa Martin_123456_assignsubmission_file_")
    assert (name.person, name.participant, name.plugin, name.rest) == (
        "Léa Martin", "123456", "file", "")
    assert moodle_name("Léa Martin_123456_assignsubmission_file_hw1_features.ipynb").rest == (
        "hw1_features.ipynb")
    assert moodle_name("Groupe 3-Léa Martin_77_assignsubmission_onlinetext_onlinetext.html"
                       ).plugin == "onlinetext"
    assert moodle_name("hw1-features-lmartin") is None


def test_ids_keep_accents_and_the_participant_number():
    assert submission_id_for("Léa Martin_123456_assignsubmission_file_") == "Léa Martin_123456"
    # A zip made on macOS spells "é" as "e" + a combining accent: one id all the same.
    assert submission_id_for("Le\u0301a Martin_123456_assignsubmission_file_") == (
        "Léa Martin_123456")
    assert submission_id_for("hw1-features-lmartin") == "hw1-features-lmartin"
    assert submission_id_for("../../etc/passwd.ipynb") == "etc-passwd"
    assert submission_id_for("pair05.zip") == "pair05"
    assert unique_ids(["a.ipynb", "a"]) == {"a": "a", "a.ipynb": "a-2"}
    assert unique_ids(["A", "a"]) == {"A": "A", "a": "a-2"}  # one file on a case-blind disk


def test_ids_are_safe_file_names():
    assert safe_id("\x1b[31mred\x00") == "31mred"
    assert safe_id("a/b\\c") == "a-b-c"
    assert safe_id("...") == "submission"
    assert len(safe_id("é" * 500).encode()) <= 200


def test_pick_notebook():
    assert pick_notebook(["x/a.ipynb"], EXPECTED) == ("x/a.ipynb", "", "")
    assert pick_notebook(["x/a.ipynb", f"x/{EXPECTED}"], EXPECTED)[0] == f"x/{EXPECTED}"
    chosen, problem, _ = pick_notebook(["a.ipynb", "b.ipynb"], EXPECTED)
    assert chosen is None and "several notebooks" in problem
    assert pick_notebook([], EXPECTED)[1] == "no notebook in the submission"


# ---------------------------------------------------------------- a plain folder

def test_a_folder_of_submissions(tmp_path):
    root = tmp_path / "subs"
    good = put(root / "pair01.ipynb", notebook_bytes(["21900101", "21900102"]))
    put(root / "pair02" / EXPECTED, notebook_bytes(["21900103"]))
    put(root / "pair02" / ".ipynb_checkpoints" / "hw1_features-checkpoint.ipynb", b"{}")
    put(root / "pair03" / "a.ipynb", notebook_bytes())
    put(root / "pair03" / "b.ipynb", notebook_bytes())
    (root / "pair04").mkdir()
    put(root / "pair05.pdf", b"%PDF-1.4")
    put(root / "pair06.ipynb", b"")
    put(root / "pair07.ipynb", b'{"cells": [')
    put(root / ".DS_Store", b"junk")
    found = by_id(discover(root, notebook_name=EXPECTED))
    assert sorted(found) == ["pair01", "pair02", "pair03", "pair04", "pair05.pdf", "pair06",
                             "pair07"]
    assert found["pair01"].gradable and found["pair01"].team == ["21900101", "21900102"]
    assert found["pair01"].content_hash == hashlib.sha256(good.read_bytes()).hexdigest()
    # A file's date is whoever wrote the file's choice: kept apart, never a trusted time.
    assert found["pair01"].time_source == "file date" and found["pair01"].submitted_at is None
    assert found["pair01"].unverified_at.tzinfo
    assert found["pair02"].source == f"pair02/{EXPECTED}" and found["pair02"].gradable
    assert "several notebooks" in found["pair03"].problem
    assert found["pair04"].problem == "no notebook in pair04: it is empty"
    assert "not a notebook" in found["pair05.pdf"].problem
    assert "empty" in found["pair06"].problem
    assert "not a valid notebook" in found["pair07"].problem
    rejected = found["pair07"].rejected("hw1_features")
    assert rejected.status == SubmissionStatus.REJECTED
    assert rejected.reason and rejected.source == "pair07.ipynb"
    # The same folder gives the same ids and hashes again.
    again = by_id(discover(root, notebook_name=EXPECTED))
    assert {k: v.content_hash for k, v in again.items()} == {
        k: v.content_hash for k, v in found.items()}


def test_a_symbolic_link_is_not_followed(tmp_path):
    root = tmp_path / "subs"
    secret = put(tmp_path / "secret.ipynb", notebook_bytes())
    (root / "evil").mkdir(parents=True)
    os.symlink(secret, root / "evil" / EXPECTED)
    os.symlink(tmp_path, root / "evil" / "up")
    found = by_id(discover(root, notebook_name=EXPECTED))
    assert "symbolic link" in found["evil"].problem


def test_the_manifest_gives_the_time(tmp_path):
    root = tmp_path / "subs"
    put(root / "pair01.ipynb", notebook_bytes())
    put(root / "pair02" / EXPECTED, notebook_bytes())
    put(root / "report.pdf", b"%PDF")
    put(root / "manifest.csv", "submission_id,submitted_at\npair01,2026-10-13T08:00:00\n"
                               "pair02.x,2026-10-01T00:00:00+00:00\n"
                               "report.pdf,2026-10-01T00:00:00+00:00\n")
    found = by_id(discover(root, notebook_name=EXPECTED, timezone_name="Europe/Paris"))
    assert "manifest.csv" not in found
    assert found["pair01"].time_source == "manifest"
    assert found["pair01"].submitted_at.isoformat() == "2026-10-13T08:00:00+02:00"
    assert found["pair02"].time_source == "file date" and found["pair02"].submitted_at is None
    assert "not in the manifest manifest.csv" in found["pair02"].time_note
    assert found["report.pdf"].time_source == "manifest" and not found["report.pdf"].gradable


def test_a_bad_manifest_names_the_line(tmp_path):
    path = put(tmp_path / "m.csv", "submission_id,submitted_at\npair01,yesterday\n")
    with pytest.raises(ConfigError, match="line 2"):
        read_times(path, timezone_name="UTC")
    path = put(tmp_path / "n.csv", "who,when\n")
    with pytest.raises(ConfigError, match="line 1"):
        read_times(path, timezone_name="UTC")


def test_missing_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such folder"):
        discover(tmp_path / "nope", notebook_name=EXPECTED)


# ---------------------------------------------------------------- Moodle

def test_moodle_zip_with_folders(tmp_path):
    archive = tmp_path / "HW1-12345.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Léa Martin_1001_assignsubmission_file_/hw1_features.ipynb",
                    notebook_bytes(["21900101", "21900102"]))
        zf.writestr("Chloé Dubois_1003_assignsubmission_file_/HW1 final.ipynb", notebook_bytes())
        zf.writestr("Chloé Dubois_1003_assignsubmission_onlinetext_/onlinetext.html", "<p>hi</p>")
        zf.writestr("Lucas Thomas_1004_assignsubmission_file_/notes.txt", "no notebook")
        zf.writestr("../../escape.ipynb", notebook_bytes())
    found = by_id(discover(archive, notebook_name=EXPECTED, unpack_to=tmp_path / "unpacked"))
    assert sorted(found) == ["Chloé Dubois_1003", "Lucas Thomas_1004", "Léa Martin_1001"]
    assert found["Léa Martin_1001"].team == ["21900101", "21900102"]
    assert found["Chloé Dubois_1003"].gradable
    assert found["Lucas Thomas_1004"].problem == (
        "no notebook in Lucas Thomas_1004_assignsubmission_file_: it holds notes.txt")
    # The zip's dates are the zip maker's: unverified, read as UTC (the DOS date has no zone).
    assert found["Léa Martin_1001"].time_source == "archive date"
    assert found["Léa Martin_1001"].submitted_at is None
    assert found["Léa Martin_1001"].unverified_at.utcoffset().total_seconds() == 0
    assert not (tmp_path.parent / "escape.ipynb").exists()


def test_moodle_flat_download(tmp_path):
    root = tmp_path / "subs"
    put(root / "Léa Martin_1001_assignsubmission_file_hw1_features.ipynb", notebook_bytes(["1"]))
    put(root / "Léa Martin_1001_assignsubmission_file_draft.ipynb", notebook_bytes(["1"]))
    put(root / "Hugo Bernard_1002_assignsubmission_file_report.pdf", b"%PDF")
    found = by_id(discover(root, notebook_name=EXPECTED))
    assert sorted(found) == ["Hugo Bernard_1002", "Léa Martin_1001"]
    assert found["Léa Martin_1001"].source.endswith("_assignsubmission_file_hw1_features.ipynb")
    assert found["Hugo Bernard_1002"].problem == "not a notebook: report.pdf"


# ---------------------------------------------------------------- GitHub Classroom

def git(folder: Path, *args: str, when: str = "2026-10-12T20:00:00+02:00") -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "s", "GIT_AUTHOR_EMAIL": "s@example.edu",
           "GIT_COMMITTER_NAME": "s", "GIT_COMMITTER_EMAIL": "s@example.edu",
           "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    subprocess.run(["git", "-C", str(folder), *args], check=True, env=env, capture_output=True)


@pytest.mark.skipif(not shutil.which("git"), reason="git makes the clone of this test")
def test_classroom_clones_take_the_time_classroom_recorded_never_a_commit(tmp_path):
    repo = tmp_path / "subs" / "hw1-features-lmartin"
    put(repo / EXPECTED, notebook_bytes(["21900101"]))
    git(repo, "init", "-q")
    git(repo, "add", ".")
    # The commit says 00:30; GitHub Classroom recorded the push at 23:40 the day before.
    git(repo, "commit", "-q", "-m", "done", when="2026-10-13T00:30:00+02:00")
    grades = put(tmp_path / "grades.csv",
                 "assignment_name,github_username,roster_identifier,student_repository_name,"
                 "submission_timestamp,points_awarded,points_available\n"
                 "hw1,lmartin,21900101,hw1-features-lmartin,2026-10-12 21:40:00 UTC,,20\n")
    sub = by_id(discover(tmp_path / "subs", notebook_name=EXPECTED,
                         manifest=grades))["hw1-features-lmartin"]
    assert sub.time_source == "classroom"
    assert sub.submitted_at == datetime(2026, 10, 12, 21, 40, tzinfo=UTC)
    assert sub.team == ["21900101"]
    # Without the grades CSV: no commit date is taken, only the file's date, unverified.
    bare = by_id(discover(tmp_path / "subs", notebook_name=EXPECTED))["hw1-features-lmartin"]
    assert bare.time_source == "file date" and bare.submitted_at is None


def test_a_truncated_notebook_still_names_its_team(tmp_path):
    from autograder.submissions import team_in_text

    whole = notebook_bytes(["21900111", "21900112"])
    root = tmp_path / "subs"
    put(root / "pair06" / EXPECTED, whole[: whole.find(b"TEAM") + 60])
    sub = discover(root, notebook_name=EXPECTED)[0]
    assert not sub.gradable and sub.team == ["21900111", "21900112"]
    assert sub.rejected("hw1_features").team == ["21900111", "21900112"]
    assert team_in_text(b'TEAM = ["<student id>", "<student id>"]') == []
    assert team_in_text(b"TEAM = ['a1', 'b2']") == ["a1", "b2"]


def test_a_zip_without_a_notebook_is_one_submission_that_says_so(tmp_path):
    archive = tmp_path / "pair05.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "the notebook is on my laptop")
        zf.writestr("data.csv", "x,y\n")
    (sub,) = discover(archive, notebook_name=EXPECTED, unpack_to=tmp_path / "u")
    assert sub.submission_id == "pair05" and not sub.gradable
    assert sub.problem == "no notebook in pair05.zip: it holds data.csv, readme.txt"


def test_a_students_zip_is_opened_once(tmp_path):
    root = tmp_path / "subs"
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr(f"hw1/{EXPECTED}", notebook_bytes(["21900101", "21900102"]))
        zf.writestr("hw1/.ipynb_checkpoints/hw1_features-checkpoint.ipynb", "{}")
    put(root / "pair05" / "hw1.zip", inner.read_bytes())
    put(root / "pair06.zip", inner.read_bytes())
    found = by_id(discover(root, notebook_name=EXPECTED, unpack_to=tmp_path / "u"))
    assert found["pair05"].gradable and found["pair05"].source == f"pair05/hw1.zip/hw1/{EXPECTED}"
    assert found["pair05"].team == ["21900101", "21900102"]
    assert found["pair06"].gradable and found["pair06"].source == f"pair06.zip/hw1/{EXPECTED}"
    # The zip's entry date is the zip maker's: kept apart, never trusted.
    assert found["pair06"].time_source == "archive date" and found["pair06"].submitted_at is None
