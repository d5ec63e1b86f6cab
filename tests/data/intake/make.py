"""Builds the intake fixtures: Moodle downloads and worksheets, GitHub Classroom exports, and the
hostile submissions that attack the grader through its files rather than through a kernel.

    python tests/data/intake/make.py        # rewrites the committed files of this folder

Committed (small, deterministic): `moodle/` (a "Download all submissions" zip in folders, a flat
one, grading worksheets in English and French as Moodle writes them), `classroom/grades.csv`, and
`hostile/*.zip`, each a two-participant Moodle download where Léa Martin's submission is valid
and the other participant's carries one attack. What git cannot hold (a FIFO, a `.git` folder, a
link, a 60 MB sparse file) or should not (a 1 GiB zip bomb) is made at test time by the functions
below, from the same code. The formats follow Moodle's source (see autograder/moodle.py); no file
of Moodle's own is copied.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import stat
import struct
import sys
import zipfile
import zlib
from pathlib import Path

import nbformat

HERE = Path(__file__).parent
NOTEBOOK = "hw1_features.ipynb"
EPOCH = (2026, 10, 12, 21, 30, 0)  # zip entry dates: fixed, so the zips are reproducible
BACKDATED = "1760000000 +0200"  # 2025-10-09: the date the forged commit claims
PWNED_VARIABLE = "AUTOGRADER_INTAKE_PWNED"  # where the attacker's script leaves its mark
GOOD = "Léa Martin_1001_assignsubmission_file_"
BAD = "Zoé Petit_1666_assignsubmission_file_"


def notebook(team: list[str], answer: str = "x = 1") -> bytes:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(f"TEAM = {team!r}")
    cell.metadata["autograder"] = {"team": True}
    nb.cells = [cell, nbformat.v4.new_code_cell(answer)]
    for k, c in enumerate(nb.cells):
        c["id"] = f"cell-{k}"
    return nbformat.writes(nb).encode("utf-8")


GOOD_NB = notebook(["21900101", "21900102"])
BAD_NB = notebook(["21900109", "21900110"], "x = 2")


def _info(name: str, *, mode: int = 0o100644) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.create_system = 3
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def write_zip(path: Path, entries: list[tuple]) -> Path:
    """entries: (name, data) or (name, data, unix mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, *mode in entries:
            zf.writestr(_info(name, mode=mode[0] if mode else 0o100644), data)
    return path


def patch(path: Path, old: bytes, new: bytes) -> None:
    """Rewrite bytes of a zip in place (names live uncompressed in two headers each)."""
    assert len(old) == len(new)
    data = path.read_bytes()
    assert old in data, old
    path.write_bytes(data.replace(old, new))


# ---------------------------------------------------------------- the .git attack

GPG_SCRIPT = f"""#!/bin/sh
# Run by `git log` when log.showSignature is set: the grader would run it, as root.
touch "${{{PWNED_VARIABLE}:-/tmp/autograder-intake-pwned}}"
echo "[GNUPG:] GOODSIG 0000000000000000 attacker"
exit 0
"""
GIT_CONFIG = """[core]
\trepositoryformatversion = 0
\tfilemode = true
\tbare = false
[log]
\tshowSignature = true
[gpg]
\tprogram = ./script.sh
"""


def _object(kind: bytes, body: bytes) -> tuple[str, bytes]:
    raw = kind + b" " + str(len(body)).encode() + b"\0" + body
    return hashlib.sha1(raw).hexdigest(), zlib.compress(raw)


def git_files(nb: bytes) -> list[tuple]:
    """A repository written by hand (no git run to make it): one signed commit dated
    BACKDATED holding the notebook, and a config that makes `git log` run ./script.sh."""
    blob, blob_z = _object(b"blob", nb)
    tree, tree_z = _object(b"tree", b"100644 " + NOTEBOOK.encode() + b"\0" + bytes.fromhex(blob))
    signature = ("gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n"
                 " -----END PGP SIGNATURE-----\n")
    commit, commit_z = _object(b"commit", (
        f"tree {tree}\nauthor Zoé Petit <zp@example.edu> {BACKDATED}\n"
        f"committer Zoé Petit <zp@example.edu> {BACKDATED}\n{signature}\nfinal\n").encode())
    files = [(".git/HEAD", b"ref: refs/heads/main\n"), (".git/config", GIT_CONFIG.encode()),
             (".git/refs/heads/main", f"{commit}\n".encode())]
    files += [(f".git/objects/{sha[:2]}/{sha[2:]}", data)
              for sha, data in ((blob, blob_z), (tree, tree_z), (commit, commit_z))]
    return files + [("script.sh", GPG_SCRIPT.encode(), 0o100755), (NOTEBOOK, nb)]


def git_attack_folder(folder: Path, nb: bytes = BAD_NB) -> Path:
    """The attack as an uploaded folder (a clone shipped with the submission)."""
    for name, data, *mode in git_files(nb):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.chmod(path, (mode[0] if mode else 0o100644) & 0o777)
    return folder


# ---------------------------------------------------------------- made at test time

def fifo_submission(folder: Path) -> Path:
    """A named pipe called like the notebook: reading it blocks until someone writes."""
    folder.mkdir(parents=True, exist_ok=True)
    os.mkfifo(folder / NOTEBOOK)
    return folder


def link_submissions(root: Path, secret: Path) -> None:
    """A notebook that is a link to a grader's file, and a folder that is a link out."""
    (root / "pair-link").mkdir(parents=True, exist_ok=True)
    os.symlink(secret, root / "pair-link" / NOTEBOOK)
    (root / "pair-linkdir").mkdir(parents=True, exist_ok=True)
    os.symlink(secret.parent, root / "pair-linkdir" / "work")
    os.symlink(secret.parent, root / "pair-toplink")


def sparse_submission(folder: Path, mb: int = 60) -> Path:
    """A 60 MB notebook that takes no disk (sparse): must be refused before it is read."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / NOTEBOOK, "wb") as fh:
        fh.write(GOOD_NB[:-2])
        fh.truncate(mb * 1024 * 1024)
    return folder


def zip_bomb(path: Path, *, gib: int = 1, lie: bool = False) -> Path:
    """A Moodle download of ~1 MB whose second participant's notebook inflates to `gib` GiB of
    spaces; `lie`: the headers declare 1 KB instead of the true size.

    Made in a second: 1 MiB of spaces is deflated once with a full flush (which resets the
    compressor, so the same input gives the same bytes) and the block repeated; the entry is
    written as stored raw bytes, then its headers say deflate, the true CRC and size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    chunk = b" " * (1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    count = gib << 10
    stream = block * count + b"\x03\x00"  # then an empty final block
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    name = f"{BAD}/{NOTEBOOK}"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(_info(f"{GOOD}/{NOTEBOOK}"), GOOD_NB)
        stored = _info(name)
        stored.compress_type = zipfile.ZIP_STORED
        zf.writestr(stored, stream)
    raw = name.encode()
    _set_field(path, raw, local=8, central=10, value=zipfile.ZIP_DEFLATED)
    _set_field(path, raw, local=14, central=16, value=crc, size="<I")
    _set_field(path, raw, local=22, central=24, value=1024 if lie else count << 20, size="<I")
    return path


# ---------------------------------------------------------------- made by the test: a traversal

def traversal(path: Path, absolute: Path) -> Path:
    """Léa Martin's valid submission and Zoé Petit's entries that climb out of the extraction
    (`..`) or name an absolute path, `absolute`: made by the test for a path of its own, since
    a fixed one (/tmp/x) is shared by every run on the machine."""
    return write_zip(path, [(f"{GOOD}/{NOTEBOOK}", GOOD_NB), (f"{BAD}/{NOTEBOOK}", BAD_NB),
                            (f"{BAD}/../../traversal.ipynb", BAD_NB), (str(absolute), BAD_NB)])


# ---------------------------------------------------------------- committed: hostile zips

def hostile(folder: Path) -> dict[str, Path]:
    """Each: a Moodle download of Léa Martin's valid submission and one attack by Zoé Petit."""
    good = [(f"{GOOD}/{NOTEBOOK}", GOOD_NB)]
    made = {}

    def put(name: str, entries: list[tuple]) -> Path:
        made[name] = write_zip(folder / f"{name}.zip", good + entries)
        return made[name]

    put("git_config_attack", [(f"{BAD}/{name}", *rest) for name, *rest in git_files(BAD_NB)])
    put("file_and_folder", [(f"{BAD}/{NOTEBOOK}", BAD_NB), (f"{BAD}/{NOTEBOOK}/x.txt", b"x")])
    put("symlink_entry", [(f"{BAD}/{NOTEBOOK}", b"/etc/shadow", 0o120777)])
    put("fifo_entry", [(f"{BAD}/{NOTEBOOK}", b"", 0o010644)])
    put("duplicate_entry", [(f"{BAD}/{NOTEBOOK}", BAD_NB), (f"{BAD}/{NOTEBOOK}", GOOD_NB)])
    put("control_characters", [(f"{BAD}/\x1b[2J\x1b[31mhw1_features.ipynb", BAD_NB)])
    put("bidi_override", [(f"{BAD}/hw1_features\u202ebnpy.ipynb", BAD_NB)])
    put("long_name", [(f"{BAD}/{'n' * 300}.ipynb", BAD_NB)])
    path = put("nul_in_name", [(f"{BAD}/{NOTEBOOK}@@NUL@@.txt", BAD_NB)])
    patch(path, b"@@NUL@@", b"\x00@@@@@@")
    path = put("encrypted_entry", [(f"{BAD}/{NOTEBOOK}", BAD_NB)])
    _set_field(path, f"{BAD}/{NOTEBOOK}".encode(), local=6, central=8, value=0x1, merge=True)
    path = put("corrupt_entry", [(f"{BAD}/{NOTEBOOK}", BAD_NB)])
    _corrupt(path, f"{BAD}/{NOTEBOOK}".encode())
    put("nested_zip_without_notebook",
        [(f"{BAD}/hw1.zip", _zip_bytes([("hw1/readme.txt", b"see the notebook")]))])
    put("nested_zip_attack",
        [(f"{BAD}/hw1.zip", _zip_bytes([("hw1/../../../escape.ipynb", BAD_NB)]))])
    return made


def _zip_bytes(entries: list[tuple]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data, *mode in entries:
            zf.writestr(_info(name, mode=mode[0] if mode else 0o100644), data)
    return buffer.getvalue()


def _set_field(path: Path, name: bytes, *, local: int, central: int, value: int,
               size: str = "<H", merge: bool = False) -> None:
    """Set a field of both headers of the entry `name` (local file header, central directory)."""
    data = bytearray(path.read_bytes())
    for signature, offset, name_at in ((b"PK\x03\x04", local, 30), (b"PK\x01\x02", central, 46)):
        at = 0
        while (at := data.find(signature, at)) >= 0:
            if data[at + name_at: at + name_at + len(name)] == name:
                old = struct.unpack_from(size, data, at + offset)[0]
                struct.pack_into(size, data, at + offset, old | value if merge else value)
            at += 4
    path.write_bytes(bytes(data))


def _corrupt(path: Path, name: bytes) -> None:
    """Flip a byte of the entry's compressed data: its CRC no longer matches."""
    data = bytearray(path.read_bytes())
    at = data.index(name, data.index(b"PK\x03\x04"))
    local = data.rindex(b"PK\x03\x04", 0, at)
    name_len, extra_len = struct.unpack_from("<HH", data, local + 26)
    start = local + 30 + name_len + extra_len
    data[start + 20] ^= 0x55
    path.write_bytes(bytes(data))


# ---------------------------------------------------------------- committed: Moodle, Classroom

# participant, full name, email, what they uploaded, Last modified (submission) as Moodle writes
# it in English, their grade already in Moodle. Hugo and Lucas upload nothing (their partners
# did); Manon's notebook is truncated (rejected), so she and her partner Nathan get no grade from
# the grader; Camille submitted nothing and was given 12 by hand in Moodle.
TRUNCATED = notebook(["21900105", "21900106"])[:200]
PEOPLE = [
    ("1001", "Léa Martin", "lea.martin@etu.example.edu", notebook(["21900101", "21900102"]),
     "Monday, 12 October 2026, 9:30 PM", ""),
    ("1002", "Hugo Bernard", "hugo.bernard@etu.example.edu", None, "-", ""),
    ("1003", "Chloé Dubois", "chloe.dubois@etu.example.edu", notebook(["21900103", "21900104"]),
     "Wednesday, 14 October 2026, 9:15 AM", ""),
    ("1004", "Lucas Thomas", "lucas.thomas@etu.example.edu", b"notes",
     "Monday, 12 October 2026, 8:00 PM", ""),
    ("1005", "Manon Robert", "manon.robert@etu.example.edu", TRUNCATED,
     "Monday, 12 October 2026, 11:58 PM", ""),
    ("1006", "Nathan Richard", "nathan.richard@etu.example.edu", None, "-", ""),
    ("1007", "Camille Petit", "camille.petit@etu.example.edu", None, "-", "12.00"),
]
FRENCH_DATES = {"Monday, 12 October 2026, 9:30 PM": "lundi 12 octobre 2026, 21:30",
                "Wednesday, 14 October 2026, 9:15 AM": "mercredi 14 octobre 2026, 09:15",
                "Monday, 12 October 2026, 11:58 PM": "lundi 12 octobre 2026, 23:58",
                "Monday, 12 October 2026, 8:00 PM": "lundi 12 octobre 2026, 20:00",
                "-": "-"}
HEADER_EN = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
             "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
             "Feedback comments"]
HEADER_FR = ["Identifiant", "Nom complet", "Adresse de courriel", "Statut", "Note",
             "Note maximale", "La note peut être modifiée", "Dernière modification (travail remis)",
             "Dernière modification (note)", "Commentaires de feedback"]


def _csv(rows: list[list[str]], delimiter: str = ",") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def moodle(folder: Path) -> None:
    """"Download all submissions" (in folders, and flat) and "Download grading worksheet"."""
    folder.mkdir(parents=True, exist_ok=True)
    entries, flat = [], []
    for pid, name, _, upload, _, _ in PEOPLE:
        prefix = f"{name}_{pid}_assignsubmission_file_"
        if upload is not None:
            file = NOTEBOOK if upload != b"notes" else "notes.txt"
            entries.append((f"{prefix}/{file}", upload))
            flat.append((f"{prefix}{file}", upload))
    entries.append(("Chloé Dubois_1003_assignsubmission_onlinetext_/onlinetext.html", b"<p>hi</p>"))
    write_zip(folder / "M2DL-HW1-submissions.zip", entries)
    write_zip(folder / "M2DL-HW1-flat.zip", flat)
    rows_en, rows_fr = [HEADER_EN], [HEADER_FR]
    for pid, name, email, upload, when, grade in PEOPLE:
        status = "Submitted for grading" if when != "-" else "No submission"
        status += " - 1 day 9 hours late" if when.startswith("Wednesday") else ""
        status += " - Graded" if grade else ""
        graded_at = "Tuesday, 13 October 2026, 10:00 AM" if grade else "-"
        rows_en.append([f"Participant {pid}", name, email, status, grade, "20.00", "Yes", when,
                        graded_at, "<p>Typed in Moodle</p>" if pid == "1002" else ""])
        rows_fr.append([f"Participant{pid}", name, email, "Remis pour évaluation" if when != "-"
                        else "Aucun devoir", grade.replace(".", ","), "20,00", "Oui",
                        FRENCH_DATES[when], "-", ""])
    (folder / "Grades-M2DL-HW1-42.csv").write_bytes(_csv(rows_en))
    (folder / "Notes-M2DL-HW1-42.csv").write_bytes(_csv(rows_fr, ";"))


def classroom(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    header = ["assignment_name", "assignment_url", "starter_code_url", "github_username",
              "roster_identifier", "student_repository_name", "student_repository_url",
              "submission_timestamp", "points_awarded", "points_available"]
    rows = [header]
    for user, ident, stamp in (("lmartin", "21900101", "2026-10-12 19:30:00 UTC"),
                               ("cdubois", "21900103", "2026-10-14 07:15:00 UTC"),
                               ("hbernard", "21900102", "")):
        repo = f"hw1-features-{user}"
        rows.append(["hw1-features", "https://classroom.github.com/a/x", "", user, ident, repo,
                     f"https://github.com/m2dl/{repo}", stamp, "", "20"])
    (folder / "grades.csv").write_bytes(_csv(rows)[3:])


def main() -> None:
    hostile(HERE / "hostile")
    moodle(HERE / "moodle")
    classroom(HERE / "classroom")
    for path in sorted(HERE.rglob("*")):
        if path.is_file() and path.suffix in (".zip", ".csv"):
            os.chmod(path, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
    print(f"wrote the intake fixtures under {HERE.relative_to(HERE.parents[2])}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[2]))
    main()
