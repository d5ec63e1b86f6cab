"""The judge without a kernel: handles, kernel exceptions, `del` of student names, prints, messages.

The protocol runs for real (judge request pickled → agent → JSON answer → strict decode), with the
agent called in-process on a namespace of our own instead of through a sandboxed kernel: what is
tested here is the logic on both sides; tests/test_engine.py and tests/test_nbgrader_idioms.py
cross the real boundary.
"""

from __future__ import annotations

import builtins
import itertools
import json
import sys
import textwrap
import time
import types

import numpy as np
import pytest
import torch
from torch import nn

from autograder import agent, codec, judge, link, scoring
from autograder.results import QuestionStatus


class _Kernel:
    starts = 1


class Loopback(link.KernelLink):
    """A KernelLink whose kernel is an Agent in this process, over the same wire format."""

    def __init__(self, namespace: dict, **kwargs):
        super().__init__(_Kernel(), deadline=lambda: time.monotonic() + 60, **kwargs)
        self.agent = agent.Agent()
        self.agent.namespace = lambda: namespace
        self.sent: list[dict] = []

    def _exchange(self, blob, *, remaining, what):
        self.sent.append(self.agent.loads(blob))
        return json.loads(json.dumps(self.agent.answer(blob)))  # what crosses is JSON


STUDENT = '''
class MLP(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.hidden = nn.Linear(n_in, n_hidden)
        self.out = nn.Linear(n_hidden, n_out)

    def forward(self, x):
        self.saw_grad = torch.is_grad_enabled()
        return self.out(torch.relu(self.hidden(x)))


class ShapeError(ValueError):
    pass


def squares(n):
    if n < 1:
        raise ShapeError(f"n must be at least 1, got {n}")
    return [i * i for i in range(1, n + 1)]


def sum_of_squares(n):
    return sum(squares(n))


def naturals():
    n = 0
    while True:
        yield n
        n += 1


def two_then_fail():
    yield 1
    yield 2
    raise KeyError("third")


def stub():
    raise NotImplementedError()


def leave():
    raise SystemExit(3)
'''


@pytest.fixture
def kernel():
    """(the student's namespace, a link to it, the judge's namespace bound to it)."""
    student: dict = {"nn": nn, "torch": torch}
    exec(STUDENT, student)  # noqa: S102 - our own fixture code
    channel = Loopback(student)
    names = {"MLP", "ShapeError", "squares", "sum_of_squares", "naturals", "two_then_fail",
             "stub", "leave"}
    ns: dict = {"np": np, "nn": nn, "torch": torch}
    judge.bind_student_names(ns, channel, names)
    return student, channel, ns


# Reading a student's object ---------------------------------------------------------------


def test_parameters_are_counted_as_nbgrader_tests_do(kernel):
    _, channel, ns = kernel
    m = ns["MLP"](6, 16, 3)
    before = channel.requests
    assert sum(p.numel() for p in m.parameters()) == 163
    assert channel.requests - before <= 5  # getattr, call, then chunks of 1, 2, 4 items
    params = list(m.parameters())
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in params)
    assert [tuple(p.shape) for p in params] == [(16, 6), (16,), (3, 16), (3,)]
    assert next(m.parameters()).shape == (16, 6)
    assert m.hidden.in_features == 6 and m.hidden.weight.shape == (16, 6)


def test_parameters_keep_their_grad_other_tensors_come_detached(kernel):
    student, channel, ns = kernel
    exec("m = MLP(2, 3, 1)\nm(torch.ones(4, 2)).sum().backward()", student)  # noqa: S102
    m = channel.names(["m"])["m"]
    weight = m.hidden.weight
    assert weight.requires_grad and weight.grad is not None
    assert torch.equal(weight.grad, student["m"].hidden.weight.grad)
    out = m(torch.ones(4, 2))
    assert not out.requires_grad and out.grad_fn is None


def test_isinstance_against_the_students_and_the_librarys_classes(kernel):
    _, _, ns = kernel
    m = ns["MLP"](2, 3, 1)
    assert isinstance(m, nn.Module) and isinstance(m, ns["MLP"])
    assert not isinstance(m, nn.Linear) and isinstance(m.hidden, nn.Linear)
    assert isinstance(m, (nn.Conv2d, ns["MLP"]))
    assert not isinstance(3, ns["MLP"])
    assert issubclass(ns["MLP"], nn.Module) and not issubclass(ns["MLP"], nn.Linear)
    assert type(m).__name__ == "MLP"  # what a test's message prints


