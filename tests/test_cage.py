"""Real cages: both starts give a kernel the same one, every cage dies with its grader, a new
grader sweeps what dead ones left, and a kernel sees only the GPU it was given."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder import orphans, sandbox
from autograder.config import KernelStart, Limits
from autograder.gpu import Gpu
from autograder.gpu_slots import kernel_gpu
from autograder.kernel import Kernel
from autograder.messages import RunStatus

pytestmark = [pytest.mark.kernel, pytest.mark.sandbox]
ROOT = Path(__file__).resolve().parents[1]
STARTS = (KernelStart.TEMPLATE, KernelStart.BWRAP)
NAMESPACES = ("mnt", "pid", "net", "ipc", "uts", "cgroup")

LOOK_AROUND = """\
import json, os
mounts = {}
for line in open('/proc/self/mountinfo'):
    f = line.split()
    mounts[f[4]] = [sorted(set(f[5].split(',')) - {'relatime'}), f[f.index('-') + 1]]
print(json.dumps({
    'pid': os.getpid(), 'uid': os.getuid(), 'hostname': os.uname().nodename,
    'dev': sorted(os.listdir('/dev')), 'mounts': mounts,
    'caps': [l.split()[1] for l in open('/proc/self/status') if l.startswith('Cap')],
    'cgroup': open('/proc/self/cgroup').read().split(),
    'gpu': os.environ.get('CUDA_VISIBLE_DEVICES'),
}))
"""


def look_around(kernel: Kernel) -> dict:
    run = kernel.execute(LOOK_AROUND, timeout=30)
    assert run.status == RunStatus.OK, run.traceback
    seen = json.loads(run.output)
    # The exchange folder's path is the one thing that differs from cage to cage.
    seen["mounts"] = {("<exchange>" if point == str(kernel.box.ipc_dir) else point): flags
                      for point, flags in seen["mounts"].items()}
    return seen


def host_pid(kernel: Kernel, inner: int) -> int:
    """The kernel's pid as the grader sees it: the one whose pid inside its namespace is `inner`."""
    for pid in kernel.pids():
        nspid = [line.split()[1:] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                 if line.startswith("NSpid:")][0]
        if len(nspid) == 2 and int(nspid[1]) == inner:
            return pid
    raise AssertionError(f"no process of the cage has pid {inner} inside")


def namespaces(pid: int | str) -> dict[str, str]:
    return {ns: os.readlink(f"/proc/{pid}/ns/{ns}") for ns in (*NAMESPACES, "user")}


def test_both_starts_build_the_same_cage():
    seen, spaces = {}, {}
    for start in STARTS:
        with Kernel(limits=Limits(cell_timeout=30), level=start) as kernel:
            seen[start] = look_around(kernel)
            spaces[start] = namespaces(host_pid(kernel, seen[start]["pid"]))
    grader = namespaces("self")
    for start in STARTS:
        # Its own mount, pid, network, IPC, UTS and cgroup namespaces, read from outside.
        assert [ns for ns in NAMESPACES if spaces[start][ns] == grader[ns]] == []
        assert spaces[start]["user"] == grader["user"]  # no user namespace: setresuid is real
        assert seen[start]["uid"] >= sandbox.FIRST_UID and seen[start]["hostname"] == "sandbox"
        assert seen[start]["caps"] == ["0" * 16] * 5
        assert seen[start]["mounts"]["/"][0] == ["nodev", "nosuid", "ro"]
        assert seen[start]["mounts"]["<exchange>"][0] == ["nodev", "noexec", "nosuid", "rw"]
    assert spaces[KernelStart.TEMPLATE]["net"] != spaces[KernelStart.BWRAP]["net"]
    template, bwrap = seen[KernelStart.TEMPLATE], seen[KernelStart.BWRAP]
    assert template["dev"] == bwrap["dev"]
    assert template["mounts"] == bwrap["mounts"]  # every mount point, its flags and its type
    assert template["cgroup"] == bwrap["cgroup"]  # its own cgroup is the root it sees
    assert all(line.endswith(":/") for line in template["cgroup"])
    assert template["gpu"] == bwrap["gpu"] == ""


