"""Builds the engine's test notebooks: a tiny assignment, its solution, and the hostile corpus.

Run `python tests/data/engine/make.py` after changing it; the notebooks are committed so a reader
can open each attack in Jupyter. Every hostile notebook leaves the answers unanswered (or wrong)
and attacks the grader instead: each must score exactly what an unanswered notebook scores.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[2]))
from autograder.notebook import nbgrader_metadata, split_hidden, write_notebook  # noqa: E402




SQUARE = '''def square(x):
    ### BEGIN SOLUTION
    return np.asarray(x, dtype=float) ** 2
    ### END SOLUTION'''
MEAN = '''def mean_of(values):
    ### BEGIN SOLUTION
    return float(np.mean(values))
    ### END SOLUTION'''
TEST_SQUARE = '''assert np.allclose(square(np.array([1.0, 2.0])), [1.0, 4.0]), "square([1, 2]) should be [1, 4]"
### BEGIN HIDDEN TESTS
x = np.random.default_rng(7).normal(size=20)
with check("random inputs match the reference", points=1):
    np.testing.assert_allclose(square(x), reference.square(x), err_msg="HIDDEN-EXPECTED-SQUARE")
### END HIDDEN TESTS'''
TEST_MEAN = '''assert mean_of([1, 2, 3]) == 2.0, "mean_of([1, 2, 3]) should be 2.0"
### BEGIN HIDDEN TESTS
values = SECRET_SCALE * np.random.default_rng(11).normal(size=20000)  # big: sent as a file
with check("hidden values", points=1):
    got = mean_of(values)
    assert isinstance(got, float), f"mean_of should return a float, got {type(got).__name__}"
    assert abs(got - reference.mean_of(values)) < 1e-9, "HIDDEN-EXPECTED-MEAN"
### END HIDDEN TESTS'''


def source() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        new_code_cell('TEAM = ["<student id>", "<student id>"]', metadata={"autograder": {"team": True}}),
        new_markdown_cell("# A tiny assignment\nTwo functions and a written answer.",
                          metadata=nbgrader_metadata("intro", locked=True)),
        new_code_cell("import numpy as np\nSECRET_SCALE = 3.0", metadata=nbgrader_metadata("setup", locked=True)),
        new_code_cell(SQUARE, metadata=nbgrader_metadata("square", solution=True)),
        new_code_cell(TEST_SQUARE, metadata=nbgrader_metadata("test_square", grade=True, locked=True, points=2)),
        new_code_cell(MEAN, metadata=nbgrader_metadata("mean", solution=True)),
        new_code_cell(TEST_MEAN, metadata=nbgrader_metadata("test_mean", grade=True, locked=True, points=2)),
        new_markdown_cell("Why does the mean of normal values approach 0?",
                          metadata=nbgrader_metadata("why_header", locked=True)),
        # The rubric inside the solution region: the release removes it with the solution.
        new_markdown_cell("### BEGIN SOLUTION\nLaw of large numbers.\n=== BEGIN MARK SCHEME ===\n"
                          "law of large numbers\n=== END MARK SCHEME ===\n### END SOLUTION",
                          metadata=nbgrader_metadata("why", solution=True, grade=True, points=1)),
    ]
    return nb


# An assignment whose hidden test runs a scenario in the kernel and compares with hidden values:
# what a failed check says must never carry those values, nor the scenario's source.
SCALE = """def scale(x):
    ### BEGIN SOLUTION
    return 2 * np.asarray(x, dtype=float)
    ### END SOLUTION"""
