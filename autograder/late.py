"""Late days and the late penalty of a submission, from the assignment's due date and LatePolicy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from .config import LatePolicy


@dataclass(frozen=True)
class Lateness:
    days: int  # started days late; 0 when on time (grace included)
    penalty: float  # share of the grade taken away, 0.0 to 1.0

    @property
    def is_late(self) -> bool:
        return self.days > 0


ON_TIME = Lateness(0, 0.0)


def late_days(submitted_at: datetime, due: datetime, *, timezone_name: str,
              grace_minutes: int = 0) -> int:
    """Started days late, counted in the course's wall-clock days.

    Day k ends at the due time k calendar days after the due date, in the course timezone: a
    submission 24 h 30 min after a 23:59 deadline on the night clocks go back (a 25-hour day) is
    one day late, as the syllabus reads, not two. Comparisons are made in UTC because Python
    compares two datetimes sharing a tzinfo by wall clock, which is wrong across a DST change.
    """
    if submitted_at.tzinfo is None or due.tzinfo is None:
        raise ValueError("late_days needs timezone-aware datetimes")
    submitted = submitted_at.astimezone(UTC)
    if submitted <= due.astimezone(UTC) + timedelta(minutes=grace_minutes):
        return 0
    tz = ZoneInfo(timezone_name)
    wall_due = due.astimezone(tz).replace(tzinfo=None)
    days = 1
    while True:
        end = (wall_due + timedelta(days=days)).replace(tzinfo=tz).astimezone(UTC)
        if submitted <= end:
            return days
        days += 1
        if days > 10_000:  # a wrong year in a manifest; no need to count further
            return days


def penalty_for(days: int, policy: LatePolicy) -> float:
    """`per_day` per started day, capped at 1; beyond `max_days` the grade is zero."""
    if days <= 0:
        return 0.0
    if days > policy.max_days:
        return 1.0
    return min(1.0, round(days * policy.per_day, 6))


def lateness(submitted_at: datetime | str | None, due: datetime, policy: LatePolicy, *,
             timezone_name: str) -> Lateness:
    """Late days and penalty; an unknown submission time counts as on time (and is flagged
    elsewhere: the batch always records one)."""
    if submitted_at is None or submitted_at == "":
        return ON_TIME
    if isinstance(submitted_at, str):
        submitted_at = datetime.fromisoformat(submitted_at)
    if submitted_at.tzinfo is None:  # a bare time is the course's wall clock
        submitted_at = submitted_at.replace(tzinfo=ZoneInfo(timezone_name))
    days = late_days(submitted_at, due, timezone_name=timezone_name,
                     grace_minutes=policy.grace_minutes)
    return Lateness(days, penalty_for(days, policy))
