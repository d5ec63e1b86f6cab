"""The type checker over the package (pyproject.toml's [tool.mypy]): lenient on the whole, strict
on the trust boundary, where an untyped function is an error."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
STRICT = next(o["module"] for o in CONFIG["overrides"] if o.get("disallow_untyped_defs"))
UNTYPED = "\n\ndef _added_without_types(value):\n    return value\n"


@pytest.fixture(scope="module")
def mypy(tmp_path_factory):
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install -e '.[dev]')")
    cache = tmp_path_factory.mktemp("mypy-cache")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(cache), *args],
                              cwd=ROOT, capture_output=True, text=True, timeout=900)

    return run


def test_the_package_type_checks(mypy):
    done = mypy()
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


def test_an_untyped_function_fails_the_check_on_the_trust_boundary(mypy, tmp_path):
    shadows = []
    for module in STRICT:
        path = ROOT / (module.replace(".", "/") + ".py")
        shadow = tmp_path / path.name
        shadow.write_text(path.read_text(encoding="utf-8") + UNTYPED, encoding="utf-8")
        shadows += ["--shadow-file", str(path.relative_to(ROOT)), str(shadow)]
    done = mypy(*shadows)
    flagged = set(re.findall(r"^(autograder/\S+\.py):\d+: error: Function is missing a type "
                             r"annotation", done.stdout, re.M))
    assert flagged == {m.replace(".", "/") + ".py" for m in STRICT}, done.stdout[-6000:]
