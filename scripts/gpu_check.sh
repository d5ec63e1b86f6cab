#!/usr/bin/env bash
# The grader on a GPU, in one prepared run: grades hw3_training's example submissions with 1, 4,
# 8 and 16 kernels at once and prints the time per submission, the GPU memory each kernel held,
# and whether "used the GPU" was detected for a training loop that uses the GPU and one that
# does not.
#
#   scripts/gpu_check.sh wheels        here, with PyPI: put in .whl/ the wheels GPU machines lack
#   scripts/gpu_check.sh [DIR]         on the GPU machine: install .whl/, grade, report; works in
#                                      DIR (default /tmp/gpu-check) and, where $OUT is set (the
#                                      device tool), leaves report.txt and gpu-check.tgz there
#   scripts/gpu_check.sh prepare DIR   build only the submissions folder (needs nbformat)
#   scripts/gpu_check.sh report OUT    print only the report of a finished run (plain Python)
#
# The GPU machines have PyTorch, scikit-learn and nvidia-ml-py (python 3.12) but no Jupyter
# packages, no bubblewrap and no package registry: the wheels travel in .whl/, and grading runs
# with --no-require-sandbox there. Settings: GPU_CHECK_WORKERS ("1 4 8 16"), GPU_CHECK_COUNT (at
# least this many submissions are graded at each concurrency, padded with copies of the
# solution; default 16), GPU_CHECK_EXAMPLES (default examples/submissions/hw3_training).
# The throughput target (100 pairs of hw3 in under 2 minutes on one H100/H200):
#   GPU_CHECK_WORKERS=16 GPU_CHECK_COUNT=100 scripts/gpu_check.sh
# Each grading forks its submissions from one prepared process (autograder/workers.py): the
# judge's side asks CUDA's availability through NVML (PYTORCH_NVML_BASED_CUDA_CHECK), so the
# forks may still use it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
HW=hw3_training
WORKERS=${GPU_CHECK_WORKERS:-"1 4 8 16"}
COUNT=${GPU_CHECK_COUNT:-16}
EXAMPLES=${GPU_CHECK_EXAMPLES:-$repo/examples/submissions/$HW}
COURSE=${GPU_CHECK_COURSE:-$repo/course.toml}

# What grading imports that the GPU image lacks; their dependencies come along.
NEEDED=(nbformat jupyter_client ipykernel nbclient tzdata)
# In the GPU image already: a second copy would shadow the image's (numpy under torch above all).
PRESENT="numpy packaging python-dateutil typing-extensions attrs psutil pygments six pandas rich
markdown-it-py mdurl pyyaml jinja2 markupsafe setuptools wheel"

wheels() {
  mkdir -p "$repo/.whl"
  # The versions this machine tests with, where it has them.
  mapfile -t pins < <("$python" - "${NEEDED[@]}" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
for name in sys.argv[1:]:
    try:
        print(f"{name}=={version(name)}")
    except PackageNotFoundError:
        print(name)
PY
)
  "$python" -m pip download --quiet --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$repo/.whl" "${pins[@]}"
  # shellcheck disable=SC2086  # PRESENT is a list of names
  "$python" - "$repo/.whl" $PRESENT <<'PY'
import re
import sys
from pathlib import Path

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

folder, present = Path(sys.argv[1]), {norm(n) for n in sys.argv[2:]}
for wheel in sorted(folder.glob("*.whl")):
    if norm(wheel.name.split("-")[0]) in present:
        wheel.unlink()
kept = sorted(folder.glob("*.whl"))
size = sum(w.stat().st_size for w in kept) / 2**20
print(f"{len(kept)} wheels in {folder} ({size:.1f} MiB): " + " ".join(w.name.split("-")[0] for w in kept))
PY
}

