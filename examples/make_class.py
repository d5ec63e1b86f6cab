"""Build examples/submissions/hw1_features/: a small, realistic class of pairs for hw1.

Every submission is the solution notebook with edits, as students would hand it in: correct,
partly wrong, untouched, broken, late, with team mistakes, and one hostile. Run from anywhere:

    python examples/make_class.py
    autograder grade hw1_features examples/submissions/hw1_features
    autograder gradebook hw1_features

The submission times are in manifest.csv (file times of a checkout mean nothing).
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import nbformat

from autograder.config import load_course
from autograder.release import apply_steps, read_source, release_steps, solution_steps

ROOT = Path(__file__).resolve().parents[1]
HW = "hw1_features"
OUT = ROOT / "examples" / "submissions" / HW
ON_TIME = "2026-10-12T21:30:00+02:00"


def cell(nb, grade_id: str):
    for c in nb.cells:
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return c
    raise KeyError(grade_id)


def team(nb, ids: list[str]):
    nb = copy.deepcopy(nb)
    for c in nb.cells:
        if c.get("metadata", {}).get("autograder", {}).get("team"):
            c.source = ("# The two members of your pair: student ids as in the course roster.\n"
                        f"TEAM = {ids!r}")
    return nb


def edit(nb, grade_id: str, old: str, new: str):
    nb = copy.deepcopy(nb)
    c = cell(nb, grade_id)
    if old not in c.source:
        raise ValueError(f"{grade_id}: {old!r} not found; update make_class.py to the notebook")
    c.source = c.source.replace(old, new)
    return nb


def written(nb, text: str):
    nb = copy.deepcopy(nb)
    cell(nb, "written_degrees").source = text
    return nb


def strip_metadata(nb):
    """What some editors hand back: no nbgrader metadata at all."""
    nb = copy.deepcopy(nb)
    for c in nb.cells:
        c.metadata = {}
    return nb


HOSTILE = '''\
def polynomial_features(X, degree):
    """Tries every trick on the grader instead of answering."""
    import builtins, os
    import numpy
    class Always:
        def __eq__(self, other): return True
        def __bool__(self): return True
        shape = (2, 6)
    numpy.allclose = lambda *a, **k: True            # only the kernel's numpy
    numpy.testing.assert_allclose = lambda *a, **k: None
    try:
        get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)
    except NameError:
        pass
    for secret in ("/etc/shadow", "../../source/hw1_features/hw1_features.ipynb"):
        try:
            open(secret).read()
        except OSError:
            pass
    os.system("curl -s http://example.com >/dev/null 2>&1")
    return Always()
'''


def build() -> list[tuple[str, str]]:
    course = load_course(ROOT / "course.toml")
    spec = course.assignment(HW)
    source = read_source(spec)
    solution = apply_steps(source, solution_steps(spec))
    stub = apply_steps(source, release_steps(spec))

    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    times: list[tuple[str, str]] = []

    def put(name: str, nb=None, *, raw: bytes | None = None, at: str = ON_TIME,
            folder: bool = True) -> None:
        data = raw if raw is not None else nbformat.writes(nb).encode("utf-8")
        path = OUT / name / f"{HW}.ipynb" if folder else OUT / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        times.append((name if folder or not name.endswith(".ipynb") else Path(name).stem, at))

    answer = written(solution, "gauss needs degree 1, circle and xor degree 2; spiral needs more "
                               "than a polynomial: an MLP would learn its own features.")
    # 1-2: correct, one as a folder, one as a loose file.
    put("pair01-martin-bernard", team(answer, ["21900101", "21900102"]))
    put("pair02-dubois-thomas.ipynb", team(answer, ["21900103", "21900104"]), folder=False)
    # 3: polynomial features miss the top degree (partial credit).
    put("pair03-robert-richard", team(edit(
        answer, "polynomial_features", "for k in range(degree + 1)", "for k in range(degree)"),
        ["21900105", "21900106"]))
    # 4: gradient descent forgot the learning rate's sign (training diverges), rest correct.
    put("pair04-petit-durand", team(edit(
        answer, "gradient_descent", "w = w - lr * logistic_gradient(w, F, y)",
        "w = w + lr * logistic_gradient(w, F, y)"), ["21900107", "21900108"]))
    # 5: the release notebook with only the team filled in: nothing attempted.
    put("pair05-leroy-moreau", team(stub, ["21900109", "21900110"]))
    # 6: broken JSON (a truncated upload).
    whole = nbformat.writes(team(answer, ["21900111", "21900112"])).encode("utf-8")
    put("pair06-simon-laurent", raw=whole[: len(whole) // 2])
    # 7: correct, two days late.
    put("pair07-lefebvre-michel", team(answer, ["21900113", "21900114"]),
        at="2026-10-14T09:15:00+02:00")
    # 8: correct, a week late: zero.
    put("pair08-garcia-david", team(answer, ["21900115", "21900116"]),
        at="2026-10-19T18:00:00+02:00")
    # 9-10: 21900118 is in two pairs.
    put("pair09-bertrand-roux", team(answer, ["21900117", "21900118"]))
    # pair10 also forgot to keep the bias column out of the standardisation.
    put("pair10-roux-vincent", team(edit(
        answer, "standardiser", "    mean[0], std[0] = 0.0, 1.0\n", ""), ["21900118", "21900119"]))
    # 11: one id that is not on the roster (a typo).
    put("pair11-fournier", team(answer, ["21900120", "21900912"]))
    # 12: the team cell deleted; the folder name carries the ids. Saved by an editor that
    # dropped nbgrader's metadata.
    no_team = strip_metadata(team(answer, []))
    no_team.cells = [c for c in no_team.cells if "TEAM =" not in c.source]
    put("21900121_21900122", no_team)
    # 13: hostile: patches numpy, swallows exceptions, reads files, opens the network.
    put("pair13-andre-lefevre", team(
        edit(answer, "polynomial_features", cell(answer, "polynomial_features").source, HOSTILE),
        ["21900123", "21900124"]))
    # 14: not a notebook at all.
    put("pair14-mercier-dupont.pdf", raw=b"%PDF-1.4\n% the report instead of the notebook\n",
        folder=False)

    with open(OUT / "manifest.csv", "w", encoding="utf-8") as fh:
        fh.write("submission_id,submitted_at\n")
        for name, at in times:
            fh.write(f"{name},{at}\n")
    return times


if __name__ == "__main__":
    made = build()
    print(f"wrote {len(made)} submissions to {OUT.relative_to(ROOT)}")
