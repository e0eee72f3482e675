"""The contact system's rule kinds as pure functions, one group of tests per rule ID (C-1a … C-7b).

No database: each test hands the function the windows and the facts the compliance service would count,
and checks required / done / status / missing against numbers worked out by hand from issue 9 §4b.
"""

from __future__ import annotations

import datetime as dt

import pytest

from lti_tool.compliance.contact_rules import CONTACT_RULE_FUNCTIONS, ContactFacts, Point
from lti_tool.compliance.rules import NOT_APPLICABLE, OK, SHORT, Item, Subject, Window
from lti_tool.policy.schema import PolicyError, default_policy, default_policy_text, parse_policy

D = dt.date
YEAR = Window(D(2026, 8, 1), D(2027, 7, 31))
SEMESTER = Window(D(2026, 9, 7), D(2027, 1, 10))
WHO = Subject(1, "L001", "张副校长")
POLICY = default_policy()
AUTO = Point("college", "unit:1", "汽车工程学院")
ROAD = Point("college", "unit:2", "道桥工程学院")
RAIL = Point("college", "unit:3", "轨道交通学院")


def judge(
    rule_id: str, facts: ContactFacts, windows: tuple[Window, ...] | None = None, period: Window | None = None
):  # type: ignore[no-untyped-def]
    rule = POLICY.rule(rule_id)
    period = period or (YEAR if rule.period == "academic_year" else SEMESTER)
    windows = (period,) if windows is None else windows
    return CONTACT_RULE_FUNCTIONS[rule.kind](rule, WHO, windows, period, facts)


def test_default_policy_has_the_contact_rules_with_their_clauses():
    ids = [r.id for r in POLICY.rules if r.id.startswith("C-")]
    assert ids == ["C-1a", "C-1b", "C-2a", "C-2b", "C-3a", "C-3b", "C-4", "C-5", "C-6a", "C-7b"]
    assert POLICY.rule("C-1b").source.startswith("一.(一)2.(3)")
    assert POLICY.rule("C-1a").period == "academic_year" and POLICY.rule("C-1b").period == "semester"
    assert POLICY.contact.academic_year_start == "08-01" and POLICY.contact.summary_deadline == "07-15"
    assert POLICY.contact.branch_secretary_positions == {"branch_secretary"}
    # C-4 binds school leaders only while the switch is off (the shipped decision).
    assert "college_dean" not in POLICY.rule("C-4").positions
    # C-5: the department-head positions already on the roster.
    assert set(POLICY.rule("C-5").positions) == {
        p for p, d in POLICY.positions.items() if d.group == "functional_heads"
    }


def test_C4_switch_adds_the_college_heads():
    text = default_policy_text().replace(
        "college_heads_give_lectures = false", "college_heads_give_lectures = true"
    )
    policy = parse_policy(text)
    assert {"college_dean", "college_party_head"} <= set(policy.rule("C-4").positions)
    assert "school_leader" in policy.rule("C-4").positions


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('at = "own_points"', 'at = "somewhere"', "rule C-2b: 'at' must be one of"),
        (
            'activities = ["lecture"]',
            'activities = ["dance"]',
            "rule C-4: 'activities' must be a non-empty list",
        ),
        ("min = 1, max = 2", "min = 3, max = 2", "rule C-1a: requires[1]: 'max' must be 0"),
        ('switch = "college_heads_give_lectures"', 'switch = "nope"', "rule C-4: 'switch' must name one of"),
        (
            'summary_deadline = "07-15"',
            'summary_deadline = "02-30"',
            "contact.summary_deadline: must be MM-DD",
        ),
        (
            'kind = "summary_submitted"',
            'kind = "summary_submitted"\nactivities = ["visit"]',
            "rule C-7b: key 'activities' does not apply",
        ),
    ],
)
def test_bad_contact_parameters_are_named(old: str, new: str, expected: str):
    text = default_policy_text()
    assert old in text
    with pytest.raises(PolicyError) as err:
        parse_policy(text.replace(old, new, 1))
    assert any(p.startswith(expected) for p in err.value.problems), err.value.problems


