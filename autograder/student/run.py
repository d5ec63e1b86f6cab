"""Running a student's cells for the check: a whole notebook in a fresh local kernel (nbclient),
or the visible test cells in the student's own live namespace. Each reports per cell as it goes,
so that a long check shows its progress.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import KernelError
from .manifest import TestCell
from .summary import Outcome

if TYPE_CHECKING:
    from nbformat import NotebookNode

TIMEOUT_ENAME = "CellTimeout"  # our marker for nbclient's timeout reply
OnCell = Callable[[int, Outcome], None]  # (0-based cell index, what running it gave)


def outcome_of(content: dict[str, Any] | None) -> Outcome:
    """A cell's outcome from its execute_reply content (None: the cell never ran)."""
    if content is None:
        return Outcome(ran=False)
    if content.get("status") == "error":
        ename = str(content.get("ename", "Error"))
        return Outcome(error=(ename, str(content.get("evalue", ""))),
                       timed_out=ename == TIMEOUT_ENAME)
    return Outcome()


def execute_notebook(nb: NotebookNode, *, timeout: float, cwd: Path,
                     kernel_name: str = "python3",
                     on_cell: OnCell | None = None) -> dict[int, Outcome]:
    """Run every cell in a fresh local kernel, errors allowed; the outcome of each code cell.
    A kernel that cannot start is a KernelError; one that dies midway leaves the rest not run."""
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    replies: dict[int, dict[str, Any]] = {}

    def record(cell: Any, cell_index: int, execute_reply: dict[str, Any], **_: Any) -> None:
        replies[cell_index] = execute_reply.get("content", {})
        if on_cell is not None and cell.get("source", "").strip():
            on_cell(cell_index, outcome_of(replies[cell_index]))

    client = NotebookClient(
        nb, timeout=int(max(1, timeout)), allow_errors=True, kernel_name=kernel_name,
        interrupt_on_timeout=True,
        error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": f"over {timeout:g} s",
                          "traceback": []},
        resources={"metadata": {"path": str(cwd)}}, on_cell_executed=record,
    )
    try:
        # The kernel's own stderr is start-up chatter; what the cells print comes over iopub.
        client.execute(stderr=subprocess.DEVNULL)
    except DeadKernelError:
        pass  # the cells after it did not run: their outcome says so
    except NoSuchKernel:
        raise KernelError(f"no Jupyter kernel named {kernel_name!r} is installed here",
                          hint="install one with `pip install ipykernel` (in the environment "
                               "that has your homework's packages), or see "
                               "`jupyter kernelspec list`") from None
    except (RuntimeError, TimeoutError) as exc:
        if replies:
            raise  # not a start-up failure
        raise KernelError(f"the {kernel_name!r} kernel did not start: {exc}",
                          hint="run `python -m ipykernel --version` in the same environment; "
                               "reinstall ipykernel if it fails") from None
    return {i: outcome_of(replies.get(i)) for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and cell.source.strip()}


def run_in_namespace(tests: list[TestCell], namespace: dict[str, Any], shell: Any = None, *,
                     on_test: OnCell | None = None,
                     before_test: Callable[[TestCell], None] | None = None,
                     ) -> dict[int, Outcome]:
    """Run test cells' sources in a live namespace (the student's kernel), one at a time,
    catching what each raises. `shell` (IPython) turns magics into Python first."""
    outcomes = {}
    for test in tests:
        if before_test is not None:
            before_test(test)
        try:
            source = shell.transform_cell(test.source) if shell is not None else test.source
            exec(compile(source, f"<test cell {test.index + 1}>", "exec"), namespace)
        except Exception as exc:  # the student's code may raise anything
            outcomes[test.index] = Outcome(error=(type(exc).__name__, str(exc)))
        else:
            outcomes[test.index] = Outcome()
        if on_test is not None:
            on_test(test.index, outcomes[test.index])
    return outcomes
