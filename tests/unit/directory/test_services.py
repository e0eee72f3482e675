"""DirectoryService pieces that the CLI and page tests do not pin down on their own."""

from __future__ import annotations

import datetime as dt

import pytest

from lti_tool.directory.models import Person, PositionHolding, Unit
from lti_tool.directory.services import DirectoryService, parse_date
from lti_tool.errors import NotFound
from lti_tool.policy.schema import default_policy


@pytest.mark.parametrize(
    "text",
    [
        "2026-09-01",
        "2026/9/1",
        "2026.09.01",
        "2026年9月1日",
        " 2026-9-1 ",
        "2026-09-01 00:00:00",
        "2026-09-01T00:00:00",
    ],
)
def test_parse_date_accepts_the_forms_offices_export(text: str) -> None:
    assert parse_date(text) == dt.date(2026, 9, 1)


@pytest.mark.parametrize(
    "text", ["2026-02-30", "2026-13-01", "01/09/2026", "九月一日", "2026-09", "20260901x"]
)
def test_parse_date_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date(text)


def test_people_page_clamps_the_page_number(db_session, institution_id) -> None:
    db_session.add_all(
        [Person(institution_id=institution_id, employee_no=f"{i:03d}", name=f"P{i}") for i in range(7)]
    )
    db_session.flush()
    service = DirectoryService(db_session, institution_id)
    page = service.people_page(page=99, per_page=5)
    assert (page.page, page.pages, page.total) == (2, 2, 7)
    assert [p.employee_no for p in page.people] == ["005", "006"]
    assert service.people_page(page=-3, per_page=5).page == 1
    assert service.people_page("P_", per_page=5).total == 0  # "_" is a character, not a LIKE wildcard


def test_cadres_grouped_by_policy_groups_current_and_upcoming_only(db_session, institution_id) -> None:
    unit = Unit(institution_id=institution_id, code="TR", name="交通运输学院", kind="college")
    people = {}
    for no, code, start, end in [
        ("1", "college_dean", dt.date(2024, 9, 1), None),
        ("2", "school_leader", None, None),
        ("3", "head_hr", dt.date(2020, 1, 1), dt.date(2021, 1, 1)),  # ended
        ("4", "vp_teaching", dt.date(2027, 1, 1), None),  # upcoming
        ("5", "retired_title", None, None),  # not in the policy
    ]:
        person = Person(institution_id=institution_id, employee_no=no, name=f"P{no}", unit=unit)
        person.positions.append(
            PositionHolding(institution_id=institution_id, position_code=code, start_date=start, end_date=end)
        )
        people[no] = person
    db_session.add_all(people.values())
    db_session.flush()
    groups = DirectoryService(db_session, institution_id).cadres(default_policy(), dt.date(2026, 3, 1))
    got = [(g.code, g.name, [(r.person.employee_no, r.position_name) for r in g.rows]) for g in groups]
    assert got == [
        ("school_leaders", "校领导", [("2", "校领导班子成员"), ("4", "分管教学的校领导")]),
        ("college_heads", "教学院（部）负责人", [("1", "教学院（部）行政主要负责人")]),
        ("", None, [("5", "retired_title")]),
    ]


def test_person_of_another_institution_is_not_found(db_session, institution_id) -> None:
    person = Person(institution_id=institution_id, employee_no="1", name="P")
    db_session.add(person)
    db_session.flush()
    assert DirectoryService(db_session, institution_id).person(person.id) is person
    with pytest.raises(NotFound):
        DirectoryService(db_session, institution_id + 1000).person(person.id)
