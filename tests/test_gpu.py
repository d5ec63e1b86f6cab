"""GPU facts and decisions, tested on a machine without GPU: parsers fed captured nvidia-smi output."""

from __future__ import annotations

import ast
import contextlib
import json
import multiprocessing
import os
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import nbformat
import pytest

from autograder import gpu, gpu_slots
from autograder.config import KernelStart, load_course
from autograder.errors import AutograderError, ConfigError, GpuUnavailable
from autograder.gpu import (
    NO_GPU_MESSAGE,
    descendants,
    parse_compute_apps,
    parse_gpu_list,
    process_tree,
    resolve_gpu_mode,
    visible_gpus,
)
from autograder.gpu_slots import GpuSlots, gpu_device_nodes, hold_gpu
from autograder.results import QuestionStatus, SubmissionStatus

# Captured on an H100 node while two training processes ran (one on both GPUs) and one under MIG.
COMPUTE_APPS = """\
1234, 1523 MiB
99812, 514 MiB
1234, 12 MiB
4021, [N/A]
"""
GPU_LIST = """\
0, GPU-8f3a9c1e-2b7d-4c55-9e1a-0c7b1f2d3e4a, NVIDIA H100 80GB HBM3, 81559
1, GPU-1d2e3f4a-5b6c-7d8e-9f0a-1b2c3d4e5f6a, NVIDIA H100 80GB HBM3, 81559
"""


def test_compute_apps_are_summed_per_pid_and_na_counts_as_a_user():
    usage = parse_compute_apps(COMPUTE_APPS)
    assert usage == {1234: 1535.0, 99812: 514.0, 4021: 0.0}


def test_compute_apps_ignores_empty_output_and_driver_chatter():
    assert parse_compute_apps("") == {}
    assert parse_compute_apps("No running processes found\n") == {}
    assert parse_compute_apps("pid, used_gpu_memory [MiB]\n77, 300\n") == {77: 300.0}


def test_gpu_list_parses_names_with_commas():
    gpus = parse_gpu_list(GPU_LIST + "2, GPU-ff, Tesla V100-SXM2, 16GB, 16160\nNo devices were found\n")
    assert [g.index for g in gpus] == [0, 1, 2]
    assert gpus[0].name == "NVIDIA H100 80GB HBM3" and gpus[0].memory_mb == 81559
    assert gpus[2].name == "Tesla V100-SXM2, 16GB"


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        (None, [0, 1]),
        ("", []),
        ("-1", []),
        ("1", [1]),
        ("1,0", [1, 0]),
        ("0,7,1", [0]),  # CUDA stops at the first ordinal that does not exist
        ("GPU-1d2e", [1]),
        ("NoDevFiles", []),
    ],
)
def test_cuda_visible_devices_restricts_what_a_shard_counts(variable, expected):
    gpus = parse_gpu_list(GPU_LIST)
    assert [g.index for g in visible_gpus(gpus, variable)] == expected


def test_required_without_gpu_refuses_with_what_to_do():
    with pytest.raises(GpuUnavailable) as caught:
        resolve_gpu_mode("required", 0, path="course.toml")
    text = str(caught.value)
    assert isinstance(caught.value, AutograderError)
    assert text.startswith("course.toml: ")
    assert "no GPU" in text and "GPU runner" in text and 'gpu = "auto"' in text


def test_auto_without_gpu_grades_on_cpu():
    plan = resolve_gpu_mode("auto", 0)
    assert not plan.use_gpu and plan.slots == 0


def test_off_ignores_the_gpus_there_are():
    plan = resolve_gpu_mode("off", 2)
    assert not plan.use_gpu and plan.slots == 0
    assert "off" in plan.reason


@pytest.mark.parametrize("mode", ["auto", "required"])
def test_with_gpus_every_slot_counts(mode):
    plan = resolve_gpu_mode(mode, 2, slots_per_gpu=4)
    assert plan.use_gpu and plan.slots == 8


def test_unknown_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="cuda"):
        resolve_gpu_mode("cuda", 1)


