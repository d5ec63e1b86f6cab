"""Write source.ipynb: a small homework in the course's authoring format, the forms' source."""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.notebook import nbgrader_metadata, write_notebook




def build() -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell("# Homework 0: warm-up\nFill in the team cell, then answer each question.",
                          metadata=nbgrader_metadata("intro", locked=True)),
        new_code_cell('TEAM = ["<student id>", "<student id>"]', metadata={"autograder": {"team": True}}),
        new_code_cell("import numpy as np\n\nRNG = np.random.default_rng(0)",
                      metadata=nbgrader_metadata("setup", locked=True)),
        new_markdown_cell("## Question 1\nWrite `square(x)`, elementwise."),
        new_code_cell('def square(x):\n    """x squared, elementwise."""\n    ### BEGIN SOLUTION\n'
                      "    return np.asarray(x) ** 2\n    ### END SOLUTION",
                      metadata=nbgrader_metadata("q1_square", solution=True)),
        new_code_cell('assert square(3) == 9, "square(3) should be 9"\n### BEGIN HIDDEN TESTS\n'
                      'with check("arrays match the reference", points=1):\n'
                      "    np.testing.assert_allclose(square(np.arange(4)), reference.square(np.arange(4)))\n"
                      "### END HIDDEN TESTS",
                      metadata=nbgrader_metadata("q1_tests", grade=True, points=2)),
        new_markdown_cell("## Question 2\nDefine `SCALE` and `scale(x, factor=SCALE)`.",
                          metadata=nbgrader_metadata("q2_text", locked=True)),
        new_code_cell("### BEGIN SOLUTION\nSCALE = 2.0\n\n\ndef scale(x, factor=SCALE):\n"
                      "    return np.asarray(x) * factor\n### END SOLUTION",
                      metadata=nbgrader_metadata("q2_scale", solution=True)),
        new_code_cell('assert scale(1) == 2.0, "scale(1) should be 2.0"\n### BEGIN HIDDEN TESTS\n'
                      "assert scale(RNG.normal(size=3), 0.0).tolist() == [0.0, 0.0, 0.0]\n"
                      "### END HIDDEN TESTS",
                      metadata=nbgrader_metadata("q2_tests", grade=True, points=1)),
        new_code_cell("print(square(scale(np.arange(3))))", metadata=nbgrader_metadata("demo", locked=True)),
        new_markdown_cell("Why is `square` convex?\n\nIts second derivative is 2 > 0.",
                          metadata=nbgrader_metadata("q3_written", grade=True, solution=True, points=1)),
        new_code_cell("def mean_square(x):\n    ### BEGIN SOLUTION\n    return float(np.mean(square(x)))\n"
                      "    ### END SOLUTION",
                      metadata=nbgrader_metadata("q4_mean", solution=True)),
        new_code_cell('assert mean_square([1, 3]) == 5.0, "mean of 1 and 9"',
                      metadata=nbgrader_metadata("q4_tests", grade=True, points=1)),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    return nb


if __name__ == "__main__":
    write_notebook(build(), Path(__file__).with_name("source.ipynb"))
