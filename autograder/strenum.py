"""StrEnum on every Python the package runs on: the student side (check) runs on 3.9 too.

A member is its value as a string (`SubmissionStatus.GRADED == "graded"`, f-strings and JSON
write "graded"), so result files read the same whichever Python wrote them.
"""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # Python < 3.11: the same behaviour for what the package uses (str(), format, ==, json)
    from enum import Enum

    class StrEnum(str, Enum):
        def __str__(self) -> str:
            return str(self.value)

__all__ = ["StrEnum"]
