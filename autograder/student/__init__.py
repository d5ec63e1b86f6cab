"""Students' own check: run a notebook's visible tests and say, per question, where it stands.

Two ways in. From a shell, `autograder check NOTEBOOK` runs the whole notebook in a fresh local
kernel (nbclient), as "Restart and run all" would. From inside a running notebook (Jupyter,
VS Code, Google Colab, `jupyter nbconvert --execute`), `from autograder.student import check;
check()` reads the notebook's content and runs each visible test cell in the kernel's own
namespace. This is feedback on the student's own machine, not a grade: the grader runs the hidden
tests in a sandbox.

The student side needs nbformat, nbclient, a kernel and rich, never the grader's stack (nbgrader,
torch, a Jupyter server), and runs on Python 3.9+ (pyproject.toml says why).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AutograderError, SubmissionError
from ..notebook import read_notebook
from .manifest import Manifest, find_test_cells, manifest_of, team_problems
from .report import LineProgress, NotebookProgress, render_html, render_summary
from .run import execute_notebook, run_in_namespace
from .summary import CheckSummary, Outcome, QuestionRow, RowStatus, summarise

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = [
    "CheckSummary", "Outcome", "QuestionRow", "RowStatus", "check", "check_here", "check_notebook",
    "find_test_cells", "manifest_of",
    "notebook_path_from", "render_html", "render_summary", "run_in_namespace", "summarise",
    "team_problems",
]
MAX_NOTEBOOK_BYTES = 50_000_000  # a notebook found by looking around is read only below this


def _release_manifest(release: Path | str | None) -> Manifest | None:
    return manifest_of(read_notebook(release)) if release is not None else None


def check_notebook(path: Path | str, *, timeout: float = 120.0,
                   release: Path | str | None = None, kernel_name: str = "python3",
                   progress: bool | Callable[[int, Outcome], None] = False) -> CheckSummary:
    """Run the notebook at `path` in a fresh kernel and report per question (the CLI's entry).
    `progress`: True for a line per test cell on stderr, or a callback (cell index, outcome)."""
    import nbformat

    path = Path(path)
    nb = read_notebook(path)
    manifest = _release_manifest(release) or manifest_of(nb)
    on_cell = progress if callable(progress) else None
    if progress is True:
        on_cell = LineProgress(find_test_cells(nb, manifest)[0], name=path.name)
    run = nbformat.from_dict(json.loads(json.dumps(nb)))  # executed copy; `nb` stays as saved
    outcomes = execute_notebook(run, timeout=timeout, cwd=path.resolve().parent,
                                kernel_name=kernel_name, on_cell=on_cell)
    return summarise(nb, outcomes, notebook=path.name, manifest=manifest)


def notebook_path_from(user_ns: Mapping[str, Any], environ: Mapping[str, str],
                       cwd: Path) -> Path | None:
    """The running notebook's file, from what VS Code and Jupyter leave in the kernel."""
    for value in (user_ns.get("__vsc_ipynb_file__"), user_ns.get("__session__"),
                  environ.get("JPY_SESSION_NAME")):
        if not isinstance(value, str) or not value.endswith(".ipynb"):
            continue
        path = Path(value)
        for candidate in (path if path.is_absolute() else cwd / path, cwd / path.name):
            if candidate.is_file():
                return candidate
    return None


def notebook_holding(source: str, cwd: Path) -> list[Path]:
    """The notebooks in `cwd` with a code cell whose source is `source`: where the cell now
    running (IPython's last input) comes from, when nothing names the file (`jupyter nbconvert
    --execute`, the classic notebook)."""
    wanted = source.strip()
    found = []
    for path in sorted(cwd.glob("*.ipynb")):
        try:
            if not wanted or path.stat().st_size > MAX_NOTEBOOK_BYTES:
                continue
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError, AttributeError):
            continue
        for cell in cells if isinstance(cells, list) else []:
            text = cell.get("source", "") if isinstance(cell, dict) else ""
            text = "".join(text) if isinstance(text, list) else text
            if cell.get("cell_type") == "code" and isinstance(text, str) \
                    and text.strip() == wanted:
                found.append(path)
                break
    return found


