"""Academic years (学年): ``2026-2027`` runs from the policy's start day (``[contact] academic_year_start``,
08-01 by default) to the day before the next year's start.

The grassroots-contact system assigns contact points per academic year (C-1a, C-2a, C-3a) and judges its
annual rules (C-1a, C-7b) for the academic year a semester belongs to: the year of its first Monday. Every
domain asks these functions; nothing else computes a year from a date.
"""

from __future__ import annotations

import datetime as dt
import re

DEFAULT_START = "08-01"
_YEAR_RE = re.compile(r"^\s*(\d{4})\s*(?:-|/|–|—|~|至)\s*(\d{4})\s*(?:学年)?\s*$")


def _month_day(start: str) -> tuple[int, int]:
    month, day = (int(part) for part in start.split("-"))
    dt.date(2001, month, day)  # raises ValueError for 02-30 (and for 02-29: not every year has one)
    return month, day


def academic_year_of(day: dt.date, start: str = DEFAULT_START) -> str:
    """The academic year ``day`` falls in: 2026-09-10 → ``2026-2027``, 2027-03-01 → ``2026-2027``."""
    month, dom = _month_day(start)
    first = day.year if (day.month, day.day) >= (month, dom) else day.year - 1
    return f"{first}-{first + 1}"


def academic_year_bounds(year: str, start: str = DEFAULT_START) -> tuple[dt.date, dt.date]:
    """First and last day of an academic year: ``2026-2027`` → (2026-08-01, 2027-07-31)."""
    first = int(parse_academic_year(year)[:4])
    month, dom = _month_day(start)
    begin = dt.date(first, month, dom)
    return begin, dt.date(first + 1, month, dom) - dt.timedelta(days=1)


def parse_academic_year(text: str) -> str:
    """``2026-2027``, ``2026/2027``, ``2026—2027学年`` → ``2026-2027``; anything else is a ``ValueError``."""
    match = _YEAR_RE.match(text or "")
    if match is None:
        raise ValueError(text)
    first, second = int(match.group(1)), int(match.group(2))
    if second != first + 1:
        raise ValueError(text)
    return f"{first}-{second}"


def previous_academic_year(year: str) -> str:
    first = int(parse_academic_year(year)[:4])
    return f"{first - 1}-{first}"
