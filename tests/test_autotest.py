"""AUTOTEST directives: parsed as nbgrader does, expanded from the solution's values into asserts
that pass on right answers (as the judge receives them) and fail on stubs and wrong answers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder import autotest
from autograder.autotest import (
    Directive,
    directive,
    expand,
    literal_text,
    load_stored,
    load_templates,
    quote_around,
    type_text,
)
from autograder.errors import AuthoringError
from autograder.notebook import JUDGE_HELPERS, nbgrader_metadata

SOLUTION = '''import numpy as np

def squares(n):
    ### BEGIN SOLUTION
    return [i ** 2 for i in range(1, n + 1)]
    ### END SOLUTION

def third(x):
    ### BEGIN SOLUTION
    return x / 3
    ### END SOLUTION

def scaled(n):
    ### BEGIN SOLUTION
    return np.arange(n) / 3
    ### END SOLUTION

def counts(text):
    ### BEGIN SOLUTION
    return {w: len(w) for w in text.split()}
    ### END SOLUTION

def avg(values):
    ### BEGIN SOLUTION
    return np.mean(values)
    ### END SOLUTION

def name():
    ### BEGIN SOLUTION
    return "Ada"
    ### END SOLUTION

def distinct(values):
    ### BEGIN SOLUTION
    return set(values)
    ### END SOLUTION

class Box:
    pass
'''


def test_the_release_stands_in_for_every_helper_of_the_judge():
    """The solution runs at release with the names a test cell uses in the judge, no other."""
    namespace: dict = {"square": lambda x: x * x}
    helpers = autotest.stand_ins(namespace)
    assert sorted(helpers) == sorted(JUDGE_HELPERS)
    assert helpers["in_kernel"](lambda a, b: a + b, 2, b=3) == 5
    assert helpers["reference"].square(4) == 16


# --- parsing --------------------------------------------------------------------------------

@pytest.mark.parametrize("line, expected", [
    ("### AUTOTEST squares(1); squares(2)", Directive(False, ("squares(1)", "squares(2)"))),
    ("### HASHED AUTOTEST squares(3)", Directive(True, ("squares(3)",))),
    ("    ### AUTOTEST a;   ", Directive(False, ("a",))),
    ("#AUTOTEST a", Directive(False, ("a",))),
    ("# # # # AUTOTEST a; b == 3;", Directive(False, ("a", "b == 3"))),
    ("### AUTOTEST", Directive(False, ())),
])
def test_directives_are_read_as_nbgrader_reads_them(line, expected):
    assert directive(line) == expected


@pytest.mark.parametrize("line", ["x = 1  # AUTOTEST later", "AUTOTEST = 3", "# autotest a",
                                  "print('### AUTOTEST a')"])
def test_other_lines_are_not_directives(line):
    assert directive(line) is None


@pytest.mark.parametrize("text", ["plain", "it's", 'say "hi"', "a\\nb", "tab\there\nnew line",
                                  'ends with "', "ends with '", "\x00\x1f", "é ü ∑", '"""', "'''"])
@pytest.mark.parametrize("quote", ['"', "'", '"""', "'''"])
def test_literal_text_gives_back_the_text_between_any_quotes(text, quote):
    code = quote + literal_text(text, quote_around(f"{quote}{{{{value}}}}{quote}", "value")) + quote
    assert eval(code) == text  # noqa: S307 - our own literal


def test_quote_around_finds_the_template_quote_or_escapes_both():
    assert quote_around('assert {{snippet}} == """{{value}}"""', "value") == '"'
    assert quote_around("assert x == '{{ value }}'", "value") == "'"
    assert quote_around("assert x == {{value}}", "value") == "\"'"


@pytest.mark.parametrize("value, text", [(int, "int"), (np.ndarray, "numpy.ndarray"),
                                         (np.float64, "numpy.float64"), ("abc", "abc"), (3, "3")])
def test_dispatch_keys_read_as_ipython_prints_types(value, text):
    assert type_text(value) == text


# --- templates --------------------------------------------------------------------------------

def test_default_templates_load():
    t = load_templates(autotest.DEFAULT_TEMPLATES)
    assert {"default", "int", "float", "str", "bool", "list", "tuple", "dict", "set",
            "numpy.ndarray", "numpy.float64", "torch.Tensor"} <= set(t.by_type)
    assert t.hash and t.setup and t.close