# -- C-1a: 1–2 colleges a year, rotated ---------------------------------------------------------------------
def test_C1a_one_new_college_is_ok():
    r = judge("C-1a", ContactFacts("2026-2027", points=(AUTO,), previous=frozenset({"unit:2"})))
    assert (r.required, r.done, r.status, r.missing) == (1, 1, OK, ())


def test_C1a_two_colleges_are_ok_and_counted():
    r = judge("C-1a", ContactFacts("2026-2027", points=(AUTO, ROAD)))
    assert (r.required, r.done, r.status) == (1, 2, OK)


def test_C1a_none_is_short_naming_the_kind():
    r = judge("C-1a", ContactFacts("2026-2027"))
    assert (r.done, r.status) == (0, SHORT)
    assert r.missing == (Item("kind:college", "联系教学院（部）"),)


def test_C1a_three_colleges_are_flagged_not_refused():
    r = judge("C-1a", ContactFacts("2026-2027", points=(AUTO, ROAD, RAIL)))
    assert (r.required, r.done, r.status) == (1, 3, SHORT)
    assert "3 > 2" in r.explanation_text


def test_C1a_rotation_flags_the_repeated_college():
    r = judge("C-1a", ContactFacts("2026-2027", points=(AUTO, ROAD), previous=frozenset({"unit:1"})))
    assert (r.done, r.status) == (2, SHORT)
    assert "汽车工程学院" in r.explanation_text and "道桥" not in r.explanation_text


def test_C1a_a_point_twice_counts_once():
    r = judge("C-1a", ContactFacts("2026-2027", points=(AUTO, AUTO)))
    assert (r.done, r.status) == (1, OK)


# -- C-1b: two visits a semester to the contacted colleges --------------------------------------------------
def test_C1b_two_colleges_one_visited_names_the_other():
    facts = ContactFacts(
        count=1,
        targets=(Item("unit:1", "汽车工程学院"), Item("unit:2", "道桥工程学院")),
        visited=frozenset({"unit:1"}),
    )
    r = judge("C-1b", facts)
    assert (r.required, r.done, r.remaining, r.status) == (2, 1, 1, SHORT)
    assert r.missing == (Item("unit:2", "道桥工程学院"),)


def test_C1b_one_college_visited_once_names_the_activity():
    facts = ContactFacts(count=1, targets=(Item("unit:1", "汽车工程学院"),), visited=frozenset({"unit:1"}))
    r = judge("C-1b", facts)
    assert r.status == SHORT and r.missing == (Item("activity:visit", "到联系院（部）调研指导"),)


def test_C1b_two_visits_are_ok():
    r = judge(
        "C-1b",
        ContactFacts(count=2, targets=(Item("unit:1", "汽车工程学院"),), visited=frozenset({"unit:1"})),
    )
    assert (r.done, r.status, r.missing) == (2, OK, ())


def test_C1b_without_contacted_college_says_so():
    r = judge("C-1b", ContactFacts(count=0))
    assert r.status == SHORT and "no contacted college" in r.explanation_text


# -- C-2a: one teaching office or lab and one class ---------------------------------------------------------
def test_C2a_names_the_missing_kind():
    lab = Point("lab", "unit:7", "汽车电子实验室")
    r = judge(
        "C-2a", ContactFacts("2026-2027", points=(lab, Point("teaching_office", "unit:8", "汽修教研室")))
    )
    assert (r.required, r.done, r.status) == (2, 1, SHORT)
    assert r.missing == (Item("kind:student_class", "学生班级"),)


def test_C2a_both_kinds_held():
    points = (Point("lab", "unit:7", "实验室"), Point("student_class", "class:3", "汽修2401"))
    r = judge("C-2a", ContactFacts("2026-2027", points=points))
    assert (r.required, r.done, r.status) == (2, 2, OK)


# -- C-3a / C-3b: party members only ------------------------------------------------------------------------
def test_C3a_not_a_party_member_has_no_duty():
    r = judge("C-3a", ContactFacts(party_member=False))
    assert (r.required, r.status) == (0, NOT_APPLICABLE)


