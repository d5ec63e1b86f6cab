"""The example class of hw1_features as Moodle and GitHub Classroom hand it to a TA.

    python examples/make_lms.py

From examples/submissions/hw1_features/ (and its manifest.csv, the true submission times) it
writes:

- examples/moodle/hw1_features/M2DL-hw1_features-42.zip: "Download all submissions" (one
  folder per participant who uploaded, `Full Name_<participant>_assignsubmission_file_/`),
  whose entry dates are the download's, not the submissions';
- examples/moodle/hw1_features/Grades-M2DL-hw1_features-42.csv: "Download grading worksheet"
  for every student of roster.csv (participant numbers 5001...), with Last modified
  (submission) as Moodle writes it for a Moodle account set to Europe/Paris;
- examples/classroom/hw1_features/hw1-features-submissions/<repo>/: the folders
  `gh classroom clone student-repos` makes (one repository per pair), and
  examples/classroom/hw1_features/grades.csv: the assignment's grades CSV from GitHub Classroom
  (submission_timestamp in UTC).

The file names and columns are those of Moodle and GitHub Classroom (see autograder/moodle.py
and autograder/times.py); the content is the example class, nothing of theirs.
"""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
CLASS = ROOT / "examples" / "submissions" / "hw1_features"
MOODLE = ROOT / "examples" / "moodle" / "hw1_features"
CLASSROOM = ROOT / "examples" / "classroom" / "hw1_features"
NOTEBOOK = "hw1_features.ipynb"
DOWNLOADED = (2026, 12, 1, 9, 0, 0)  # when the TA clicked "Download all submissions"
PARIS = ZoneInfo("Europe/Paris")
# Who uploaded each pair's work (the first id of its team, or of the folder name).
UPLOADER = {
    "pair01-martin-bernard": "21900101", "pair02-dubois-thomas.ipynb": "21900103",
    "pair03-robert-richard": "21900105", "pair04-petit-durand": "21900107",
    "pair05-leroy-moreau": "21900109", "pair06-simon-laurent": "21900111",
    "pair07-lefebvre-michel": "21900113", "pair08-garcia-david": "21900115",
    "pair09-bertrand-roux": "21900117", "pair10-roux-vincent": "21900119",
    "pair11-fournier": "21900120", "21900121_21900122": "21900121",
    "pair13-andre-lefevre": "21900123", "pair14-mercier-dupont.pdf": "21900125",
}
HEADER = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
          "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
          "Feedback comments"]


def moodle_date(when: datetime) -> str:
    """userdate() in English: 'Monday, 12 October 2026, 9:30 PM' (no leading zeros)."""
    local = when.astimezone(PARIS)
    hour = local.hour % 12 or 12
    return (f"{local:%A}, {local.day} {local:%B %Y}, {hour}:{local:%M} "
            f"{'AM' if local.hour < 12 else 'PM'}")


def roster() -> list[dict]:
    with open(ROOT / "roster.csv", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def times() -> dict[str, datetime]:
    with open(CLASS / "manifest.csv", encoding="utf-8") as fh:
        return {r["submission_id"]: datetime.fromisoformat(r["submitted_at"])
                for r in csv.DictReader(fh)}


def files_of(name: str) -> list[tuple[str, bytes]]:
    path = CLASS / name
    if path.is_dir():
        return [(p.relative_to(path).as_posix(), p.read_bytes())
                for p in sorted(path.rglob("*")) if p.is_file()]
    return [(name.split("-", 1)[1] if name.endswith(".pdf") else NOTEBOOK, path.read_bytes())]


def build_moodle(people: list[dict], submitted: dict[str, datetime]) -> None:
    if MOODLE.exists():
        shutil.rmtree(MOODLE)
    MOODLE.mkdir(parents=True)
    participant = {s["student_id"]: str(5001 + k) for k, s in enumerate(people)}
    by_id = {s["student_id"]: s for s in people}
    at: dict[str, datetime] = {}
    with zipfile.ZipFile(MOODLE / "M2DL-hw1_features-42.zip", "w") as zf:
        for name, student in UPLOADER.items():
            person = by_id[student]
            pid = participant[student]
            folder = f"{person['first_name']} {person['last_name']}_{pid}_assignsubmission_file_"
            for file, data in files_of(name):
                info = zipfile.ZipInfo(f"{folder}/{file}", date_time=DOWNLOADED)
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data)
            at[student] = submitted[name.removesuffix(".ipynb")]
    rows = [HEADER]
    for s in people:
        when = at.get(s["student_id"])
        rows.append([f"Participant {participant[s['student_id']]}",
                     f"{s['first_name']} {s['last_name']}", s["email"],
                     "Submitted for grading" if when else "No submission", "", "20.00", "Yes",
                     moodle_date(when) if when else "-", "-", ""])
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(rows)
    (MOODLE / "Grades-M2DL-hw1_features-42.csv").write_bytes(
        b"\xef\xbb\xbf" + out.getvalue().encode("utf-8"))


def build_classroom(people: list[dict], submitted: dict[str, datetime]) -> None:
    if CLASSROOM.exists():
        shutil.rmtree(CLASSROOM)
    clones = CLASSROOM / "hw1-features-submissions"
    by_id = {s["student_id"]: s for s in people}
    rows = [["assignment_name", "assignment_url", "starter_code_url", "github_username",
             "roster_identifier", "student_repository_name", "student_repository_url",
             "submission_timestamp", "points_awarded", "points_available"]]
    for name, student in UPLOADER.items():
        person = by_id[student]
        user = (person["first_name"][0] + person["last_name"]).lower()
        user = user.encode("ascii", "ignore").decode()
        repo = f"hw1-features-{user}"
        for file, data in files_of(name):
            (clones / repo / file).parent.mkdir(parents=True, exist_ok=True)
            (clones / repo / file).write_bytes(data)
        stamp = submitted[name.removesuffix(".ipynb")].astimezone(ZoneInfo("UTC"))
        rows.append(["hw1-features", "https://classroom.github.com/classrooms/m2-dl/assignments/"
                     "hw1-features", "https://github.com/m2-dl/hw1-features-template", user,
                     student, repo, f"https://github.com/m2-dl/{repo}",
                     f"{stamp:%Y-%m-%d %H:%M:%S} UTC", "", "20"])
    with open(CLASSROOM / "grades.csv", "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def build() -> None:
    people, submitted = roster(), times()
    build_moodle(people, submitted)
    build_classroom(people, submitted)


if __name__ == "__main__":
    build()
    print(f"wrote {MOODLE.relative_to(ROOT)} and {CLASSROOM.relative_to(ROOT)}")
