"""C-6a as a pure function (rule kind ``reception_days``) and the one definition of a missing week."""

from __future__ import annotations

import datetime as dt

from lti_tool.compliance.contact_rules import CONTACT_RULE_FUNCTIONS, ContactFacts, ReceptionWeek
from lti_tool.compliance.rules import NOT_APPLICABLE, OK, SHORT, Subject, Window
from lti_tool.outreach.models import WeekState, reception_week_state, week_bounds
from lti_tool.policy.schema import default_policy

D = dt.date
SEMESTER = Window(D(2026, 9, 7), D(2027, 1, 10))  # 18 weeks from Monday 7 September
WHO = Subject(1, "L001", "张副校长")
RULE = default_policy().rule("C-6a")


def week(n: int, recorded: bool) -> ReceptionWeek:
    start, end = week_bounds(SEMESTER.start, n)
    return ReceptionWeek(n, start, end, recorded)


def judge(weeks: tuple[ReceptionWeek, ...], today: dt.date, windows: tuple[Window, ...] = (SEMESTER,)):  # type: ignore[no-untyped-def]
    facts = ContactFacts("2026-2027", reception_weeks=weeks, today=today)
    return CONTACT_RULE_FUNCTIONS["reception_days"](RULE, WHO, windows, SEMESTER, facts)


def test_the_policy_names_c6a_for_the_school_leaders() -> None:
    assert RULE.kind == "reception_days" and RULE.system == "contact"
    assert "school_leader" in RULE.positions and RULE.source.startswith("五.1")
    assert RULE.titled() == "C-6a 每个排定的接待周都有接待记录"


def test_week_state_is_missing_only_once_the_week_has_ended() -> None:
    start, end = week_bounds(D(2026, 9, 7), 3)
    assert (start, end) == (D(2026, 9, 21), D(2026, 9, 27))
    assert reception_week_state(start, end, False, D(2026, 9, 20)) == WeekState.UPCOMING
    assert reception_week_state(start, end, False, D(2026, 9, 21)) == WeekState.CURRENT
    assert (
        reception_week_state(start, end, False, D(2026, 9, 27)) == WeekState.CURRENT
    )  # Sunday: still on time
    assert reception_week_state(start, end, False, D(2026, 9, 28)) == WeekState.MISSING
    assert reception_week_state(start, end, True, D(2026, 9, 28)) == WeekState.RECORDED


def test_hand_computed_weeks() -> None:
    # Scheduled for weeks 2, 6, 10 and 15; today is Wednesday of week 10 (2026-11-11).
    # Week 2 recorded, week 6 not (ended 2026-10-18: missing), week 10 under way, week 15 ahead.
    weeks = (week(2, True), week(6, False), week(10, False), week(15, False))
    r = judge(weeks, D(2026, 11, 11))
    assert (r.required, r.done, r.remaining, r.status) == (4, 1, 3, SHORT)
    assert [m.label for m in r.missing] == ["6"] and r.missing[0].code == "week:6"
    assert r.explanation_text == "1 of 4 reception weeks recorded; not recorded: week 6."


def test_no_week_missed_is_ok_with_the_next_week_named() -> None:
    r = judge((week(2, True), week(10, False)), D(2026, 11, 11))
    assert (r.required, r.done, r.status) == (2, 1, OK)
    assert r.explanation_text == "1 of 2 reception weeks recorded; next: week 10."
    done = judge((week(2, True), week(10, True)), D(2027, 2, 1))
    assert (done.done, done.status, done.explanation_text) == (2, OK, "All 2 reception weeks recorded.")


def test_after_the_semester_every_unrecorded_week_is_missing() -> None:
    r = judge((week(2, True), week(17, False), week(18, False)), D(2027, 3, 1))
    assert r.status == SHORT and [m.label for m in r.missing] == ["17", "18"]


def test_not_scheduled_or_no_tenure_is_not_applicable() -> None:
    assert judge((), D(2026, 11, 11)).status == NOT_APPLICABLE
    assert judge((week(2, False),), D(2026, 11, 11), windows=()).status == NOT_APPLICABLE
