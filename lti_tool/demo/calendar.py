"""Which semesters the demo builds: the one today falls in, and the one before it.

A northern college's autumn semester starts on the first Monday of September and its spring semester on
the first Monday of March; both run 16 teaching weeks here. When today is inside one of those, that is
the current semester. During a break (late December–February, late June–August) the current semester is
shifted so that today falls in its week 10: a newcomer trying the demo in July still sees a semester in
progress, with records up to today and weeks still to come.

Holidays are the national ones that close classes: 元旦, 清明节, 劳动节, 端午节, 中秋节, 国庆节 (the lunar
ones from a table; years outside it simply have none of those).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

WEEKS = 16

_LUNAR: dict[int, dict[str, str]] = {
    2024: {"清明节": "04-04", "端午节": "06-10", "中秋节": "09-17"},
    2025: {"清明节": "04-04", "端午节": "05-31", "中秋节": "10-06"},
    2026: {"清明节": "04-05", "端午节": "06-19", "中秋节": "09-25"},
    2027: {"清明节": "04-05", "端午节": "06-09", "中秋节": "09-15"},
    2028: {"清明节": "04-04", "端午节": "05-28", "中秋节": "10-03"},
    2029: {"清明节": "04-04", "端午节": "06-16", "中秋节": "09-22"},
    2030: {"清明节": "04-05", "端午节": "06-05", "中秋节": "09-12"},
}


@dataclass(frozen=True)
class Holiday:
    name: str
    start: dt.date
    end: dt.date

    def spec(self) -> str:
        """The ``--holiday`` form: ``YYYY-MM-DD`` or ``YYYY-MM-DD..YYYY-MM-DD``."""
        if self.start == self.end:
            return self.start.isoformat()
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range((self.end - self.start).days + 1)]


@dataclass(frozen=True)
class SemesterPlan:
    code: str
    week1_monday: dt.date
    weeks: int
    holidays: tuple[Holiday, ...]

    @property
    def end_date(self) -> dt.date:
        return self.week1_monday + dt.timedelta(days=7 * self.weeks - 1)

    def contains(self, day: dt.date) -> bool:
        return self.week1_monday <= day <= self.end_date

    def week_of(self, day: dt.date) -> int:
        return (day - self.week1_monday).days // 7 + 1


def _first_monday(year: int, month: int) -> dt.date:
    day = dt.date(year, month, 1)
    return day + dt.timedelta(days=(7 - day.weekday()) % 7)


def holidays_between(start: dt.date, end: dt.date) -> tuple[Holiday, ...]:
    found: list[Holiday] = []
    for year in range(start.year, end.year + 1):
        candidates = [
            Holiday("元旦", dt.date(year, 1, 1), dt.date(year, 1, 1)),
            Holiday("劳动节", dt.date(year, 5, 1), dt.date(year, 5, 5)),
            Holiday("国庆节", dt.date(year, 10, 1), dt.date(year, 10, 7)),
        ]
        for name, md in _LUNAR.get(year, {}).items():
            day = dt.date.fromisoformat(f"{year}-{md}")
            candidates.append(Holiday(name, day, day))
        for h in candidates:
            if h.end >= start and h.start <= end:
                found.append(Holiday(h.name, max(h.start, start), min(h.end, end)))
    return tuple(sorted(found, key=lambda h: h.start))


def _plan(code: str, monday: dt.date) -> SemesterPlan:
    end = monday + dt.timedelta(days=7 * WEEKS - 1)
    return SemesterPlan(code, monday, WEEKS, holidays_between(monday, end))


def _autumn(year: int) -> SemesterPlan:
    return _plan(f"{year}-{year + 1}-1", _first_monday(year, 9))


def _spring(year: int) -> SemesterPlan:
    """The spring semester of calendar year ``year`` (second semester of academic year year-1–year)."""
    return _plan(f"{year - 1}-{year}-2", _first_monday(year, 3))


def choose_semesters(today: dt.date) -> tuple[SemesterPlan, SemesterPlan]:
    """(current, previous): today falls inside the current one; the previous one ended before it began."""
    year = today.year
    for current, previous in (
        (_autumn(year), _spring(year)),
        (_spring(year), _autumn(year - 1)),
        (_autumn(year - 1), _spring(year - 1)),
    ):
        if current.contains(today):
            return current, previous
    monday = today - dt.timedelta(days=today.weekday()) - dt.timedelta(weeks=9)
    if today.month >= 10 or today.month <= 3:
        # Winter break: a late-running autumn semester of the academic year that began last September.
        academic = year if today.month >= 10 else year - 1
        return _plan(f"{academic}-{academic + 1}-1", monday), _spring(academic)
    # Summer break: a late-running spring semester.
    return _plan(f"{year - 1}-{year}-2", monday), _autumn(year - 1)
