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
# LibreOffice and pdftotext render the gradebook in tests/test_gradebook.py (about 90 MB to
# download, 280 MB installed, under a minute). Where they can be installed they are expected: a
# skipped render test would hide a sheet that reads badly, so it fails instead
# (AUTOGRADER_REQUIRE_LIBREOFFICE=0 to let it skip).
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  if ! command -v soffice >/dev/null 2>&1 || ! command -v pdftotext >/dev/null 2>&1; then
    # -nogui: the office suite without X11 (Debian 12, Ubuntu 22.04 and later).
    calc=libreoffice-calc-nogui
    apt-cache show "$calc" >/dev/null 2>&1 || calc=libreoffice-calc
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "$calc" poppler-utils fonts-dejavu-core >/dev/null \
      || echo "test.sh: LibreOffice could not be installed; the gradebook render tests will fail" >&2
  fi
  export AUTOGRADER_REQUIRE_LIBREOFFICE=${AUTOGRADER_REQUIRE_LIBREOFFICE:-1}
fi
# As root on Linux the sandbox can be built (install.sh installed bubblewrap): a security test
# that cannot build its cage here is an error, not a skip (tests/conftest.py).
if [ "$(id -u)" = 0 ] && [ "$(uname -s)" = Linux ]; then
  export AUTOGRADER_REQUIRE_SANDBOX_TESTS="${AUTOGRADER_REQUIRE_SANDBOX_TESTS:-1}"
fi
# Chromium drives the review page in tests/test_review.py (Debian's package; Playwright, a dev
# dependency, talks to it, and never downloads a browser of its own). Where it can be installed it
# is expected: a skipped browser test would hide a page that no longer works or an attack that
# runs, so it fails instead (AUTOGRADER_REQUIRE_BROWSER=0 to let it skip).
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  if [ ! -x /usr/bin/chromium ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
      fonts-dejavu-core >/dev/null \
      || echo "test.sh: chromium could not be installed; the review page's browser tests will fail" >&2
  fi
  export AUTOGRADER_REQUIRE_BROWSER=${AUTOGRADER_REQUIRE_BROWSER:-1}
fi
python3 -m pytest -q "$@"
