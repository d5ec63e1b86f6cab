"""The `autograder` command line: help, version, where --course goes, exit statuses, error
messages, and that starting it loads none of the heavy libraries the commands use."""

from __future__ import annotations

import argparse
import inspect
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from autograder import __version__, cli, commands, errors
from autograder.errors import (
    AuthoringError,
    AutograderError,
    ConfigError,
    GpuUnavailable,
    JudgeError,
    KernelError,
    MarkError,
    SandboxUnavailable,
    SubmissionError,
)

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "data" / "release"
HEAVY = ("nbformat", "nbclient", "jupyter_client", "zmq", "numpy", "torch", "pandas", "openpyxl",
         "nbgrader", "rich", "IPython", "rfc3987_syntax", "jsonschema")


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"autograder {__version__}"


def test_bare_command_prints_help_and_exits_0(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: autograder")
    for name in _subcommands(cli.build_parser()):
        assert name in out


def test_every_command_and_argument_says_what_it_is():
    parser = cli.build_parser()
    commands = _subcommands(parser)
    assert {"release", "check", "validate", "grade-one", "grade", "gradebook"} <= set(commands)
    for name, sub in commands.items():
        assert sub.description and len(sub.description) > 40, name
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"{name}: {action.dest} has no help text"
    helps = {a.dest: a.help for a in commands["grade-one"]._actions}
    assert "course.toml" in helps["assignment"]


@pytest.mark.parametrize("argv", [
    ["--course", "x/course.toml", "release"],
    ["release", "--course", "x/course.toml"],
    ["--course", "elsewhere.toml", "release", "--course", "x/course.toml"],
])
def test_course_before_or_after_the_command(argv):
    assert cli.build_parser().parse_args(argv).course == Path("x/course.toml")


def test_course_defaults_to_the_current_folder():
    assert cli.build_parser().parse_args(["gradebook", "hw1"]).course == Path("course.toml")


def test_course_after_the_command_reaches_the_command(tmp_path, capsys):
    course = tmp_path / "course"
    shutil.copytree(GOLDEN, course)
    assert cli.main(["release", "hw9", "--course", str(course / "course.toml")]) == 2
    assert "no assignment named 'hw9'" in capsys.readouterr().err


@pytest.mark.parametrize("exc, code, words", [
    (AuthoringError("unbalanced markers", path="source/hw1/hw1.ipynb", cell=4),
     cli.EXIT_INPUT, "error in the instructor's source notebook: source/hw1/hw1.ipynb, cell 4"),
    (ConfigError("unknown key grading.gpus", path="course.toml"), cli.EXIT_INPUT,
     "error: course.toml: unknown key"),
    (SubmissionError("the file is empty", path="a.ipynb"), cli.EXIT_INPUT, "a.ipynb: the file"),
    (KernelError("no Jupyter kernel named 'python3'", hint="pip install ipykernel"),
     cli.EXIT_MACHINE, "cannot check on this machine: no Jupyter kernel"),
    (SandboxUnavailable("bubblewrap is missing", hint="--no-require-sandbox"), cli.EXIT_MACHINE,
     "hint: --no-require-sandbox"),
    (GpuUnavailable('course.toml sets gpu = "required" but this machine has no GPU'),
     cli.EXIT_MACHINE, "cannot check on this machine: course.toml sets gpu"),
    (ModuleNotFoundError("No module named 'nbgrader'", name="nbgrader"), cli.EXIT_MACHINE,
     "pip install 'autograder[grade]'"),
    (ModuleNotFoundError("No module named 'nbclient'", name="nbclient"), cli.EXIT_MACHINE,
     "needs nbclient"),
    (PermissionError(13, "Permission denied", "/results/x.json"), cli.EXIT_INPUT,
     "/results/x.json: Permission denied"),
    (KeyboardInterrupt(), cli.EXIT_INTERRUPTED, "interrupted"),
])
def test_each_error_family_has_its_message_and_status(exc, code, words):
    got_code, message = cli.exit_code_for(exc, "check")
    assert got_code == code and words in message
    assert "Traceback" not in message


@pytest.mark.parametrize("exc", [ValueError("a bug"), KeyError("x"),
                                 ModuleNotFoundError("No module named 'foo'", name="foo"),
                                 JudgeError("a test cell's error out of its test cell")])
def test_a_bug_keeps_its_traceback(exc):
    assert cli.exit_code_for(exc, "grade") is None


# Each family of errors.py and what the command line does with it (None: a traceback).
FAMILIES = {AuthoringError: cli.EXIT_INPUT, ConfigError: cli.EXIT_INPUT,
            SubmissionError: cli.EXIT_INPUT, MarkError: cli.EXIT_INPUT,
            SandboxUnavailable: cli.EXIT_MACHINE, GpuUnavailable: cli.EXIT_MACHINE,
            KernelError: cli.EXIT_MACHINE, JudgeError: None}


def _instance(cls: type[AutograderError]) -> AutograderError:
    for args in (("why",), ("TypeName", "why")):  # StudentError takes a type name first
        try:
            return cls(*args)
        except TypeError:
            continue
    raise AssertionError(f"cannot make a {cls.__name__}")


@pytest.mark.parametrize("cls", [c for _, c in inspect.getmembers(errors, inspect.isclass)
                                 if issubclass(c, AutograderError) and c is not AutograderError],
                         ids=lambda c: c.__name__)
def test_every_error_belongs_to_a_family_the_command_line_maps(cls):
    family = [f for f in FAMILIES if issubclass(cls, f)]
    assert len(family) == 1, f"{cls.__name__}: in {family or 'no family'}"
    mapped = cli.exit_code_for(_instance(cls), "grade")
    assert (mapped and mapped[0]) == FAMILIES[family[0]]


def test_a_bug_is_raised_not_swallowed(monkeypatch):
    def broken(args):
        raise ValueError("a bug in the grader")

    monkeypatch.setattr(commands, "run_gradebook", broken)
    with pytest.raises(ValueError, match="a bug in the grader"):
        cli.main(["gradebook", "hw1"])


def test_kernel_that_cannot_start_is_a_message(tmp_path, capsys):
    notebook = tmp_path / "hw.ipynb"
    shutil.copy(GOLDEN / "release" / "demo" / "demo.ipynb", notebook)
    assert cli.main(["check", str(notebook), "--kernel", "no-such-kernel"]) == cli.EXIT_MACHINE
    err = capsys.readouterr().err
    assert "no Jupyter kernel named 'no-such-kernel'" in err and "pip install ipykernel" in err
    assert "Traceback" not in err


def _broken_source_course(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    shutil.copytree(GOLDEN, course)
    source = course / "source" / "demo" / "demo.ipynb"
    nb = json.loads(source.read_text())
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            text = "".join(cell["source"])
            cell["source"] = text.replace("### END SOLUTION", "")  # unbalanced markers
            break
    source.write_text(json.dumps(nb))
    return course / "course.toml"


def test_broken_source_is_the_instructors_error_before_any_grading(tmp_path, capsys,
                                                                  monkeypatch):
    import autograder.engine

    def must_not_grade(*args, **kwargs):
        raise AssertionError("graded against a broken source")

    monkeypatch.setattr(autograder.engine, "grade_submission", must_not_grade)
    course = _broken_source_course(tmp_path)
    submission = GOLDEN / "release" / "demo" / "demo.ipynb"
    code = cli.main(["grade-one", str(submission), "--assignment", "demo", "--course",
                     str(course), "--no-require-sandbox"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_INPUT
    assert "error in the instructor's source notebook" in err and "demo.ipynb" in err


def test_grader_commands_say_which_python_they_need(monkeypatch, capsys):
    monkeypatch.setattr(cli, "GRADER_PYTHON", (99, 0))
    assert cli.main(["gradebook", "hw1"]) == cli.EXIT_MACHINE
    assert "needs Python 99.0 or newer" in capsys.readouterr().err


def test_config_type_errors_read_as_english(tmp_path, capsys, write_course):
    tables = tomllib.loads((GOLDEN / "course.toml").read_text(encoding="utf-8"))
    course = write_course(tmp_path, **tables, grading={"memory_mb": "lots"})
    assert cli.main(["gradebook", "demo", "--course", str(course)]) == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert "grading.memory_mb = 'lots' should be a whole number" in err
    assert "a int" not in err


def _modules_after(code: str) -> list[str]:
    # A module set to None in sys.modules is one that will never load (autograder/__init__.py).
    probe = (f"import sys\n{code}\n"
             f"print('loaded:', *(m for m in {HEAVY!r} if sys.modules.get(m) is not None))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[-1].split()[1:]


def test_the_command_line_starts_without_heavy_libraries():
    assert _modules_after("import autograder.cli") == []
    assert _modules_after(
        "from autograder import cli\n"
        "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "cli.main([])") == []


def test_the_student_check_loads_no_grader_library():
    loaded = _modules_after("import autograder.student")
    assert not {"torch", "pandas", "numpy", "nbgrader", "openpyxl", "zmq"} & set(loaded)
