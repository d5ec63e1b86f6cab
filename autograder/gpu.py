"""GPU facts measured outside the kernel: which GPUs exist, which processes use them, who shares one."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .config import GpuMode
from .errors import ConfigError, GpuUnavailable

__all__ = ["NO_GPU_MESSAGE", "Gpu", "GpuPlan", "GpuUnavailable", "allotment", "detect_gpus",
           "gpu_plan", "process_gpu_memory", "resolve_gpu_mode", "visible_gpus"]

# What a check with needs_gpu=True reports where no GPU is given to the kernels: never passed,
# never silently failed.
NO_GPU_MESSAGE = "not graded (no GPU)"

_SMI_TIMEOUT = 20.0  # seconds; nvidia-smi can hang on a wedged driver, grading must not


@dataclass(frozen=True)
class Gpu:
    index: int  # the machine's numbering (nvidia-smi, NVML)
    uuid: str
    name: str
    memory_mb: float
    minor: int | None = None  # N of its device node /dev/nvidiaN; the index where unknown

    @property
    def node(self) -> str:
        return f"nvidia{self.index if self.minor is None else self.minor}"


@dataclass(frozen=True)
class GpuPlan:
    """How one grading run uses GPUs; decided once, before any kernel starts."""

    mode: GpuMode  # from course.toml [grading] gpu
    gpus: int  # GPUs handed to kernels; 0 = everything runs on the CPU
    slots_per_gpu: int  # kernels sharing one GPU at once
    reason: str  # one line for the log and the result: why the GPU is or is not used
    allotment: tuple[Gpu, ...] = ()  # the GPUs this grader may hand out (CUDA_VISIBLE_DEVICES)

    @property
    def use_gpu(self) -> bool:
        return self.gpus > 0

    @property
    def slots(self) -> int:
        """Kernels that may hold a GPU at the same time on this machine."""
        return self.gpus * self.slots_per_gpu


def resolve_gpu_mode(mode: GpuMode | str, available: int, *, slots_per_gpu: int = 4,
                     path: Path | str | None = None) -> GpuPlan:
    """Decide the GpuPlan from the course's gpu mode and the GPUs this machine has.

    `required` without a GPU refuses to grade at all: grading a GPU homework on the CPU would give
    every pair "not graded" on the GPU checks, which an instructor who wrote `required` does not want.
    """
    if mode not in tuple(GpuMode):
        raise ConfigError(f"grading.gpu = {mode!r} is not one of {', '.join(GpuMode)}",
                          path=path)
    mode = GpuMode(mode)
    if slots_per_gpu < 1:
        raise ConfigError("grading.gpu_slots must be positive", path=path)
    if mode == GpuMode.OFF:
        return GpuPlan(mode, 0, slots_per_gpu, 'gpu = "off" in course.toml: kernels run on the CPU')
    if available <= 0:
        if mode == GpuMode.REQUIRED:
            raise GpuUnavailable(
                'course.toml sets gpu = "required" but this machine has no GPU',
                path=path,
                hint='grade on a GPU runner (the "gpu" self-hosted runners of grade.yml, or '
                     'autograder/slurm/submit.sh on the cluster), or set gpu = "auto" under '
                     '[grading] to grade on the CPU and report GPU checks as "not graded"',
            )
        return GpuPlan(mode, 0, slots_per_gpu, "no GPU on this machine: kernels run on the CPU")
    plural = "s" if available > 1 else ""
    return GpuPlan(mode, available, slots_per_gpu,
                   f"{available} GPU{plural}, {slots_per_gpu} kernel(s) per GPU")


# --- what the machine has --------------------------------------------------------------------


def visible_gpus(gpus: list[Gpu], cuda_visible_devices: str | None) -> list[Gpu]:
    """The GPUs a process may use under CUDA_VISIBLE_DEVICES (Slurm and CI runners set it).

    NVML and nvidia-smi list every GPU of the machine, whatever the variable says; a Slurm task
    given one GPU of eight must count one.
    """
    if cuda_visible_devices is None:
        return list(gpus)
    chosen = []
    for item in (part.strip() for part in cuda_visible_devices.split(",")):
        if not item:
            continue
        if item.lstrip("-").isdigit():
            if int(item) < 0:
                break  # CUDA stops at the first invalid ordinal
            match = [g for g in gpus if g.index == int(item)]
        else:  # a UUID or its unique prefix ("GPU-8f3a")
            match = [g for g in gpus if g.uuid.startswith(item)]
        if not match:
            break
        if match[0] not in chosen:
            chosen.append(match[0])
    return chosen


def parse_gpu_list(text: str) -> list[Gpu]:
    """Parse `nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits`."""
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4 or not parts[0].isdigit():
            continue  # "No devices were found" and other driver chatter
        gpus.append(Gpu(int(parts[0]), parts[1], ", ".join(parts[2:-1]), _mib(parts[-1])))
    return gpus


def parse_compute_apps(text: str) -> dict[int, float]:
    """Parse `nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader` into MiB per pid.

    A process on two GPUs is listed twice and counted once with the sum. Memory shown as [N/A]
    (MIG, some containers) still counts the process as a GPU user, with 0 MiB.
    """
    usage: dict[int, float] = {}
    for line in text.splitlines():
        pid_text, _, memory = line.partition(",")
        if not pid_text.strip().isdigit():
            continue
        pid = int(pid_text)
        usage[pid] = usage.get(pid, 0.0) + _mib(memory)
    return usage


def _mib(text: str) -> float:
    number = re.match(r"\s*([0-9.]+)\s*(MiB)?\s*$", text)
    return float(number.group(1)) if number else 0.0


def _nvml():
    """pynvml (from the nvidia-ml-py package) initialised, or None where there is no NVML."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...: no usable GPU here
        return None
    return pynvml


