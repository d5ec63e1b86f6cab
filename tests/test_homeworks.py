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
    # train_one_epoch and evaluate in bfloat16 on the GPU, and fit's kernel on the GPU
    assert text.count("needs_gpu=True") == 3 and "kernel_used_gpu()" in text


@pytest.mark.parametrize("kind", ["mutants", "variants"])
def test_mutants_and_variants_are_in_step_with_the_sources(kind):
    script = ROOT / "tests" / "data" / kind / f"make_{kind}.py"
    run = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True,
                         cwd=ROOT)
    assert run.returncode == 0, run.stderr
    least = {"mutants": 20, "variants": 6}[kind]
    for assignment in HOMEWORKS:
        assert len(list((ROOT / "tests" / "data" / kind / assignment).glob("*.ipynb"))) >= least


@pytest.mark.parametrize("assignment", HOMEWORKS)
def test_equivalent_mutants_recorded_are_generated_from_the_source(assignment):
    """Each record names a mutant `validate --mutate` still generates, with a reason; a stale
    record would hide nothing but mislead the reader (validate reports it too, after minutes)."""
    from autograder.release import apply_steps, read_source, solution_steps
    from autograder.validate import equivalents, generated_mutants

    spec = load_course(ROOT / "course.toml").assignment(assignment)
    source = read_source(spec)
    recorded = equivalents(source, spec.notebook)
    generated = {m.key for m, _ in generated_mutants(apply_steps(source, solution_steps(spec)))}
    assert recorded and set(recorded) <= generated, set(recorded) - generated


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
