"""Shared pytest options and fixtures, and the rule that security tests fail where they must run.

Tests marked `sandbox` build real cages. Where the machine cannot (no root, no namespaces, no
bubblewrap: found by building one, not by looking for a binary), they skip, unless
AUTOGRADER_REQUIRE_SANDBOX_TESTS=1 (or --require-sandbox-tests) says this machine is one where
they must run, as CI's is: there a test that cannot build its cage is an error.
"""

from __future__ import annotations

import os

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

    why = sandbox.probe(sandbox.TEMPLATE) or sandbox.probe(sandbox.BWRAP)
    if not why:
        return
    if sandbox_tests_required(item.config):
        pytest.fail(f"this machine must run the sandbox tests but cannot build a cage: {why}",
                    pytrace=False)
    pytest.skip(f"cannot build a cage here: {why}")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))