def test_course_requiring_a_gpu_refuses_on_this_cpu_machine(tmp_path, monkeypatch, write_course):
    monkeypatch.setattr(gpu, "detect_gpus", lambda: [])
    course = load_course(write_course(tmp_path, grading={"gpu": "required"}))
    with pytest.raises(GpuUnavailable, match="required"):
        gpu.gpu_plan(course.limits.gpu, course.limits.gpu_slots, path=course.path)
    monkeypatch.setattr(gpu, "detect_gpus", lambda: parse_gpu_list(GPU_LIST))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert gpu.gpu_plan("required", 4).gpus == 1


def test_no_gpu_and_no_nvidia_smi_means_nothing_detected(monkeypatch):
    monkeypatch.setattr(gpu, "_nvml", lambda: None)
    monkeypatch.setattr(gpu.shutil, "which", lambda name: None)
    assert gpu.detect_gpus() == []
    assert gpu.process_gpu_memory([os.getpid()]) == {}


def test_process_gpu_memory_keeps_the_kernel_tree_only(monkeypatch):
    monkeypatch.setattr(gpu, "_nvml", lambda: None)
    monkeypatch.setattr(gpu, "_smi", lambda *args: COMPUTE_APPS)
    assert gpu.process_gpu_memory({1234, 5, 6}) == {1234: 1535.0}
    assert gpu.process_gpu_memory({5, 6}) == {}


def test_descendants_follow_the_tree():
    parents = {10: 1, 11: 10, 12: 11, 13: 11, 20: 1, 21: 20}
    assert descendants(parents, 10) == {10, 11, 12, 13}
    assert descendants(parents, 99) == {99}


def test_process_tree_sees_a_real_child():
    child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(30,))
    child.start()
    try:
        assert {os.getpid(), child.pid} <= process_tree(os.getpid())
    finally:
        child.kill()
        child.join()


def test_device_nodes_of_one_gpu_or_all(tmp_path):
    for name in ("nvidiactl", "nvidia-uvm", "nvidia0", "nvidia1", "nvidia10", "nvidia-modeset"):
        (tmp_path / name).touch()
    every = [p.name for p in gpu_device_nodes(dev=tmp_path)]
    assert every == ["nvidiactl", "nvidia-uvm", "nvidia-modeset", "nvidia0", "nvidia1", "nvidia10"]
    one = [p.name for p in gpu_device_nodes(1, dev=tmp_path)]
    assert one == ["nvidiactl", "nvidia-uvm", "nvidia-modeset", "nvidia1"]
    assert gpu_device_nodes(dev=tmp_path / "empty") == []


def fake_machine(monkeypatch, tmp_path: Path, visible: str | None) -> Path:
    """Four GPUs (node names by minor number, GPU 2's node is nvidia5), CUDA_VISIBLE_DEVICES."""
    gpus = [gpu.Gpu(i, f"GPU-{i}aaa", "H100", 81559.0, minor=5 if i == 2 else i)
            for i in range(4)]
    monkeypatch.setattr(gpu, "detect_gpus", lambda: gpus)
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    dev = tmp_path / "dev"
    dev.mkdir()
    for name in ("nvidiactl", "nvidia-uvm", "nvidia0", "nvidia1", "nvidia3", "nvidia5"):
        (dev / name).touch()
    return dev


def test_a_slurm_task_given_gpu_3_hands_out_gpu_3_only(monkeypatch, tmp_path):
    dev = fake_machine(monkeypatch, tmp_path, "3")
    plan = gpu.gpu_plan("auto", 4)
    assert plan.gpus == 1 and [g.index for g in plan.allotment] == [3]
    with hold_gpu(plan, lock_dir=tmp_path / "slots", dev=dev) as given:
        assert given.index == 3 and given.visible == "GPU-3aaa"
        assert given.devices == ((str(dev / "nvidiactl"), "/dev/nvidiactl"),
                                 (str(dev / "nvidia-uvm"), "/dev/nvidia-uvm"),
                                 (str(dev / "nvidia3"), "/dev/nvidia3"))


def test_the_node_is_found_by_minor_number_and_a_missing_one_is_said(monkeypatch, tmp_path):
    dev = fake_machine(monkeypatch, tmp_path, "2")
    with hold_gpu(gpu.gpu_plan("auto", 4), lock_dir=tmp_path / "slots", dev=dev) as given:
        assert given.index == 2 and given.devices[-1] == (str(dev / "nvidia5"), "/dev/nvidia5")
    (dev / "nvidia5").unlink()
    with pytest.raises(GpuUnavailable, match="nvidia5"):
        with hold_gpu(gpu.gpu_plan("auto", 4), lock_dir=tmp_path / "slots", dev=dev):
            pass


