from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from autograder.config import LatePolicy
from autograder.late import late_days, lateness, penalty_for

PARIS = "Europe/Paris"
TZ = ZoneInfo(PARIS)
DUE = datetime(2026, 10, 12, 23, 59, tzinfo=TZ)
POLICY = LatePolicy(per_day=0.10, max_days=5, grace_minutes=0)


def test_one_second_before_the_deadline_is_on_time():
    result = lateness(DUE - timedelta(seconds=1), DUE, POLICY, timezone_name=PARIS)
    assert (result.days, result.penalty, result.is_late) == (0, 0.0, False)


def test_exactly_at_the_deadline_is_on_time():
    assert lateness(DUE, DUE, POLICY, timezone_name=PARIS).days == 0


def test_one_second_after_the_deadline_is_one_started_day():
    result = lateness(DUE + timedelta(seconds=1), DUE, POLICY, timezone_name=PARIS)
    assert (result.days, result.penalty) == (1, 0.10)


def test_days_are_started_days():
    at = DUE + timedelta(days=1, seconds=1)
    assert lateness(at, DUE, POLICY, timezone_name=PARIS).days == 2
    assert lateness(DUE + timedelta(days=2), DUE, POLICY, timezone_name=PARIS).days == 2


def test_zero_after_max_days():
    at_max = lateness(DUE + timedelta(days=5), DUE, POLICY, timezone_name=PARIS)
    assert (at_max.days, at_max.penalty) == (5, 0.5)
    beyond = lateness(DUE + timedelta(days=5, seconds=1), DUE, POLICY, timezone_name=PARIS)
    assert (beyond.days, beyond.penalty) == (6, 1.0)


def test_grace_minutes():
    policy = LatePolicy(per_day=0.1, max_days=5, grace_minutes=10)
    assert lateness(DUE + timedelta(minutes=10), DUE, policy, timezone_name=PARIS).days == 0
    late = lateness(DUE + timedelta(minutes=10, seconds=1), DUE, policy, timezone_name=PARIS)
    assert late.days == 1  # past the grace, counted from the real deadline


def test_other_timezone_of_the_submission_time():
    # 21:58 UTC is 23:58 in Paris in October (CEST, UTC+2): on time.
    at = datetime(2026, 10, 12, 21, 58, tzinfo=UTC)
    assert lateness(at, DUE, POLICY, timezone_name=PARIS).days == 0
    at = datetime(2026, 10, 12, 22, 0, tzinfo=UTC)  # 00:00 in Paris
    assert lateness(at, DUE, POLICY, timezone_name=PARIS).days == 1


def test_days_follow_the_wall_clock_across_the_dst_change():
    # Clocks go back on 25 Oct 2026 in Paris: that day has 25 hours.
    due = datetime(2026, 10, 24, 23, 59, tzinfo=TZ)
    just_in = datetime(2026, 10, 25, 23, 58, tzinfo=TZ)  # 24h59 later, still day 1
    assert just_in.astimezone(UTC) - due.astimezone(UTC) > timedelta(hours=24)
    assert late_days(just_in, due, timezone_name=PARIS) == 1
    assert late_days(datetime(2026, 10, 26, 0, 0, tzinfo=TZ), due, timezone_name=PARIS) == 2


def test_spring_forward_day_is_short():
    due = datetime(2026, 3, 28, 23, 59, tzinfo=TZ)  # 29 Mar has 23 hours
    at = due.astimezone(UTC) + timedelta(hours=23, minutes=30)
    assert late_days(at, due, timezone_name=PARIS) == 2


def test_naive_and_string_times_are_in_the_course_timezone():
    assert lateness("2026-10-12T23:58:59", DUE, POLICY, timezone_name=PARIS).days == 0
    assert lateness("2026-10-13T00:00:00+02:00", DUE, POLICY, timezone_name=PARIS).days == 1
    assert lateness(None, DUE, POLICY, timezone_name=PARIS).days == 0


def test_naive_times_are_refused_by_late_days():
    with pytest.raises(ValueError):
        late_days(datetime(2026, 10, 13), DUE, timezone_name=PARIS)


def test_penalty_is_capped():
    assert penalty_for(3, LatePolicy(per_day=0.5, max_days=5)) == 1.0
    assert penalty_for(0, POLICY) == 0.0