def _colab_notebook() -> NotebookNode | None:
    try:
        from google.colab import _message  # type: ignore[import-not-found]
    except ImportError:
        return None
    import nbformat

    reply = _message.blocking_request("get_ipynb", request="", timeout_sec=60)
    if not reply or "ipynb" not in reply:
        return None
    return nbformat.reads(json.dumps(reply["ipynb"]), as_version=4)


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return shell if shell is not None and hasattr(shell, "user_ns") else None


def check(notebook: Path | str | None = None, *, timeout: float = 120.0,
          release: Path | str | None = None) -> None:
    """Check a notebook and show the report (the summary itself: check_here / check_notebook).

    In a running notebook: `check()` runs the visible tests in this kernel, on the answers as
    they are now in memory (run all cells first). Elsewhere: `check("hw1_features.ipynb")`
    runs the whole notebook in a fresh kernel. A problem that stops the check (no notebook
    found, an unreadable file) is said in one message, not a traceback.
    """
    shell = _shell()
    try:
        if shell is None:
            if notebook is None:
                raise AutograderError("which notebook? call check('path/to/notebook.ipynb')")
            summary = check_notebook(notebook, timeout=timeout, release=release, progress=True)
        else:
            summary = check_here(shell, notebook, release, progress=True)
    except AutograderError as exc:
        print(f"check: {exc}", file=sys.stderr)
        return None
    _show(summary, in_notebook=shell is not None)
    return None


def _show(summary: CheckSummary, *, in_notebook: bool) -> None:
    plain = render_summary(summary, rich=not in_notebook and sys.stdout.isatty())
    if in_notebook:
        from IPython.display import display

        display({"text/html": render_html(summary), "text/plain": plain}, raw=True)
    else:
        print(plain, end="")


def check_here(shell: Any, notebook: Path | str | None = None,
               release: Path | str | None = None, *, progress: bool = False) -> CheckSummary:
    """Run the visible tests in the live kernel of `shell` (IPython's), on the notebook as saved
    (or as Colab holds it)."""
    note = ""
    if notebook is not None:
        nb, name = read_notebook(notebook), Path(notebook).name
    elif (colab := _colab_notebook()) is not None:
        nb, name = colab, "this notebook"
    else:
        path = _find_running_notebook(shell)
        nb, name = read_notebook(path), path.name
        note = f"read {path.name} as last saved: save it (Ctrl+S) so the team cell is current"
    manifest = _release_manifest(release) or manifest_of(nb)
    tests, _ = find_test_cells(nb, manifest)
    shown = NotebookProgress(tests) if progress and tests else None
    try:
        outcomes = run_in_namespace(tests, shell.user_ns, shell,
                                    before_test=shown.before if shown else None)
    finally:
        if shown is not None:
            shown.close()
    summary = summarise(nb, outcomes, notebook=name, manifest=manifest, live=True)
    if note:
        summary.notes.append(note)
    return summary


def _find_running_notebook(shell: Any) -> Path:
    cwd = Path.cwd()
    path = notebook_path_from(shell.user_ns, os.environ, cwd)
    if path is not None:
        return path
    # The cell running now is IPython's last input (raw: as typed, magics included).
    inputs = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None) \
        or shell.user_ns.get("In")
    current = inputs[-1] if isinstance(inputs, list) and inputs else ""
    found = notebook_holding(current, cwd) if isinstance(current, str) else []
    if len(found) == 1:
        return found[0]
    names = ", ".join(p.name for p in found)
    raise SubmissionError(
        f"cannot tell which file this notebook is{f' (it could be {names})' if found else ''}",
        hint="save the notebook, or pass its path: check('hw1_features.ipynb'), in this "
             "notebook's folder",
    )

