"""The Slurm job array of autograder/slurm on a real one-node Slurm started for the test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SLURM = ROOT / "autograder" / "slurm"
PACKAGES = ("slurm-wlm", "munge")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_installed() -> None:
    if all(shutil.which(b) for b in ("slurmctld", "slurmd", "sbatch", "munged")):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("Slurm is not installed and cannot be here (needs root and apt-get): "
                    "apt-get install -y slurm-wlm munge")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", *PACKAGES]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, capture_output=True)
        subprocess.run(install, env=env, check=True, capture_output=True)


def _munge_works() -> bool:
    try:
        cred = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
        return cred.returncode == 0 and subprocess.run(
            ["unmunge"], input=cred.stdout, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _start_munge() -> int | None:
    """Start munged unless one already answers; return the pid of the one we started."""
    if _munge_works():
        return None
    for folder in ("/run/munge", "/var/log/munge", "/var/lib/munge"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.chown(folder, "munge", "munge")
    key = Path("/etc/munge/munge.key")
    if not key.exists():
        subprocess.run(["runuser", "-u", "munge", "--", "mungekey", "--create"], check=True)
    subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], check=True)
    pidfile = Path("/run/munge/munged.pid")
    for _ in range(100):
        if _munge_works() and pidfile.exists():
            return int(pidfile.read_text())
        time.sleep(0.1)
    raise RuntimeError("munged did not start")


SLURM_CONF = """\
ClusterName=autogradertest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
MinJobAge=600
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=4000 Gres=gpu:1 State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""
# A GPU the scheduler counts, backed by /dev/null (Slurm drops a GPU without a device file; with
# task/none nothing is confined to it): lets the test submit with --gres=gpu:1, the default of
# submit.sh, on a machine without GPU.
GRES_CONF = "NodeName=localhost Name=gpu File=/dev/null\n"