@pytest.mark.parametrize("text, message", [
    ("python3: [", "not valid YAML"),
    ("ir:\n  dispatch: x\n", "no python3: section"),
    ("python3:\n  dispatch: x\n  normalize: y\n  check: z\n  templates:\n    int: []\n",
     "no default: entry"),
    ("python3:\n  dispatch: x\n  normalize: y\n  templates:\n    default: []\n", "no check:"),
])
def test_broken_templates_name_the_file(tmp_path, text, message):
    path = tmp_path / "autotests.yml"
    path.write_text(text)
    with pytest.raises(AuthoringError, match=message) as info:
        load_templates(path)
    assert info.value.path == path


def test_templates_are_looked_for_beside_the_notebook_then_the_course(tmp_path):
    notebook = tmp_path / "source" / "hw" / "hw.ipynb"
    notebook.parent.mkdir(parents=True)
    assert autotest.find_templates(notebook, tmp_path) == autotest.DEFAULT_TEMPLATES
    (tmp_path / "autotests.yml").write_text("x")
    assert autotest.find_templates(notebook, tmp_path) == tmp_path / "autotests.yml"
    (notebook.parent / "autotests.yml").write_text("x")
    assert autotest.find_templates(notebook, tmp_path) == notebook.parent / "autotests.yml"


# --- expansion --------------------------------------------------------------------------------

def notebook_with(tmp_path: Path, tests: str | list[str], solution: str = SOLUTION) -> Path:
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    nb.cells = [new_code_cell(solution, metadata=nbgrader_metadata("answer", solution=True))]
    for i, code in enumerate([tests] if isinstance(tests, str) else tests):
        nb.cells.append(new_code_cell(code, metadata=nbgrader_metadata(
            f"test_{i}", grade=True, locked=True, points=1)))
    path = tmp_path / "source" / "hw" / "hw.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def expanded(tmp_path: Path, tests: str | list[str], solution: str = SOLUTION) -> dict[str, str]:
    path = notebook_with(tmp_path, tests, solution)
    found = expand(nbformat.read(path, as_version=4), notebook=path, course_root=tmp_path,
                   timeout=60)
    assert found is not None
    return found.cells


def passes(code: str, **names) -> bool:
    """Run generated test code where the student's names are `names` (plain values, as the
    judge receives them)."""
    try:
        exec(compile(code, "<test>", "exec"), {"np": np, **names})  # noqa: S102
    except Exception:  # noqa: BLE001
        return False
    return True


def solution_names() -> dict:
    scope: dict = {}
    exec(SOLUTION, scope)  # noqa: S102
    return {k: v for k, v in scope.items() if not k.startswith("__")}


def stub(*args, **kwargs):
    raise NotImplementedError()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """One expansion of every common type, shared by the tests below (the solution runs once)."""
    return expanded(tmp_path_factory.mktemp("autotest"), [
        "### AUTOTEST squares(3)",
        "### AUTOTEST third(1.0)",
        "### AUTOTEST scaled(4)",
        "### AUTOTEST counts('to be or not')",
        "### AUTOTEST avg([1, 2, 4])",
        "### AUTOTEST name()",
        "### AUTOTEST squares(2) == [1, 4]",
        "### HASHED AUTOTEST squares(4); third(2.0)",
    ])


def test_solution_passes_every_generated_test(generated):
    names = solution_names()
    for code in generated.values():
        assert passes(code, **names), code


@pytest.mark.parametrize("cell", range(8))
def test_a_stub_passes_no_generated_test(generated, cell):
    names = {**solution_names(), "squares": stub, "third": stub, "scaled": stub,
             "counts": stub, "avg": stub, "name": stub}
    assert not passes(generated[f"test_{cell}"], **names)


