"""The demo's pure generators: calendar, roster and timetable (no database).

These pin what the functional test cannot cheaply see for every case: whichever day the demo runs, today
falls in the current semester; every position of the policy is held; the timetable never puts a class, a
teacher or a room in two places at once, and uses only week and period specs the importer accepts.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import defaultdict

import pytest

from lti_tool.demo.calendar import choose_semesters
from lti_tool.demo.catalog import IDEOLOGICAL, MARXISM, PERIODS
from lti_tool.demo.roster import build_roster, people_rows
from lti_tool.demo.timetable import build_timetable
from lti_tool.policy.schema import default_policy
from lti_tool.timetable.specs import parse_periods, parse_weeks

CODE = re.compile(r"^(\d{4})-(\d{4})-([12])$")


@pytest.mark.parametrize("year", [2025, 2026, 2027, 2029])
def test_today_is_always_inside_the_current_semester(year: int) -> None:
    day = dt.date(year, 1, 1)
    while day.year == year:
        current, previous = choose_semesters(day)
        assert current.contains(day), day
        assert previous.end_date < current.week1_monday, day
        assert current.week1_monday.weekday() == 0 and previous.week1_monday.weekday() == 0
        assert current.code != previous.code
        for plan in (current, previous):
            match = CODE.match(plan.code)
            assert match and int(match[2]) == int(match[1]) + 1
            assert plan.weeks == 16
            assert all(plan.week1_monday <= h.start <= h.end <= plan.end_date for h in plan.holidays)
        day += dt.timedelta(days=3)


def test_autumn_semester_has_national_day_and_starts_in_september() -> None:
    current, previous = choose_semesters(dt.date(2026, 11, 27))
    assert (current.code, current.week1_monday) == ("2026-2027-1", dt.date(2026, 9, 7))
    assert current.week_of(dt.date(2026, 11, 27)) == 12
    assert any(h.name == "国庆节" and h.spec() == "2026-10-01..2026-10-07" for h in current.holidays)
    assert previous.code == "2025-2026-2" and previous.week1_monday == dt.date(2026, 3, 2)


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    current, previous = choose_semesters(dt.date(2026, 11, 27))
    roster = build_roster(random.Random(1), current.week1_monday, previous.week1_monday)
    rows = build_timetable(random.Random(2), roster, current.code)
    return current, roster, rows


def test_roster_fills_every_position_of_the_policy(world) -> None:  # type: ignore[no-untyped-def]
    current, roster, _ = world
    held = {t.position for p in roster.people for t in p.tenures}
    assert set(default_policy().positions) <= held
    numbers = [p.employee_no for p in roster.people]
    assert len(numbers) == len(set(numbers)) and all(re.fullmatch(r"\d{6}", n) for n in numbers)
    assert len({p.email for p in roster.people}) == len(roster.people)
    marxism = roster.holders("marxism_school_leader")
    assert 3 <= len(marxism) <= 4
    starts = [t.start for p in marxism for t in p.tenures if t.position == "marxism_school_leader"]
    assert all(starts) and any(current.week1_monday < s <= current.end_date for s in starts)  # mid-semester
    assert sum(1 for p in roster.people if p.teaching_load) >= 400
    # One row per tenure date range, so a person with two differently dated positions has two rows.
    rows = people_rows(roster)
    assert len(rows) > len(roster.people)
    assert {r["employee_no"] for r in rows} == set(numbers)


def test_timetable_is_complete_and_never_double_books(world) -> None:  # type: ignore[no-untyped-def]
    current, roster, rows = world
    assert len(rows) >= 800
    period_numbers = {n for n, _, _ in PERIODS}
    busy: dict[tuple[str, str, int], int] = defaultdict(int)
    for row in rows:
        assert row["semester"] == current.code
        weeks = parse_weeks(row["weeks"])
        assert weeks and max(weeks) <= current.weeks
        first, last = parse_periods(row["periods"])
        assert {first, last} <= period_numbers
        day = int(row["weekday"])
        keys = [("class", c) for c in row["classes"].split(";")]
        keys += [("teacher", t) for t in row["teacher_no"].split(";")] + [("room", row["room"])]
        for kind, key in keys:
            busy[(kind + ":" + key, str(day), first)] += 1
    clashes = {k: n for k, n in busy.items() if n > 1}
    assert not clashes
    teachers = {t for row in rows for t in row["teacher_no"].split(";")}
    assert teachers == {p.employee_no for p in roster.people if p.teaching_load}
    ideological = {row["course_code"] for row in rows if row["course_kind"] == IDEOLOGICAL}
    assert len(ideological) >= 8 and ideological <= {c.code for c in MARXISM.courses}
    marxism_staff = {p.employee_no for p in roster.by_unit(MARXISM.code)}
    assert all(
        set(row["teacher_no"].split(";")) <= marxism_staff
        for row in rows
        if row["course_kind"] == IDEOLOGICAL
    )
    part_time = [row for row in rows if row["full_time"] == "否"]
    assert part_time and all(row["classes"].startswith("成教") for row in part_time)


def test_same_seed_same_college(world) -> None:  # type: ignore[no-untyped-def]
    current, roster, rows = world
    again = build_timetable(random.Random(2), roster, current.code)
    other = build_timetable(random.Random(3), roster, current.code)
    assert again == rows and other != rows
