"""Files of submission times: told apart by their columns, read with their zones."""

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from autograder.errors import ConfigError
from autograder.times import TimeSource, parse_classroom_time, read_times

CLASSROOM_CSV = Path(__file__).resolve().parent / "data" / "intake" / "classroom" / "grades.csv"


def test_github_classroom_grades_csv():
    times = read_times(CLASSROOM_CSV, timezone_name="Europe/Paris")
    assert times.source == TimeSource.CLASSROOM
    assert times.lookup("hw1-features-lmartin", "x") == (
        True, datetime(2026, 10, 12, 19, 30, tzinfo=UTC))
    assert times.lookup("lmartin", "x")[0]  # a folder named after the GitHub user
    assert times.lookup("hw1-features-hbernard", "x") == (True, None)  # accepted, never pushed
    assert times.lookup("hw1-features-nobody", "x") == (False, None)
    assert "GitHub Classroom's grades CSV grades.csv" == times.described


def test_classroom_timestamps():
    assert parse_classroom_time("2026-10-12T21:30:00Z") == datetime(2026, 10, 12, 21, 30,
                                                                    tzinfo=UTC)
    assert parse_classroom_time("2026-10-12 21:30:00 UTC") == datetime(2026, 10, 12, 21, 30,
                                                                       tzinfo=UTC)
    assert parse_classroom_time("2026-10-12 23:30:00 +0200").astimezone(UTC).hour == 21
    assert parse_classroom_time("") is None


def test_a_manifest_and_its_zone(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("submission_id,submitted_at\npair01,2026-10-13T08:00:00\n", encoding="utf-8")
    times = read_times(path, timezone_name="Europe/Paris")
    assert times.source == TimeSource.MANIFEST
    assert times.lookup("pair01.ipynb", "pair01")[1].isoformat() == "2026-10-13T08:00:00+02:00"


def test_an_unknown_file_names_the_three_formats(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("who,when\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a file of submission times") as info:
        read_times(path, timezone_name="UTC")
    assert "grading worksheet" in info.value.hint and "GitHub Classroom" in info.value.hint


def test_a_fifo_in_place_of_the_manifest_does_not_block(tmp_path):
    os.mkfifo(tmp_path / "manifest.csv")
    with pytest.raises(ConfigError, match="named pipe"):
        read_times(tmp_path / "manifest.csv", timezone_name="UTC")