def test_no_grad_around_a_call_holds_in_the_kernel(kernel):
    _, _, ns = kernel
    m = ns["MLP"](2, 3, 1)
    with torch.no_grad():
        out = m(torch.zeros(4, 2))
    assert out.shape == (4, 1) and not m.saw_grad
    m(torch.zeros(4, 2))
    assert m.saw_grad


def test_iteration_fetches_growing_chunks_and_stops_on_an_endless_iterator(kernel):
    _, channel, ns = kernel
    before = channel.requests
    for n in ns["naturals"]():
        if n == 5000:
            break
    assert channel.requests - before < 20  # 1 + 2 + 4 + ... items per round trip
    it = ns["naturals"]()
    assert [next(it), next(it)] == [0, 1]
    for n in it:  # the same iterator: its buffer is shared with next()
        assert n == 2
        break
    assert next(it) == 3
    assert 7 in ns["naturals"]()  # `in` iterates; the items are plain data compared here


def test_an_iterator_that_raises_gives_its_items_then_the_same_exception(kernel):
    _, _, ns = kernel
    seen = []
    with pytest.raises(KeyError, match="third"):
        for item in ns["two_then_fail"]():
            seen.append(item)
    assert seen == [1, 2]


def test_what_would_trust_the_object_is_still_refused(kernel):
    _, _, ns = kernel
    m = ns["MLP"](2, 3, 1)
    for attempt in (lambda: m == m, lambda: m != 1, lambda: bool(m), lambda: hash(m),
                    lambda: float(m), lambda: np.asarray(m, dtype=float), lambda: {m: 1}):
        with pytest.raises(codec.NotComparable):
            attempt()
    import copy

    for attempt in (lambda: copy.copy(m), lambda: copy.deepcopy(m)):
        with pytest.raises(TypeError):
            attempt()


def test_a_request_budget_stops_a_runaway_test(kernel):
    student, _, _ = kernel
    channel = Loopback(student, max_requests=10)
    ns: dict = {}
    judge.bind_student_names(ns, channel, {"squares"})
    with pytest.raises(link.KernelBudget):
        for _ in range(20):
            ns["squares"](2)


def test_dropped_handles_are_released_in_the_kernel(kernel):
    _, channel, ns = kernel
    m = ns["MLP"](2, 3, 1)
    held = len(channel.agent.handles)
    for _ in range(5):
        m.parameters()  # a bound method's handle, dropped at once
    ns["squares"](1)  # the next request tells the kernel
    assert len(channel.agent.handles) <= held + 1


def test_a_handle_of_an_earlier_kernel_start_names_nothing(kernel):
    _, channel, ns = kernel
    m = ns["MLP"](2, 3, 1)
    channel.kernel.starts = 2
    with pytest.raises(link.StaleObject):
        m(torch.zeros(1, 2))


# Exceptions across the boundary ------------------------------------------------------------


def test_kernel_exceptions_arrive_as_the_same_builtin_type(kernel):
    student, channel, _ = kernel
    exec(textwrap.dedent('''
        def fail(kind):
            if kind == "ValueError": int("x")
            if kind == "TypeError": len(5)
            if kind == "KeyError": {}["k"]
            if kind == "IndexError": [][1]
            if kind == "ZeroDivisionError": 1 / 0
            if kind == "AssertionError": assert False, "nope"
            if kind == "NameError": undefined_name
            if kind == "AttributeError": None.x
            if kind == "StopIteration": next(iter([]))
            if kind == "NotImplementedError": raise NotImplementedError("later")
    '''), student)  # noqa: S102
    fail = channel.names(["fail"])["fail"]
    for name in ("ValueError", "TypeError", "KeyError", "IndexError", "ZeroDivisionError",
                 "AssertionError", "NameError", "AttributeError", "StopIteration",
                 "NotImplementedError"):
        with pytest.raises(getattr(builtins, name)) as info:
            fail(name)
        if name != "NotImplementedError":  # that one is NotAttempted, a subclass
            assert type(info.value) is getattr(builtins, name)
    with pytest.raises(KeyError) as info:
        fail("KeyError")
    assert info.value.args == ("k",)
    with pytest.raises(AssertionError, match="nope"):
        fail("AssertionError")


