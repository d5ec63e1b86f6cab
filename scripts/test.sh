#!/usr/bin/env bash
# The test suite on a fresh machine: installs what the grader and the tests need, then runs pytest.
# CI runs exactly this (.ci/run). Extra arguments go to pytest (e.g. -m "not kernel").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# Slurm and munge for the job-array test (tests/test_slurm.py), shellcheck for the scripts; the
# tests that need them skip with a reason where they cannot be installed.
missing=""
for tool in slurmctld munged shellcheck; do
  command -v "$tool" >/dev/null 2>&1 || missing=yes
done
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge shellcheck >/dev/null \
    || echo "test.sh: slurm-wlm, munge or shellcheck could not be installed; their tests will skip" >&2
fi
# As root on Linux the sandbox can be built (install.sh installed bubblewrap): a security test
# that cannot build its cage here is an error, not a skip (tests/conftest.py).
if [ "$(id -u)" = 0 ] && [ "$(uname -s)" = Linux ]; then
  export AUTOGRADER_REQUIRE_SANDBOX_TESTS="${AUTOGRADER_REQUIRE_SANDBOX_TESTS:-1}"
fi
python3 -m pytest -q "$@"