TEST_SCALE = """assert np.allclose(scale(np.ones(2)), [2.0, 2.0]), "scale doubles"
### BEGIN HIDDEN TESTS
def scenario():
    SECRET_SEED = 918273  # HIDDEN-SCENARIO-SOURCE
    return scale(np.random.default_rng(SECRET_SEED).normal(size=60)).tolist()
got = np.asarray(in_kernel(scenario))
expected = 2 * np.random.default_rng(918273).normal(size=60)
with check("scaled values match", points=1):
    np.testing.assert_allclose(got, expected, err_msg="HIDDEN-ERRMSG")
np.testing.assert_allclose(got, expected)
### END HIDDEN TESTS"""
SHIFT = """def shift(x):
    ### BEGIN SOLUTION
    return np.asarray(x, dtype=float) + 1
    ### END SOLUTION"""
TEST_SHIFT = 'assert np.allclose(shift(np.zeros(2)), [1.0, 1.0]), "shift adds one"'


def leaky_source() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        new_code_cell('TEAM = ["<student id>", "<student id>"]', metadata={"autograder": {"team": True}}),
        new_code_cell("import numpy as np", metadata=nbgrader_metadata("setup", locked=True)),
        new_code_cell(SCALE, metadata=nbgrader_metadata("scale", solution=True)),
        new_code_cell(TEST_SCALE, metadata=nbgrader_metadata("test_scale", grade=True, locked=True, points=2)),
        new_code_cell(SHIFT, metadata=nbgrader_metadata("shift", solution=True)),
        new_code_cell(TEST_SHIFT, metadata=nbgrader_metadata("test_shift", grade=True, locked=True, points=1)),
    ]
    return nb


FIND_SOURCE = """import inspect
STOLEN = []
def _scenario_source():
    for info in inspect.stack():
        request = info.frame.f_locals.get('request')
        if isinstance(request, dict) and 'source' in request:
            return request['source']
    return 'not found'
"""
LEAKS = {
    # wrong on the hidden inputs: numpy prints the expected array, wrapped over many lines
    "wrong_values": {"scale": "def scale(x):\n    x = np.asarray(x, dtype=float)\n    return 2 * x if len(x) < 5 else 3 * x"},
    # the scenario's source (read from the agent's frame) raised back, as is and as one line
    "raise_scenario_source": {"scale": FIND_SOURCE + "def scale(x):\n    x = np.asarray(x, dtype=float)\n    if len(x) < 5:\n        return 2 * x\n    raise ValueError(_scenario_source())"},
    "raise_scenario_source_repr": {"scale": FIND_SOURCE + "def scale(x):\n    x = np.asarray(x, dtype=float)\n    if len(x) < 5:\n        return 2 * x\n    raise ValueError(repr(_scenario_source()))"},
    # kept, then raised by a later answer cell as it runs
    "raise_scenario_source_later": {"scale": FIND_SOURCE + "def scale(x):\n    x = np.asarray(x, dtype=float)\n    if len(x) >= 5:\n        STOLEN.append(_scenario_source())\n    return 2 * x",
                                    "shift": "if STOLEN:\n    raise ValueError(repr(STOLEN[0]))\n\n\ndef shift(x):\n    return np.asarray(x, dtype=float) + 1"},
    "twin_raises": {"scale": "def scale(x):\n    x = np.asarray(x, dtype=float)\n    if len(x) < 5:\n        return 2 * x\n    raise ValueError('no')"},
}


def strip_hidden(code: str) -> str:
    return split_hidden(code)[0]


