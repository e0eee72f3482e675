"""Parsing the small languages of a timetable export: week specs, period ranges, weekdays, yes/no, times.

Academic systems (正方, 强智, URP …) write the same thing many ways: ``1-16``, ``1-16周``, ``1-8,10-17周``,
``1-16单``, ``2-16双周``, ``1-16(单)``, ``第3-4节``, ``星期三``. These functions accept those forms and
raise ``SpecError`` with a bilingual message that the importer reports against the row and column,
so a typo never turns into silently missing class sessions.

Week-spec grammar: items separated by ``,`` / ``，`` / ``、``; each item is ``N`` or ``N-M`` (also
``~``, ``～``, full-width dashes), optionally followed by 单 (odd weeks only) or 双 (even weeks only),
which applies to *that* item: ``1-8,10-17单`` is weeks 1–8 plus the odd weeks 11–17.
"""

from __future__ import annotations

import datetime as dt
import re

from lti_tool.directory.services import parse_date

MAX_WEEK = 60
"""No semester is longer; a larger number is a typo (a date or a room number in the wrong column)."""
MAX_PERIOD = 30


class SpecError(ValueError):
    """A value of a timetable column that cannot be understood; the message names what was expected."""


_DASH = r"[-~～－—–]"
_WEEK_ITEM = re.compile(rf"^(\d{{1,3}})(?:\s*{_DASH}\s*(\d{{1,3}}))?\s*(单|双|odd|even)?$", re.IGNORECASE)
_WEEK_NOISE = re.compile(r"[周第()（）\[\]【】\s]")


def parse_weeks(text: str) -> tuple[int, ...]:
    """The sorted teaching weeks a spec names: ``"1-8,10-17单"`` → (1, …, 8, 11, 13, 15, 17)."""
    raw = (text or "").strip()
    if not raw:
        raise SpecError("周次为空 (the week spec is empty)")
    weeks: set[int] = set()
    for item in re.split(r"[,，、]", raw):
        cleaned = _WEEK_NOISE.sub("", item)
        if not cleaned:
            raise SpecError(f"“{raw}”中有空的周次项 (an empty item in the week spec)")
        match = _WEEK_ITEM.match(cleaned)
        if match is None:
            raise SpecError(
                f"“{item.strip()}”不是周次，应如 1-16、1-8,10-17、1-16单、2-16双 "
                f"(not a week spec; expected e.g. 1-16, 1-8,10-17, 1-16单, 2-16双)"
            )
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) else start
        parity = (match.group(3) or "").lower()
        if start < 1:
            raise SpecError(f"“{item.strip()}”：周次从 1 开始 (weeks start at 1)")
        if end < start:
            raise SpecError(
                f"“{item.strip()}”：结束周 {end} 早于开始周 {start} (the end week is before the start week)"
            )
        if end > MAX_WEEK:
            raise SpecError(f"“{item.strip()}”：周次 {end} 超过 {MAX_WEEK} (week {end} is beyond {MAX_WEEK})")
        chosen = [w for w in range(start, end + 1) if not parity or (w % 2 == 1) == (parity in ("单", "odd"))]
        if not chosen:
            raise SpecError(
                f"“{item.strip()}”不含任何{'单' if parity in ('单', 'odd') else '双'}周 (selects no week)"
            )
        weeks.update(chosen)
    return tuple(sorted(weeks))


def format_weeks(weeks: tuple[int, ...] | list[int]) -> str:
    """Canonical text of a week set (runs of consecutive weeks): (1, 2, 3, 5, 7) → ``"1-3,5,7"``.

    Used in a section's natural key so that ``1-16`` and ``1-16周`` are the same timetable row.
    """
    out: list[str] = []
    ordered = sorted(set(weeks))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)


_PERIODS = re.compile(rf"^第?\s*(\d{{1,2}})\s*(?:{_DASH}\s*(\d{{1,2}}))?\s*节?$")


def parse_periods(text: str) -> tuple[int, int]:
    """``"3-4"``, ``"第3-4节"``, ``"3"`` → (first period, last period)."""
    raw = (text or "").strip()
    match = _PERIODS.match(raw)
    if match is None:
        raise SpecError(f"“{raw}”不是节次，应如 3-4 或 5 (not a period range; expected e.g. 3-4 or 5)")
    start = int(match.group(1))
    end = int(match.group(2)) if match.group(2) else start
    if start < 1 or end < start:
        raise SpecError(f"“{raw}”：节次范围无效 (the period range is not increasing)")
    return start, end


_WEEKDAY_WORDS = {
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "日": 7,
    "天": 7,
    "七": 7,
    "mon": 1,
    "tue": 2,
    "wed": 3,
    "thu": 4,
    "fri": 5,
    "sat": 6,
    "sun": 7,
}


def parse_weekday(text: str) -> int:
    """``"3"``, ``"星期三"``, ``"周三"``, ``"Wed"`` → 3 (Monday = 1 … Sunday = 7)."""
    raw = (text or "").strip()
    if raw.isdigit() and 1 <= int(raw) <= 7:
        return int(raw)
    word = re.sub(r"^(星期|周|礼拜)", "", raw).lower()[:3]
    if word in _WEEKDAY_WORDS:
        return _WEEKDAY_WORDS[word]
    raise SpecError(f"“{raw}”不是星期，应为 1–7（1 = 星期一）(not a weekday; expected 1–7, 1 = Monday)")


_YES = {"yes", "y", "true", "1", "是", "全日制", "√"}
_NO = {"no", "n", "false", "0", "否", "非全日制", "×"}


def parse_yes_no(text: str) -> bool:
    raw = (text or "").strip().lower()
    if raw in _YES:
        return True
    if raw in _NO:
        return False
    raise SpecError(f"“{text.strip()}”应为 是/否 (expected yes or no)")


_TIME = re.compile(r"^(\d{1,2})\s*[:：]\s*(\d{2})(?:\s*[:：]\s*(\d{2}))?$")


def parse_time(text: str) -> dt.time:
    """``"8:00"``, ``"08:00"``, ``"08:00:00"`` (a spreadsheet time cell) → 08:00."""
    raw = (text or "").strip()
    match = _TIME.match(raw)
    if match is None:
        raise SpecError(f"“{raw}”不是时间，应为 HH:MM (not a time; expected HH:MM)")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise SpecError(f"“{raw}”不是有效时间 (not a valid time of day)")
    return dt.time(hour, minute)


def parse_holidays(texts: list[str] | tuple[str, ...]) -> list[dt.date]:
    """Holiday entries ``YYYY-MM-DD`` or ``YYYY-MM-DD..YYYY-MM-DD`` (also separated by commas or lines)."""
    out: set[dt.date] = set()
    for text in texts:
        for item in re.split(r"[,，;；\s]+", text or ""):
            if not item:
                continue
            parts = item.split("..")
            try:
                if len(parts) == 1:
                    out.add(parse_date(parts[0]))
                    continue
                if len(parts) != 2:
                    raise ValueError(item)
                start, end = parse_date(parts[0]), parse_date(parts[1])
            except ValueError:
                raise SpecError(
                    f"“{item}”不是日期或日期范围，应为 YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD "
                    f"(not a date or a date range)"
                ) from None
            if end < start:
                raise SpecError(f"“{item}”：结束日期早于开始日期 (the range ends before it starts)")
            if (end - start).days > 366:
                raise SpecError(f"“{item}”：范围超过一年 (the range is longer than a year)")
            out.update(start + dt.timedelta(days=i) for i in range((end - start).days + 1))
    return sorted(out)
