"""The deciding parts of archive reading, without extracting anything: which entries make a
submission unreadable, how names and dates are read."""

import struct
import zipfile
from datetime import UTC, datetime

from autograder.archives import (
    MAX_ENTRY_MB,
    Member,
    entry_date,
    entry_name,
    entry_problem,
    layout_problem,
    plan,
    size_problem,
    top_folder,
)
from autograder.uploads import MIB, printable


def member(name: str, *, size: int | None = None, compressed: int | None = None,
           mode: int = 0o100644, **kw) -> Member:
    folder = name.endswith("/")
    size = (0 if folder else 100) if size is None else size
    return Member(name=name, raw_name=kw.pop("raw", name), is_dir=folder, size=size,
                  compressed=size // 2 if compressed is None else compressed, mode=mode, **kw)


def test_entries_that_make_a_submission_unreadable():
    assert entry_problem(member("p/hw1.ipynb")) == ""
    assert entry_problem(member("p/")) == ""
    cases = {
        "p/../../x.ipynb": "climbs out",
        "/etc/cron.d/x": "an absolute path",
        "C:/Windows/x": "an absolute path",
        "p//x": "an empty or '.' path component",
        "p/./x": "an empty or '.' path component",
        "p/\x1b]0;owned\x07.ipynb": "control or invisible characters",
        "p/cod\u202egnp.ipynb": "control or invisible characters",
        "p/" + "n" * 256: "longer than the file system allows",
    }
    for name, reason in cases.items():
        assert reason in entry_problem(member(name)), name
    assert "a NUL byte" in entry_problem(member("p/a.ipynb", raw="p/a.ipynb\x00.txt"))
    assert "a symbolic link" in entry_problem(member("p/a", mode=0o120777))
    assert "a device" in entry_problem(member("p/a", mode=0o020644))
    assert "password-protected" in entry_problem(member("p/a", encrypted=True))
    assert "cannot read" in entry_problem(member("p/a", method=99))
    assert "a folder entry with content" in entry_problem(member("p/d/", size=5))


def test_sizes_are_judged_before_reading():
    assert size_problem(member("a", size=MAX_ENTRY_MB * MIB)) == ""
    assert "more than the 50 MB" in size_problem(member("a", size=MAX_ENTRY_MB * MIB + 1,
                                                        compressed=MAX_ENTRY_MB * MIB))
    assert "a zip bomb" in size_problem(member("a", size=40 * MIB, compressed=1000))
    assert size_problem(member("a", size=MIB, compressed=10)) == ""  # small: any ratio


def test_layouts_that_cannot_exist_on_disk():
    assert layout_problem([member("p/a"), member("p/b/c")]) == ""
    assert "both a file and a folder" in layout_problem([member("p/a"), member("p/a/b")])
    assert "both a file and a folder" in layout_problem([member("p/a"), member("p/a/")])
    assert "appears twice" in layout_problem([member("p/a"), member("p/a")])


def test_one_bad_entry_rejects_its_group_only():
    groups = plan([member("good/hw.ipynb"), member("bad/hw.ipynb"),
                   member("bad/x", mode=0o120777), member("__MACOSX/._x", mode=0o120777)],
                  group_of=lambda p: "" if p.startswith("__MACOSX") else top_folder(p),
                  wanted=lambda p: p.endswith(".ipynb"))
    assert sorted(groups) == ["bad", "good"]
    assert groups["good"][1] == ""
    assert "a symbolic link" in groups["bad"][1]
    # Sizes only matter for what would be extracted: a big dataset beside the notebook is fine.
    big = plan([member("p/data.bin", size=10 << 30, compressed=10 << 30), member("p/a.ipynb")],
               group_of=top_folder, wanted=lambda p: p.endswith(".ipynb"))
    assert big["p"][1] == ""


def test_names_written_in_utf8_without_the_flag_are_read_as_utf8():
    info = zipfile.ZipInfo("Léa Martin_1_assignsubmission_file_/a.ipynb".encode().decode("cp437"))
    info.flag_bits = 0
    assert entry_name(info) == "Léa Martin_1_assignsubmission_file_/a.ipynb"
    info = zipfile.ZipInfo("dir\\sub\\a.ipynb")
    assert entry_name(info) == "dir/sub/a.ipynb"  # an old Windows tool's separators


def test_zip_dates_are_utc():
    info = zipfile.ZipInfo("a", date_time=(2026, 10, 12, 23, 30, 0))
    # No zone in a DOS date: read as UTC, never in the course's zone.
    assert entry_date(info) == datetime(2026, 10, 12, 23, 30, tzinfo=UTC)
    stamp = int(datetime(2026, 10, 12, 21, 30, 7, tzinfo=UTC).timestamp())
    info.extra = struct.pack("<HHBI", 0x5455, 5, 1, stamp)
    assert entry_date(info) == datetime(2026, 10, 12, 21, 30, 7, tzinfo=UTC)


def test_names_are_shown_escaped():
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("x" * 500).endswith("…") and len(printable("x" * 500)) == 120
