"""A student's install, as pip does it: the built wheel asks only for what `check` needs; in a
virtual environment that already holds Google Colab's runtime (tests/data/colab/pip-freeze.txt)
pip would change none of its packages; and `check` works there (Python 3.13, ipykernel 6.17,
IPython 7.34, jupyter_client 7.4) and on the oldest Python and versions the package accepts
(Python 3.9, each dependency at its lower bound).

The environments come from the package index (marker `install`); an interpreter this machine
lacks (pyenv's python3.13, python3.9) skips its test with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
COLAB_PINS = DATA / "colab" / "pip-freeze.txt"
DEMO = DATA / "release"
STUDENT_REQUIRES = {"nbformat", "nbclient", "ipykernel", "rich"}
# What a student must never be made to install (the list and the grader's stack).
NEVER = {"torch", "nbgrader", "pandas", "numpy", "jupyter-server", "notebook", "jupyterlab",
         "openpyxl", "scikit-learn", "sqlalchemy"}
# The packages Colab's runtime itself runs on: they are installed at Colab's versions even
# where our wheel does not need them, as the issue found them moved.
COLAB_RUNTIME = ("ipykernel", "ipython", "jupyter-client", "notebook", "traitlets", "tornado",
                 "nbformat", "nbclient", "numpy")
PIP_TIMEOUT = 900


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def find_python(version: str) -> str | None:
    """A working python3.X from pyenv's versions or PATH; None where this machine has none."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [str(p) for p in sorted(root.glob(f"{version}.*/bin/python{version}"),
                                         reverse=True)]
    candidates.append(shutil.which(f"python{version}") or "")
    for candidate in filter(None, candidates):
        # a pyenv shim exists for every version pyenv knows, and fails for one not selected
        if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None


def pins(path: Path = COLAB_PINS) -> dict[str, str]:
    """name → version of the `name==version` lines (the URL-pinned CPU torch is not on PyPI)."""
    out = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            out[canonical(name.strip())] = version.strip()
    return out


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT, **kwargs)
    assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def venv_env(venv: Path) -> dict[str, str]:
    """The environment a student's shell has: the venv first on PATH, never this checkout."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH", "JPY_SESSION_NAME")}
    env["PATH"] = f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"
    return env


def make_venv(python: str, where: Path) -> Path:
    run([python, "-m", "venv", str(where)])
    return where


def report_installs(venv: Path, *args: str) -> dict[str, str]:
    """name → version of what `pip install --dry-run` would install or change."""
    report = venv / "report.json"
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--dry-run",
         "--report", str(report), *args], env=venv_env(venv))
    items = json.loads(report.read_text())["install"]
    return {canonical(i["metadata"]["name"]): i["metadata"]["version"] for i in items}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(ROOT)])
    (built,) = out.glob("autograder-*.whl")
    return built


def metadata(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return archive.read(name).decode().splitlines()


def base_requirements(wheel: Path) -> dict[str, str]:
    """name → lower bound of the requirements outside any extra."""
    out = {}
    for line in metadata(wheel):
        if line.startswith("Requires-Dist:") and "extra ==" not in line:
            match = re.match(r"Requires-Dist:\s*([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)", line)
            assert match, f"a student requirement without a lower bound: {line}"
            out[canonical(match.group(1))] = match.group(2)
    return out


def test_the_wheel_asks_students_only_for_what_check_needs(wheel):
    lines = metadata(wheel)
    assert "Requires-Python: >=3.9" in lines
    assert set(base_requirements(wheel)) == STUDENT_REQUIRES
    grade = {canonical(re.split(r"[<>=;\s]", line.split(":", 1)[1].strip())[0])
             for line in lines if line.startswith("Requires-Dist:") and 'extra == "grade"' in line}
    assert {"nbgrader", "torch", "jupyter-client", "openpyxl", "numpy"} <= grade


def _student_files(folder: Path) -> tuple[Path, Path]:
    """A filled-in demo homework, and the same with a last cell that calls check() in-kernel."""
    nb = nbformat.read(DEMO / "solutions" / "demo" / "demo.ipynb", as_version=4)
    nb.cells[0].source = 'TEAM = ["21900001", "21900002"]'
    shutil.copy(DEMO / "release" / "demo" / "points.csv", folder / "points.csv")
    nbformat.write(nb, folder / "hw.ipynb")
    nb.cells.append(nbformat.v4.new_code_cell(
        "import sys\nprint('kernel python', sys.prefix)\n"
        "from autograder.student import check\ncheck()"))
    nbformat.write(nb, folder / "live.ipynb")
    return folder / "hw.ipynb", folder / "live.ipynb"


LIVE_RUNNER = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
for out in nb.cells[-1].outputs:
    print(out.get("text") or out.get("data", {}).get("text/plain", ""))
"""


