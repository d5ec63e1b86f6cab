"""Builds the nbgrader-idiom assignment: a notebook written the way nbgrader users write tests.

Plain asserts only (no `check`, no `reference`), so nbgrader grades the very same source: each
test cell is all-or-nothing, as in nbgrader. The idioms: iterating over a model's parameters,
`isinstance` against the student's and torch's classes, `torch.no_grad()` around a call, a
`try/except ValueError` test, `pytest.raises` with the student's own exception class, nbgrader's
"does not use `squares`" test (`del` + `assert_raises(NameError, ...)`), a data file beside the
notebook, a generator read by a list comprehension, `print` and `display` in a test cell,
IPython's `%%time` cell and `%time` line magics around asserts, `np.random.seed` /
`torch.manual_seed` before calls to the student's code, and `inspect.getsource`,
`inspect.signature`, `__name__` and `__doc__` of a student's function.

    python tests/data/idioms/make.py              # the notebooks (committed)
    python tests/data/idioms/make.py --nbgrader   # also grade them with nbgrader autograde and
                                                  # write nbgrader_scores.json (committed)

Each submission's score under nbgrader is what tests/test_nbgrader_idioms.py requires of ours.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[2]))
from autograder.notebook import nbgrader_metadata, split_hidden, write_notebook  # noqa: E402

HW = "idioms"
SETUP = "import numpy as np\nimport torch\nfrom torch import nn\nfrom numpy.testing import assert_raises"
DATA = "1.0 2.0 3.0\n4.0 5.0 6.0\n7.0 8.0 10.0\n"

SQUARES = '''def squares(n):
    """[1, 4, ..., n**2]; a ValueError when n < 1."""
    ### BEGIN SOLUTION
    if n < 1:
        raise ValueError("n must be at least 1")
    return [i * i for i in range(1, n + 1)]
    ### END SOLUTION'''
TEST_SQUARES = '''"""squares gives the first squares"""
print("squares(3) =", squares(3))
assert squares(1) == [1]
assert squares(3) == [1, 4, 9]
### BEGIN HIDDEN TESTS
print("HIDDEN-PRINT", squares(10))
assert squares(10) == [i * i for i in range(1, 11)]
### END HIDDEN TESTS'''
TEST_INVALID = '''"""squares refuses n < 1 with a ValueError"""
for bad in (0, -3):
    try:
        squares(bad)
    except ValueError:
        pass
    else:
        raise AssertionError(f"squares({bad}) should raise a ValueError")'''
SUM = '''def sum_of_squares(n):
    """1 + 4 + ... + n**2, using squares."""
    ### BEGIN SOLUTION
    return sum(squares(n))
    ### END SOLUTION'''
TEST_SUM = '''%%time
assert sum_of_squares(3) == 14
### BEGIN HIDDEN TESTS
assert sum_of_squares(10) == 385
### END HIDDEN TESTS'''
TEST_USES = '''"""sum_of_squares uses squares"""
original = squares
del squares
try:
    assert_raises(NameError, sum_of_squares, 2)
except AssertionError:
    raise AssertionError("sum_of_squares does not use squares")
finally:
    squares = original
import inspect
assert "squares(" in inspect.getsource(sum_of_squares), "sum_of_squares does not call squares"
assert list(inspect.signature(sum_of_squares).parameters) == ["n"]
assert sum_of_squares.__name__ == "sum_of_squares" and sum_of_squares.__doc__'''
SQRT = '''class NegativeInput(ValueError):
    """Raised for a negative input."""


def safe_sqrt(x):
    """The square root of x >= 0; NegativeInput otherwise."""
    ### BEGIN SOLUTION
    if x < 0:
        raise NegativeInput(f"{x} is negative")
    return x ** 0.5
    ### END SOLUTION'''
TEST_SQRT = '''import pytest

assert safe_sqrt(4.0) == 2.0
with pytest.raises(ValueError):
    safe_sqrt(-1.0)
### BEGIN HIDDEN TESTS
with pytest.raises(NegativeInput, match="negative"):
    safe_sqrt(-2.0)
### END HIDDEN TESTS'''
MLP = '''class MLP(nn.Module):
    """One hidden layer with a ReLU: n_in -> n_hidden -> n_out."""

    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        ### BEGIN SOLUTION
        self.hidden = nn.Linear(n_in, n_hidden)
        self.out = nn.Linear(n_hidden, n_out)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.out(torch.relu(self.hidden(x)))
        ### END SOLUTION'''
TEST_MLP = '''model = MLP(6, 16, 3)
assert isinstance(model, nn.Module)
assert isinstance(model, MLP)
assert sum(p.numel() for p in model.parameters()) == 163
with torch.no_grad():
    out = model(torch.zeros(5, 6))
assert out.shape == (5, 3)
### BEGIN HIDDEN TESTS
assert all(p.requires_grad for p in model.parameters())
assert len([m for m in model.modules() if isinstance(m, nn.Linear)]) == 2
### END HIDDEN TESTS'''
MEANS = '''def column_means(path):
    """The mean of each column of a whitespace-separated table of numbers."""
    ### BEGIN SOLUTION
    return np.loadtxt(path).mean(axis=0)
    ### END SOLUTION'''
TEST_MEANS = '''expected = np.loadtxt("data.txt").mean(axis=0)
assert np.allclose(column_means("data.txt"), expected)'''
BATCHES = '''def batches(items, size):
    """Consecutive lists of `size` items; the last one may be shorter."""
    ### BEGIN SOLUTION
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]
    ### END SOLUTION'''
TEST_BATCHES = '''%time assert [b for b in batches(range(5), 2)] == [[0, 1], [2, 3], [4]]
### BEGIN HIDDEN TESTS
assert sum(len(b) for b in batches(range(1000), 7)) == 1000
### END HIDDEN TESTS'''

NOISY = '''def noisy_weights(n):
    """n weights drawn from numpy's global random state (standard normal)."""
    ### BEGIN SOLUTION
    return np.random.normal(size=n)
    ### END SOLUTION'''