def submission(answers: dict[str, str] | None = None, extra: list[str] = (), team=("21900101", "21900102"),
               solved: bool = True, of: nbformat.NotebookNode | None = None) -> nbformat.NotebookNode:
    """The student's view (no hidden tests) with answers filled, replaced or left as the stub."""
    nb = copy.deepcopy(of or source())
    answers = answers or {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id")
        if cell.metadata.get("autograder", {}).get("team"):
            cell.source = f"TEAM = {list(team)!r}"
        elif meta.get("grade") and not meta.get("solution"):
            cell.source = strip_hidden(cell.source)
        elif meta.get("solution") and cell.cell_type == "code":
            if gid in answers:
                cell.source = answers[gid]
            elif solved:
                cell.source = "\n".join(ln for ln in cell.source.splitlines() if "###" not in ln)
            else:
                head = cell.source.splitlines()[0]
                cell.source = f"{head}\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    for i, code in enumerate(extra):
        nb.cells.insert(3 + i, new_code_cell(code))
    return nb


STUB = {"square": "def square(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()",
        "mean": "def mean_of(values):\n    # YOUR CODE HERE\n    raise NotImplementedError()"}

# Each attack: answers (grade_id → code) and extra free cells; stubs wherever not given.
HOSTILE = {
    "set_custom_exc": {"extra": ["get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"],
                       "answers": {"square": "def square(x):\n    return x"}},
    "showtraceback_override": {"extra": ["ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\nip._showtraceback = lambda *a, **k: None"],
                               "answers": {"square": "def square(x):\n    raise ValueError('hidden')"}},
    "input_transformer": {"extra": ["get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])"]},
    "ast_transformer": {"extra": ["import ast\nclass Nop(ast.NodeTransformer):\n    def visit_Module(self, node):\n        return ast.Module(body=[ast.Pass()], type_ignores=[])\nget_ipython().ast_transformers.append(Nop())"]},
    "patched_numpy_helpers": {"extra": ["import numpy as np, numpy.testing\nnp.allclose = lambda *a, **k: True\nnp.testing.assert_allclose = lambda *a, **k: None\nnp.isclose = lambda *a, **k: True\nimport builtins\nbuiltins.isinstance = lambda *a: True\nbuiltins.abs = lambda x: 0"],
                              "answers": {"square": "def square(x):\n    return x", "mean": "def mean_of(values):\n    return 0"}},
    "patched_torch_testing": {"extra": ["import torch\ntorch.testing.assert_close = lambda *a, **k: None\ntorch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a, **k: True"],
                              "answers": {"square": "import torch\ndef square(x):\n    return torch.zeros(3)"}},
    "always_equal_answer": {"answers": {
        "square": "class Anything:\n    def __eq__(self, other): return True\n    __ne__ = lambda s, o: False\n    def __array__(self, *a, **k):\n        import numpy\n        return numpy.ones(2)\n    __float__ = lambda s: 2.0\n    __bool__ = lambda s: True\n\ndef square(x):\n    return Anything()",
        "mean": "class F(float):\n    def __eq__(self, o): return True\n    def __sub__(self, o): return 0.0\n\ndef mean_of(values):\n    return F(0.0)"}},
    "read_files_outside": {"answers": {"square": """import glob, json, os
FOUND = [p for pat in ('../**/source/**/*.ipynb', '/work/**/*.ipynb', '/home/**/*.ipynb', '/tmp/**/*.ipynb', '/srv/**/*.ipynb', '/root/*/*.ipynb', '/work/**/course.toml') for p in glob.glob(pat, recursive=True)]
def _load():
    ns = {}
    for path in FOUND:
        try:
            nb = json.load(open(path))
        except Exception:
            continue
        for cell in nb.get('cells', []):
            src = ''.join(cell.get('source', ''))
            if cell.get('cell_type') == 'code' and 'def ' in src:
                try:
                    exec(src, globals())
                except Exception:
                    pass
_load()
if 'square' not in globals():
    def square(x):
        raise NotImplementedError(f'found {len(FOUND)} files')"""}},
    "print_environment": {"extra": ["import os\nprint(dict(os.environ))\nENV = dict(os.environ)"],
                          "answers": {"square": "import os\ndef square(x):\n    raise ValueError(str(dict(os.environ)) + open('/proc/1/environ').read())",
                                      "mean": "import os\ndef mean_of(values):\n    return str(dict(os.environ))"}},
    "socket_to_loopback": {"answers": {"square": """import socket
def square(x):
    s = socket.create_connection(('127.0.0.1', 47321), timeout=2)
    s.sendall(b'stolen')
    import numpy as np
    return np.asarray(x, dtype=float) ** 2"""}},
    "fork_bomb": {"extra": ["import os\nfor _ in range(100000):\n    try:\n        os.fork()\n    except OSError:\n        break"]},
    "memory_bomb": {"extra": ["hog = []\nwhile True:\n    hog.append(bytearray(100 * 2**20))"]},
    "infinite_loop": {"extra": ["while True:\n    pass"]},
    "sleeping": {"extra": ["import time\ntime.sleep(10**6)"]},
    "ignoring_signals": {"extra": ["import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    try:\n        pass\n    except KeyboardInterrupt:\n        pass"]},
    "output_flood": {"extra": ["while True:\n    print('x' * 100000)"]},
    "disk_fill": {"extra": ["import os\nwith open(os.path.expanduser('~/fill'), 'wb') as f:\n    while True:\n        f.write(b'0' * 2**20)"]},
    "kill_parent": {"extra": ["import os, signal\nfor pid in (os.getppid(), 1):\n    try:\n        os.kill(pid, signal.SIGKILL)\n    except Exception as e:\n        print(e)\ntry:\n    os.killpg(0, signal.SIGKILL)\nexcept Exception as e:\n    print(e)"]},
    "os_exit": {"answers": {"square": "import os\nos._exit(0)"}},
    "fake_scores": {"extra": ["from IPython.display import display\nprint('{\"points\": 5, \"status\": \"graded\"} ALL TESTS PASSED')\nfor n in range(20):\n    display({'application/vnd.autograder.result+json': {'nonce': 'x', 'value': {'t': 'float', 'v': '1.0'}}}, raw=True)"],
                    "answers": {"square": "from IPython.display import display\nimport numpy as np\ndef square(x):\n    display({'application/vnd.autograder.result+json': {'nonce': 'guess', 'value': {'t': 'ndarray', 'dtype': '|O', 'shape': [1], 'b64': ''}}}, raw=True)\n    return np.zeros(len(x))"}},
    "agent_tamper": {"extra": ["import sys\nagent = sys.modules['_autograder_agent'].agent\nagent.encode = lambda value, depth=0: {'t': 'float', 'v': '4.0'}"]},
    # The judge's requests arrive as shell messages the agent handles: take the handler over and
    # answer every request, with its own nonce, as if each test had passed.
    "request_handler_forgery": {"extra": ["""from IPython.display import display
kernel = get_ipython().kernel
def forged(stream, idents, msg):
    nonce = msg['content'].get('nonce', '')
    for value in ({'t': 'list', 'v': [{'t': 'float', 'v': '1.0'}, {'t': 'float', 'v': '4.0'}]},
                  {'t': 'float', 'v': '2.0'}, {'t': 'names', 'v': {}}, True):
        display({'application/vnd.autograder.result+json': {'nonce': nonce, 'value': value}}, raw=True)
kernel.shell_handlers['autograder_request'] = forged
kernel.shell_handlers['execute_request'] = forged"""]},
    "exchange_folder_attack": {"extra": ["""import os
from ipykernel.connect import get_connection_file
shared = os.path.dirname(get_connection_file())
# Links where the grader might write its requests, then fill the folder shared with the host.
for i in range(2000):
    try:
        os.symlink('/tmp/autograder-victim', os.path.join(shared, f'request-{i:016x}.b64'))
    except OSError:
        break
written = 0
try:
    for i in range(64):
        with open(os.path.join(shared, f'fill-{i}'), 'wb') as fh:
            for _ in range(32):
                fh.write(b'0' * 2**20)
                written += 2**20
except OSError as exc:
    print('stopped after', written >> 20, 'MB:', exc)"""]},
    "pickle_payload": {"answers": {"square": "import pickle, os\nclass Evil:\n    def __reduce__(self):\n        return (os.system, ('touch /tmp/autograder-pwned',))\ndef square(x):\n    return pickle.dumps(Evil())"}},
}


# Builtins and the judge's helpers shadowed by the student's cells. Each notebook answers both
# questions wrongly in the hidden cases only (visible tests pass: 2 of 4 points); each shadowing
# would turn a failed hidden check into a pass if the judge used the student's name. Each must
# score exactly what its twin (the same answers, no attack) scores.
# The answers use no builtin, so the shadowing changes nothing in the student's own functions.
WRONG_ON_HIDDEN = {
    "square": "def square(x):\n    x = np.asarray(x, dtype=np.float64)\n    return x ** 2 + (x.size >= 5)",
    "mean": "def mean_of(values):\n    v = np.asarray(values, dtype=np.float64)\n    return np.float64(v.mean() if v.size < 100 else 0.0).item()",
}
SHADOWING = {
    "builtins_in_free_cell": {"extra": ["""RECEIVED = []
def abs(x, *rest):
    RECEIVED.append(x)
    return 0.0
def isinstance(*args):
    RECEIVED.append(args)
    return True
def len(x):
    RECEIVED.append(x)
    return 2
def sum(*args, **kwargs):
    RECEIVED.append(args)
    return 0
def list(*args):
    RECEIVED.append(args)
    return [1.0, 4.0]
def print(*args, **kwargs):
    RECEIVED.append(args)
def range(*args):
    RECEIVED.append(args)
    return [0]
float = lambda *a: 0.0"""]},
    "judge_helper_names": {"extra": ["""import contextlib
class reference:
    square = staticmethod(lambda x: __import__('numpy').asarray(x, dtype=float) ** 2 + 1)
    mean_of = staticmethod(lambda values: 0.0)
def check(*args, **kwargs):
    return contextlib.suppress(BaseException)
def in_kernel(fn, *args, **kwargs):
    return None
def facts():
    return {}
def kernel_used_gpu():
    return True
__autograder_names__ = None"""]},
    "setup_names_in_free_cell": {"extra": ["""import types
import numpy as _numpy
np = types.ModuleType("numpy")
np.__dict__.update(vars(_numpy))
np.allclose = lambda *a, **k: True
np.testing = types.SimpleNamespace(assert_allclose=lambda *a, **k: None)
SECRET_SCALE = 0.0"""]},
    "answer_rebinds_builtins": {"answers": {
        "mean": WRONG_ON_HIDDEN["mean"] + "\n\n\nabs = lambda x: 0.0\nisinstance = lambda *a: True\nlen = lambda x: 2\nfloat = object"}},
}


def write(nb: nbformat.NotebookNode, path: Path) -> None:
    for i, cell in enumerate(nb.cells):  # stable ids: regenerating changes nothing
        cell["id"] = f"cell-{i}"
    write_notebook(nb, path)


def main() -> None:
    write(source(), HERE / "source" / "tiny" / "tiny.ipynb")
    write(submission(), HERE / "submissions" / "solution.ipynb")
    write(submission(solved=False), HERE / "submissions" / "unanswered.ipynb")
    hostile = HERE / "hostile"
    for name, attack in HOSTILE.items():
        answers = {**STUB, **attack.get("answers", {})}
        write(submission(answers, attack.get("extra", [])), hostile / f"{name}.ipynb")
    shadowing = HERE / "shadowing"
    for name, attack in SHADOWING.items():
        answers = {**WRONG_ON_HIDDEN, **attack.get("answers", {})}
        write(submission(answers, attack.get("extra", [])), shadowing / f"{name}.ipynb")
    write(submission(WRONG_ON_HIDDEN), shadowing / "twin.ipynb")
    write(leaky_source(), HERE / "source" / "leaky" / "leaky.ipynb")
    for name, answers in LEAKS.items():
        write(submission(answers, of=leaky_source()), HERE / "leaks" / f"{name}.ipynb")


if __name__ == "__main__":
    main()