def assert_check_works(venv: Path, folder: Path) -> None:
    """`autograder check` from the shell, and check() inside a running kernel, in this venv."""
    hw, live = _student_files(folder)
    env = venv_env(venv)
    done = run([str(venv / "bin" / "autograder"), "check", str(hw)], env=env, cwd=folder)
    assert "2/2 visible tests pass (questions worth 4 of 4 points). Ready to submit." \
        in done.stdout
    done = run([str(venv / "bin" / "python"), "-c", LIVE_RUNNER, str(live), str(folder)],
               env=env, cwd=folder)
    assert f"kernel python {venv}" in done.stdout  # the venv's kernel, not this machine's
    assert "2/2 visible tests pass" in done.stdout and "Traceback" not in done.stdout


@pytest.fixture(scope="module")
def colab_venv(tmp_path_factory, wheel) -> Path:
    python = find_python("3.13")
    if python is None:
        pytest.skip("no python3.13 here (Colab's runtime is 3.13): pyenv install 3.13")
    venv = make_venv(python, tmp_path_factory.mktemp("colab") / "venv")
    colab = pins()
    constraints = venv / "colab-constraints.txt"
    constraints.write_text("".join(f"{n}=={v}\n" for n, v in colab.items()))
    # Which of Colab's packages a student's install touches, at Colab's versions. Where none
    # such set exists, pip says which requirement conflicts with which pin.
    try:
        closure = report_installs(venv, "--ignore-installed", "-c", str(constraints),
                                  str(wheel))
    except AssertionError as exc:
        pytest.fail(f"no install of the wheel keeps Colab's pins:\n{exc}")
    closure.pop("autograder")
    wanted = {**closure, **{n: colab[n] for n in COLAB_RUNTIME}}
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps",
         *[f"{n}=={v}" for n, v in sorted(wanted.items())]], env=venv_env(venv))
    return venv


@pytest.mark.install
def test_installing_into_colab_changes_none_of_its_packages(colab_venv, wheel):
    colab = pins()
    installs = report_installs(colab_venv, str(wheel))
    changed = {n: f"{colab[n]} -> {v}" for n, v in installs.items() if n in colab}
    assert changed == {}, f"a student's install would change Colab's packages: {changed}"
    assert set(installs) == {"autograder"}  # Colab already has everything check needs


@pytest.mark.install
@pytest.mark.kernel
def test_check_works_with_colabs_versions(colab_venv, wheel, tmp_path):
    run([str(colab_venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps",
         str(wheel)], env=venv_env(colab_venv))
    versions = json.loads(run([str(colab_venv / "bin" / "python"), "-m", "pip", "list",
                               "--format", "json"], env=venv_env(colab_venv)).stdout)
    installed = {canonical(p["name"]): p["version"] for p in versions}
    for name in ("ipykernel", "ipython", "jupyter-client", "traitlets", "nbclient"):
        assert installed[name] == pins()[name]
    assert_check_works(colab_venv, tmp_path)


@pytest.mark.install
@pytest.mark.kernel
def test_check_works_on_the_oldest_python_and_versions_allowed(tmp_path_factory, wheel,
                                                               tmp_path):
    python = find_python("3.9")
    if python is None:
        pytest.skip("no python3.9 here (the oldest the student side supports)")
    venv = make_venv(python, tmp_path_factory.mktemp("oldest") / "venv")
    bounds = base_requirements(wheel)
    lowest = {n: f"{b}.*" if "." in b else f"{b}.0.*" for n, b in bounds.items()}
    constraints = venv / "lowest.txt"
    constraints.write_text("".join(f"{n}=={v}\n" for n, v in lowest.items()))
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-c",
         str(constraints), str(wheel), "numpy"], env=venv_env(venv))
    versions = json.loads(run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format",
                               "json"], env=venv_env(venv)).stdout)
    installed = {canonical(p["name"]): p["version"] for p in versions}
    for name, bound in bounds.items():
        assert installed[name].startswith(bound if "." in bound else f"{bound}.0"), \
            (name, installed[name])
    assert_check_works(venv, tmp_path)
