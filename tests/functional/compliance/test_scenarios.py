"""Hand-computed compliance scenarios for every rule O-1…O-10, on a real database session.

One small college (``compliance_world`` in tests/support/worlds.py) is built from plain rows. Semester
S = 2026-2027-1 runs from 2026-09-07 for 18 weeks (to 2027-01-10, so it touches five months: Sep … Jan);
the previous semester S0 = 2025-2026-2 runs 2026-03-02 … 2026-07-05. The expected figures below were
counted by hand from the comments in ``compliance_world``; each test names the rule it checks.

Totals for S (hand count): 13 people with duties, 5 compliant (李, 赵, 陈, 教务处长, 后勤处长), 8 short;
27 submitted records dated in S; 11 people counted on at least one of them.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from lti_tool.compliance.services import ComplianceReport, ComplianceService
from lti_tool.directory.models import Person
from lti_tool.errors import NotFound
from lti_tool.policy.store import PolicyStore
from lti_tool.timetable.models import Semester
from tests.support import factories as f
from tests.support.worlds import ComplianceWorld, compliance_world

D = dt.date


@pytest.fixture
def scenario(db_session) -> ComplianceWorld:  # type: ignore[no-untyped-def]
    return compliance_world(db_session)


@pytest.fixture
def report(db_session, scenario) -> ComplianceReport:  # type: ignore[no-untyped-def]
    return ComplianceService(db_session, scenario.institution_id).evaluate(
        scenario.semester, system="observation"
    )


def result(report: ComplianceReport, employee_no: str, rule_id: str):  # type: ignore[no-untyped-def]
    found = [r for r in report.results if r.employee_no == employee_no and r.rule_id == rule_id]
    assert len(found) == 1, f"{employee_no} {rule_id}: {found}"
    return found[0]


def rules_of(report: ComplianceReport, employee_no: str) -> set[str]:
    return {r.rule_id for r in report.results if r.employee_no == employee_no}


# -- O-1 / O-2 ---------------------------------------------------------------------------------------------
def test_O1_O2_vp_teaching_counts_submitted_records_of_the_semester_only(report, scenario):  # type: ignore[no-untyped-def]
    no = scenario.people["zhang"]
    assert rules_of(report, no) == {"O-1", "O-2", "O-3"}
    o1, o2 = result(report, no, "O-1"), result(report, no, "O-2")
    # 3 submitted sessions in S; the draft and the S0 record do not count.
    assert (o1.required, o1.done, o1.status) == (2, 3, "ok")
    assert (o2.required, o2.done, o2.remaining, o2.status) == (3, 3, 0, "ok")


def test_O1_group_member_who_signed_counts_once_per_session(report, scenario):  # type: ignore[no-untyped-def]
    o1 = result(report, scenario.people["li"], "O-1")
    # own_record on the group record + his own record of the same session = one session; plus one more.
    assert (o1.done, o1.status) == (2, "ok")


def test_O1_invited_but_not_signed_does_not_count(report, scenario):  # type: ignore[no-untyped-def]
    o1 = result(report, scenario.people["wang"], "O-1")
    assert (o1.required, o1.done, o1.remaining, o1.status) == (2, 1, 1, "short")


def test_O1_partial_tenure_counts_records_inside_the_tenure_and_shows_it(report, scenario):  # type: ignore[no-untyped-def]
    o1 = result(report, scenario.people["zhao"], "O-1")
    assert (o1.done, o1.status) == (2, "ok")  # the October record predates the tenure
    assert o1.partial is True
    assert [(w.start, w.end) for w in o1.windows] == [(D(2026, 11, 1), D(2027, 1, 10))]
    full = result(report, scenario.people["li"], "O-1")
    assert full.partial is False


# -- O-3 ---------------------------------------------------------------------------------------------------
def test_O3_course_observed_twice_covers_it_once_and_names_the_missing_course(report, scenario):  # type: ignore[no-untyped-def]
    o3 = result(report, scenario.people["zhang"], "O-3")
    assert (o3.required, o3.done, o3.remaining, o3.status) == (2, 1, 1, "short")
    assert [m.code for m in o3.missing] == ["SZ2"]
    assert "毛泽东思想和中国特色社会主义理论体系概论" in o3.missing[0].label


def test_O3_party_secretary_and_partial_president(report, scenario):  # type: ignore[no-untyped-def]
    wang = result(report, scenario.people["wang"], "O-3")
    assert (wang.done, wang.status, [m.code for m in wang.missing]) == (1, "short", ["SZ1"])
    zhao = result(report, scenario.people["zhao"], "O-3")
    assert (zhao.required, zhao.done, zhao.status, zhao.partial) == (2, 2, "ok", True)


def test_O3_gap_sessions_leave_out_todays_classes_that_are_over(db_session, scenario):  # type: ignore[no-untyped-def]
    """张 misses SZ2, taught 2026-11-11 and 2026-12-09 at 08:00-09:40: on the 11th at 07:50 that day's class
    is suggested; at 10:00 it is over (nobody can arrive before it starts, O-12), so the next one is."""
    service = ComplianceService(db_session, scenario.institution_id)
    zhang = db_session.scalar(
        select(Person).where(
            Person.institution_id == scenario.institution_id,
            Person.employee_no == scenario.people["zhang"],
        )
    )
    pc = service.person(scenario.semester, zhang.id)
    day = D(2026, 11, 11)

    def suggested(now: dt.time | None) -> list[tuple[str, dt.date]]:
        return [(g.item.code, g.date) for g in service.gap_sessions(scenario.semester, pc, day, now=now)]

    assert suggested(dt.time(7, 50)) == [("SZ2", D(2026, 11, 11))]
    assert suggested(dt.time(9, 39)) == [("SZ2", D(2026, 11, 11))]
    assert suggested(dt.time(10, 0)) == [("SZ2", D(2026, 12, 9))]
    assert suggested(None) == [("SZ2", D(2026, 11, 11))]  # by date only, as before


# -- O-4 / O-5 ---------------------------------------------------------------------------------------------
def test_O4_supervision_records_count_for_the_college_dean(report, scenario):  # type: ignore[no-untyped-def]
    o4 = result(report, scenario.people["chen"], "O-4")
    assert (o4.required, o4.done, o4.status) == (5, 5, "ok")  # 3 plain + 2 supervision; the draft not


def test_O5_supervision_does_not_count_for_the_party_head(report, scenario):  # type: ignore[no-untyped-def]
    o5 = result(report, scenario.people["zhou"], "O-5")
    assert (o5.required, o5.done, o5.remaining, o5.status) == (3, 2, 1, "short")


# -- O-6 ---------------------------------------------------------------------------------------------------
def test_O6_term_of_office_spanning_two_semesters(report, scenario):  # type: ignore[no-untyped-def]
    o6 = result(report, scenario.people["ma"], "O-6")
    assert (o6.required, o6.done, o6.remaining, o6.status) == (3, 2, 1, "short")
    assert [m.code for m in o6.missing] == ["T102"]
    assert "钱老师" in o6.missing[0].label
    assert o6.windows[0].start == D(2026, 3, 1) and o6.windows[0].end == D(2027, 1, 10)
    assert o6.params["term_start"] == "2026-03-01"


def test_O6_previous_semester_is_judged_up_to_its_own_end(db_session, scenario):  # type: ignore[no-untyped-def]
    old = ComplianceService(db_session, scenario.institution_id).evaluate(
        scenario.previous, system="observation"
    )
    o6 = result(old, scenario.people["ma"], "O-6")
    assert (o6.required, o6.done, [m.code for m in o6.missing]) == (2, 1, ["T102"])


# -- O-7 / O-8 ---------------------------------------------------------------------------------------------
def test_O7_cosigned_counts_for_both_and_declined_does_not(report, scenario):  # type: ignore[no-untyped-def]
    jw = result(report, scenario.people["jw"], "O-7")
    assert (jw.required, jw.done, jw.status) == (4, 4, "ok")
    rs = result(report, scenario.people["rs"], "O-7")
    assert (rs.done, rs.remaining, rs.status) == (3, 1, "short")


def test_O8_only_ideological_courses_count(report, scenario):  # type: ignore[no-untyped-def]
    xc = result(report, scenario.people["xc"], "O-8")
    assert (xc.required, xc.done, xc.status) == (1, 0, "short")
    xg = result(report, scenario.people["xg"], "O-8")
    assert (xg.done, xg.status) == (1, "ok")


# -- O-9 ---------------------------------------------------------------------------------------------------
def test_O9_month_without_a_patrol_is_named(report, scenario):  # type: ignore[no-untyped-def]
    o9 = result(report, scenario.people["xg"], "O-9")
    assert (o9.required, o9.done, o9.status) == (5, 4, "short")
    assert [m.code for m in o9.missing] == ["2026-12"]


def test_O9_partial_tenure_months_and_patrol_before_tenure(report, scenario):  # type: ignore[no-untyped-def]
    o9 = result(report, scenario.people["bw"], "O-9")
    assert (o9.required, o9.done, o9.status, o9.partial) == (4, 3, "short", True)
    assert [m.code for m in o9.missing] == ["2026-10"]
    ok = result(report, scenario.people["hq"], "O-9")
    assert (ok.required, ok.done, ok.status) == (5, 5, "ok")


# -- O-10 --------------------------------------------------------------------------------------------------
def test_O10_in_scope_share_is_informative(report, scenario):  # type: ignore[no-untyped-def]
    chen = result(report, scenario.people["chen"], "O-10")
    assert (chen.required, chen.done, chen.status, chen.below_target) == (5, 3, "ok", False)
    assert chen.share == pytest.approx(0.6)
    zhou = result(report, scenario.people["zhou"], "O-10")
    assert (zhou.required, zhou.done, zhou.status, zhou.below_target) == (3, 1, "ok", True)
    assert zhou.informative


# -- whole institution -------------------------------------------------------------------------------------
def test_institution_summary(db_session, report, scenario):  # type: ignore[no-untyped-def]
    summary = report.summary
    assert (summary.persons, summary.compliant, summary.short) == (13, 5, 8)
    assert summary.rate == pytest.approx(5 / 13)
    assert ComplianceService(db_session, scenario.institution_id).record_count(scenario.semester) == 27
    assert summary.active_observers == 11
    compliant = {p.employee_no for p in report.persons if p.compliant}
    assert compliant == {"L002", "L004", "H001", "F001", "F006"}


def test_groups_follow_the_policy(report):  # type: ignore[no-untyped-def]
    groups = {g.code: g for g in report.groups()}
    assert list(groups) == ["school_leaders", "college_heads", "functional_heads"]
    assert [r.id for r in groups["school_leaders"].rules] == ["O-1", "O-2", "O-3"]
    assert {p.employee_no for p in groups["school_leaders"].short_people} == {"L001", "L003"}
    assert {p.employee_no for p, _ in groups["college_heads"].rows} == {"H001", "H002", "H003"}


def test_another_institutions_data_does_not_count(db_session, report, scenario):  # type: ignore[no-untyped-def]
    assert "外校长" not in {r.name for r in report.results}
    assert "F009" not in {r.employee_no for r in report.results}  # tenure ended before the semester
    other_semester = db_session.query(Semester).filter_by(institution_id=scenario.other_institution_id).one()
    other = ComplianceService(db_session, scenario.other_institution_id).evaluate(
        other_semester, system="observation"
    )
    assert {(r.employee_no, r.rule_id, r.done) for r in other.results} == {
        ("L001", "O-1", 4),
        ("L001", "O-2", 4),
        ("L001", "O-3", 1),
    }
    with pytest.raises(NotFound):
        ComplianceService(db_session, scenario.other_institution_id).evaluate(scenario.semester)


def test_single_person_evaluation_matches_the_full_one(db_session, report, scenario):  # type: ignore[no-untyped-def]
    service = ComplianceService(db_session, scenario.institution_id)
    zhang = next(p for p in report.persons if p.employee_no == "L001")
    alone = service.person(scenario.semester, zhang.person_id, system="observation")
    assert alone is not None
    assert [r.to_dict() for r in alone.results] == [r.to_dict() for r in zhang.results]


def test_semester_keeps_the_policy_version_it_was_first_evaluated_under(db_session, scenario):  # type: ignore[no-untyped-def]
    service = ComplianceService(db_session, scenario.institution_id)
    assert scenario.semester.policy_version_id is not None  # snapshotted by the first evaluation (fixture)
    first = scenario.semester.policy_version_id
    text = PolicyStore(db_session, scenario.institution_id).current().text
    stricter = text.replace("count = 2\n", "count = 9\n", 1)  # O-1: 2 → 9
    assert stricter != text
    PolicyStore(db_session, scenario.institution_id).upload(stricter, None)
    again = service.evaluate(scenario.semester)
    assert scenario.semester.policy_version_id == first
    assert result(again, "L002", "O-1").required == 2
    fresh = f.semester(db_session, scenario.institution_id, "2027-2028-1", week1_monday=D(2027, 9, 6))
    service.evaluate(fresh)
    assert fresh.policy_version_id != first


@pytest.fixture(autouse=True)
def _evaluate_first(request):  # type: ignore[no-untyped-def]
    """Make the snapshot test meaningful: the ``report`` fixture evaluates before it uploads."""
    if request.node.name.startswith("test_semester_keeps"):
        request.getfixturevalue("report")
