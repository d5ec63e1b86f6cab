"""One submission's kernel as the grading walk uses it: started with the agent and the files,
cells run under the notebook's deadline, a dead kernel restarted with what ran before.

What a cell's run means for the submission (an error in cell 4, a timeout, a death) is an
`Outcome`, worded here once so each question can say what happened before its tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import gpu, gpu_slots
from .config import KernelStart, Limits
from .kernel import Kernel
from .link import KernelLink, first_line, withheld
from .messages import RunStatus
from .results import QuestionStatus

AGENT_SOURCE = (Path(__file__).parent / "agent.py").read_text(encoding="utf-8")
# The first cell of a kernel that was not forked from the template (which loads the agent
# itself, template.py): loads the agent, unless it is there, and lets it answer requests.
BOOT = (
    "def __autograder_boot(src):\n"
    "    import sys, types\n"
    "    if '_autograder_agent' not in sys.modules:\n"
    "        m = types.ModuleType('_autograder_agent')\n"
    "        exec(compile(src, '<autograder agent>', 'exec'), m.__dict__)\n"
    "        sys.modules[m.__name__] = m\n"
    "    sys.modules['_autograder_agent'].agent.install(get_ipython().kernel)\n"
    f"__autograder_boot({AGENT_SOURCE!r})\n"
    "del __autograder_boot\n"
)
MAX_RESTARTS = 2
FILES_TIMEOUT_S = 60.0


@dataclass
class Outcome:
    """What happened to the student code run since the last test cell."""

    status: RunStatus = RunStatus.OK
    message: str = ""


# A student's cell that ran out of time or killed its kernel: the status of the question after it.
KERNEL_OUTCOMES = {RunStatus.TIMEOUT: QuestionStatus.TIMEOUT,
                   RunStatus.DIED: QuestionStatus.KERNEL_DIED}


class StudentKernel:
    """The kernel of one submission, restarted (at most MAX_RESTARTS times) when it dies."""

    def __init__(self, *, limits: Limits, level: KernelStart, gpu: gpu_slots.KernelGpu | None,
                 use_gpu: bool, deadline: float, files: list[tuple[str, bytes]],
                 hidden_code: frozenset[str], notebook_name: str):
        self.limits, self.use_gpu, self.deadline = limits, use_gpu, deadline
        self.files, self.hidden_code, self.notebook_name = files, hidden_code, notebook_name
        # A kernel forked from the template has the agent already: no first cell to run.
        self.kernel = Kernel(limits=limits, level=level,
                             gpu_devices=gpu.devices if gpu else (),
                             gpu_visible=gpu.visible if gpu else "", threads=1,
                             prelude="" if level == KernelStart.TEMPLATE else BOOT)
        self.replay: list[str] = []  # student and instructor code that ran fine, for a restart
        self.gpu_seen = False
        self.truncated = False
        self.timed_out = False  # a cell ran past the notebook's deadline

    # life ----------------------------------------------------------------------------------
    def start(self) -> None:
        self.kernel.start()
        try:
            self._place_files()
        except BaseException:
            self.kernel.close()
            raise

    def _place_files(self) -> None:
        """The files beside the notebook, into the kernel's work dir, before any cell runs."""
        if not self.files:
            return
        try:
            KernelLink(self.kernel, deadline=lambda: time.monotonic() + FILES_TIMEOUT_S
                       ).put_files(self.files)
        except Exception as exc:
            raise RuntimeError(f"the files beside {self.notebook_name} could not be put in "
                               f"the kernel's work dir ({type(exc).__name__}: {first_line(exc)}); "
                               "are they bigger than grading.disk_mb?") from None

    @property
    def dead(self) -> bool:
        return self.kernel.box is None

    def revive(self) -> bool:
        """A fresh kernel with everything that ran fine so far, so later questions are graded;
        False when it cannot be (restarts spent, the cage refused, the replay died)."""
        self.note_gpu()
        self.kernel.close()
        if self.kernel.starts > MAX_RESTARTS:
            return False
        try:
            self.kernel.start()
            self._place_files()
        except RuntimeError:
            return False
        for code in self.replay:
            run = self.kernel.execute(code, timeout=self.cell_budget())
            if run.status in (RunStatus.DIED, RunStatus.TIMEOUT):
                self.kernel.close()
                return False
        return True

    def close(self, teardown: list[Callable[[], None]] | None = None) -> None:
        """Stop the kernel; its sandbox is freed now, or appended to `teardown` to be freed once
        the result is out (a batch's fork does that)."""
        self.note_gpu()
        box = self.kernel.stop()
        if box is not None:
            if teardown is None:
                box.close()
            else:
                teardown.append(box.close)

    # what it used ------------------------------------------------------------------------------
    def cell_budget(self) -> float:
        return max(0.0, min(self.limits.cell_timeout, self.deadline - time.monotonic()))

    def note_gpu(self) -> None:
        if self.use_gpu and self.kernel.alive():
            if gpu.process_gpu_memory(self.kernel.pids()):
                self.gpu_seen = True

    def used_gpu(self) -> bool:
        self.note_gpu()
        return self.gpu_seen

    # cells -----------------------------------------------------------------------------------
    def run_cell(self, code: str, where: str) -> Outcome:
        """Run one cell in the kernel; a dead kernel is restarted for the cells after it."""
        if self.dead and not self.revive():
            return Outcome(RunStatus.DIED, "the kernel died and could not be restarted")
        budget = self.cell_budget()
        if budget <= 0:
            self.timed_out = True
            return Outcome(RunStatus.TIMEOUT, f"the notebook ran past its "
                                         f"{self.limits.notebook_timeout:g} s limit")
        run = self.kernel.execute(code, timeout=budget)
        self.truncated = self.truncated or run.truncated
        outcome = Outcome()
        if run.status == RunStatus.OK:
            self.replay.append(code)
        elif run.status == RunStatus.ERROR:
            # The student's text, capped, and never hidden test code their kernel saw before.
            text = ("[text withheld: it holds hidden test code]"
                    if withheld(run.evalue, self.hidden_code) else first_line(run.evalue))
            outcome = Outcome(RunStatus.ERROR, f"{where} raised {first_line(run.ename, 100)}"
                                     + (f": {text}" if text else ""))
        elif run.status == RunStatus.TIMEOUT:
            outcome = Outcome(RunStatus.TIMEOUT, f"{where} ran past its "
                                            f"{self.limits.cell_timeout:g} s limit")
            if time.monotonic() >= self.deadline:
                self.timed_out = True
        elif run.status == RunStatus.DIED:
            outcome = Outcome(RunStatus.DIED, f"the kernel died in {where}"
                              + (" (memory limit)" if self.kernel.oom_killed else ""))
        if self.dead:
            self.revive()
        return outcome
