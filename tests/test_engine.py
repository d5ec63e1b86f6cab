"""The engine end to end: a tiny assignment graded in a real sandboxed kernel, and the hostile corpus.

Every hostile notebook leaves the answers unanswered or wrong and attacks the grader instead; each
must score exactly what the unanswered notebook scores, and the grader must live on.
"""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import threading
from pathlib import Path

import nbformat
import pytest

from autograder import sandbox
from autograder.config import KernelStart, load_course
from autograder.engine import grade_submission
from autograder.errors import CageError
from autograder.feedback import hidden_test_lines, render
from autograder.link import KernelLink
from autograder.notebook import JUDGE_HELPERS, nbgrader_metadata
from autograder.results import QuestionStatus, SubmissionStatus

DATA = Path(__file__).parent / "data" / "engine"
HOSTILE = sorted((DATA / "hostile").glob("*.ipynb"))
# Kernels start two ways (grading.kernel_start); the whole corpus runs against the default
# (forked from the template), the escapes that differ most between the two against bubblewrap.
BWRAP_CORPUS = ("read_files_outside", "socket_to_loopback", "print_environment", "kill_parent",
                "fork_bomb", "memory_bomb", "disk_fill", "ignoring_signals",
                "exchange_folder_attack", "request_handler_forgery")
CASES = [("template", p) for p in HOSTILE] + [("bwrap", p) for p in HOSTILE
                                               if p.stem in BWRAP_CORPUS]
