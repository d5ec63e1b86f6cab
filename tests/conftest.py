"""Shared pytest options and fixtures, and the rule that security tests fail where they must run.

`write_course` is the one builder of course.toml files for tests: a test states the tables it
needs, as an instructor would write them, and gets the file's path.

Tests marked `sandbox` build real cages. Where the machine cannot (no root, no namespaces, no
bubblewrap: found by building one, not by looking for a binary), they skip, unless
AUTOGRADER_REQUIRE_SANDBOX_TESTS=1 (or --require-sandbox-tests) says this machine is one where
they must run, as CI's is: there a test that cannot build its cage is an error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

REQUIRE_SANDBOX = "AUTOGRADER_REQUIRE_SANDBOX_TESTS"
pytest_plugins = ("pytester",)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens", action="store_true", default=False,
        help="rewrite the expected outputs under tests/data/ instead of comparing with them",
    )
    parser.addoption(
        "--require-sandbox-tests", action="store_true", default=False,
        help=f"a sandbox test that cannot build its cage fails instead of skipping "
             f"(also {REQUIRE_SANDBOX}=1)",
    )


def sandbox_tests_required(config: pytest.Config) -> bool:
    return bool(config.getoption("--require-sandbox-tests")) \
        or os.environ.get(REQUIRE_SANDBOX, "") not in ("", "0")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("sandbox") is None:
        return
    from autograder import sandbox
    from autograder.config import KernelStart

    why = sandbox.probe(KernelStart.TEMPLATE) or sandbox.probe(KernelStart.BWRAP)
    if not why:
        return
    if sandbox_tests_required(item.config):
        pytest.fail(f"this machine must run the sandbox tests but cannot build a cage: {why}",
                    pytrace=False)
    pytest.skip(f"cannot build a cage here: {why}")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str | Path):
        return json.dumps(str(value))  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def course_toml(root: Path, *, roster: str | None = None, name: str = "course.toml",
                **tables: dict[str, object]) -> Path:
    """Write `root/<name>` from its tables (`course={...}`, `grading={...}`,
    `assignments={"hw": {...}}`, ...; a nested dict is a sub-table) and, given its text,
    `root/roster.csv`. Returns the course file's path."""
    lines: list[str] = []

    def table(header: str, values: dict[str, object]) -> None:
        lines.append(f"[{header}]")
        lines.extend(f"{key} = {_toml_value(v)}" for key, v in values.items()
                     if not isinstance(v, dict))
        for key, v in values.items():
            if isinstance(v, dict):
                table(f"{header}.{key}", v)

    for header, values in tables.items():
        table(header, values)
    root.mkdir(parents=True, exist_ok=True)
    if roster is not None:
        (root / "roster.csv").write_text(roster, encoding="utf-8")
    path = root / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def write_course() -> Callable[..., Path]:
    """The course.toml builder (course_toml), for tests and fixtures of any scope."""
    return course_toml