def test_C3b_member_without_confirmed_activity_is_short():
    r = judge("C-3b", ContactFacts(count=0))
    assert (r.required, r.done, r.status) == (1, 0, SHORT)
    assert r.missing == (Item("activity:branch_activity", "参加本院（部）其他党支部活动"),)


# -- C-4, C-5 -----------------------------------------------------------------------------------------------
def test_C4_and_C5_count_their_activity():
    assert judge("C-4", ContactFacts(count=1)).status == OK
    r = judge("C-5", ContactFacts(count=0))
    assert r.status == SHORT and r.missing[0].label == "召开师生员工座谈会"


def test_partial_tenure_is_flagged():
    half = (Window(D(2026, 11, 1), SEMESTER.end),)
    r = judge("C-4", ContactFacts(count=1), windows=half)
    assert r.partial and r.status == OK


# -- C-7b: the year-end summary -----------------------------------------------------------------------------
DEADLINE = D(2027, 7, 15)
SPRING = Window(D(2027, 3, 1), D(2027, 7, 20))


def test_C7b_on_time_is_ok():
    r = judge("C-7b", ContactFacts("2026-2027", summary_submitted_on=D(2027, 7, 1), deadline=DEADLINE))
    assert (r.required, r.done, r.status) == (1, 1, OK)


def test_C7b_late_is_short():
    r = judge(
        "C-7b",
        ContactFacts("2026-2027", summary_submitted_on=D(2027, 7, 16), deadline=DEADLINE),
        period=SPRING,
    )
    assert (r.done, r.status) == (0, SHORT) and "late" in r.explanation_text


def test_C7b_missing_when_due_inside_the_semester():
    r = judge(
        "C-7b", ContactFacts("2026-2027", summary_draft=True, deadline=DEADLINE, semester_end=SPRING.end)
    )
    assert (r.required, r.done, r.status) == (1, 0, SHORT)
    assert r.missing[0].code == "summary"


def test_C7b_not_yet_due_in_the_autumn():
    r = judge("C-7b", ContactFacts("2026-2027", deadline=DEADLINE, semester_end=SEMESTER.end))
    assert r.status == NOT_APPLICABLE and "2027-07-15" in r.explanation_text


def test_C7b_missing_once_a_deadline_in_the_summer_break_has_passed():
    # a spring semester that ends 2027-07-04, before the 07-15 deadline: not due while the break's deadline
    # is ahead, short once it has passed with nothing submitted (the year's last semester answers for it)
    # (the period of an annual rule is the academic year; the semester is told by semester_end)
    early = Window(D(2027, 3, 1), D(2027, 7, 4))
    ahead = judge("C-7b", ContactFacts("2026-2027", deadline=DEADLINE, semester_end=early.end))
    assert ahead.status == NOT_APPLICABLE
    passed = ContactFacts(
        "2026-2027", deadline=DEADLINE, semester_end=early.end, deadline_passed_in_break=True
    )
    r = judge("C-7b", passed)
    assert (r.required, r.done, r.status) == (1, 0, SHORT) and r.missing[0].code == "summary"


def test_C7b_a_leader_who_left_before_the_deadline_owes_none():
    # in office until 2027-03-20 (the year's windows end there), nothing submitted, deadline passed: not
    # applicable; submitted late before leaving: still short (late)
    left = (Window(YEAR.start, D(2027, 3, 20)),)
    facts = ContactFacts(
        "2026-2027", deadline=DEADLINE, semester_end=D(2027, 7, 4), deadline_passed_in_break=True
    )
    r = judge("C-7b", facts, windows=left)
    assert r.status == NOT_APPLICABLE and "2027-07-15" in r.explanation_text
    stayed = judge("C-7b", facts, windows=(Window(YEAR.start, DEADLINE),))
    assert stayed.status == SHORT


def test_contact_points_rules_read_as_one_sentence():
    # the requirement's label already says 联系: the rule's plain words say it once
    assert POLICY.rule("C-1a").titled() == "C-1a 每学年联系教学院（部）1–2个，每年轮换"
    assert POLICY.rule("C-1a").titled("en") == (
        "C-1a contact points each academic year: a teaching college 1–2, rotated yearly"
    )