@pytest.mark.parametrize("cell, wrong", [
    (0, {"squares": lambda n: [i ** 2 for i in range(n)]}),
    (0, {"squares": lambda n: tuple(i ** 2 for i in range(1, n + 1))}),
    (0, {"squares": lambda n: [9, 4, 1][:n]}),  # right values, wrong order
    (1, {"third": lambda x: x / 3.01}),
    (1, {"third": lambda x: np.float32(x / 3)}),  # the float template asks for a float
    (2, {"scaled": lambda n: np.arange(n + 1) / 3}),
    (2, {"scaled": lambda n: np.arange(n) // 3}),
    (2, {"scaled": lambda n: np.arange(n) / 3.1}),
    (3, {"counts": lambda text: {w: len(w) + 1 for w in text.split()}}),
    (3, {"counts": lambda text: dict(zip(text.split(), [2, 2, 3, 2], strict=True))}),
    (4, {"avg": lambda values: 2.0}),
    (5, {"name": lambda: "ada"}),
    (6, {"squares": lambda n: [1, 5][:n]}),
    (7, {"third": lambda x: x / 3.1}),
])
def test_a_wrong_answer_fails(generated, cell, wrong):
    assert not passes(generated[f"test_{cell}"], **{**solution_names(), **wrong})


@pytest.mark.parametrize("cell, right", [
    # floats are compared with a tolerance: another order of operations, or float32, is right
    (1, {"third": lambda x: (x + 1e-15) / 3}),
    (2, {"scaled": lambda n: (np.arange(n, dtype=np.float32) / np.float32(3))}),
    (3, {"counts": lambda text: dict(reversed([(w, len(w)) for w in text.split()]))}),
    (4, {"avg": lambda values: sum(values) / len(values)}),  # a float where numpy gave float64
])
def test_a_right_answer_computed_another_way_passes(generated, cell, right):
    assert passes(generated[f"test_{cell}"], **{**solution_names(), **right})


def test_plain_autotests_show_values_hashed_ones_do_not(generated):
    assert "[1, 4, 9]" in generated["test_0"]
    hashed = generated["test_7"]
    assert "sha1(" in hashed and "[1, 4, 9, 16]" not in hashed and "0.666" not in hashed
    assert hashed.startswith("from hashlib import sha1")
    assert hashed.rstrip().endswith("print('Success!')")


def test_hidden_autotests_stay_between_the_hidden_markers(tmp_path):
    cells = expanded(tmp_path, "assert True\n### BEGIN HIDDEN TESTS\n### AUTOTEST squares(5)\n"
                               "### END HIDDEN TESTS\n### AUTOTEST squares(1)")
    code = cells["test_0"]
    hidden = code.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
    visible = code.replace(hidden, "")
    assert "[1, 4, 9, 16, 25]" in hidden and "[1, 4, 9, 16, 25]" not in visible
    # the setup code is in the visible part too: the release drops the hidden part
    assert visible.count("from hashlib import sha1") == 1
    assert hidden.count("from hashlib import sha1") == 1


def test_lines_around_directives_run_in_order(tmp_path):
    cells = expanded(tmp_path, "k = 2\n### AUTOTEST squares(k)\nk = 3\n### AUTOTEST squares(k)")
    assert "[1, 4]" in cells["test_0"] and "[1, 4, 9]" in cells["test_0"]


def test_expansion_is_deterministic(tmp_path):
    tests = "### HASHED AUTOTEST squares(3)\n### AUTOTEST third(2.0)"
    assert expanded(tmp_path / "a", tests) == expanded(tmp_path / "b", tests)


def test_data_files_resolve_beside_the_notebook(tmp_path):
    path = notebook_with(tmp_path, "### AUTOTEST WORDS",
                         "WORDS = open('words.txt').read().split()")
    (path.parent / "words.txt").write_text("alpha beta")
    found = expand(nbformat.read(path, as_version=4), notebook=path, course_root=tmp_path,
                   timeout=60)
    assert "['alpha', 'beta']" in found.cells["test_0"]


@pytest.mark.parametrize("snippet, received", [
    ("distinct([1, 2, 2])", "kernel object"),  # a set stays in the kernel
    ("Box()", "kernel object"),
    ("[Box()]", "kernel object"),
    ("np.float64(3) * 2", None),  # ok: the numpy scalar template compares the value only
])
def test_values_the_judge_would_receive_differently_stop_the_release(tmp_path, snippet,
                                                                     received):
    path = notebook_with(tmp_path, f"x = 1\n### AUTOTEST {snippet}")
    nb = nbformat.read(path, as_version=4)
    if received is None:
        assert expand(nb, notebook=path, course_root=tmp_path, timeout=60) is not None
        return
    with pytest.raises(AuthoringError) as info:
        expand(nb, notebook=path, course_root=tmp_path, timeout=60)
    error = info.value
    assert error.cell == 2 and str(error).count("line 2:") == 1
    assert received in error.message and "every submission" in error.message
    assert "plain data" in error.hint


def test_a_snippet_that_raises_in_the_solution_stops_the_release(tmp_path):
    path = notebook_with(tmp_path, ["### AUTOTEST squares(2)", "### AUTOTEST 1 / 0"])
    with pytest.raises(AuthoringError, match="line 1: AUTOTEST 1 / 0: raised ZeroDivisionError") \
            as info:
        expand(nbformat.read(path, as_version=4), notebook=path, course_root=tmp_path,
               timeout=60)
    assert info.value.cell == 3


def test_a_cell_that_fails_before_the_directive_stops_the_release(tmp_path):
    path = notebook_with(tmp_path, "x = 1\nassert x == 2, 'broken test'\n### AUTOTEST x")
    with pytest.raises(AuthoringError, match="line 2: raised AssertionError: broken test") \
            as info:
        expand(nbformat.read(path, as_version=4), notebook=path, course_root=tmp_path,
               timeout=60)
    assert info.value.cell == 2 and "Run All" in info.value.hint


def test_checks_and_helpers_do_not_stop_the_solution_run(tmp_path):
    cells = expanded(tmp_path, 'with check("gpu", points=1, needs_gpu=True):\n'
                               "    assert kernel_used_gpu()\n"
                               "got = in_kernel(lambda: reference.squares(2))\n"
                               "### AUTOTEST got")
    assert "[1, 4]" in cells["test_0"]


def test_a_huge_value_asks_for_a_summary(tmp_path):
    path = notebook_with(tmp_path, "### AUTOTEST list(range(100_000))")
    with pytest.raises(AuthoringError, match="characters long") as info:
        expand(nbformat.read(path, as_version=4), notebook=path, course_root=tmp_path,
               timeout=60)
    assert "summary" in info.value.hint


def test_an_nbgrader_templates_file_is_used_as_is(tmp_path):
    (tmp_path / "autotests.yml").write_text(
        "python3:\n"
        "    dispatch: 'type({{snippet}})'\n"
        "    normalize: 'str({{snippet}})'\n"
        "    check: 'assert {{snippet}} == \"{{value}}\", \"{{message}}\"'\n"
        "    templates:\n"
        "        default:\n"
        "            - test: '{{snippet}}'\n"
        "              fail: 'value of {{snippet}} is \"wrong\"'\n")
    cells = expanded(tmp_path, "### AUTOTEST third(1.0)")
    assert cells["test_0"] == ('assert str(third(1.0)) == "0.3333333333333333", '
                               '"value of third(1.0) is \\"wrong\\""\n')  # a blank line after


# --- what grading reads -----------------------------------------------------------------------

def test_stored_expansion_is_checked_against_the_notebook(tmp_path):
    path = notebook_with(tmp_path, "### AUTOTEST squares(2)")
    nb = nbformat.read(path, as_version=4)
    with pytest.raises(AuthoringError, match="no expected values yet") as info:
        load_stored(nb, path)
    assert "autograder release hw" in info.value.hint
    found = expand(nb, notebook=path, course_root=tmp_path, timeout=60)
    autotest.stored_path(path).write_bytes(found.stored())
    assert load_stored(nb, path) == found
    applied = autotest.apply(nb, found)
    assert "### AUTOTEST" not in applied.cells[1].source and "### AUTOTEST" in nb.cells[1].source
    path.write_text(path.read_text().replace("squares(2)", "squares(3)"))
    with pytest.raises(AuthoringError, match="out of date"):
        load_stored(nbformat.read(path, as_version=4), path)


def test_a_notebook_without_directives_needs_nothing(tmp_path):
    path = notebook_with(tmp_path, "assert squares(2) == [1, 4]")
    nb = nbformat.read(path, as_version=4)
    assert expand(nb, notebook=path, course_root=tmp_path, timeout=60) is None
    assert load_stored(nb, path) is None


def test_the_stored_file_is_hidden_json(tmp_path):
    path = notebook_with(tmp_path, "### AUTOTEST third(3.0)")
    found = expand(nbformat.read(path, as_version=4), notebook=path, course_root=tmp_path,
                   timeout=60)
    assert autotest.stored_path(path).name == ".hw.autotests.json"
    data = json.loads(found.stored())
    assert data["cells"]["test_0"] == found.cells["test_0"] and math.isfinite(data["version"])