@pytest.fixture(scope="module")
def slurm():
    """A one-node Slurm: yields the environment to run sbatch/squeue with; stops it by pid."""
    _ensure_installed()
    if os.geteuid() != 0:
        pytest.skip("starting slurmctld/slurmd for the test needs root")
    # Not under pytest's tmp folder: that one is 0700, and slurmctld runs as the slurm user.
    folder = Path(tempfile.mkdtemp(prefix="autograder-slurm-"))
    folder.chmod(0o755)
    for sub in ("state", "spool"):
        (folder / sub).mkdir()
    shutil.chown(folder / "state", "slurm", "slurm")
    conf = folder / "slurm.conf"
    conf.write_text(SLURM_CONF.format(ctld_port=_free_port(), d_port=_free_port(), dir=folder))
    (folder / "gres.conf").write_text(GRES_CONF)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    munged = _start_munge()
    daemons = []
    try:
        daemons.append(subprocess.Popen(["slurmctld", "-D", "-c", "-f", str(conf)], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
        daemons.append(subprocess.Popen(["slurmd", "-D", "-f", str(conf), "-N", "localhost"],
                                        env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 30
        while True:
            state = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True,
                                   text=True)
            if state.stdout.strip() == "idle":
                break
            if time.monotonic() > deadline or any(d.poll() is not None for d in daemons):
                logs = "".join(p.read_text()[-2000:] for p in folder.glob("*.log"))
                raise RuntimeError(f"Slurm did not come up: {state.stdout}{state.stderr}\n{logs}")
            time.sleep(0.2)
        yield env
    finally:
        for daemon in reversed(daemons):
            daemon.terminate()
            try:
                daemon.wait(10)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        if munged is not None:
            try:
                os.kill(munged, 15)
            except ProcessLookupError:
                pass
        shutil.rmtree(folder, ignore_errors=True)


def _wait(env: dict, jobs: list[str], timeout: float = 120) -> dict[str, str]:
    """Wait until no job is pending or running; return each job's final state."""
    deadline = time.monotonic() + timeout
    while True:
        queue = subprocess.run(["squeue", "-h", "-j", ",".join(jobs), "-o", "%i %T"], env=env,
                               capture_output=True, text=True)
        if not queue.stdout.strip():
            break
        assert time.monotonic() < deadline, f"jobs still queued: {queue.stdout}"
        time.sleep(0.5)
    states = {}
    for job in jobs:
        show = subprocess.run(["scontrol", "-o", "show", "job", job], env=env,
                              capture_output=True, text=True).stdout
        for line in show.splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            states[fields.get("ArrayTaskId") and f"{job}_{fields['ArrayTaskId']}" or job] = (
                fields.get("JobState", "?"))
    return states


def _submit(env: dict, cwd: Path, *args: str) -> list[str]:
    done = subprocess.run(["bash", str(SLURM / "submit.sh"), *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


FAKE_GRADER = """\
#!/usr/bin/env bash
# Stands in for `autograder`: records its arguments; the gradebook records which shards ran.
set -eu
here=$(dirname "$0")
case " $* " in
  *" grade "*)
    shard=$(echo "$*" | sed 's/.*--shard \\([^ ]*\\).*/\\1/')
    [ "$shard" = "${FAIL_SHARD:-none}" ] && exit 1
    echo "$* gpus=${SLURM_JOB_GPUS:-${CUDA_VISIBLE_DEVICES:-none}}" > "$here/calls/grade-${shard%/*}"
    if [ "$shard" = "${NOT_GRADED_SHARD:-none}" ]; then exit 3; fi  # done, some not graded
    ;;
  *" gradebook "*) { echo "$*"; ls "$here/calls"; } > "$here/calls/gradebook" ;;
esac
"""


def _fake_grader(folder: Path) -> Path:
    (folder / "calls").mkdir()
    fake = folder / "fake-autograder"
    fake.write_text(FAKE_GRADER)
    fake.chmod(0o755)
    return fake


def test_array_grades_every_shard_then_builds_the_gradebook(slurm, tmp_path):
    fake = _fake_grader(tmp_path)
    env = {**slurm, "AUTOGRADER": str(fake), "AUTOGRADER_CPUS": "1", "AUTOGRADER_MEM": "100M",
           "AUTOGRADER_GRADE_ARGS": "--no-require-sandbox", "NOT_GRADED_SHARD": "2/3"}
    array, book = _submit(env, tmp_path, "hw1_features", "submissions/hw1_features", "3")
    states = _wait(env, [array, book])
    assert set(states.values()) == {"COMPLETED"}, states
    calls = tmp_path / "calls"
    for shard in range(3):
        line = (calls / f"grade-{shard}").read_text()
        assert line.startswith(f"--course course.toml grade hw1_features submissions/hw1_features "
                               f"--shard {shard}/3 --out results "
                               "--no-require-sandbox")
        assert "gpus=none" not in line  # each shard was given the GPU it asked for
    gradebook = (calls / "gradebook").read_text().split()
    assert gradebook[:7] == ["--course", "course.toml", "gradebook", "hw1_features", "--results",
                             "results", "--out"]
    assert gradebook[7] == "grades-hw1_features.xlsx"
    assert {"grade-0", "grade-1", "grade-2"} <= set(gradebook)  # it ran after every shard


def test_a_failed_shard_holds_back_the_gradebook(slurm, tmp_path):
    fake = _fake_grader(tmp_path)
    env = {**slurm, "AUTOGRADER": str(fake), "AUTOGRADER_GPUS_PER_TASK": "0",
           "AUTOGRADER_CPUS": "1", "AUTOGRADER_MEM": "100M", "FAIL_SHARD": "1/2"}
    array, book = _submit(env, tmp_path, "hw1_features", "subs", "2")
    states = _wait(env, [array, book])
    assert states[f"{array}_1"] == "FAILED" and states[f"{array}_0"] == "COMPLETED", states
    assert states[book] != "COMPLETED"
    assert not (tmp_path / "calls" / "gradebook").exists()


CLASS = ROOT / "examples" / "submissions" / "hw1_features"
# A slice of the example class that keeps the test short: a folder and a single-file submission,
# an untouched stub, a late one, and a PDF that is rejected.
SLICE = ["pair01-martin-bernard", "pair02-dubois-thomas.ipynb", "pair05-leroy-moreau",
         "pair08-garcia-david", "pair14-mercier-dupont.pdf"]


def _class_slice(folder: Path) -> Path:
    folder.mkdir()
    for name in SLICE:
        source = CLASS / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, folder / name)
    manifest = (CLASS / "manifest.csv").read_text().splitlines()
    wanted = {Path(name).stem if name.endswith(".ipynb") else name for name in SLICE}
    (folder / "manifest.csv").write_text("\n".join(
        [manifest[0]] + [line for line in manifest[1:] if line.split(",")[0] in wanted]) + "\n")
    return folder


@pytest.mark.kernel
def test_sharded_grading_on_slurm_equals_one_machine(slurm, tmp_path):
    submissions = _class_slice(tmp_path / "submissions")
    course = ROOT / "course.toml"
    grader = [shutil.which("autograder") or "autograder", "--course", str(course)]

    alone = tmp_path / "alone"
    for args in (["grade", "hw1_features", str(submissions), "--workers", "2", "--out",
                  str(alone / "results"), "--feedback", str(alone / "feedback")],
                 ["gradebook", "hw1_features", "--results", str(alone / "results"), "--out",
                  str(alone / "grades.xlsx")]):
        done = subprocess.run(grader + args, capture_output=True, text=True, timeout=300)
        # grade exits 3 when it ran to the end with some submissions not graded (the PDF).
        assert done.returncode in (0, 3), done.stdout + done.stderr

    sharded = tmp_path / "sharded"
    sharded.mkdir()
    env = {**slurm, "AUTOGRADER_COURSE": str(course), "AUTOGRADER_GPUS_PER_TASK": "0",
           "AUTOGRADER_CPUS": "1", "AUTOGRADER_MEM": "1000M",
           "AUTOGRADER_RESULTS": str(sharded / "results"),
           "AUTOGRADER_GRADEBOOK": str(sharded / "grades.xlsx"),
           "AUTOGRADER_GRADE_ARGS": f"--workers 1 --feedback {sharded / 'feedback'}"}
    array, book = _submit(env, sharded, "hw1_features", str(submissions), "2")
    states = _wait(env, [array, book], timeout=300)
    logs = "".join(p.read_text() for p in sorted(sharded.glob("slurm-*.out")))
    assert set(states.values()) == {"COMPLETED"}, f"{states}\n{logs}"
    assert "shard 0/2" in logs and "shard 1/2" in logs

    results = sorted(p.name for p in (sharded / "results" / "hw1_features").glob("*.json"))
    assert results == sorted(p.name for p in (alone / "results" / "hw1_features").glob("*.json"))
    assert len(results) == len(SLICE)
    for name in ("grades.csv", "grades-moodle.csv"):
        assert (sharded / name).read_text() == (alone / name).read_text(), name