TEST_NOISY = '''"""reproducible once seeded, as numpy's and torch's global states are"""
np.random.seed(0)
first = noisy_weights(3)
display(first)
np.random.seed(0)
assert np.allclose(noisy_weights(3), first), "noisy_weights is not reproducible after np.random.seed"
assert np.allclose(first, [1.764052, 0.400157, 0.978738], atol=1e-5)
torch.manual_seed(3)
a = [p.detach().clone() for p in MLP(6, 16, 3).parameters()]
torch.manual_seed(3)
b = [p.detach().clone() for p in MLP(6, 16, 3).parameters()]
assert all(torch.equal(x, y) for x, y in zip(a, b)), "MLP's initial weights differ after torch.manual_seed"'''

MLP_SOLVED = "\n".join(line for line in MLP.splitlines() if "### " not in line)

# grade_id -> (answer or test code, points for tests)
CELLS = [
    ("squares", SQUARES, None), ("test_squares", TEST_SQUARES, 2),
    ("test_squares_invalid", TEST_INVALID, 1),
    ("sum_of_squares", SUM, None), ("test_sum_of_squares", TEST_SUM, 1),
    ("test_uses_squares", TEST_USES, 1),
    ("safe_sqrt", SQRT, None), ("test_safe_sqrt", TEST_SQRT, 1),
    ("mlp", MLP, None), ("test_mlp", TEST_MLP, 2),
    ("column_means", MEANS, None), ("test_column_means", TEST_MEANS, 1),
    ("batches", BATCHES, None), ("test_batches", TEST_BATCHES, 1),
    ("noisy_weights", NOISY, None), ("test_noisy_weights", TEST_NOISY, 1),
]

# Each submission: answers replaced (grade_id → code); the rest solved. With nbgrader's score
# of it (nbgrader_scores.json, written by --nbgrader) and the questions that lose their points.
MISTAKES = {
    "correct": {},
    "unanswered": None,  # every answer left as the release's stub
    "squares_accepts_zero": {"squares": "def squares(n):\n    return [i * i for i in range(1, n + 1)]"},
    "sum_without_squares": {"sum_of_squares": "def sum_of_squares(n):\n    return sum(i * i for i in range(1, n + 1))"},
    "wrong_exception_class": {"safe_sqrt": "class NegativeInput(Exception):\n    pass\n\n\ndef safe_sqrt(x):\n    if x < 0:\n        raise NegativeInput(f'{x} is negative')\n    return x ** 0.5"},
    "mlp_without_bias": {"mlp": MLP_SOLVED.replace("nn.Linear(n_in, n_hidden)",
                                                   "nn.Linear(n_in, n_hidden, bias=False)")},
    "mlp_frozen_layer": {"mlp": MLP_SOLVED.replace(
        "self.out = nn.Linear(n_hidden, n_out)",
        "self.out = nn.Linear(n_hidden, n_out)\n        self.hidden.requires_grad_(False)")},
    "means_by_row": {"column_means": "def column_means(path):\n    return np.loadtxt(path).mean(axis=1)"},
    "batches_drop_last": {"batches": "def batches(items, size):\n    items = list(items)\n    for start in range(0, len(items) - size + 1, size):\n        yield items[start:start + size]"},
    "noisy_weights_own_generator": {"noisy_weights": "def noisy_weights(n):\n    return np.random.default_rng(0).normal(size=n)"},
    # caught only by the assert under `%time`: a magic made `pass` would keep the point
    "batches_as_tuples": {"batches": "def batches(items, size):\n    items = list(items)\n    for start in range(0, len(items), size):\n        yield tuple(items[start:start + size])"},
}


