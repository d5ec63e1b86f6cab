"""Builds tests/data/validate/: a small assignment for `autograder validate --mutate` in CI.

Two answer cells whose generated mutants are few (eight) and quick to grade: six lose points,
two compute the same thing and are recorded as equivalent in the source notebook's metadata.
Run `python tests/data/validate/make.py` after changing it; the notebook is committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[2]))
from autograder.notebook import nbgrader_metadata, write_notebook  # noqa: E402

RESCALE = '''def rescale(x, factor=2.0):
    """The values of x times factor, as floats."""
    ### BEGIN SOLUTION
    return np.asarray(x, dtype=float) * factor
    ### END SOLUTION'''
TEST_RESCALE = '''assert np.allclose(rescale([1.0, 2.0]), [2.0, 4.0]), "rescale([1, 2]) should be [2, 4]"
### BEGIN HIDDEN TESTS
x = np.random.default_rng(3).normal(size=6)
with check("values for another factor", points=1):
    np.testing.assert_allclose(np.asarray(rescale(x, 3.0)), reference.rescale(x, 3.0), rtol=1e-7)
### END HIDDEN TESTS'''
COUNT = '''def count_positive(values):
    """How many of the values are strictly positive."""
    ### BEGIN SOLUTION
    return int(np.sum(np.asarray(values) > 0))
    ### END SOLUTION'''
TEST_COUNT = '''assert count_positive(np.array([-1.0, 2.0, 3.0])) == 2, "two of -1, 2, 3 are positive"
### BEGIN HIDDEN TESTS
values = [0.0, 0.5, -2.0, 0.25, 0.0, 3.0]
with check("zeros are not positive; a list works too", points=1):
    got = count_positive(values)
    assert got == reference.count_positive(values), f"expected {reference.count_positive(values)}, got {got}"
### END HIDDEN TESTS'''

EQUIVALENT = [
    {"mutant": "rescale: return np.asarray(x, dtype=float) * factor :: , dtype=float -> ",
     "reason": "an integer array times a float factor is a float array already"},
    {"mutant": "count: return int(np.sum(np.asarray(values) > 0)) :: "
               "int(np.sum(np.asarray(values) > 0)) -> np.sum(np.asarray(values) > 0)",
     "reason": "numpy's integer compares equal to the int"},
]


def source():
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["autograder"] = {"equivalent_mutants": EQUIVALENT}
    nb.cells = [
        new_code_cell('TEAM = ["<student id>", "<student id>"]', metadata={"autograder": {"team": True}}),
        new_markdown_cell("# A small assignment\nTwo functions, for `validate --mutate`.",
                          metadata=nbgrader_metadata("intro", locked=True)),
        new_code_cell("import numpy as np", metadata=nbgrader_metadata("setup", locked=True)),
        new_code_cell(RESCALE, metadata=nbgrader_metadata("rescale", solution=True)),
        new_code_cell(TEST_RESCALE, metadata=nbgrader_metadata("test_rescale", grade=True, locked=True,
                                                                points=2)),
        new_code_cell(COUNT, metadata=nbgrader_metadata("count", solution=True)),
        new_code_cell(TEST_COUNT, metadata=nbgrader_metadata("test_count", grade=True, locked=True,
                                                              points=2)),
    ]
    for n, cell in enumerate(nb.cells):
        cell.id = f"cell-{n + 1}"
    return nb


if __name__ == "__main__":
    write_notebook(source(), HERE / "source" / "small" / "small.ipynb")
    print("wrote tests/data/validate/source/small/small.ipynb")
