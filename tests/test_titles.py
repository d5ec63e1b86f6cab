from pathlib import Path

import nbformat

from autograder.notebook import nbgrader_metadata
from autograder.titles import clean_heading, headings_above, question_titles

ROOT = Path(__file__).resolve().parents[1]


def test_titles_of_the_course_notebooks():
    hw1 = ROOT / "source" / "hw1_features" / "hw1_features.ipynb"
    ids = ["test_polynomial_features", "test_fit_logistic", "test_predict_accuracy",
           "written_degrees"]
    titles = question_titles(ids, headings_above(hw1))
    assert titles == {
        "test_polynomial_features": "1. Polynomial features",
        "test_fit_logistic": "4. Gradient descent, predictions, accuracy (part 1)",
        "test_predict_accuracy": "4. Gradient descent, predictions, accuracy (part 2)",
        "written_degrees": "6. What the table says",
    }


def test_headings_in_answers_are_not_titles_and_task_cells_title_themselves(tmp_path):
    md = nbformat.v4.new_markdown_cell
    cells = [md("## Setup"), md("## 1. Written part"),
             md("### BEGIN SOLUTION\n# My answer\n### END SOLUTION"),
             nbformat.v4.new_code_cell("assert True"),
             md("## 2. Describe your model (task)\n\nIn words."),
             nbformat.v4.new_code_cell("assert True")]
    metas = [nbgrader_metadata("a"), nbgrader_metadata("b"),
             nbgrader_metadata("written", solution=True, grade=True, points=2),
             nbgrader_metadata("cell-0123456789abcdef", grade=True, locked=True, points=1),
             nbgrader_metadata("task", locked=True),
             nbgrader_metadata("cell-fedcba9876543210", grade=True, locked=True, points=1)]
    for cell, meta in zip(cells, metas, strict=True):
        cell.metadata.update(meta)
    path = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    found = headings_above(path)
    assert found["written"] == "1. Written part"
    assert found["cell-0123456789abcdef"] == "1. Written part"  # not the answer's "My answer"
    assert found["task"] == "2. Describe your model (task)"
    titles = question_titles(["written", "cell-0123456789abcdef", "cell-fedcba9876543210"], {
        "written": "1. Written part"})
    assert titles == {"written": "1. Written part", "cell-0123456789abcdef": "question 2",
                      "cell-fedcba9876543210": "question 3"}


def test_a_missing_notebook_gives_grade_ids():
    assert headings_above(Path("/nonexistent.ipynb")) == {}
    assert question_titles(["poly"], {}) == {"poly": "poly"}


def test_clean_heading():
    assert clean_heading("3. The **logistic** `loss` (4 points)") == "3. The logistic loss"
    assert clean_heading("[Link](http://x) and (2 points, graded by hand)") == "Link and"
    assert clean_heading("x" * 200).endswith("…")