def test_try_except_pytest_raises_and_numpy_assert_raises_work(kernel):
    _, _, ns = kernel
    squares = ns["squares"]
    try:
        squares(0)
    except ValueError as exc:
        caught = exc
    assert type(caught).__name__ == "ShapeError" and "got 0" in str(caught)
    assert isinstance(caught, Exception) and issubclass(type(caught), ValueError)
    with pytest.raises(ValueError, match="at least 1"):
        squares(-4)
    with pytest.raises(ns["ShapeError"]):  # the student's class, named by the test
        squares(0)
    np.testing.assert_raises(ValueError, squares, 0)


def test_untouched_stub_is_not_attempted_and_still_a_not_implemented_error(kernel):
    _, _, ns = kernel
    with pytest.raises(NotImplementedError) as info:
        ns["stub"]()
    assert isinstance(info.value, link.NotAttempted)


def test_base_exception_only_types_become_plain_exceptions(kernel):
    _, _, ns = kernel
    with pytest.raises(Exception) as info:
        ns["leave"]()
    assert type(info.value).__name__ == "SystemExit"
    assert not isinstance(info.value, SystemExit)


@pytest.mark.parametrize(("mro", "bases"), [
    ([["builtins", "ValueError"], ["builtins", "Exception"]], (ValueError,)),
    ([["__main__", "Oops"], ["builtins", "OSError"], ["builtins", "Exception"]], (OSError,)),
    ([["__main__", "Both"], ["builtins", "KeyError"], ["builtins", "IndexError"],
      ["builtins", "LookupError"]], (KeyError, IndexError)),
    ([["builtins", "KeyboardInterrupt"], ["builtins", "BaseException"]], (Exception,)),
    ([["__main__", "Quit"], ["builtins", "SystemExit"]], (Exception,)),
    ([["numpy.linalg", "LinAlgError"], ["builtins", "ValueError"]], (ValueError,)),
    ([["__main__", "x; import os"]], (Exception,)),
])
def test_exception_classes_are_built_from_builtin_bases_only(mro, bases):
    cls = codec.exception_class(mro)
    assert issubclass(cls, Exception) and all(issubclass(cls, b) for b in bases)
    assert cls.__name__.isidentifier()
    exc = codec.make_exception(cls, None, "the text")
    assert isinstance(exc, cls) and "the text" in str(exc)


def test_an_exception_that_refuses_its_text_falls_back_to_a_base():
    exc = codec.make_exception(UnicodeDecodeError, None, "cannot decode")
    assert isinstance(exc, ValueError) and "cannot decode" in str(exc)


def test_kernel_exception_text_is_capped_and_never_hidden_code():
    channel = Loopback({}, hidden_code=link.code_fragments(
        "def scenario():\n    model = make_reference_model(seed=1234)\n    return model"))
    long = {"t": "error", "type": "ValueError", "mro": [["builtins", "ValueError"]],
            "message": "x" * 500 + "\nsecond line"}
    exc = channel.exception(long, "f")
    message, detail = scoring.explain(exc)
    assert message.startswith("f raised ValueError: ") and len(message) < 260
    assert "second line" not in message and "second line" in detail
    source = repr("def scenario():\n    model = make_reference_model(seed=1234)\n")
    leak = {"t": "error", "type": "ValueError", "mro": [["builtins", "ValueError"]],
            "message": source}
    message, _ = scoring.explain(channel.exception(leak, "f"))
    assert "make_reference_model" not in message and "withheld" in message


# Classes the kernel names ----------------------------------------------------------------


def test_kernel_class_names_never_import_and_never_name_main(monkeypatch):
    assert codec.judge_class("torch.nn.modules.linear", "Linear") is nn.Linear
    assert codec.judge_class("__main__", "MLP") is None
    assert "antigravity" not in sys.modules
    assert codec.judge_class("antigravity", "geohash") is None
    assert "antigravity" not in sys.modules
    calls = []
    lazy = types.ModuleType("lazy_library")
    lazy.__getattr__ = lambda name: calls.append(name) or int
    monkeypatch.setitem(sys.modules, "lazy_library", lazy)
    assert codec.judge_class("lazy_library", "Thing") is None and calls == []
    # a class must carry the name it was asked by: no alias, no function, no instance
    assert codec.judge_class("torch.nn", "Linear") is None
    assert codec.judge_class("os", "getcwd") is None


# `del` and assignment of a student's name in a test cell ------------------------------------

DEL_IDIOM = '''
orig = squares
del squares
try:
    assert_raises(NameError, sum_of_squares, 2)
except AssertionError:
    raise AssertionError("sum_of_squares does not use squares")
finally:
    squares = orig
assert sum_of_squares(3) == 14
'''


