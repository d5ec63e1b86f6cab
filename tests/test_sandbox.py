"""The sandbox's command line and the template's cage spec, checked without starting anything."""

from pathlib import Path

from autograder import sandbox
from autograder.config import Limits


class FakeCgroup:
    def procs_files(self):
        return ["/sys/fs/cgroup/memory/x/cgroup.procs"]


def argv(limits=None, devices=()):
    limits = limits or Limits()
    return sandbox.bwrap_argv(uid=61001, ipc_dir=Path("/tmp/ipc"), limits=limits,
                              env={"HOME": sandbox.HOME}, gpu_devices=list(devices),
                              command=["python", "-m", "ipykernel_launcher"])


def test_bwrap_isolates_network_pids_and_environment_and_drops_root():
    line = argv()
    for flag in ("--unshare-net", "--unshare-pid", "--unshare-ipc", "--clearenv",
                 "--die-with-parent", "--new-session"):
        assert flag in line
    drop = line[line.index("setpriv"):]
    assert "--reuid=61001" in drop and "--bounding-set=-all" in drop and "--inh-caps=-all" in drop
    assert line[-3:] == ["python", "-m", "ipykernel_launcher"]


def test_bwrap_binds_nothing_writable_but_the_work_dir_and_the_sockets():
    line = argv()
    writable = [line[i + 2] for i, a in enumerate(line) if a == "--bind"]
    assert writable == ["/tmp/ipc"]
    assert "--ro-bind" in line and ("/", "/") not in zip(line, line[1:], strict=False)
    home = line.index(sandbox.HOME)
    assert line[home - 1] == "--tmpfs" and str(Limits().disk_mb * 2**20) in line[home - 5:home]


def test_gpu_devices_are_bound_only_when_given():
    assert "--dev-bind" not in argv()
    assert argv(devices=["/dev/nvidia0"]).count("--dev-bind") == 1


def test_template_builds_the_same_cage_as_bwrap(tmp_path):
    limits = Limits(disk_mb=32, processes=50)
    spec = sandbox._template_spec(uid=61001, ipc_dir=tmp_path / "ipc", root_dir=tmp_path / "root",
                                  limits=limits, env={"HOME": sandbox.HOME}, gpu_devices=[],
                                  connection_file="/tmp/ipc/kernel.json", cgroup=FakeCgroup())
    line = argv(limits)
    ro = {line[i + 1] for i, a in enumerate(line) if a == "--ro-bind"}
    assert set(spec["python_roots"]) | set(spec["ro_files"]) | {"/usr"} == ro
    assert spec["disk_bytes"] == 32 * 2**20 and spec["home"] == sandbox.HOME
    assert spec["rlimits"]["RLIMIT_NPROC"] == 50 and f"--nproc={50}" in line
    assert spec["uid"] == 61001 and spec["env"] == {"HOME": sandbox.HOME}


def test_the_kernel_environment_is_built_from_nothing(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    env = sandbox.kernel_env(Limits(), threads=1)
    assert "GITHUB_TOKEN" not in env and "ghp_secret" not in str(env)
    assert env["HOME"] == sandbox.HOME
