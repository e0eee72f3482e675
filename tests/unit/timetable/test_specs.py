"""Week specs, period ranges and weekdays as the academic system writes them (issue 3 §2)."""

from __future__ import annotations

import datetime as dt

import pytest

from lti_tool.timetable.specs import (
    SpecError,
    format_weeks,
    parse_holidays,
    parse_periods,
    parse_time,
    parse_weekday,
    parse_weeks,
    parse_yes_no,
)


@pytest.mark.parametrize(
    ("spec", "weeks"),
    [
        ("1-16", tuple(range(1, 17))),
        ("1-16周", tuple(range(1, 17))),
        ("5", (5,)),
        ("1-8,10-17", tuple(range(1, 9)) + tuple(range(10, 18))),
        ("1-8，10-17周", tuple(range(1, 9)) + tuple(range(10, 18))),
        ("1-16单", (1, 3, 5, 7, 9, 11, 13, 15)),
        ("1-16单周", (1, 3, 5, 7, 9, 11, 13, 15)),
        ("1-16(单)", (1, 3, 5, 7, 9, 11, 13, 15)),
        ("2-16双", (2, 4, 6, 8, 10, 12, 14, 16)),
        ("1-15双", (2, 4, 6, 8, 10, 12, 14)),
        ("3-9odd", (3, 5, 7, 9)),
        ("1-4,3-6", (1, 2, 3, 4, 5, 6)),
        ("1-8,10-17单", tuple(range(1, 9)) + (11, 13, 15, 17)),
        (" 1 - 3 , 7 ", (1, 2, 3, 7)),
        ("1～3", (1, 2, 3)),
        ("第1-2周", (1, 2)),
    ],
)
def test_week_specs(spec: str, weeks: tuple[int, ...]) -> None:
    assert parse_weeks(spec) == weeks


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "   ",
        "abc",
        "1-",
        "-5",
        "0-3",
        "8-3",
        "1-16三",
        "1,,3",
        "2-2单",
        "1-1双",
        "1-99",
        "1-16单双",
        "1.5",
    ],
)
def test_bad_week_specs_are_refused(spec: str) -> None:
    with pytest.raises(SpecError):
        parse_weeks(spec)


def test_error_names_the_bad_item() -> None:
    with pytest.raises(SpecError, match="16-8"):
        parse_weeks("1-4,16-8")


def test_canonical_week_text_makes_equal_specs_equal() -> None:
    assert format_weeks(parse_weeks("1-16周")) == format_weeks(parse_weeks("1-8,9-16")) == "1-16"
    assert format_weeks(parse_weeks("1-7单")) == "1,3,5,7"
    assert format_weeks(parse_weeks("1-3,5,7-8")) == "1-3,5,7-8"
    assert format_weeks(()) == ""


@pytest.mark.parametrize(
    ("text", "periods"),
    [("3-4", (3, 4)), ("第3-4节", (3, 4)), ("5", (5, 5)), ("1－2", (1, 2)), ("7~9", (7, 9))],
)
def test_periods(text: str, periods: tuple[int, int]) -> None:
    assert parse_periods(text) == periods


@pytest.mark.parametrize("text", ["", "4-3", "a-b", "3,5", "0-2", "3-4-5"])
def test_bad_periods(text: str) -> None:
    with pytest.raises(SpecError):
        parse_periods(text)


@pytest.mark.parametrize(
    ("text", "day"),
    [("1", 1), ("7", 7), ("星期三", 3), ("周日", 7), ("星期天", 7), ("Wed", 3), ("friday", 5), ("六", 6)],
)
def test_weekdays(text: str, day: int) -> None:
    assert parse_weekday(text) == day


@pytest.mark.parametrize("text", ["0", "8", "", "星期八", "3.5"])
def test_bad_weekdays(text: str) -> None:
    with pytest.raises(SpecError):
        parse_weekday(text)


def test_yes_no_and_times() -> None:
    assert parse_yes_no("是") is True and parse_yes_no("YES") is True
    assert parse_yes_no("否") is False and parse_yes_no("no") is False
    with pytest.raises(SpecError):
        parse_yes_no("maybe")
    assert parse_time("8:00") == dt.time(8, 0)
    assert parse_time("08:05:00") == dt.time(8, 5)
    for bad in ("8", "25:00", "08:61", "8点"):
        with pytest.raises(SpecError):
            parse_time(bad)


def test_holidays_dates_and_ranges() -> None:
    days = parse_holidays(["2026-10-01..2026-10-03", "2026-09-25, 2026-10-02"])
    assert days == [dt.date(2026, 9, 25), dt.date(2026, 10, 1), dt.date(2026, 10, 2), dt.date(2026, 10, 3)]
    assert parse_holidays(["2026-10-01\n2026-10-05"]) == [dt.date(2026, 10, 1), dt.date(2026, 10, 5)]
    for bad in (["2026-10-05..2026-10-01"], ["2026-13-01"], ["2026-10-01..2026-10-02..2026-10-03"], ["soon"]):
        with pytest.raises(SpecError):
            parse_holidays(bad)