def test_gpu_slots_kernels_share_a_gpu_and_no_more(monkeypatch, tmp_path):
    dev = fake_machine(monkeypatch, tmp_path, "1,3")
    plan = gpu.gpu_plan("auto", 2)
    with contextlib.ExitStack() as held:
        given = [held.enter_context(hold_gpu(plan, lock_dir=tmp_path / "slots", dev=dev)).index
                 for _ in range(4)]
        assert sorted(given) == [1, 1, 3, 3]
        busy = GpuSlots([1, 3], 2, lock_dir=tmp_path / "slots")
        assert busy.acquire(timeout=0.1) is None  # a fifth kernel waits for a free slot
    with hold_gpu(resolve_gpu_mode("off", 2)) as nothing:
        assert nothing is None


def test_slots_bound_concurrency_across_threads_and_spread_over_gpus(tmp_path):
    slots = GpuSlots([0, 1], 2, lock_dir=tmp_path)
    running, peak, seen = [0], [0], []
    lock = threading.Lock()
    full = threading.Barrier(4, timeout=30)  # passes only when 4 kernels hold a slot at once

    def kernel():
        with slots.hold() as index:
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
                seen.append(index)
            full.wait()
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=kernel) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 4 and sorted(seen) == [0] * 4 + [1] * 4 and not full.broken
    # Every slot was given back: another allocator (another worker) can take all four.
    other = GpuSlots([0, 1], 2, lock_dir=tmp_path)
    taken = [other.acquire(timeout=0) for _ in range(4)]
    assert None not in taken
    for key in taken:
        other.release(key)
    first, second = slots.acquire(), slots.acquire()
    assert first[0] != second[0]  # the second kernel goes to the other GPU


def test_no_gpu_hold_gives_none(tmp_path):
    with GpuSlots([], 4, lock_dir=tmp_path).hold() as index:
        assert index is None


def _hold_forever(slots: GpuSlots, ready) -> None:
    slots.acquire()
    ready.set()
    time.sleep(60)


def test_slots_are_shared_with_another_process_and_freed_when_it_is_killed(tmp_path):
    slots = GpuSlots([0], 1, lock_dir=tmp_path)
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    other = ctx.Process(target=_hold_forever, args=(slots, ready))
    other.start()
    try:
        assert ready.wait(30)
        assert slots.acquire(timeout=0.1) is None
        with pytest.raises(TimeoutError):
            with slots.hold(timeout=0.1):
                pass
        os.kill(other.pid, signal.SIGKILL)
        other.join()
        assert slots.acquire(timeout=5) == (0, 0)
    finally:
        other.kill()
        other.join()



# --- scripts/gpu_check.sh: the parts that run without a GPU -----------------------------------

GPU_CHECK = Path(__file__).resolve().parents[1] / "scripts" / "gpu_check.sh"


def _result(sid: str, gpu_used: bool | None, points: float = 20.0) -> dict:
    return {"submission_id": sid, "status": "graded", "points": points, "max_points": 20.0,
            "gpu_used": gpu_used, "device": "cuda", "runtime_s": 4.0,
            "flags": [{"code": "late", "message": ""}, {"code": "late", "message": "again"}]}


