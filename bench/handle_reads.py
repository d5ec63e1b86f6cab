"""What reading a student's object through handles costs: round trips and time, in a real kernel.

A test written for nbgrader reads objects step by step (`sum(p.numel() for p in m.parameters())`),
each step a round trip to the sandboxed kernel; iteration fetches items in chunks of 1, 2, 4, ...
up to 1024. Measured against one call that returns the same answer as plain data (the baseline):

    python bench/handle_reads.py --runs 20
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autograder import sandbox  # noqa: E402
from autograder.config import Limits  # noqa: E402
from autograder.kernel import Kernel  # noqa: E402
from autograder.link import KernelLink  # noqa: E402
from autograder.student_kernel import BOOT  # noqa: E402

STUDENT = """
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

class MLP(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.hidden = nn.Linear(n_in, n_hidden)
        self.out = nn.Linear(n_hidden, n_out)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x)))

def count_parameters(model):
    return sum(p.numel() for p in model.parameters())

def naturals(n):
    yield from range(n)

def loader():
    data = TensorDataset(torch.randn(6400, 8), torch.randint(0, 3, (6400,)))
    return DataLoader(data, batch_size=64)
"""


def timed(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    level = sandbox.sandbox_level(False)
    with Kernel(limits=Limits(), level=level, prelude=BOOT) as kernel:
        kernel.execute(STUDENT, timeout=60)
        link = KernelLink(kernel, deadline=lambda: time.monotonic() + 600)
        ns = link.names(["MLP", "count_parameters", "naturals", "loader"])
        model = ns["MLP"](6, 16, 3)
        cases = {
            "baseline: count_parameters(m), one call": lambda: ns["count_parameters"](model),
            "sum(p.numel() for p in m.parameters())":
                lambda: sum(p.numel() for p in model.parameters()),
            "isinstance(m, nn.Module) and isinstance(m, MLP)":
                lambda: isinstance(model, __import__("torch").nn.Module)
                and isinstance(model, ns["MLP"]),
            "sum(naturals(10_000)), 10,000 ints": lambda: sum(ns["naturals"](10_000)),
            "for xb, yb in loader(): 100 batches of 64x8": lambda: [
                xb.shape for xb, _ in ns["loader"]()],
        }
        print(f"sandbox: {level}; median of {args.runs} runs")
        base = None
        for name, case in cases.items():
            before = link.requests
            case()
            trips = link.requests - before
            seconds = timed(case, args.runs)
            base = base or seconds
            print(f"{name:<52} {trips:>4} round trips  {1000 * seconds:8.2f} ms  "
                  f"{seconds / base:6.1f}x baseline")


if __name__ == "__main__":
    main()