GRADER = """\
import json, sys, time
from autograder.config import Limits
from autograder.kernel import Kernel
kernels = [Kernel(limits=Limits(), level=level) for level in sys.argv[1:]]
for kernel in kernels:
    kernel.start()
print(json.dumps({k.level: {"pids": k.pids(), "exchange": str(k.box.ipc_dir),
                            "cgroup": [str(p) for p in k.box.cgroup.paths] if k.box.cgroup else []}
                  for k in kernels}), flush=True)
time.sleep(600)
"""


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def mounted(path: str) -> bool:
    return any(line.split()[4] == path for line in Path("/proc/self/mountinfo").read_text()
               .splitlines())


def test_every_cage_dies_with_its_grader_and_the_next_grader_sweeps_what_is_left():
    # The two cages, and a kernel started without one (--no-require-sandbox): all die with it.
    grader = subprocess.Popen([sys.executable, "-c", GRADER, *STARTS, KernelStart.NONE],
                              stdout=subprocess.PIPE,
                              text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        cages = json.loads(grader.stdout.readline())
        pids = [pid for cage in cages.values() for pid in cage["pids"]]
        assert len(cages) == 3 and all(running(pid) for pid in pids)
        os.kill(grader.pid, signal.SIGKILL)
        grader.wait()
        deadline = time.monotonic() + 30
        while any(running(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [pid for pid in pids if running(pid)] == []
    finally:
        grader.kill()
        grader.wait()
    left = [path for cage in cages.values() for path in cage["cgroup"]]
    exchanges = [cages[start]["exchange"] for start in STARTS]
    # Left behind by the dead grader; on a machine where another grader starts meanwhile, that
    # one may sweep them first (what follows then finds nothing left, as it should).
    swept_by_another = not all(Path(p).exists() for p in left)
    assert swept_by_another or all(mounted(p) for p in exchanges)
    for name in {Path(p).name for p in left}:  # the dead grader's uids are free again
        with open(sandbox.LOCK_DIR / f"{name.split('-')[1]}.lock", "w") as lease:
            fcntl.flock(lease, fcntl.LOCK_EX | fcntl.LOCK_NB)
    exchanges.append(cages[KernelStart.NONE]["exchange"])  # a plain folder, left too

    # This process is the next grader: its first cage sweeps (once per process), and a sweep
    # while its own kernel runs leaves that kernel's cage alone.
    with Kernel(limits=Limits(), level=KernelStart.TEMPLATE) as mine:
        orphans.sweep()
        assert mine.alive() and mine.execute("1", timeout=30).status == RunStatus.OK
        assert all(Path(p).exists() for p in mine.box.cgroup.paths)
        assert mounted(str(mine.box.ipc_dir))
    assert not any(Path(p).exists() for p in left)
    assert not any(mounted(p) or Path(p).exists() for p in exchanges)
    dead = orphans.owner_of(Path(exchanges[0]).name[len(orphans.IPC_PREFIX):])
    assert not list(Path(tempfile.gettempdir()).glob(f"autograder-*-{dead[0]}.{dead[1]}-*"))


@pytest.fixture
def fake_gpus(tmp_path: Path) -> Path:
    """A /dev with four GPUs' nodes (character devices that are really /dev/null)."""
    dev = tmp_path / "dev"
    dev.mkdir()
    for name in ("nvidiactl", "nvidia-uvm", "nvidia0", "nvidia1", "nvidia2", "nvidia3"):
        os.mknod(dev / name, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        os.chmod(dev / name, 0o666)  # as the driver's nodes: mknod's mode went through umask
    return dev


@pytest.mark.parametrize("start", STARTS)
def test_a_kernel_sees_only_the_gpu_it_was_given(start, fake_gpus):
    given = kernel_gpu(Gpu(3, "GPU-fake-3", "fake", 80.0), dev=fake_gpus)
    with Kernel(limits=Limits(cell_timeout=30), level=start, gpu_devices=given.devices,
                gpu_visible=given.visible) as kernel:
        seen = look_around(kernel)
        opened = kernel.execute("import os\nos.close(os.open('/dev/nvidia3', os.O_RDWR))\n"
                                "print('opened')", timeout=30)
    assert [name for name in seen["dev"] if name.startswith("nvidia")] == \
        ["nvidia-uvm", "nvidia3", "nvidiactl"]
    assert seen["gpu"] == "GPU-fake-3" and opened.output.strip() == "opened"
    assert seen["mounts"]["/dev/nvidia3"][0] == ["nosuid", "rw"]  # a device: no nodev
