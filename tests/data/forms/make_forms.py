"""Derive form-variant submissions from a source notebook: how a pair's notebook comes back.

    python tests/data/forms/make_forms.py                 # tests/data/forms/source.ipynb -> here
    python tests/data/forms/make_forms.py SOURCE OUTDIR   # e.g. the forms of hw1_features

Each form starts from the release filled with the solution (the answer cells hold the source's
solution without its markers, the team cell names two students of roster.csv), then is changed
the way an editor or a student changes it. OUTDIR gets one <form>.ipynb per form and
expected.json: per form, the flags rebuilding it raises, the team it names, and what each answer
holds ("solution", "stub" or "missing"), with how it is matched.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell

from autograder.config import Assignment
from autograder.notebook import Role, cells_of, read_notebook, role_of, write_notebook
from autograder.release import apply_steps, release_steps

HERE = Path(__file__).parent
TEAM = ["21900101", "21900102"]
ANSWERS = (Role.ANSWER, Role.WRITTEN)


def release(source):
    """The students' notebook, made by the course's own release steps."""
    assignment = Assignment(name="forms", notebook=Path("forms.ipynb"),
                            due=datetime(2026, 1, 1, tzinfo=UTC), team_size=len(TEAM))
    return apply_steps(source, release_steps(assignment))


def filled(source):
    """The release with every answer solved as the source solves it and the team filled in."""
    solutions = {c.grade_id: "\n".join(line for line in c.source.split("\n")
                                       if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line)
                 for c in cells_of(source) if c.role in ANSWERS}
    nb = release(source)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = solutions[grade_id]
        elif role_of(cell) is Role.TEAM:
            cell.source = re.sub(r"^TEAM\s*=.*$", f"TEAM = {json.dumps(TEAM)}", cell.source, flags=re.M)
    return nb


def first(nb, *roles, last=False):
    found = [i for i, c in enumerate(nb.cells) if role_of(c) in roles and c.cell_type == "code"]
    return found[-1] if last else found[0]


def colab(nb):
    """Colab keeps the sources but replaces every cell's metadata with its own id."""
    for cell in nb.cells:
        cell.metadata = {"id": hashlib.sha1(cell.source.encode()).hexdigest()[:12]}
        if cell.cell_type == "code":
            cell.metadata["colab"] = {"base_uri": "https://localhost:8080/"}
    nb.metadata = {"colab": {"provenance": []}, "kernelspec": {"name": "python3", "display_name": "Python 3"},
                   "language_info": {"name": "python"}}
    return nb


def vscode(nb):
    """Worst case seen from VS Code: its own cell metadata only, Windows line ends."""
    for cell in nb.cells:
        cell.metadata = {"vscode": {"languageId": "python"}} if cell.cell_type == "code" else {}
        cell.source = cell.source.replace("\n", "\r\n")
    nb.metadata["vscode"] = {"interpreter": {"hash": "0" * 64}}
    return nb


def strip(nb):
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
        cell.metadata.pop("autograder", None)
    return nb


def new_cell(kind, text, cell_id):
    cell = (new_code_cell if kind == "code" else new_markdown_cell)(text)
    cell.id = cell_id  # fixed, so that the forms are written byte for byte the same each time
    return cell


def move_first_answer_to_end(nb):
    nb.cells.append(nb.cells.pop(first(nb, Role.ANSWER)))
    return nb


def duplicate_first_answer(nb):
    i = first(nb, Role.ANSWER)
    earlier = copy.deepcopy(nb.cells[i])
    earlier.source += "\n\n_first_try = True"
    earlier.id = "first-try"
    nb.cells.insert(i, earlier)
    return nb


def edit_first_tests(nb):
    """The pair disarms the visible tests that were in their way."""
    cell = nb.cells[first(nb, Role.TESTS)]
    cell.source = cell.source.replace("assert ", "assert True or ") + "\npass  # was in our way"
    return nb


def delete_first_tests(nb):
    del nb.cells[first(nb, Role.TESTS)]
    return nb


def delete_last_answer(nb):
    del nb.cells[first(nb, Role.ANSWER, last=True)]
    return nb


def delete_team(nb):
    del nb.cells[first(nb, Role.TEAM)]
    return nb


def add_helper(nb):
    i = first(nb, Role.ANSWER) + 1
    nb.cells[i:i] = [new_cell("markdown", "A helper of our own:", "our-note"),
                     new_cell("code", "def _our_helper(x):\n    return x", "our-helper")]
    return nb


def form(*changes, start=filled, flags=(), answers="solution", how="matched_by_id", team=TEAM):
    def build(source):
        nb = start(source)
        for change in changes:
            nb = change(nb)
        return nb

    return {"build": build, "flags": sorted(flags), "answers": answers, "how": how, "team": team}


STRIPPED = {"flags": ["metadata_stripped"], "how": "matched_by_anchor"}
FORMS = {
    "complete": form(),
    "untouched_release": form(start=release, flags=["no_team_cell"], answers="stub", team=[]),
    "metadata_stripped": form(strip, **STRIPPED),
    "colab_saved": form(colab, **STRIPPED),
    "vscode_saved": form(vscode, **STRIPPED),
    "colab_untouched": form(colab, start=release, flags=["metadata_stripped", "no_team_cell"],
                            answers="stub", how="matched_by_anchor", team=[]),
    "cells_moved": form(move_first_answer_to_end, flags=["answer_moved"]),
    # Far from its place, without metadata, the answer is found by the names it defines.
    "colab_cells_moved": form(move_first_answer_to_end, colab, how="matched_by_anchor",
                              flags=["answer_moved", "metadata_stripped"]),
    "answer_duplicated": form(duplicate_first_answer, flags=["answer_duplicated"]),
    "test_cell_edited": form(edit_first_tests, flags=["cells_changed"]),
    "colab_test_cell_edited": form(edit_first_tests, colab, how="matched_by_anchor",
                                   flags=["cells_changed", "metadata_stripped"]),
    "test_cell_deleted": form(delete_first_tests, flags=["cells_changed"]),
    "answer_deleted": form(delete_last_answer),
    "extra_helper_cell": form(add_helper),
    "team_cell_deleted": form(delete_team, flags=["no_team_cell"], team=None),
}


def make_forms(source):
    """{form: (submission notebook, expectations)} for one source notebook."""
    answers = [c.metadata.nbgrader.grade_id for c in source.cells if role_of(c) in ANSWERS]
    moved = source.cells[first(source, Role.ANSWER)].metadata.nbgrader.grade_id
    deleted = source.cells[first(source, Role.ANSWER, last=True)].metadata.nbgrader.grade_id
    out = {}
    for name, f in FORMS.items():
        holds = dict.fromkeys(answers, f["answers"])
        matches = dict.fromkeys(answers, f["how"])
        if name == "answer_deleted":
            holds[deleted] = matches[deleted] = "missing"
        if name == "colab_cells_moved":
            matches[moved] = "matched_by_names"
        out[name] = f["build"](source), {"flags": f["flags"], "team": f["team"], "answers": holds,
                                         "matches": matches}
    return out


def main(argv):
    source_path = Path(argv[0]) if argv else HERE / "source.ipynb"
    out = Path(argv[1]) if len(argv) > 1 else HERE
    expected = {}
    for name, (nb, expect) in make_forms(read_notebook(source_path)).items():
        write_notebook(nb, out / f"{name}.ipynb")
        expected[name] = expect
    (out / "expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
    print(f"{len(expected)} forms of {source_path} written to {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
