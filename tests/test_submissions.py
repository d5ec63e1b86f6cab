import hashlib
import os
import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest

from autograder.errors import ConfigError
from autograder.results import REJECTED
from autograder.submissions import (
    discover,
    moodle_entry,
    pick_notebook,
    read_manifest,
    submission_id_for,
    unique_ids,
)

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
    assert moodle_entry("Léa Martin_123456_assignsubmission_file_") == (
        "Léa Martin", "123456", "file", "")
    assert moodle_entry("Léa Martin_123456_assignsubmission_file_hw1_features.ipynb")[3] == (
        "hw1_features.ipynb")
    assert moodle_entry("Groupe 3-Léa Martin_77_assignsubmission_onlinetext_onlinetext.html")[2] == (
        "onlinetext")
    assert moodle_entry("hw1-features-lmartin") is None


def test_ids_are_safe_and_stable():
    assert submission_id_for("Léa Martin_123456_assignsubmission_file_") == "lea-martin_123456"
    assert submission_id_for("hw1-features-lmartin") == "hw1-features-lmartin"
    assert submission_id_for("../../etc/passwd.ipynb") == "etc-passwd"
    assert unique_ids(["a.ipynb", "a"]) == {"a": "a", "a.ipynb": "a-2"}


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
    assert found["pair01"].time_source == "file" and found["pair01"].submitted_at.tzinfo
    assert found["pair02"].source == f"pair02/{EXPECTED}" and found["pair02"].gradable
    assert "several notebooks" in found["pair03"].problem
    assert found["pair04"].problem == "no notebook in the submission"
    assert "not a notebook" in found["pair05.pdf"].problem
    assert "empty" in found["pair06"].problem
    assert "not a valid notebook" in found["pair07"].problem
    rejected = found["pair07"].rejected("hw1_features")
    assert rejected.status == REJECTED and rejected.reason and rejected.source == "pair07.ipynb"
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
    assert found["pair02"].time_source == "file"
    assert found["report.pdf"].time_source == "manifest" and not found["report.pdf"].gradable


def test_a_bad_manifest_names_the_line(tmp_path):
    path = put(tmp_path / "m.csv", "submission_id,submitted_at\npair01,yesterday\n")
    with pytest.raises(ConfigError, match="line 2"):
        read_manifest(path, timezone_name="UTC")
    path = put(tmp_path / "n.csv", "who,when\n")
    with pytest.raises(ConfigError, match="line 1"):
        read_manifest(path, timezone_name="UTC")


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
    assert sorted(found) == ["chloe-dubois_1003", "lea-martin_1001", "lucas-thomas_1004"]
    assert found["lea-martin_1001"].team == ["21900101", "21900102"]
    assert found["chloe-dubois_1003"].gradable
    assert found["lucas-thomas_1004"].problem == "no notebook in the submission"
    assert not (tmp_path.parent / "escape.ipynb").exists()


def test_moodle_flat_download(tmp_path):
    root = tmp_path / "subs"
    put(root / "Léa Martin_1001_assignsubmission_file_hw1_features.ipynb", notebook_bytes(["1"]))
    put(root / "Léa Martin_1001_assignsubmission_file_draft.ipynb", notebook_bytes(["1"]))
    put(root / "Hugo Bernard_1002_assignsubmission_file_report.pdf", b"%PDF")
    found = by_id(discover(root, notebook_name=EXPECTED))
    assert sorted(found) == ["hugo-bernard_1002", "lea-martin_1001"]
    assert found["lea-martin_1001"].source.endswith("_assignsubmission_file_hw1_features.ipynb")
    assert "not a notebook" in found["hugo-bernard_1002"].problem


# ---------------------------------------------------------------- GitHub Classroom

def git(folder: Path, *args: str, when: str = "2026-10-12T20:00:00+02:00") -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "s", "GIT_AUTHOR_EMAIL": "s@example.edu",
           "GIT_COMMITTER_NAME": "s", "GIT_COMMITTER_EMAIL": "s@example.edu",
           "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    subprocess.run(["git", "-C", str(folder), *args], check=True, env=env, capture_output=True)


def test_github_classroom_clones_take_the_commit_time(tmp_path):
    repo = tmp_path / "subs" / "hw1-features-lmartin"
    put(repo / EXPECTED, notebook_bytes(["21900101"]))
    put(repo / "data" / "extra.txt", "x")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "done", when="2026-10-13T00:30:00+02:00")
    found = by_id(discover(tmp_path / "subs", notebook_name=EXPECTED))
    sub = found["hw1-features-lmartin"]
    assert sub.time_source == "git"
    assert sub.submitted_at == datetime(2026, 10, 12, 22, 30, tzinfo=UTC)
    assert sub.team == ["21900101"]


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