def run_cell(code, ns, channel, names, *, gpu=False):
    cell = scoring.CellRun()
    ns["check"] = scoring.Checks(cell, gpu=gpu, filename="<tests q>",
                               hidden_lines=scoring.hidden_lines(code))
    return judge.run_in_judge(code, "<tests q>", ns, run=cell, student_names=frozenset(names),
                              link=channel)


def test_a_students_function_reads_as_a_function(kernel):
    """Its name, docstring and signature come from the kernel (inspect answers for a handle);
    the dunders that would trust the object stay refused."""
    _, channel, ns = kernel
    code = textwrap.dedent('''
        import inspect
        assert squares.__name__ == "squares" and squares.__qualname__ == "squares"
        assert squares.__doc__ is None and MLP.__doc__ is None
        sig = inspect.signature(squares)
        assert list(sig.parameters) == ["n"] and str(sig) == "(n)"
        assert str(inspect.signature(MLP)) == "(n_in, n_hidden, n_out)"
        assert not hasattr(squares, "__array_interface__")
        assert not hasattr(squares, "__torch_function__")
        assert str(inspect.signature(len)) == "(obj, /)"  # the judge's own: inspect itself
    ''')
    with judge.as_in_the_kernel(channel):
        run = run_cell(code, ns, channel, {"squares", "MLP"})
    assert run.error is None, run.detail


def test_nbgraders_del_idiom_deletes_in_the_kernel_and_puts_back(kernel):
    student, channel, ns = kernel
    ns["assert_raises"] = np.testing.assert_raises
    run = run_cell(DEL_IDIOM, ns, channel, {"squares", "sum_of_squares"})
    assert run.error is None, run.detail
    assert student["squares"](2) == [1, 4] and "squares" in ns


def test_the_del_idiom_fails_when_the_function_does_not_use_the_name(kernel):
    student, channel, ns = kernel
    exec("def sum_of_squares(n):\n    return sum(i * i for i in range(1, n + 1))", student)  # noqa: S102
    judge.bind_student_names(ns, channel, {"sum_of_squares"})
    ns["assert_raises"] = np.testing.assert_raises
    run = run_cell(DEL_IDIOM, ns, channel, {"squares", "sum_of_squares"})
    assert isinstance(run.error, AssertionError)
    assert run.message == "sum_of_squares does not use squares"
    assert "squares" in student  # the finally clause put it back


def test_only_the_cells_own_statements_about_student_names_are_rewritten(kernel):
    student, channel, ns = kernel
    code = textwrap.dedent('''
        other = 1
        del other
        def helper():
            squares = 5
            return squares
        squares, extra = squares, 2
        assert helper() == 5
    ''')
    run = run_cell(code, ns, channel, {"squares"})
    assert run.error is None, run.detail
    sets = [r for r in channel.sent if r.get("op") in ("set", "delete")]
    assert [(r["op"], r["name"]) for r in sets] == [("set", "squares")]


def test_assigning_a_judge_function_to_a_student_name_is_a_clear_error(kernel):
    _, channel, ns = kernel
    run = run_cell("squares = lambda n: [0] * n", ns, channel, {"squares"})
    assert isinstance(run.error, TypeError) and "cannot send" in run.detail


# What a cell prints -------------------------------------------------------------------------

PRINTING = '''
def show(x):
    print("shown", x)
print("visible part")
show(1)
### BEGIN HIDDEN TESTS
print("HIDDEN-PRINT")
show("HIDDEN-ARG")
### END HIDDEN TESTS
print("visible again")
'''


def test_prints_go_to_the_cell_result_split_by_part(capsys):
    run = run_cell(PRINTING, {}, None, set())
    assert run.error is None
    assert run.output == "visible part\nshown 1\nvisible again\n"
    assert "HIDDEN-PRINT" in run.hidden_output and "HIDDEN-ARG" in run.hidden_output
    assert capsys.readouterr().out == ""  # nothing on the grader's stdout
    question = scoring.score_cell(grade_id="q", points=1, run=run)
    assert question.output == run.output and "HIDDEN" not in question.output


MAGICS = '''%%time
assert double(2) == 4
%time assert double(3) == 6
%timeit -n 1 -r 1 double(1)
%matplotlib inline
!ls
### BEGIN HIDDEN TESTS
%time assert double(-1) == -2
### END HIDDEN TESTS
'''


@pytest.mark.parametrize(("double", "error"), [(lambda x: 2 * x, None),
                                               (lambda x: x + x if x > 0 else 0, "hidden")])
