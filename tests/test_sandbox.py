"""The cage's description, the isolation policy and the sweep of dead graders' cages, checked
without starting a kernel (tests/test_cage.py starts real ones)."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from autograder import cage, orphans, sandbox
from autograder.cage import Cage
from autograder.config import KernelStart, Limits
from autograder.errors import KernelStartError, NoFreeUid, SandboxUnavailable

COMMAND = ("python", "-m", "ipykernel_launcher", "-f", "/x/kernel.json")


def a_cage(tmp_path: Path, limits: Limits | None = None, devices=()) -> Cage:
    return Cage(uid=61001, ipc_dir=tmp_path / "ipc", limits=limits or Limits(),
                env={"HOME": cage.HOME}, command=COMMAND, devices=tuple(devices),
                cgroup_procs=("/sys/fs/cgroup/memory/autograder/x/cgroup.procs",),
                root_dir=tmp_path / "root")


def test_bwrap_isolates_network_pids_and_environment_and_drops_root(tmp_path):
    line = cage.bwrap_argv(a_cage(tmp_path))
    for flag in ("--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                 "--unshare-cgroup-try", "--clearenv", "--die-with-parent", "--new-session"):
        assert flag in line
    drop = line[line.index("setpriv"):]
    assert "--reuid=61001" in drop and "--bounding-set=-all" in drop and "--inh-caps=-all" in drop
    assert line[-len(COMMAND):] == list(COMMAND)


def test_bwrap_binds_nothing_writable_but_the_work_dir_and_the_sockets(tmp_path):
    line = cage.bwrap_argv(a_cage(tmp_path))
    writable = [line[i + 2] for i, a in enumerate(line) if a == "--bind"]
    assert writable == [str(tmp_path / "ipc")]
    assert "--ro-bind" in line and ("/", "/") not in zip(line, line[1:], strict=False)
    assert line[line.index("--remount-ro") + 1] == "/"
    home = line.index(cage.HOME)
    assert line[home - 1] == "--tmpfs" and str(Limits().disk_mb * 2**20) in line[home - 5:home]


def test_gpu_nodes_go_to_dev_in_both_cages_and_only_when_given(tmp_path):
    assert "--dev-bind" not in cage.bwrap_argv(a_cage(tmp_path))
    pair = (str(tmp_path / "fake" / "nvidia3"), "/dev/nvidia3")
    line = cage.bwrap_argv(a_cage(tmp_path, devices=[pair]))
    at = line.index("--dev-bind")
    assert line[at + 1:at + 3] == list(pair) and line.index("--dev") < at
    assert cage.template_spec(a_cage(tmp_path, devices=[pair]))["devices"] == [list(pair)]


def test_template_spec_and_bwrap_argv_describe_the_same_binds_and_limits(tmp_path):
    limits = Limits(disk_mb=32, processes=50)
    spec = cage.template_spec(a_cage(tmp_path, limits))
    line = cage.bwrap_argv(a_cage(tmp_path, limits))
    ro = {line[i + 1] for i, a in enumerate(line) if a == "--ro-bind"}
    assert set(spec["python_roots"]) | set(spec["ro_files"]) | {"/usr"} == ro
    assert spec["disk_bytes"] == 32 * 2**20 and spec["home"] == cage.HOME
    assert spec["rlimits"]["RLIMIT_NPROC"] == 50 and "--nproc=50" in line
    assert spec["uid"] == 61001 and spec["env"] == {"HOME": cage.HOME}
    assert spec["connection_file"] == "/x/kernel.json"
    sizes = [line[i + 1] for i, a in enumerate(line) if a == "--size"]
    assert sizes.count(str(spec["tmp_bytes"])) == 2  # /tmp and /dev/shm, as the template's


def test_the_kernel_environment_is_built_from_nothing(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    env = cage.kernel_env(Limits(), threads=1)
    assert "GITHUB_TOKEN" not in env and "ghp_secret" not in str(env)
    assert env["HOME"] == cage.HOME and env["CUDA_VISIBLE_DEVICES"] == ""
    assert cage.kernel_env(Limits(), 1, gpu_visible="GPU-3a")["CUDA_VISIBLE_DEVICES"] == "GPU-3a"


def test_require_sandbox_refuses_where_no_cage_can_be_built(monkeypatch):
    reasons = {KernelStart.TEMPLATE: "no namespaces", KernelStart.BWRAP: "bwrap not installed"}
    monkeypatch.setattr(sandbox, "probe", reasons.get)
    with pytest.raises(SandboxUnavailable, match="--no-require-sandbox") as caught:
        sandbox.sandbox_level(required=True)
    assert "bwrap not installed" in str(caught.value)
    assert sandbox.sandbox_level(required=False) == KernelStart.NONE
    reasons[KernelStart.BWRAP] = ""
    assert sandbox.sandbox_level(required=True) == KernelStart.BWRAP  # the template falls back


def test_probe_says_why_without_root(monkeypatch):
    sandbox.probe.cache_clear()
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    try:
        assert "not root" in sandbox.probe(KernelStart.TEMPLATE)
        assert "not root" in sandbox.probe(KernelStart.BWRAP)
    finally:
        sandbox.probe.cache_clear()


def test_start_errors_are_runtime_errors_under_the_autograder_family():
    # StudentKernel.revive and nbclient-style callers catch RuntimeError; the CLI catches the family.
    error = NoFreeUid("all sandbox uids are in use")
    assert isinstance(error, KernelStartError) and isinstance(error, RuntimeError)
    assert str(error) == "all sandbox uids are in use"


def test_a_uid_lease_is_exclusive_and_freed_on_exit(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox, "LOCK_DIR", tmp_path)
    monkeypatch.setattr(sandbox, "UID_SLOTS", 2)
    with sandbox.UidLease.acquire() as first, sandbox.UidLease.acquire() as second:
        assert first.uid != second.uid
        with pytest.raises(NoFreeUid):
            sandbox.UidLease.acquire()
    with sandbox.UidLease.acquire():
        pass  # both were freed


# --- the cages of dead graders ---------------------------------------------------------------

def _dead_owner() -> str:
    """The stamp of a process that has exited (its pid may be reused: the start time tells)."""
    child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(0,))
    child.start()
    stamp = orphans.owner(child.pid)
    child.join()
    return stamp


def test_owner_stamps_tell_a_live_grader_from_a_dead_one():
    me = orphans.owner()
    pid, started = orphans.owner_of(f"{me}-61001-123")
    assert pid == os.getpid() and not orphans.is_dead((pid, started))
    assert orphans.is_dead((os.getpid(), started + 1))  # same pid, another process: reused
    assert orphans.is_dead(orphans.owner_of(f"{_dead_owner()}-61001-1"))
    assert orphans.owner_of("tmpab12cd") is None and orphans.owner_of("x1.2-3") is None
    assert orphans.owner_of("4242-61001-99") == (4242, None)  # named by an older grader


def test_sweep_removes_what_dead_graders_left_and_nothing_of_live_ones(tmp_path):
    dead, live = _dead_owner(), orphans.owner()
    root = tmp_path / "cgroup"
    for kind in ("memory", "pids"):
        for owner in (dead, live):
            (root / kind / "autograder" / f"{owner}-61001-7").mkdir(parents=True)
        (root / kind / "autograder" / "not-ours").mkdir()
    tmp = tmp_path / "tmp"
    for owner in (dead, live):
        (tmp / f"autograder-ipc-{owner}-ab12" / "sub").mkdir(parents=True)
        (tmp / f"autograder-root-{owner}-cd34").mkdir()
    (tmp / "autograder-ipc-olderrandom").mkdir()  # no owner in the name: left alone
    (tmp_path / "mountinfo").write_text("")

    swept = orphans.sweep(tmp=tmp, cgroup_root=root, mountinfo=tmp_path / "mountinfo")

    assert swept.cgroups == [f"{dead}-61001-7"]
    assert sorted(swept.folders) == [f"autograder-ipc-{dead}-ab12", f"autograder-root-{dead}-cd34"]
    left = sorted(p.name for p in tmp.iterdir())
    assert left == sorted(["autograder-ipc-olderrandom", f"autograder-ipc-{live}-ab12",
                           f"autograder-root-{live}-cd34"])
    assert sorted(p.name for p in (root / "memory" / "autograder").iterdir()) == \
        sorted([f"{live}-61001-7", "not-ours"])


def test_a_sandbox_test_that_cannot_build_its_cage_fails_where_it_must_run(pytester, monkeypatch):
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makeini("[pytest]\nmarkers =\n    sandbox: builds cages\n")
    pytester.makepyfile("import pytest\n\n@pytest.mark.sandbox\ndef test_cage():\n    pass\n")
    monkeypatch.setattr(sandbox, "probe", lambda level: "no mount namespace in this container")
    monkeypatch.delenv("AUTOGRADER_REQUIRE_SANDBOX_TESTS", raising=False)
    pytester.runpytest_inprocess().assert_outcomes(skipped=1)
    monkeypatch.setenv("AUTOGRADER_REQUIRE_SANDBOX_TESTS", "1")
    run = pytester.runpytest_inprocess()
    run.assert_outcomes(errors=1)
    run.stdout.fnmatch_lines(["*must run the sandbox tests*no mount namespace*"])
    monkeypatch.setattr(sandbox, "probe", lambda level: "")
    pytester.runpytest_inprocess().assert_outcomes(passed=1)
