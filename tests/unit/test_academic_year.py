"""Academic years (学年) and the policy's ``[contact]`` settings (issue 9 §2, §4)."""

from __future__ import annotations

import datetime as dt

import pytest

from lti_tool.academic_year import (
    academic_year_bounds,
    academic_year_of,
    parse_academic_year,
    previous_academic_year,
)
from lti_tool.policy.schema import PolicyError, default_policy_text, parse_policy


@pytest.mark.parametrize(
    ("day", "start", "year"),
    [
        (dt.date(2026, 7, 31), "08-01", "2025-2026"),
        (dt.date(2026, 8, 1), "08-01", "2026-2027"),
        (dt.date(2027, 3, 1), "08-01", "2026-2027"),
        (dt.date(2026, 8, 31), "09-01", "2025-2026"),
        (dt.date(2026, 9, 1), "09-01", "2026-2027"),
    ],
)
def test_academic_year_of(day, start, year) -> None:
    assert academic_year_of(day, start) == year


def test_bounds_and_previous_year() -> None:
    assert academic_year_bounds("2026-2027") == (dt.date(2026, 8, 1), dt.date(2027, 7, 31))
    assert academic_year_bounds("2026-2027", "09-01") == (dt.date(2026, 9, 1), dt.date(2027, 8, 31))
    assert previous_academic_year("2026-2027") == "2025-2026"


@pytest.mark.parametrize("text", ["2026-2027", "2026/2027", "2026—2027学年", " 2026 - 2027 "])
def test_parse_accepts_the_ways_people_write_a_year(text) -> None:
    assert parse_academic_year(text) == "2026-2027"


@pytest.mark.parametrize("text", ["2026", "2026-2028", "2027-2026", "26-27", "", "2026-2027-1"])
def test_parse_refuses_what_is_not_a_year(text) -> None:
    with pytest.raises(ValueError):
        parse_academic_year(text)


def test_policy_contact_settings_are_checked() -> None:
    text = default_policy_text()
    bad = text.replace('academic_year_start = "08-01"', 'academic_year_start = "13-01"').replace(
        'branch_secretary_positions = ["branch_secretary"]', 'branch_secretary_positions = ["nobody"]'
    )
    with pytest.raises(PolicyError) as err:
        parse_policy(bad)
    assert any("contact.academic_year_start" in p for p in err.value.problems)
    assert any("contact.branch_secretary_positions" in p and "nobody" in p for p in err.value.problems)
    assert parse_policy(text.replace('"08-01"', '"9-1"')).contact.academic_year_start == "09-01"
