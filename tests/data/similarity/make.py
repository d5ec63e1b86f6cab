"""Write submissions/: hw2_mlp notebooks for the similarity tests, from the committed release.

Honest pairs (alpha, beta, gamma: independent correct solutions, see solutions.py), planted
copies (alpha renamed with its functions reordered; beta with other comments, docstrings and
spacing, and hostile HTML in a comment and in the team; half of gamma with delta's own second
half, saved by an editor that dropped the cell metadata), the release with only the team filled
in, and a file that is not a notebook. Every solution is checked against the instructor's before
anything is written. Run: python tests/data/similarity/make.py
"""

from __future__ import annotations

import copy
import io
import re
import sys
import textwrap
import tokenize
from pathlib import Path

import nbformat
import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from solutions import ALPHA, BETA, DELTA, GAMMA, SOLUTIONS  # noqa: E402

from autograder.notebook import END_SOLUTION, write_notebook  # noqa: E402

RELEASE = ROOT / "release" / "hw2_mlp" / "hw2_mlp.ipynb"
SOURCE = ROOT / "source" / "hw2_mlp" / "hw2_mlp.ipynb"
STUB = re.compile(r"(?m)^(?P<indent>[ \t]*)# YOUR CODE HERE\n[ \t]*raise NotImplementedError\(\)")
HOSTILE_TEXT = '</pre><script>alert("similarity")</script><img src=x onerror=alert(1)>'
HOSTILE_ID = "21900110</td><script>alert(1)</script>"

# The copier of alpha renames every local name it can without touching a graded signature.
RENAMES = {
    "rng": "gen", "layer": "level", "fan_in": "n_in", "fan_out": "n_out", "L": "depth",
    "h": "act", "delta": "err", "grads": "gradients", "perm": "order", "idx": "chosen",
    "history": "per_epoch", "running": "acc", "seen": "count", "opt": "optimizer",
    "criterion": "loss_function", "modules": "parts", "it": "walker", "shifted": "moved",
    "up": "plus", "down": "minus", "probs": "p", "log_sum": "lse", "X_t": "inputs",
    "y_t": "targets", "gen": "shuffler",
}


def fill(release: nbformat.NotebookNode, answers: dict[str, list[str]],
         team: list[str]) -> nbformat.NotebookNode:
    """The release with `answers` in place of its stubs (in order) and the team filled in."""
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        if "TEAM = [" in cell.source:
            cell.source = re.sub(r"TEAM = \[.*\]", "TEAM = " + repr(team).replace("'", '"'),
                                 cell.source)
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            bodies = iter(answers[grade_id])
            cell.source = STUB.sub(
                lambda m: textwrap.indent(next(bodies).strip("\n"), m["indent"]), cell.source)
    return nb


def rename(source: str, renames: dict[str, str]) -> str:
    """Names renamed where they are names (not in strings), all at once (so `rng` -> `gen` is
    not then renamed `shuffler`)."""
    lines = source.split("\n")
    names = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
             if t.type == tokenize.NAME and t.string in renames]
    for t in reversed(names):
        row, col = t.start
        line = lines[row - 1]
        lines[row - 1] = line[:col] + renames[t.string] + line[col + len(t.string):]
    return "\n".join(lines)


def reorder(source: str) -> str:
    """The cell's top-level definitions in reverse order."""
    return "\n\n\n".join(reversed(source.split("\n\n\n")))


def recomment(source: str, n: int) -> str:
    """Other comments, docstrings and spacing: what a copier changes to hide a copy."""
    out = []
    for i, line in enumerate(source.split("\n")):
        stripped = line.strip()
        indent = line[: len(line) - len(stripped)]
        if stripped.startswith('"""'):
            out.append(f'{indent}"""Our own version ({n}): see the lecture notes."""')
            continue
        line = re.sub(r"\s*=\s*(?!=)", "  =  ", line, count=1) if " = " in line else line
        if i % 3 == 1 and stripped and not stripped.startswith(("def ", "class ", "@")):
            out.append(f"{indent}# step {i}: {HOSTILE_TEXT if i == 4 else 'as in class'}")
        out.append(line + ("    # checked" if i % 4 == 2 and stripped else ""))
        if i % 5 == 0:
            out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------- the solutions are correct

def _reference_namespace(source: nbformat.NotebookNode) -> dict:
    ns: dict = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("grade_id") == "setup" or meta.get("solution")):
            code = "\n".join(line for line in cell.source.split("\n")
                             if "### BEGIN SOLUTION" not in line and END_SOLUTION not in line)
            exec(compile(code, meta.get("grade_id", "?"), "exec"), ns)  # the instructor's code
    return ns


def answer_cells(nb: nbformat.NotebookNode) -> dict[str, str]:
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells if c.cell_type == "code"
            and c.metadata.get("nbgrader", {}).get("solution")
            and "NotImplementedError" not in c.source}