def _finished_run(folder: Path, cpu_loop_used: bool) -> None:
    (folder / "timings.txt").write_text("1 100.0 140.0 0\n4 200.0 212.0 0\n")
    for workers in (1, 4):
        hw = folder / f"w{workers}" / "hw3_training"
        hw.mkdir(parents=True)
        for sid, used in (("gpu_loop", True), ("cpu_loop", cpu_loop_used), ("copy01", True),
                          ("copy02", True)):
            (hw / f"{sid}.json").write_text(json.dumps(_result(sid, used)))
    samples = [  # grader 10; kernels 11 and 12 under it; 99 belongs to someone else
        {"t": 0, "grader": 10, "usage": {"10": 5.0, "11": 300.0, "99": 7.0}, "tree": [10, 11]},
        {"t": 1, "grader": 10, "usage": {"11": 500.0, "12": 700.0}, "tree": [11, 12]},
    ]
    (folder / "gpu-w4.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))


def test_gpu_check_report_times_memory_and_detection(tmp_path):
    _finished_run(tmp_path, cpu_loop_used=False)
    done = subprocess.run(["bash", str(GPU_CHECK), "report", str(tmp_path)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    one = next(line for line in lines if line.split()[:2] == ["1", "4"])
    assert one.split()[2:4] == ["40.0", "10.00"] and "none seen" in one
    four = next(line for line in lines if line.split()[:2] == ["4", "4"])
    assert four.split()[2:4] == ["12.0", "3.00"]
    assert "700, 700" in four and four.split()[-2:] == ["2", "0"]  # kernels 11, 12 only
    assert "cpu_loop  gpu_used=False expected False ok" in done.stdout
    assert "late  " not in done.stdout and "late" in done.stdout


def test_gpu_check_report_fails_when_detection_is_wrong(tmp_path):
    _finished_run(tmp_path, cpu_loop_used=True)
    done = subprocess.run(["bash", str(GPU_CHECK), "report", str(tmp_path)], capture_output=True,
                          text=True)
    assert done.returncode == 1 and "WRONG" in done.stdout


def test_gpu_check_prepares_a_loop_with_and_one_without_the_gpu(tmp_path, write_course):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import torch"),
                nbformat.v4.new_code_cell("def get_device():\n    return torch.device('cuda')\n")]
    source = tmp_path / "source" / "hw3_training" / "hw3_training.ipynb"
    source.parent.mkdir(parents=True)
    nbformat.write(nb, source)
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "pair_a.ipynb").write_text(nbformat.writes(nb))
    course = write_course(tmp_path, assignments={"hw3_training": {
        "notebook": "source/hw3_training/hw3_training.ipynb", "due": "2026-11-23T23:59"}})
    env = {**os.environ, "GPU_CHECK_COURSE": str(course), "GPU_CHECK_EXAMPLES": str(examples),
           "GPU_CHECK_COUNT": "5"}
    done = subprocess.run(["bash", str(GPU_CHECK), "prepare", str(tmp_path / "subs")], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in (tmp_path / "subs").iterdir())
    assert names == ["copy01.ipynb", "copy02.ipynb", "cpu_loop.ipynb", "gpu_loop.ipynb",
                     "pair_a.ipynb"]
    cpu = nbformat.read(tmp_path / "subs" / "cpu_loop.ipynb", as_version=4)
    defs = [n for n in ast.parse(cpu.cells[1].source).body if isinstance(n, ast.FunctionDef)]
    assert [d.name for d in defs] == ["get_device", "get_device"]  # the last definition wins
    assert "'cpu'" in ast.unparse(defs[-1])


# --- the no-GPU paths through the grader (one small kernel each) -------------------------------


def _nbgrader(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = False,
              points: float = 0) -> dict:
    meta = {"grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id,
            "schema_version": 3}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def _gpu_course(folder: Path, write_course, mode: str, extra_test: str = ""):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell('TEAM = ["21900101", "21900102"]',
                                  metadata={"autograder": {"team": True}}),
        nbformat.v4.new_code_cell("import math", metadata=_nbgrader("setup", locked=True)),
        nbformat.v4.new_code_cell(
            "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n",
            metadata=_nbgrader("answer_double", solution=True)),
        nbformat.v4.new_code_cell(
            'assert double(2) == 4, "double(2) is 4"\n### BEGIN HIDDEN TESTS\n'
            'with check("doubles", points=1):\n    assert double(3) == 6\n'
            'with check("ran on the GPU", points=1, needs_gpu=True):\n'
            "    assert kernel_used_gpu()\n### END HIDDEN TESTS\n",
            metadata=_nbgrader("test_double", grade=True, locked=True, points=2)),
    ]
    if extra_test:
        nb.cells.append(nbformat.v4.new_code_cell(
            extra_test, metadata=_nbgrader("test_extra", grade=True, locked=True, points=1)))
    source = folder / "source" / "gpuhw" / "gpuhw.ipynb"
    source.parent.mkdir(parents=True)
    nbformat.write(nb, source)
    toml = write_course(
        folder, course={"roster": Path(__file__).resolve().parents[1] / "roster.csv"},
        grading={"gpu": mode, "cell_timeout": 30.0, "notebook_timeout": 60.0},
        assignments={"gpuhw": {"notebook": "source/gpuhw/gpuhw.ipynb", "due": "2026-11-23T23:59",
                               "points": 3 if extra_test else 2}})
    return load_course(toml), source


