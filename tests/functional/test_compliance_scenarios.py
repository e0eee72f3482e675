"""Hand-computed compliance scenarios for every rule O-1…O-10, on a real database session.

One small college (``build_scenario``) is built from plain rows. Semester S = 2026-2027-1 runs from
2026-09-07 for 18 weeks (to 2027-01-10, so it touches five months: Sep … Jan); the previous semester
S0 = 2025-2026-2 runs 2026-03-02 … 2026-07-05. The expected figures below were counted by hand from
the comments in ``build_scenario``; each test names the rule it checks.

Totals for S (hand count): 13 people with duties, 5 compliant (李, 赵, 陈, 教务处长, 后勤处长), 8 short;
27 submitted records dated in S; 11 people counted on at least one of them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from lti_tool.compliance.services import ComplianceReport, ComplianceService
from lti_tool.errors import NotFound
from lti_tool.observations.models import MemberStatus, ObservationStatus
from lti_tool.policy.store import PolicyStore
from lti_tool.timetable.models import Semester
from tests.support import factories as f

D = dt.date
SIGNED, OWN, INVITED, DECLINED = (
    MemberStatus.SIGNED,
    MemberStatus.OWN_RECORD,
    MemberStatus.INVITED,
    MemberStatus.DECLINED,
)
DRAFT = ObservationStatus.DRAFT


@dataclass
class Scenario:
    institution_id: int
    other_institution_id: int
    semester: Semester
    previous: Semester
    people: dict[str, str]
    """Short name → employee number."""


def build_scenario(s, institution_id: int | None = None) -> Scenario:  # type: ignore[no-untyped-def]
    """The hand-counted college; ``institution_id`` reuses an existing institution (page tests)."""
    inst = institution_id or f.institution(s, "SCN").id
    S = f.semester(s, inst, "2026-2027-1", week1_monday=D(2026, 9, 7), weeks=18)
    S0 = f.semester(s, inst, "2025-2026-2", week1_monday=D(2026, 3, 2), weeks=18)
    ms = f.unit(s, inst, "马克思主义学院", kind="marxism_school", code="MKS")
    c1 = f.unit(s, inst, "交通工程学院", code="JT")
    c2 = f.unit(s, inst, "汽车工程学院", code="QC1")
    dept = f.unit(s, inst, "党委办公室", kind="department", code="DW")

    t_ms1 = f.person(s, inst, "孙老师", employee_no="T101", unit=ms)
    t_ms2 = f.person(s, inst, "钱老师", employee_no="T102", unit=ms)
    t_ms3 = f.person(s, inst, "吴老师", employee_no="T103", unit=ms)
    t_c1a = f.person(s, inst, "郑老师", employee_no="T201", unit=c1)
    t_c2 = f.person(s, inst, "冯老师", employee_no="T301", unit=c2)

    zhang = f.person(s, inst, "张副校长", employee_no="L001", unit=dept, positions=["vp_teaching"])
    li = f.person(s, inst, "李校长", employee_no="L002", unit=dept, positions=["school_leader"])
    wang = f.person(s, inst, "王书记", employee_no="L003", unit=dept, positions=["party_secretary"])
    zhao = f.person(
        s, inst, "赵院长", employee_no="L004", unit=dept, positions=[("president", D(2026, 11, 1), None)]
    )  # partial tenure
    chen = f.person(s, inst, "陈院长", employee_no="H001", unit=c1, positions=["college_dean"])
    zhou = f.person(s, inst, "周书记", employee_no="H002", unit=c2, positions=["college_party_head"])
    ma = f.person(
        s,
        inst,
        "马主任",
        employee_no="H003",
        unit=ms,
        positions=[("marxism_school_leader", D(2026, 3, 1), D(2029, 2, 28))],
    )  # spans S0 and S
    jw = f.person(s, inst, "教务处长", employee_no="F001", unit=dept, positions=["head_academic_affairs"])
    rs = f.person(s, inst, "人事处长", employee_no="F002", unit=dept, positions=["head_hr"])
    xc = f.person(s, inst, "宣传部长", employee_no="F003", unit=dept, positions=["head_propaganda"])
    xg = f.person(s, inst, "学工部长", employee_no="F004", unit=dept, positions=["head_student_affairs"])
    bw = f.person(
        s,
        inst,
        "保卫处长",
        employee_no="F005",
        unit=dept,
        positions=[("head_security", D(2026, 10, 15), None)],
    )  # partial tenure
    hq = f.person(s, inst, "后勤处长", employee_no="F006", unit=dept, positions=["head_logistics"])
    f.person(
        s,
        inst,
        "前任处长",
        employee_no="F009",
        unit=dept,
        positions=[("head_hr", D(2020, 1, 1), D(2026, 8, 31))],
    )  # ended before S: no duty in S

    sz1 = f.course(s, inst, "思想道德与法治", code="SZ1", kind="思政必修", offering_unit=ms)
    sz2 = f.course(
        s, inst, "毛泽东思想和中国特色社会主义理论体系概论", code="SZ2", kind="思政必修", offering_unit=ms
    )
    elective = f.course(s, inst, "马克思主义基本原理选讲", code="MK9", kind="专业选修", offering_unit=ms)
    en1 = f.course(s, inst, "道路工程", code="EN1", kind="专业必修", offering_unit=c1)
    en2 = f.course(s, inst, "汽车构造", code="EN2", kind="专业必修", offering_unit=c2)
    en3 = f.course(s, inst, "发动机原理", code="EN3", kind="专业必修", offering_unit=c2)

    sec_sz1a = f.section(s, S, sz1, [t_ms1], student_unit=c1)
    sec_sz1b = f.section(s, S, sz1, [ma], student_unit=c2)  # the leader teaches too: not his own duty
    sec_sz2 = f.section(s, S, sz2, [t_ms2], student_unit=c2)
    sec_en1 = f.section(s, S, en1, [t_c1a], student_unit=c1)
    sec_en2 = f.section(s, S, en2, [t_c2], student_unit=c1)  # another college's course for C1 students
    sec_en3 = f.section(s, S, en3, [t_c2], student_unit=c2)
    sec_en1x = f.section(s, S, en1, [t_c1a], student_unit=c2)  # a C1 teacher teaching C2's students
    old_sz2 = f.section(s, S0, sz2, [t_ms2], student_unit=c2)
    old_elective = f.section(s, S0, elective, [t_ms3], student_unit=c1)

    def cs(sec, day):  # type: ignore[no-untyped-def]
        return f.class_session(s, sec, day)

    sz1a = {d: cs(sec_sz1a, d) for d in (D(2026, 9, 14), D(2026, 10, 12), D(2026, 11, 9), D(2026, 12, 7))}
    sz1b = cs(sec_sz1b, D(2026, 9, 15))
    sz2 = {d: cs(sec_sz2, d) for d in (D(2026, 9, 16), D(2026, 10, 14), D(2026, 11, 11), D(2026, 12, 9))}
    e1 = {
        d: cs(sec_en1, d)
        for d in (
            D(2026, 9, 17),
            D(2026, 9, 24),
            D(2026, 10, 15),
            D(2026, 10, 22),
            D(2026, 11, 12),
            D(2026, 11, 19),
            D(2026, 12, 10),
            D(2026, 12, 17),
        )
    }
    e2 = {d: cs(sec_en2, d) for d in (D(2026, 9, 18), D(2026, 10, 16))}
    e3 = {d: cs(sec_en3, d) for d in (D(2026, 9, 21), D(2026, 10, 19), D(2026, 11, 16))}
    e1x = cs(sec_en1x, D(2026, 10, 13))
    old_sz2_s = cs(old_sz2, D(2026, 4, 8))
    old_el_s = cs(old_elective, D(2026, 4, 9))
    obs = f.observation

    # 张副校长 (O-1 ≥2, O-2 ≥3, O-3): SZ1 twice (covers SZ1 once), EN1 as a group → 3 sessions;
    # SZ2 only as a draft (its author already marked signed: the record's status alone must exclude it) and
    # in S0 → SZ2 missing.
    obs(s, sz1a[D(2026, 9, 14)], zhang)
    obs(s, sz1a[D(2026, 10, 12)], zhang)
    obs(s, e1[D(2026, 9, 17)], zhang, members=[(li, OWN), (wang, INVITED)])
    obs(s, sz2[D(2026, 9, 16)], zhang, status=DRAFT, author_status=SIGNED)
    obs(s, old_sz2_s, zhang)
    # 李校长 (O-1): own_record on 张's group record AND his own record of that session → once; plus EN1 9/24.
    obs(s, e1[D(2026, 9, 17)], li)
    obs(s, e1[D(2026, 9, 24)], li)
    # 王书记 (O-1, O-3): invited but never signed 张's record → not counted; one SZ2 record.
    obs(s, sz2[D(2026, 10, 14)], wang)
    # 赵院长 (president from 2026-11-01): the October record predates the tenure.
    obs(s, sz1a[D(2026, 10, 12)], zhao)
    obs(s, sz1a[D(2026, 11, 9)], zhao)
    obs(s, sz2[D(2026, 12, 9)], zhao)
    # 陈院长 (O-4 ≥5 with supervision; O-10 for 交通工程学院): 5 sessions, 2 as supervision, 1 draft; he
    # also co-signs 人事处长's record of EN1 10/22, a session he has his own record of → still 5 sessions.
    # In scope: EN1 for C2's students (own college's teacher only), EN1 (both), EN2 (own college's students
    # only) → 3 of 5.
    obs(s, e1x, chen)
    obs(s, e1[D(2026, 10, 22)], chen, supervision=True)
    obs(s, e2[D(2026, 9, 18)], chen, supervision=True)
    obs(s, e3[D(2026, 9, 21)], chen)
    obs(s, sz1b, chen)
    obs(s, e1[D(2026, 11, 12)], chen, status=DRAFT, author_status=SIGNED)
    # 周书记 (O-5 ≥3 without supervision; O-10 for 汽车工程学院): 2 plain + 1 supervision; in scope 1 of 3.
    obs(s, e3[D(2026, 10, 19)], zhou)
    obs(s, e1[D(2026, 11, 19)], zhou)
    obs(s, e1[D(2026, 12, 10)], zhou, supervision=True)
    # 马主任 (O-6, term 2026-03-01 … 2029-02-28): teachers of MS courses in the term up to S's end are
    # 孙 (SZ1), 钱 (SZ2 in S0 and S), 吴 (elective in S0) — himself excluded. He observed 吴 in S0 and 孙 in
    # S (and 郑, who is not a Marxism-School teacher) → 2 of 3, 钱 missing. For S0 alone: 钱, 吴 → 1 of 2.
    obs(s, old_el_s, ma)
    obs(s, sz1a[D(2026, 11, 9)], ma)
    obs(s, e1[D(2026, 12, 17)], ma)
    # 人事处长 (O-7 ≥4): 3 records; 教务处长 co-signed the first; 人事 declined 教务's EN2 group record.
    obs(s, e1[D(2026, 9, 24)], rs, members=[(jw, SIGNED)])
    obs(s, e3[D(2026, 9, 21)], rs)
    obs(s, e1[D(2026, 10, 22)], rs, members=[(chen, SIGNED)])  # 陈 co-signs: his 2nd record of that session
    # 教务处长 (O-7 ≥4): the co-signed record + 3 own → 4.
    obs(s, e2[D(2026, 10, 16)], jw, members=[(rs, DECLINED)])
    obs(s, e3[D(2026, 11, 16)], jw)
    obs(s, e1[D(2026, 11, 12)], jw)
    # 宣传部长 (O-8 ≥1 思政): observed only a non-思政 course.
    obs(s, e1[D(2026, 9, 17)], xc)
    # 学工部长 (O-8, O-9): one SZ2 record; patrols in Sep, Oct, Nov, Jan — none in December.
    obs(s, sz2[D(2026, 11, 11)], xg)
    for day in (D(2026, 9, 20), D(2026, 10, 20), D(2026, 11, 20), D(2027, 1, 5), D(2027, 1, 20)):
        f.patrol(s, xg, day)
    # 保卫处长 (O-9 from 2026-10-15): the October patrol predates the tenure → October missing.
    for day in (D(2026, 10, 10), D(2026, 11, 5), D(2026, 12, 5), D(2027, 1, 5)):
        f.patrol(s, bw, day)
    # 后勤处长 (O-9): a patrol every month.
    for day in (D(2026, 9, 10), D(2026, 10, 10), D(2026, 11, 10), D(2026, 12, 10), D(2027, 1, 6)):
        f.patrol(s, hq, day)

    # Another institution with look-alike data: must never leak into this one's figures.
    other = f.institution(s, "OTHER", "另一所学院")
    oS = f.semester(s, other, "2026-2027-1", week1_monday=D(2026, 9, 7), weeks=18)
    o_leader = f.person(s, other, "外校长", employee_no="L001", positions=["school_leader", "vp_teaching"])
    o_course = f.course(s, other, "思想道德与法治", code="SZ1", kind="思政必修")
    o_sec = f.section(s, oS, o_course, [])
    for day in (D(2026, 9, 14), D(2026, 10, 12), D(2026, 11, 9), D(2026, 12, 7)):
        obs(s, f.class_session(s, o_sec, day), o_leader)
    f.patrol(s, o_leader, D(2026, 12, 1))
    s.flush()
    people = {
        "zhang": "L001",
        "li": "L002",
        "wang": "L003",
        "zhao": "L004",
        "chen": "H001",
        "zhou": "H002",
        "ma": "H003",
        "jw": "F001",
        "rs": "F002",
        "xc": "F003",
        "xg": "F004",
        "bw": "F005",
        "hq": "F006",
    }
    return Scenario(inst, other.id, S, S0, people)


@pytest.fixture
def scenario(db_session) -> Scenario:  # type: ignore[no-untyped-def]
    return build_scenario(db_session)


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