def check(name: str, nb: nbformat.NotebookNode, source: nbformat.NotebookNode) -> None:
    """Each answer cell, alone among the reference's, must compute what the reference does."""
    import torch

    reference = _reference_namespace(source)
    cells = answer_cells(nb)
    for grade_id, code in cells.items():
        ns = dict(reference)
        exec(compile(code, f"{name}/{grade_id}", "exec"), ns)
        rng = np.random.default_rng(5)
        params = reference["init_params"]([3, 6, 5, 3], seed=2)
        params = {k: v + 0.1 * rng.normal(size=v.shape) for k, v in params.items()}
        X, y = rng.normal(size=(12, 3)), rng.integers(0, 3, 12)
        r = reference
        close = np.testing.assert_allclose
        if grade_id == "init_params":
            got, want = ns["init_params"]([5, 7, 3, 2], seed=3), r["init_params"]([5, 7, 3, 2], seed=3)
            assert sorted(got) == sorted(want)
            for k in want:
                close(got[k], want[k], rtol=1e-12)
        elif grade_id == "forward":
            close(ns["relu"](np.linspace(-3, 3, 13)), r["relu"](np.linspace(-3, 3, 13)))
            (got, gc), (want, wc) = ns["forward"](params, X), r["forward"](params, X)
            close(got, want, rtol=1e-10)
            for k in wc:
                close(gc[k], wc[k], rtol=1e-10)
        elif grade_id == "softmax_cross_entropy":
            logits = rng.normal(size=(30, 4)) * 3
            yy = rng.integers(0, 4, 30)
            for lg in (logits, logits + np.where(np.arange(4) == 1, 1000.0, 0.0)):
                (gl, gd), (wl, wd) = ns["softmax_cross_entropy"](lg, yy), r["softmax_cross_entropy"](lg, yy)
                close(gl, wl, rtol=1e-8)
                close(gd, wd, rtol=1e-8, atol=1e-12)
        elif grade_id == "numerical_gradient":
            for p in ("W1", "b2"):
                close(ns["numerical_gradient"](params, X, y, p),
                      r["numerical_gradient"](params, X, y, p), rtol=1e-5, atol=1e-9)
        elif grade_id == "backward":
            logits, cache = r["forward"](params, X)
            _, d = r["softmax_cross_entropy"](logits, y)
            got, want = ns["backward"](params, cache, d), r["backward"](params, cache, d)
            for k in want:
                close(got[k], want[k], rtol=1e-10, atol=1e-14)
        elif grade_id == "train_mlp":
            grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
            new = ns["sgd_step"](params, grads, 0.05)
            for k in params:
                close(new[k], params[k] - 0.05 * grads[k], rtol=1e-12)
            Xs, ys = r["make_spiral"](100, seed=3)
            got = ns["train_mlp"](Xs, ys, [2, 8, 2], epochs=3, lr=0.2, batch_size=32, seed=4)
            want = r["train_mlp"](Xs, ys, [2, 8, 2], epochs=3, lr=0.2, batch_size=32, seed=4)
            for k in want:
                close(got[k], want[k], rtol=1e-8, atol=1e-12)
        elif grade_id == "torch_mlp":
            torch.manual_seed(0)
            mine, ref = ns["MLP"](3, [7, 5, 4], 2), r["MLP"](3, [7, 5, 4], 2)
            lm = [m for m in mine.modules() if isinstance(m, torch.nn.Linear)]
            lr_ = [m for m in ref.modules() if isinstance(m, torch.nn.Linear)]
            assert [tuple(a.weight.shape) for a in lm] == [tuple(b.weight.shape) for b in lr_]
            with torch.no_grad():
                for a, b in zip(lm, lr_, strict=True):
                    a.weight.copy_(b.weight)
                    a.bias.copy_(b.bias)
                x = torch.randn(6, 3)
                close(mine(x).numpy(), ref(x).numpy(), rtol=1e-6)
            assert ns["count_parameters"](mine) == r["count_parameters"](ref)
        elif grade_id == "train_torch":
            Xs, ys = r["make_spiral"](120, seed=6)
            losses = []
            for train in (ns["train_torch"], r["train_torch"]):
                torch.manual_seed(7)
                model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(),
                                            torch.nn.Linear(16, 2))
                losses.append(train(model, Xs, ys, epochs=3, lr=0.05, batch_size=32, seed=1))
            close(losses[0], losses[1], rtol=1e-4)
        else:
            raise AssertionError(f"{name}: no check for {grade_id}")
    print(f"{name}: {', '.join(cells)} match the reference")


# ---------------------------------------------------------------- the class

def build() -> dict[str, nbformat.NotebookNode | bytes]:
    release = nbformat.read(RELEASE, as_version=4)
    source = nbformat.read(SOURCE, as_version=4)
    for name, answers in SOLUTIONS.items():
        check(name, fill(release, answers, []), source)
    ids = iter(range(21900101, 21900200))

    def team() -> list[str]:
        return [str(next(ids)), str(next(ids))]

    out: dict[str, nbformat.NotebookNode | bytes] = {
        "alpha": fill(release, ALPHA, team()),
        "beta": fill(release, BETA, team()),
        "gamma": fill(release, GAMMA, team()),
    }
    renamed = fill(release, ALPHA, team())
    for cell in renamed.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            cell.source = reorder(rename(cell.source, RENAMES))
    out["copy_renamed_reordered"] = renamed
    recommented = fill(release, BETA, [str(next(ids)), HOSTILE_ID])
    next(ids)  # the id the hostile one stands for
    for n, cell in enumerate(recommented.cells):
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            cell.source = recomment(cell.source, n)
    out["copy_other_comments"] = recommented
    check("copy_renamed_reordered", renamed, source)
    check("copy_other_comments", recommented, source)
    first = ("init_params", "forward", "softmax_cross_entropy", "numerical_gradient")
    half = fill(release, {**{k: GAMMA[k] for k in first}, **DELTA}, team())
    for cell in half.cells:
        cell.metadata = {}  # saved from an editor that keeps no cell metadata
    out["half_copied"] = half
    out["stub_only"] = fill(release, {}, team())
    out["not_a_notebook"] = b'{"cells": [ this is not JSON'
    return out


if __name__ == "__main__":
    target = HERE / "submissions"
    target.mkdir(exist_ok=True)
    for old in target.glob("*.ipynb"):
        old.unlink()
    for name, nb in build().items():
        path = target / f"{name}.ipynb"
        if isinstance(nb, bytes):
            path.write_bytes(nb)
        else:
            write_notebook(nb, path)
        print(f"wrote {path.relative_to(ROOT)}")