SECRET = "planted-grader-secret-7f3a9c"
HOSTILE_PORT = 47321  # where socket_to_loopback knocks; each run listens on a free port instead
# Every test here grades in real cages: an error, not a skip, where the sandbox tests must run
# (tests/conftest.py).
pytestmark = [pytest.mark.kernel, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def course():
    return load_course(DATA / "course.toml")


def started_with(course, start):
    return dataclasses.replace(course, limits=dataclasses.replace(course.limits,
                                                                  kernel_start=start))


def grade(course, path, assignment="tiny", **kwargs):
    return grade_submission(path, course=course, assignment=assignment, **kwargs)


def student_text(result) -> str:
    """What a student may read of a result: its feedback page, and every message and print."""
    page = render(result, hidden=hidden_test_lines(DATA / "source" / result.assignment /
                                                   f"{result.assignment}.ipynb"))
    parts = [page, result.reason] + [f.message for f in result.flags]
    for q in result.questions:
        parts += [q.message, q.output] + [c.message for c in q.checks]
    return "\n".join(parts)


def test_solution_scores_full_marks_and_written_answer_is_manual(course):
    result = grade(course, DATA / "submissions" / "solution.ipynb")
    assert result.status == SubmissionStatus.GRADED and result.sandbox == "template"
    assert result.points == 4.0 and result.max_points == 5.0
    statuses = {q.grade_id: q.status for q in result.questions}
    assert statuses == {"test_square": QuestionStatus.PASSED, "test_mean": QuestionStatus.PASSED,
                        "why": QuestionStatus.MANUAL}
    assert result.team == ["21900101", "21900102"]
    assert result.peak_memory_mb and result.peak_memory_mb > 10


def test_unanswered_scores_zero_as_not_attempted(course):
    result = grade(course, DATA / "submissions" / "unanswered.ipynb")
    assert result.points == 0.0
    automatic = [q.status for q in result.questions if not q.manual]
    assert automatic == [QuestionStatus.NOT_ATTEMPTED] * 2


@pytest.fixture(scope="module")
def loopback_listener():
    """A listener on the host's loopback, on a free port: a sandboxed kernel must not reach it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    received: list[bytes] = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            received.append(conn.recv(100) or b"<connected>")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    stop.set()
    thread.join(2)
    server.close()


@pytest.mark.parametrize(("start", "notebook"), CASES,
                         ids=[f"{start}-{p.stem}" for start, p in CASES])
def test_hostile_notebook_scores_like_an_unanswered_one(course, start, notebook, monkeypatch,
                                                        loopback_listener, tmp_path):
    monkeypatch.setenv("AUTOGRADER_PLANTED_SECRET", SECRET)
    port, received = loopback_listener
    pwned, victim = tmp_path / "pwned", tmp_path / "victim"
    # The corpus names a port and two paths; this run's are free and its own.
    text = notebook.read_text().replace(str(HOSTILE_PORT), str(port)) \
        .replace("/tmp/autograder-pwned", str(pwned)).replace("/tmp/autograder-victim", str(victim))
    notebook = tmp_path / notebook.name
    notebook.write_text(text)
    result = grade(started_with(course, start), notebook)
    assert result.sandbox == start
    assert result.points == 0.0, [(q.grade_id, q.status, q.message) for q in result.questions]
    assert result.status in (SubmissionStatus.GRADED, SubmissionStatus.TIMEOUT)
    assert all(q.points == 0 for q in result.questions)
    text = json.dumps(result.to_dict())
    assert SECRET not in text  # nothing of the grader's environment reached the kernel
    shown = student_text(result)
    assert "HIDDEN-EXPECTED" not in shown and "SECRET_SCALE" not in shown
    assert received == []  # no connection reached the host's loopback
    assert not pwned.exists()  # nothing from the kernel was unpickled in the judge
    assert not victim.exists()  # the grader followed no link the kernel planted


def test_grading_goes_on_after_the_kernel_dies(course):
    result = grade(course, DATA / "hostile" / "os_exit.ipynb")
    statuses = [q.status for q in result.questions if not q.manual]
    assert statuses[0] == "kernel_died" and statuses[1] == QuestionStatus.NOT_ATTEMPTED


def test_memory_bomb_is_stopped_by_the_limit(course):
    result = grade(course, DATA / "hostile" / "memory_bomb.ipynb")
    assert any(f.code == "memory_limit" for f in result.flags)
    assert result.peak_memory_mb <= course.limits.memory_mb + 1


@pytest.mark.parametrize("level", [KernelStart.TEMPLATE, KernelStart.BWRAP])
def test_sandbox_cannot_write_the_system(level):
    from autograder.config import Limits
    from autograder.kernel import Kernel

    with Kernel(limits=Limits(cell_timeout=10), level=level) as kernel:
        run = kernel.execute(
            "import os, subprocess\n"
            "print(os.getuid())\n"
            "r = subprocess.run(['mount', '-o', 'remount,bind,rw', '/usr'], capture_output=True)\n"
            "print('mount', r.returncode)\n"
            "for p in ('/usr/evil', os.path.expanduser('~/ok')):\n"
            "    try:\n"
            "        open(p, 'w').write('x'); print('wrote', p)\n"
            "    except OSError as e:\n"
            "        print('refused', p)\n"
            "print(sorted(os.listdir('/')))\n"
            "print(' '.join(l.split()[1] for l in open('/proc/self/status') if l.startswith('Cap')))",
            timeout=20)
    lines = run.output.splitlines()
    assert int(lines[0]) >= sandbox.FIRST_UID  # not root inside
    assert lines[1] != "mount 0"
    assert "refused /usr/evil" in lines and "wrote /home/student/ok" in lines
    assert "work" not in lines[-2] and "root" in lines[-2]  # only the Python install under /root
    assert lines[-1].split() == ["0" * 16] * 5  # CapInh, CapPrm, CapEff, CapBnd, CapAmb: none
    assert not Path("/usr/evil").exists()


def test_big_arguments_travel_through_a_file_that_is_removed():
    import time

    import numpy as np

    from autograder.config import Limits
    from autograder.kernel import Kernel
    from autograder.student_kernel import BOOT

    with Kernel(limits=Limits(), level=KernelStart.TEMPLATE, prelude=BOOT) as kernel:
        kernel.execute("import numpy as np\ndef total(x):\n    return float(np.asarray(x).sum())",
                       timeout=20)
        link = KernelLink(kernel, deadline=lambda: time.monotonic() + 60)
        total = link.names(["total"])["total"]
        assert total(np.arange(10.0)) == 45.0  # inline
        assert total(np.ones(10**6)) == 10**6  # through the shared folder
        assert not list(kernel.box.ipc_dir.glob("request-*"))


@pytest.mark.parametrize("level", [KernelStart.TEMPLATE, KernelStart.BWRAP])
def test_requests_bypass_the_students_ipython_hooks(level):
    """The judge's requests are shell messages the agent answers itself: a student's IPython
    hooks (events, input transformers) never see them, a bad request gets an error answer, an
    endless call is interrupted, and a kernel whose handler was removed answers "no answer"
    at once instead of hanging."""
    import time

    from autograder.config import Limits
    from autograder.errors import KernelTimeout, StudentError
    from autograder.kernel import Kernel
    from autograder.student_kernel import BOOT

    with Kernel(limits=Limits(), level=level, prelude=BOOT) as kernel:
        kernel.execute(
            "seen = []\n"
            "ip = get_ipython()\n"
            "ip.events.register('pre_run_cell', lambda info: seen.append(info.raw_cell))\n"
            "ip.input_transformers_cleanup.append(lambda lines: ['raise SystemExit\\n'])\n",
            timeout=20)
        link = KernelLink(kernel, deadline=lambda: time.monotonic() + 60)
        assert link.names(["seen"])["seen"] == []
        run = kernel.ask_agent({"nonce": "n", "blob": "not base64"}, timeout=20)
        assert run.status == "ok" and run.payloads[0]["value"]["t"] == "error"

    with Kernel(limits=Limits(), level=level, prelude=BOOT) as kernel:
        kernel.execute("import time\n"
                       "def loud(x):\n    print('working on', x)\n    return x + 1\n"
                       "def endless():\n    while True:\n        time.sleep(0.01)\n", timeout=20)
        deadline = [time.monotonic() + 60]
        link = KernelLink(kernel, deadline=lambda: deadline[0])
        loud, endless = link.names(["loud", "endless"]).values()
        assert loud(1) == 2
        deadline[0] = time.monotonic() + 1
        started = time.monotonic()
        with pytest.raises(KernelTimeout):
            endless()
        assert time.monotonic() - started < 10 and kernel.alive()
        deadline[0] = time.monotonic() + 60
        assert loud(2) == 3  # the interrupted call left the kernel able to answer
        kernel.execute("get_ipython().kernel.shell_handlers.pop('autograder_request')", timeout=20)
        started = time.monotonic()
        with pytest.raises(StudentError, match="prevented the call"):
            loud(3)
        assert time.monotonic() - started < 10


@pytest.mark.parametrize("level", [KernelStart.TEMPLATE, KernelStart.BWRAP])
def test_the_folder_shared_with_the_host_is_bounded(level):
    """The kernel must write its sockets in a folder that lives on the host: a sized tmpfs."""
    from autograder.config import Limits
    from autograder.kernel import Kernel

    with Kernel(limits=Limits(cell_timeout=60), level=level) as kernel:
        shared = kernel.box.ipc_dir
        run = kernel.execute(
            "import os\n"
            f"written = 0\n"
            "try:\n"
            "    for i in range(40):\n"
            f"        with open('{shared}/fill-%d' % i, 'wb') as fh:\n"
            "            for _ in range(32):\n"
            "                fh.write(b'0' * 2**20); written += 2**20\n"
            "except OSError as exc:\n"
            "    print('refused', exc.errno)\n"
            "print(written >> 20)", timeout=60)
    lines = run.output.split()
    assert "refused" in lines and int(lines[-1]) <= sandbox.EXCHANGE_MB
    assert not shared.exists()


def test_grade_one_command_prints_the_result_and_writes_it(tmp_path, capsys):
    from autograder import cli
    from autograder.results import read_result

    out = tmp_path / "result.json"
    code = cli.main(["--course", str(DATA / "course.toml"), "grade-one",
                     str(DATA / "submissions" / "solution.ipynb"), "--assignment", "tiny",
                     "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "graded, 4/5 points" in printed and "test_square" in printed
    assert read_result(out).points == 4.0


def test_a_cage_that_cannot_be_built_says_why():
    from autograder.config import Limits
    from autograder.kernel import Kernel

    kernel = Kernel(limits=Limits(), level=KernelStart.TEMPLATE,
                    gpu_devices=(("/dev/nvidia-absent", "/dev/nvidia0"),))
    with pytest.raises(CageError, match="nvidia-absent"):
        kernel.start()
    kernel.close()


# Shadowing: a student's cell that binds a builtin or a judge name changes nothing in the judge --

SHADOWING = sorted(p for p in (DATA / "shadowing").glob("*.ipynb") if p.stem != "twin")


@pytest.fixture(scope="module")
def twin(course):
    """The same wrong-on-hidden answers without any attack: 1 + 1 of 4 points."""
    return grade(course, DATA / "shadowing" / "twin.ipynb")


@pytest.mark.parametrize("notebook", SHADOWING, ids=[p.stem for p in SHADOWING])
def test_shadowing_builtins_or_judge_names_scores_like_the_twin(course, twin, notebook,
                                                                 monkeypatch):
    sent = []
    request = KernelLink.request

    def recording(self, message, **kwargs):
        sent.append((message["op"], message.get("names"), getattr(message.get("target"),
                                                                   "_label", None)))
        return request(self, message, **kwargs)

    monkeypatch.setattr(KernelLink, "request", recording)
    result = grade(course, notebook)
    assert twin.points == 2.0
    assert [(q.grade_id, q.points) for q in result.questions] == \
        [(q.grade_id, q.points) for q in twin.questions]
    # The judge asked the kernel for the assignment's names only, and called nothing else:
    # the student's `abs`, `len`, `check`... never received the judge's values.
    asked = {n for op, names, _ in sent if op == "names" for n in names}
    assert asked == {"square", "mean_of"}
    assert {label for op, _, label in sent if op == "call"} <= {"square", "mean_of"}


def test_a_test_cell_sees_every_helper_of_the_judge(tmp_path, write_course):
    """The judge binds for a test cell the helpers that rebuild reserves (notebook.JUDGE_HELPERS),
    no fewer: a name reserved but unbound would be a NameError, one bound but not reserved could
    be shadowed by a student's cell."""
    code = nbformat.v4.new_code_cell
    source = nbformat.v4.new_notebook(cells=[
        code("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
             metadata=nbgrader_metadata("answer", solution=True)),
        code(f"missing = [name for name in {JUDGE_HELPERS!r} if name not in globals()]\n"
             "assert not missing, missing\n"
             "assert reference.double(3) == double(3) == 6",
             metadata=nbgrader_metadata("helpers", grade=True, locked=True, points=1)),
    ])
    path = tmp_path / "source" / "hw" / "hw.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(source, path)
    course = load_course(write_course(
        tmp_path, course={"roster": DATA.parents[2] / "roster.csv"},
        assignments={"hw": {"notebook": "source/hw/hw.ipynb", "due": "2099-10-12T23:59",
                            "points": 1}}))
    result = grade(course, path, assignment="hw")
    assert result.status == SubmissionStatus.GRADED, result.reason
    assert result.questions[0].status == QuestionStatus.PASSED, result.questions[0].message


# Hidden data: a failed hidden check says why in one line, never with the hidden values --------

LEAKS = sorted((DATA / "leaks").glob("*.ipynb"))
HIDDEN_VALUES = re.compile(r"-?\d+\.\d{4,}")  # numpy prints the expected array's values so


@pytest.mark.parametrize("notebook", LEAKS, ids=[p.stem for p in LEAKS])
def test_feedback_never_shows_hidden_values_or_scenario_source(course, notebook):
    result = grade(course, notebook, assignment="leaky")
    shown = student_text(result)
    assert "918273" not in shown and "SECRET_SEED" not in shown  # the scenario's source
    assert "HIDDEN-SCENARIO-SOURCE" not in shown and "HIDDEN-ERRMSG" not in shown
    assert not HIDDEN_VALUES.findall(shown), HIDDEN_VALUES.findall(shown)[:5]
    for q in result.questions:
        for c in q.checks:
            assert c.hidden and "\n" not in c.message and len(c.message) <= 200
    if notebook.stem == "wrong_values":  # staff still get the full reason, values included
        assert HIDDEN_VALUES.findall(result.questions[0].checks[0].detail)
    # The attack scores what the same mistake without it scores.
    points = [q.points for q in result.questions]
    assert points == {"wrong_values": [0.0, 1.0], "twin_raises": [0.0, 1.0],
                      "raise_scenario_source": [0.0, 1.0],
                      "raise_scenario_source_repr": [0.0, 1.0],
                      "raise_scenario_source_later": [2.0, 0.0]}[notebook.stem]


def test_grade_one_shows_the_staff_the_detail_the_student_does_not_see(capsys):
    from autograder import cli

    code = cli.main(["--course", str(DATA / "course.toml"), "grade-one",
                     str(DATA / "leaks" / "wrong_values.ipynb"), "--assignment", "leaky"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    question = next(line for line in printed.splitlines() if line.startswith("  test_scale"))
    # The student's line says what failed; the staff also read the compared values.
    assert "Not equal to tolerance" in question and "DESIRED" not in question
    assert "detail:" in printed and "DESIRED" in printed and "HIDDEN-ERRMSG" in printed
