"""Teaching days (上课日): which days of a semester hold classes, and so which calendar months a monthly duty
asks for (O-9 「每月至少1次」, docs/decisions.md P-4).

One definition for the duty engine (``compliance.rules.months_of``) and the patrol page
(``patrols.services.semester_months``): a teaching day is Monday to Friday and not one of the semester's
holidays (节假日); a month the semester (or a tenure) touches only on weekends or holidays — 2027-01-01 …
01-03 at the end of an autumn semester — has no class to patrol and is not owed. Pure: no database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable


def is_teaching_day(day: dt.date, holidays: Collection[dt.date] = ()) -> bool:
    """Monday to Friday, and not one of the semester's holidays."""
    return day.weekday() < 5 and day not in holidays


def teaching_months(
    spans: Iterable[tuple[dt.date, dt.date]], holidays: Collection[dt.date] = ()
) -> list[tuple[int, int]]:
    """Calendar months (year, month) holding a teaching day inside any closed span [start, end], in order."""
    seen: set[tuple[int, int]] = set()
    for start, end in spans:
        day = start
        while day <= end:
            if is_teaching_day(day, holidays):
                seen.add((day.year, day.month))
            day += dt.timedelta(days=1)
    return sorted(seen)
