"""Handing GPUs to kernels: `gpu_slots` kernels per GPU of the grader's allotment, one GPU each.

A kernel holds a slot for its whole grading and sees only its GPU: the control nodes and that
GPU's node in its cage's /dev, and CUDA_VISIBLE_DEVICES naming it. Slots are lock files shared by
every grader of the machine, so two graders given the same GPU share its slots too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import GpuUnavailable
from .gpu import Gpu, GpuPlan

DEV = Path("/dev")
SLOT_DIR = Path(tempfile.gettempdir()) / "autograder-gpu-slots"
_CONTROL_NODES = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")


@dataclass(frozen=True)
class KernelGpu:
    """The GPU one kernel is given."""

    index: int  # the machine's index, recorded in the result
    devices: tuple[tuple[str, str], ...]  # (node on the host, path in the cage)
    visible: str  # CUDA_VISIBLE_DEVICES in the cage


def gpu_device_nodes(gpu: int | None = None, dev: Path | None = None) -> list[Path]:
    """Device nodes a kernel needs for CUDA: the control nodes and one GPU's node, or all of them.

    The driver's libraries come with /usr; /dev/nvidia-caps holds the MIG capability nodes where
    MIG is on. [] when the GPU has no node here.
    """
    dev = dev or DEV
    nodes = [dev / name for name in _CONTROL_NODES if (dev / name).exists()]
    gpu_nodes = sorted((p for p in dev.glob("nvidia[0-9]*") if p.name[6:].isdigit()),
                       key=lambda p: int(p.name[6:]))
    if gpu is not None:
        gpu_nodes = [p for p in gpu_nodes if p.name == f"nvidia{gpu}"]
    caps = dev / "nvidia-caps"
    extra = sorted(caps.iterdir()) if caps.is_dir() else []
    return nodes + gpu_nodes + extra if gpu_nodes else []


def kernel_gpu(gpu: Gpu, dev: Path | None = None) -> KernelGpu:
    """What a kernel given `gpu` gets: its nodes at /dev/... in the cage, the variable naming it."""
    dev = dev or DEV
    minor = gpu.index if gpu.minor is None else gpu.minor
    nodes = gpu_device_nodes(minor, dev)
    if not nodes:
        raise GpuUnavailable(f"GPU {gpu.index} has no device node {dev / gpu.node}",
                             hint="check the NVIDIA driver (nvidia-smi) on this machine")
    devices = tuple((str(node), "/dev/" + str(node.relative_to(dev))) for node in nodes)
    # The UUID pins the same GPU whatever the CUDA numbering; inside, it is the only one anyway.
    return KernelGpu(gpu.index, devices, gpu.uuid or "0")


@contextlib.contextmanager
def hold_gpu(plan: GpuPlan, *, index: int | None = None, lock_dir: Path | None = None,
             dev: Path | None = None) -> Iterator[KernelGpu | None]:
    """`with hold_gpu(plan) as gpu:` one GPU of the allotment for one kernel; None without GPU.

    Waits for a free slot. A caller that already holds a slot passes its `index`.
    """
    if not plan.use_gpu:
        yield None
        return
    gpus = {g.index: g for g in plan.allotment} or {i: Gpu(i, "", "", 0.0)
                                                   for i in range(plan.gpus)}
    if index is not None:
        yield kernel_gpu(gpus.get(index, Gpu(index, "", "", 0.0)), dev)
        return
    slots = GpuSlots(sorted(gpus), plan.slots_per_gpu, lock_dir=lock_dir or SLOT_DIR)
    with slots.hold() as held:
        assert held is not None  # slots over a GPU or more: None only where there is none
        yield kernel_gpu(gpus[held], dev)


class GpuSlots:
    """Lets up to `per_gpu` kernels share each GPU of `gpus`; safe across threads and processes.

    Each slot is a lock file held with flock: a worker that dies, even by SIGKILL, frees its slot
    with its file descriptor, so a crashed submission never leaks a GPU slot. Allocators in
    several processes share the slots through the same `lock_dir`.
    """

    def __init__(self, gpus: Sequence[int], per_gpu: int, *, lock_dir: Path | str,
                 poll_s: float = 0.05) -> None:
        if per_gpu < 1 or any(g < 0 for g in gpus):
            raise ValueError("GPU indexes must be >= 0 and per_gpu >= 1")
        self.gpus, self.per_gpu, self.poll_s = list(gpus), per_gpu, poll_s
        self.lock_dir = Path(lock_dir)
        self.lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Slot j of every GPU before slot j+1 of any: load spreads over the GPUs.
        self._order = [(gpu, slot) for slot in range(per_gpu) for gpu in self.gpus]
        self._held: dict[tuple[int, int], int] = {}
        self._lock = threading.Lock()

    def _try(self, key: tuple[int, int]) -> bool:
        fd = os.open(self.lock_dir / f"gpu{key[0]}-slot{key[1]}.lock", os.O_RDWR | os.O_CREAT,
                     0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        with self._lock:
            self._held[key] = fd
        return True

    def acquire(self, timeout: float | None = None) -> tuple[int, int] | None:
        """Take a free slot: (gpu index, slot number); None when timed out or there is no GPU."""
        if not self._order:
            return None
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            for key in self._order:
                with self._lock:
                    if key in self._held:
                        continue  # held by another thread of ours
                if self._try(key):
                    return key
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(self.poll_s)

    def release(self, key: tuple[int, int]) -> None:
        with self._lock:
            fd = self._held.pop(key)
        os.close(fd)  # closing the descriptor drops the flock

    @contextlib.contextmanager
    def hold(self, timeout: float | None = None) -> Iterator[int | None]:
        """`with slots.hold() as gpu:` gives a GPU index for one kernel, or None without GPUs."""
        key = self.acquire(timeout)
        if key is None and self._order:
            raise TimeoutError(f"no GPU slot free within {timeout} s")
        try:
            yield None if key is None else key[0]
        finally:
            if key is not None:
                self.release(key)