def source() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [
        new_code_cell('TEAM = ["<student id>", "<student id>"]', metadata={"autograder": {"team": True}}),
        new_markdown_cell("# nbgrader idioms\nTests written as nbgrader users write them.",
                          metadata=nbgrader_metadata("intro", locked=True)),
        new_code_cell(SETUP, metadata=nbgrader_metadata("setup", locked=True)),
    ]
    for grade_id, code, points in CELLS:
        if points is None:
            cells.append(new_code_cell(code, metadata=nbgrader_metadata(grade_id, solution=True)))
        else:
            cells.append(new_code_cell(code, metadata=nbgrader_metadata(
                grade_id, grade=True, locked=True, points=points)))
    nb.cells = cells
    return nb


def _visible(code: str) -> str:
    return split_hidden(code)[0]


def _stub(code: str) -> str:
    """What nbgrader's ClearSolutions leaves of an answer."""
    out, inside = [], False
    for line in code.splitlines():
        if line.strip() == "### BEGIN SOLUTION":
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
            inside = True
        elif line.strip() == "### END SOLUTION":
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def submission(answers: dict[str, str] | None) -> nbformat.NotebookNode:
    nb = copy.deepcopy(source())
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.metadata.get("autograder", {}).get("team"):
            cell.source = 'TEAM = ["21900101", "21900102"]'
        elif meta.get("grade"):
            cell.source = _visible(cell.source)
        elif meta.get("solution"):
            if answers is None:
                cell.source = _stub(cell.source)
            elif meta["grade_id"] in answers:
                cell.source = answers[meta["grade_id"]]
            else:
                cell.source = "\n".join(ln for ln in cell.source.splitlines() if "### " not in ln)
    return nb


def write(nb: nbformat.NotebookNode, path: Path) -> None:
    for i, cell in enumerate(nb.cells):  # stable ids: regenerating changes nothing
        cell["id"] = f"cell-{i}"
    write_notebook(nb, path)


def nbgrader_scores() -> dict[str, float]:
    """Each submission graded by `nbgrader autograde` in a throwaway nbgrader course."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.CourseDirectory.root = {str(root)!r}\n"
            "c.CourseDirectory.course_id = 'idioms'\nc.ExecutePreprocessor.timeout = 120\n")
        shutil.copytree(HERE / "source" / HW, root / "source" / HW)
        run = [sys.executable, "-m", "nbgrader"]
        subprocess.run([*run, "generate_assignment", HW, "--force"], cwd=root, check=True)
        for name in MISTAKES:
            dest = root / "submitted" / name / HW / f"{HW}.ipynb"
            dest.parent.mkdir(parents=True)
            shutil.copy(HERE / "submissions" / f"{name}.ipynb", dest)
        subprocess.run([*run, "autograde", HW], cwd=root, check=True)
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
            return {name: float(gb.find_submission(HW, name).score) for name in MISTAKES}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nbgrader", action="store_true", help="grade with nbgrader too")
    args = parser.parse_args()
    write(source(), HERE / "source" / HW / f"{HW}.ipynb")
    (HERE / "source" / HW / "data.txt").write_text(DATA)
    for name, answers in MISTAKES.items():
        write(submission(answers), HERE / "submissions" / f"{name}.ipynb")
    if args.nbgrader:
        scores = nbgrader_scores()
        (HERE / "nbgrader_scores.json").write_text(json.dumps(scores, indent=2, sort_keys=True) + "\n")
        print(json.dumps(scores, indent=2))


if __name__ == "__main__":
    main()