def _smi(*args: str) -> str | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, *args], capture_output=True, text=True,
                              timeout=_SMI_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def detect_gpus() -> list[Gpu]:
    """Every GPU of the machine, through NVML where importable, else nvidia-smi; [] when none."""
    nvml = _nvml()
    if nvml is not None:
        try:
            gpus = []
            for index in range(nvml.nvmlDeviceGetCount()):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                name, uuid = nvml.nvmlDeviceGetName(handle), nvml.nvmlDeviceGetUUID(handle)
                try:
                    minor = int(nvml.nvmlDeviceGetMinorNumber(handle))
                except Exception:  # not on every platform: the node is then named by index
                    minor = None
                gpus.append(Gpu(
                    index,
                    uuid.decode() if isinstance(uuid, bytes) else uuid,
                    name.decode() if isinstance(name, bytes) else name,
                    nvml.nvmlDeviceGetMemoryInfo(handle).total / 2**20,
                    minor,
                ))
            return gpus
        except Exception:
            pass  # fall back to nvidia-smi, which reports the same through another path
        finally:
            nvml.nvmlShutdown()
    text = _smi("--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader,nounits")
    return parse_gpu_list(text or "")


def allotment() -> list[Gpu]:
    """The GPUs this grader may hand to kernels: the machine's, CUDA_VISIBLE_DEVICES applied.

    A Slurm task given GPU 3 grades on GPU 3 only, whatever else the machine has.
    """
    return visible_gpus(detect_gpus(), os.environ.get("CUDA_VISIBLE_DEVICES"))


def gpu_plan(mode: GpuMode | str, slots_per_gpu: int, *, path: Path | str | None = None) -> GpuPlan:
    """The plan for this machine: `gpu_plan(course.limits.gpu, course.limits.gpu_slots)`."""
    gpus = allotment() if mode != GpuMode.OFF else []
    plan = resolve_gpu_mode(mode, len(gpus), slots_per_gpu=slots_per_gpu, path=path)
    return dataclasses.replace(plan, allotment=tuple(gpus)) if plan.use_gpu else plan


# --- which processes use a GPU ---------------------------------------------------------------


def all_gpu_memory() -> dict[int, float]:
    """MiB of GPU memory per pid, for every process with a CUDA context on any GPU."""
    nvml = _nvml()
    if nvml is not None:
        try:
            usage: dict[int, float] = {}
            for index in range(nvml.nvmlDeviceGetCount()):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                for proc in nvml.nvmlDeviceGetComputeRunningProcesses(handle):
                    used = proc.usedGpuMemory or 0  # None where the driver cannot tell
                    usage[proc.pid] = usage.get(proc.pid, 0.0) + used / 2**20
            return usage
        except Exception:
            pass
        finally:
            nvml.nvmlShutdown()
    text = _smi("--query-compute-apps=pid,used_memory", "--format=csv,noheader")
    return parse_compute_apps(text or "")


def process_gpu_memory(pids: Iterable[int]) -> dict[int, float]:
    """MiB of GPU memory of those of `pids` that hold a CUDA context; the others are absent.

    Pids are those of the pid namespace the grader runs in (NVML translates them there), so
    pass the pids of the kernel's process tree as the grader sees them (`process_tree`), not the
    ones the kernel sees inside its own pid namespace. A CUDA context lives until its process
    exits, so one look before the kernel shuts down tells whether it ever used the GPU.
    """
    wanted = set(pids)
    return {pid: mib for pid, mib in all_gpu_memory().items() if pid in wanted}


def descendants(parents: Mapping[int, int], root: int) -> set[int]:
    """`root` and every process below it, from a pid → parent pid map."""
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in tree:
            tree.add(pid)
            todo.extend(children.get(pid, ()))
    return tree


def process_tree(root: int, proc: Path = Path("/proc")) -> set[int]:
    """`root` and its descendants as this process sees them (e.g. bwrap and the kernel under it)."""
    parents = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        # The command name may hold spaces and parentheses: the fields start after the last ")".
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1:
            parents[int(entry.name)] = int(fields[1])
    return descendants(parents, root)