def test_ipython_lines_in_a_test_cell_run_as_ipython_runs_them(double, error):
    """nbgrader runs test cells in the kernel, where `%time assert ...` asserts: so does the
    judge (a magic made `pass` would let the wrong answer keep its point)."""
    run = run_cell(MAGICS, {"double": double}, None, set())
    if error is None:
        assert run.error is None, run.detail
    else:
        assert isinstance(run.error, AssertionError) and run.checks == [] and run.hidden


@pytest.mark.parametrize(("source", "python"), [
    ("%%time\nx = 1\n%time y = f(x)", "pass\nx = 1\ny = f(x)"),
    ("\n%%capture out\nprint(1)", "\npass\nprint(1)"),
    ("%timeit -n 10 -r 3 -q f(2)\n%timeit -o g()", "f(2)\ng()"),
    ("for i in range(2):\n    %time f(i)\n    !echo", "for i in range(2):\n    f(i)\n    pass"),
    ("%%bash\necho hi\n  ls -l", "pass\npass\npass"),
    ("%time\n%load_ext autoreload", "pass\npass"),
    ("x = (a\n% b)\ns = '''\n%s is\n!not a shell\n'''", None),  # Python already: unchanged
])
def test_strip_magics_keeps_lines_and_runs_what_ipython_runs(source, python):
    from autograder.notebook import strip_magics

    assert strip_magics(source) == (source if python is None else python)
    assert strip_magics(source).count("\n") == source.count("\n")


def test_output_is_capped():
    run = run_cell("for _ in range(10_000):\n    print('x' * 100)", {}, None, set())
    assert len(run.output) < judge.OUTPUT_CHARS + 100 and run.output.endswith("cut]")


# Messages for the student and for staff -------------------------------------------------------

HIDDEN_NUMPY = '''
x = np.linspace(0, 1, 40)
### BEGIN HIDDEN TESTS
expected = np.sqrt(x) * 12345.678
with check("matches the reference", points=1):
    np.testing.assert_allclose(x, expected, err_msg="HIDDEN-EXPECTED")
np.testing.assert_allclose(x, expected)
### END HIDDEN TESTS
'''


def test_hidden_failures_show_one_line_never_the_values():
    run = run_cell(HIDDEN_NUMPY, {"np": np}, None, set())
    check = run.checks[0]
    assert check.hidden and check.status == QuestionStatus.FAILED
    expected = np.sqrt(np.linspace(0, 1, 40)) * 12345.678
    for message in (check.message, run.message):
        assert "\n" not in message and len(message) <= scoring.HIDDEN_MESSAGE
        assert "Not equal to tolerance" in message
        assert not any(f"{v:.3f}"[:7] in message for v in expected[1:])
        assert "HIDDEN-EXPECTED" not in message
    assert "6556.60" in run.detail  # staff see the values


def test_a_visible_failure_keeps_the_text_but_not_wrapped_value_lines():
    error = None
    try:
        np.testing.assert_allclose(np.arange(50.0), np.arange(50.0) + 0.5,
                                   err_msg="shapes match but values are off")
    except AssertionError as exc:
        error = exc
    message = scoring.describe_error(error)
    assert "values are off" in message and "49.5" not in message and "\n" not in message


def test_internal_judge_errors_become_sentences_about_the_students_code():
    message, detail = scoring.explain(codec.NotComparable("__main__.Anything"))
    assert "the test must ask" not in message and "plain data" in message
    assert message.startswith("your code gave back a __main__.Anything object")
    assert "NotComparable" in detail


def test_checks_in_the_visible_part_are_not_hidden():
    code = ('with check("visible", points=1):\n    assert False, "seen"\n'
            '### BEGIN HIDDEN TESTS\nwith check("hidden", points=1):\n    assert False, "h"\n'
            '### END HIDDEN TESTS')
    run = run_cell(code, {}, None, set())
    assert [(c.name, c.hidden) for c in run.checks] == [("visible", False), ("hidden", True)]
    q = scoring.score_cell(grade_id="q", points=2, run=run)
    assert [c.hidden for c in q.checks] == [False, True] and q.status == QuestionStatus.FAILED


def test_a_stub_scores_not_attempted(kernel):
    _, channel, ns = kernel
    run = run_cell("stub()", ns, channel, {"stub"})
    q = scoring.score_cell(grade_id="q", points=1, run=run)
    assert q.status == QuestionStatus.NOT_ATTEMPTED and q.points == 0
    run = run_cell("try:\n    stub()\nexcept NotImplementedError:\n    pass", ns, channel,
                   {"stub"})
    assert scoring.score_cell(grade_id="q", points=1, run=run).status == QuestionStatus.PASSED


