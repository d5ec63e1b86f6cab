"""The course's three homeworks: authoring rules, points, setup names the tests use, mutants in step."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.authoring import find_problems
from autograder.config import load_course
from autograder.notebook import (
    JUDGE_HELPERS,
    Role,
    bound_names,
    cells_of,
    read_notebook,
    split_hidden,
    strip_magics,
)

ROOT = Path(__file__).resolve().parents[1]
HOMEWORKS = ["hw1_features", "hw2_mlp", "hw3_training"]


def source(assignment: str):
    return read_notebook(load_course(ROOT / "course.toml").assignment(assignment).notebook)


@pytest.mark.parametrize("assignment", HOMEWORKS)
def test_source_follows_the_authoring_rules(assignment):
    assert find_problems(source(assignment)) == []


@pytest.mark.parametrize("assignment", HOMEWORKS)
def test_graded_out_of_20_with_a_written_answer(assignment):
    cells = cells_of(source(assignment))
    graded = [c for c in cells if c.role in (Role.TESTS, Role.WRITTEN)]
    assert sum(c.points for c in graded) == 20
    assert sum(c.role == Role.WRITTEN for c in cells) == 1
    assert cells[0].role == Role.TEAM


@pytest.mark.parametrize("assignment", HOMEWORKS)
def test_visible_tests_use_plain_asserts_and_hidden_tests_the_judge(assignment):
    for cell in cells_of(source(assignment)):
        if cell.role != Role.TESTS:
            continue
        visible, hidden = split_hidden(cell.source)
        assert "assert" in visible, f"{cell.grade_id}: no visible feedback"
        names = {n.id for n in ast.walk(ast.parse(strip_magics(visible)))
                 if isinstance(n, ast.Name)}
        # The visible part also runs in the student's own kernel, where the judge's helpers
        # do not exist.
        assert not names & set(JUDGE_HELPERS), f"{cell.grade_id}: judge helper in view"
        assert "with check(" in hidden, f"{cell.grade_id}: no hidden checks"


@pytest.mark.parametrize("assignment", HOMEWORKS)
def test_answer_cells_only_define(assignment):
    """Answer cells bind functions and classes only: a bound variable would become a proxy that
    shadows the judge's own names (np, torch, X)."""
    for cell in cells_of(source(assignment)):
        if cell.role != Role.ANSWER:
            continue
        names = bound_names(cell.source)
        assert names, cell.grade_id
        assert not names & {"np", "torch", "nn", "F", "X", "y"}, cell.grade_id


def test_hw3_checks_the_gpu_only_where_there_is_one():
    text = "\n".join(split_hidden(c.source)[1] for c in cells_of(source("hw3_training"))
                     if c.role == Role.TESTS)
    assert text.count("needs_gpu=True") == 2 and "kernel_used_gpu()" in text


def test_mutants_are_in_step_with_the_sources():
    run = subprocess.run([sys.executable, str(ROOT / "tests/data/mutants/make_mutants.py"),
                          "--check"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    for assignment in HOMEWORKS:
        assert len(list((ROOT / "tests/data/mutants" / assignment).glob("*.ipynb"))) >= 8


@pytest.mark.kernel
@pytest.mark.parametrize("assignment", HOMEWORKS)
def test_solution_passes_its_visible_tests_in_a_plain_kernel(assignment, tmp_path):
    """What a student with a right answer sees from `autograder check`: every question passes."""
    from autograder.notebook import write_notebook
    from autograder.release import apply_steps, read_source, solution_steps
    from autograder.student import check_notebook

    spec = load_course(ROOT / "course.toml").assignment(assignment)
    path = tmp_path / f"{assignment}.ipynb"
    write_notebook(apply_steps(read_source(spec), solution_steps(spec)), path)
    summary = check_notebook(path, timeout=120)
    assert summary.passed, [(q.grade_id, q.status, q.message) for q in summary.questions]
