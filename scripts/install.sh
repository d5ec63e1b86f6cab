#!/usr/bin/env bash
# Installs everything the grader needs on a fresh Debian machine (CI, the container, a laptop).
# The same script runs in .ci/run and in autograder/container/Dockerfile, so CI exercises it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}

# bubblewrap is the sandbox; without it grading refuses unless --no-require-sandbox is given.
if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
  else
    echo "install.sh: bubblewrap is missing and cannot be installed here (need root and apt-get);" \
         "grading will run unsandboxed only with --no-require-sandbox" >&2
  fi
fi

# A CPU build of torch where none is present: a loose spec would pull a multi-GB CUDA build. A GPU
# image already has its own torch, which the package's open range accepts.
if ! "$python" -c "import torch" >/dev/null 2>&1; then
  "$python" -m pip install -q "torch==2.13.0"
fi
# The grader's stack is the package's `grade` extra (students install the bare package: `check`
# only). AUTOGRADER_EXTRAS adds more extras (default dev: tests and linters); the container sets
# it empty.
extras=grade
if [ -n "${AUTOGRADER_EXTRAS-dev}" ]; then
  extras="$extras,${AUTOGRADER_EXTRAS-dev}"
fi
"$python" -m pip install -q -e "${here}[${extras}]"