def test_agent_chunks_are_bounded_in_bytes():
    a = agent.Agent()
    big = (np.zeros(300_000) for _ in itertools.count())  # 2.4 MB each
    step = a.step(big, 1000)
    assert 1 <= len(step["v"]) <= 3 and step["done"] is False


# Which names are the student's: the source decides -------------------------------------------


def names_source(*, answer_meta=None, notebook_meta=None, answer="def f(x):\n    return x"):
    from nbformat.v4 import new_code_cell, new_notebook

    from autograder.notebook import nbgrader_metadata

    nb = new_notebook()
    setup = new_code_cell("import numpy as np\nDATA = np.ones(3)",
                          metadata=nbgrader_metadata("setup", locked=True))
    cell = new_code_cell(answer, metadata=nbgrader_metadata("a", solution=True))
    cell.metadata.update(answer_meta or {})
    demo = new_code_cell("history = f(DATA)", metadata=nbgrader_metadata("demo", locked=True))
    tests = new_code_cell("assert f(1) == 1", metadata=nbgrader_metadata(
        "t", grade=True, locked=True, points=1))
    nb.cells = [setup, cell, demo, tests]
    nb.metadata.update(notebook_meta or {})
    return nb


def test_names_are_what_the_answers_define_never_builtins_imports_or_setup_names():
    from autograder.prepare import judge_names
    from autograder.rebuild import answer_names

    nb = names_source(answer="import torch\nfrom math import sqrt\nDATA = 2\nlist = 3\n"
                             "def f(x):\n    return x\nclass Model:\n    pass\nK = 4")
    assert answer_names(nb, judge_names=judge_names(nb)) == {"f", "Model", "K"}


def test_instructors_declare_more_names_in_metadata():
    from autograder.prepare import judge_names
    from autograder.rebuild import answer_names

    nb = names_source(answer_meta={"autograder": {"names": ["phi"]}},
                      notebook_meta={"autograder": {"names": ["history"]}})
    assert answer_names(nb, judge_names=judge_names(nb)) == {"f", "phi", "history"}


@pytest.mark.parametrize(("answer_meta", "notebook_meta", "match"), [
    ({"autograder": {"names": "phi"}}, None, "not a list of names"),
    ({"autograder": {"names": ["not a name"]}}, None, "not a list of names"),
    ({"autograder": {"names": ["len"]}}, None, "a name the judge owns"),
    (None, {"autograder": {"names": ["check"]}}, "a name the judge owns"),
    (None, {"autograder": {"names": ["DATA"]}}, "a name the judge owns"),
])
def test_bad_declarations_stop_with_the_cell_and_the_fix(answer_meta, notebook_meta, match):
    from autograder.errors import AuthoringError
    from autograder.prepare import judge_names
    from autograder.rebuild import answer_names

    nb = names_source(answer_meta=answer_meta, notebook_meta=notebook_meta)
    with pytest.raises(AuthoringError, match=match):
        answer_names(nb, judge_names=judge_names(nb), path="hw.ipynb")


# Files beside the notebook ------------------------------------------------------------------


def test_files_beside_the_notebook_leave_out_notebooks_caches_and_hidden_files(tmp_path):
    from autograder import datafiles
    from autograder.errors import AuthoringError

    for name in ("hw.ipynb", "data.txt", "sub/table.csv", ".secret", ".git/config",
                 ".ipynb_checkpoints/hw-checkpoint.ipynb", ".ipynb_checkpoints/data.txt",
                 "__pycache__/x.pyc", "sub/other.ipynb", "helpers.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    assert datafiles.assignment_files(tmp_path) == ["data.txt", "helpers.py", "sub/table.csv"]
    files = datafiles.read_files(tmp_path)
    assert dict(files)["sub/table.csv"] == b"sub/table.csv"
    out = tmp_path / "copy"
    datafiles.write_files(files, out)
    assert (out / "sub" / "table.csv").read_text() == "sub/table.csv"
    with pytest.raises(AuthoringError, match="exceed"):
        datafiles.read_files(tmp_path, limit=10)


def test_agent_writes_the_files_into_its_work_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    channel = Loopback({})
    channel.put_files([("data.txt", b"1 2 3\n"), ("sub/x.csv", b"a,b\n")])
    assert (tmp_path / "data.txt").read_bytes() == b"1 2 3\n"
    assert (tmp_path / "sub" / "x.csv").read_bytes() == b"a,b\n"