install() {
  shopt -s nullglob
  local found=("$repo"/.whl/*.whl)
  shopt -u nullglob
  if [ ${#found[@]} -gt 0 ]; then
    # Into the interpreter itself, not a --target folder: each kernel starts from an environment
    # built from nothing (no PYTHONPATH) and must still import ipykernel.
    "$python" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir "${found[@]}"
  fi
  "$python" -c "import ipykernel, jupyter_client, nbformat, nbclient" || {
    echo "gpu_check: the Jupyter packages are missing: run 'scripts/gpu_check.sh wheels' with PyPI" \
         "at hand and carry .whl/" >&2
    exit 2
  }
}

prepare() {  # DIR: the submissions to grade
  PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" "$python" - "$COURSE" "$1" "$EXAMPLES" "$COUNT" <<'PY'
import shutil
import sys
from pathlib import Path

import nbformat

from autograder.config import load_course

course, dest, examples, count = (load_course(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]),
                                 int(sys.argv[4]))
spec = course.assignment("hw3_training")
# The solution (or, before a release, the source: its test cells are taken from the source anyway).
base = spec.solution_path if spec.solution_path.exists() else spec.notebook
dest.mkdir(parents=True, exist_ok=True)
names = []
if examples.is_dir():
    for entry in sorted(examples.iterdir()):
        if entry.name.startswith("."):
            continue
        target = dest / entry.name
        (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, target)
        names.append(entry.name)

nb = nbformat.read(base, as_version=4)
nbformat.write(nb, dest / "gpu_loop.ipynb")
# The same training loop, told never to use the GPU: the student's get_device() returns the CPU.
override = ("\n\n\ndef get_device(*args, **kwargs):  # gpu_check: a loop that never uses the GPU\n"
            "    import torch\n    return torch.device('cpu')\n")
cells = [c for c in nb.cells if c.cell_type == "code" and "def get_device" in c.source]
if cells:
    cells[-1].source = cells[-1].source.rstrip("\n") + override
    nbformat.write(nb, dest / "cpu_loop.ipynb")
    names.append("cpu_loop.ipynb")
else:
    print("gpu_check: no cell defines get_device(): no CPU-only loop to compare", file=sys.stderr)
names.append("gpu_loop.ipynb")
for k in range(max(0, count - len(names))):
    shutil.copy2(dest / "gpu_loop.ipynb", dest / f"copy{k + 1:02d}.ipynb")
    names.append(f"copy{k + 1:02d}.ipynb")
print(f"{len(names)} submissions in {dest} (base: {base})")
PY
}

sample() {  # OUT_FILE GRADER_PID: GPU memory per process every half second, one JSON line each
  PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" "$python" - "$1" "$2" <<'PY'
import json
import os
import sys
import time

from autograder.gpu import all_gpu_memory, process_tree

out, grader = sys.argv[1], int(sys.argv[2])
with open(out, "w") as fh:
    while os.path.exists(f"/proc/{grader}"):
        usage = all_gpu_memory()
        tree = process_tree(grader) if usage else set()
        fh.write(json.dumps({"t": time.time(), "grader": grader,
                             "usage": {str(p): m for p, m in usage.items()},
                             "tree": sorted(p for p in usage if p in tree)}) + "\n")
        fh.flush()
        time.sleep(0.5)
PY
}

report() {  # OUT: plain Python, no package needed, so it runs anywhere
  "$python" - "$1" <<'PY'
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
runs = []
for line in (out / "timings.txt").read_text().splitlines():
    workers, start, end, status = line.split()
    runs.append((int(workers), float(end) - float(start), int(status)))

print(f"{'kernels':>7}  {'graded':>6}  {'wall s':>7}  {'s/submission':>12}  "
      f"{'GPU MiB per kernel (median, max)':>32}  {'kernels on GPU':>14}  exit")
details = {}
for workers, wall, status in runs:
    results = [json.loads(p.read_text()) for p in sorted((out / f"w{workers}").glob("*/*.json"))]
    details[workers] = {r["submission_id"]: r for r in results}
    samples_file = out / f"gpu-w{workers}.jsonl"
    samples = [json.loads(line) for line in
               (samples_file.read_text().splitlines() if samples_file.exists() else [])]
    # Kernels: processes under the grader; everything on the GPU but the grader where the tree
    # could not be matched (another pid namespace).
    matched = any(s["tree"] for s in samples)
    peak: dict[str, float] = {}
    for sample in samples:
        for pid, mib in sample["usage"].items():
            if int(pid) != sample["grader"] and (int(pid) in sample["tree"] or not matched):
                peak[pid] = max(peak.get(pid, 0.0), mib)
    mibs = sorted(peak.values())
    gpu = f"{mibs[len(mibs) // 2]:.0f}, {mibs[-1]:.0f}" if mibs else "none seen"
    per = wall / len(results) if results else float("nan")
    print(f"{workers:>7}  {len(results):>6}  {wall:>7.1f}  {per:>12.2f}  {gpu:>32}  "
          f"{len(peak):>14}  {status}")

print()
print("GPU use detected from outside (gpu_used in the result):")
expected = {"gpu_loop": True, "cpu_loop": False}
verdicts = []
for workers, by_id in details.items():
    for sid, want in expected.items():
        r = by_id.get(sid)
        if r is None:
            continue
        ok = r.get("gpu_used") is want
        verdicts.append(ok)
        print(f"  {workers} kernel(s)  {sid:<9} gpu_used={r.get('gpu_used')!s:<5} "
              f"expected {want!s:<5} {'ok' if ok else 'WRONG'}  ({r['status']}, "
              f"{r['points']:g}/{r['max_points']:g}, device {r.get('device')})")
if not verdicts:
    print("  no gpu_loop / cpu_loop result to judge")

if details:
    last = details[max(details)]
    print()
    print(f"Submissions at {max(details)} kernels:")
    for sid, r in sorted(last.items()):
        flags = ",".join(sorted({f["code"] for f in r.get("flags", [])}))
        print(f"  {sid:<28} {r['status']:<9} {r['points']:>5g}/{r['max_points']:<5g} "
              f"{r.get('runtime_s', 0):>6.1f} s  gpu_used={r.get('gpu_used')}  {flags}")
sys.exit(0 if verdicts and all(verdicts) else 1)
PY
}

run() {  # DIR
  local out=${1:-/tmp/gpu-check}
  mkdir -p "$out"
  install
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version \
    --format=csv,noheader
  "$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  rm -rf "$out/submissions"
  prepare "$out/submissions"
  : > "$out/timings.txt"
  export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
  for workers in $WORKERS; do
    rm -rf "$out/w$workers"
    local start end status=0
    start=$(date +%s.%N)
    "$python" -m autograder.cli --course "$COURSE" grade "$HW" "$out/submissions" \
      --workers "$workers" --out "$out/w$workers" --feedback "$out/feedback-w$workers" \
      --no-require-sandbox > "$out/grade-w$workers.log" 2>&1 &
    local grader=$!
    sample "$out/gpu-w$workers.jsonl" "$grader" &
    local sampler=$!
    wait "$grader" || status=$?
    end=$(date +%s.%N)
    wait "$sampler" || true
    echo "$workers $start $end $status" >> "$out/timings.txt"
    echo "graded with $workers kernel(s): exit $status, log $out/grade-w$workers.log"
    [ "$status" = 0 ] || tail -n 20 "$out/grade-w$workers.log"
  done
  local verdict=0
  report "$out" | tee "$out/report.txt" || verdict=$?
  if [ -n "${OUT:-}" ] && [ "$out" != "$OUT" ]; then
    cp "$out/report.txt" "$OUT/report.txt"
    tar czf "$OUT/gpu-check.tgz" -C "$out" --exclude=submissions .
  fi
  return "$verdict"
}

case "${1:-}" in
  wheels) wheels ;;
  prepare) prepare "${2:?usage: gpu_check.sh prepare DIR}" ;;
  report) report "${2:?usage: gpu_check.sh report OUT}" ;;
  *) run "${1:-}" ;;
esac