@pytest.mark.kernel
@pytest.mark.parametrize("mode", ["auto", "off"])
def test_gpu_checks_on_a_cpu_machine_are_reported_not_graded(tmp_path, monkeypatch, mode,
                                                             write_course):
    from autograder.engine import grade_submission

    monkeypatch.setattr(gpu, "detect_gpus", lambda: [])
    course, source = _gpu_course(tmp_path, write_course, mode)
    result = grade_submission(source, course=course, assignment="gpuhw", require_sandbox=False)
    assert result.status == SubmissionStatus.GRADED, result.reason
    checks = {c.name: c for q in result.questions for c in q.checks}
    assert checks["doubles"].status == QuestionStatus.PASSED and checks["doubles"].points == 1
    gpu_check = checks["ran on the GPU"]
    assert gpu_check.status == QuestionStatus.NOT_GRADED and gpu_check.points == 0
    assert gpu_check.message == NO_GPU_MESSAGE and gpu_check.needs_gpu
    assert result.gpu_used is None and result.device == "cpu"


def test_grading_a_gpu_required_course_without_gpu_refuses(tmp_path, monkeypatch, capsys,
                                                          write_course):
    from autograder.cli import EXIT_MACHINE, main

    monkeypatch.setattr(gpu, "detect_gpus", lambda: [])
    course, source = _gpu_course(tmp_path, write_course, "required")
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    (submissions / "pair01.ipynb").write_bytes(source.read_bytes())
    code = main(["--course", str(course.path), "grade", "gpuhw", str(submissions), "--out",
                 str(tmp_path / "results"), "--no-require-sandbox"])
    err = capsys.readouterr().err
    assert code == EXIT_MACHINE  # this machine lacks what the course needs
    assert 'gpu = "required" but this machine has no GPU' in err and "GPU runner" in err
    assert not list((tmp_path / "results").rglob("*.json"))  # nothing graded as failed


SEES_ITS_GPU = """\
def seen():
    import os
    return [os.environ.get("CUDA_VISIBLE_DEVICES"),
            sorted(name for name in os.listdir("/dev") if name.startswith("nvidia"))]
assert in_kernel(seen) == ["GPU-3aaa", ["nvidia-uvm", "nvidia3", "nvidiactl"]], in_kernel(seen)
"""


@pytest.mark.kernel
@pytest.mark.sandbox
def test_a_kernel_graded_on_a_slurm_tasks_gpu_3_gets_gpu_3_alone(tmp_path, monkeypatch,
                                                                 write_course):
    """Fake nodes (character devices that are /dev/null) and variables on this CPU machine."""
    from autograder.engine import grade_submission

    dev = fake_machine(monkeypatch, tmp_path, "3")
    for node in dev.iterdir():
        node.unlink()
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        os.chmod(node, 0o666)
    monkeypatch.setattr(gpu_slots, "DEV", dev)
    monkeypatch.setattr(gpu_slots, "SLOT_DIR", tmp_path / "slots")
    course, source = _gpu_course(tmp_path, write_course, "required", extra_test=SEES_ITS_GPU)
    result = grade_submission(source, course=course, assignment="gpuhw")
    assert result.status == SubmissionStatus.GRADED, result.reason
    assert result.sandbox == KernelStart.TEMPLATE
    assert result.gpu_index == 3 and result.device == "cuda"
    seen = next(q for q in result.questions if q.grade_id == "test_extra")
    assert seen.status == QuestionStatus.PASSED, seen.message
    assert result.gpu_used is False  # no process used a real GPU: measured, not claimed
    assert GpuSlots([3], 1, lock_dir=tmp_path / "slots").acquire(timeout=0) == (3, 0)  # freed
