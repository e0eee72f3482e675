"""An examiner's audit of the duty engine: small worlds counted by hand, each through the real
``ComplianceService.evaluate`` on a real database session. Each test builds only what it states.

Calendar used throughout (unless a test says otherwise): S = 2025-2026-1, Monday 2025-09-01 for 18 weeks, so
it ends on Sunday 2026-01-04 and touches five calendar months (Sep … Dec, and Jan 1–4). Being wholly in the
past, nothing in it depends on the suite's clock (17:00 UTC = 01:00 Beijing the next day). The academic year
is 2025-2026 (2025-08-01 … 2026-07-31); the previous one is 2024-2025.
"""

from __future__ import annotations

import datetime as dt

import pytest

from lti_tool.compliance.services import ComplianceService
from lti_tool.contacts.models import ContactMember, ContactPoint, ContactRecord
from lti_tool.contacts.summaries import ContactSummary
from lti_tool.directory.models import StudentClass
from lti_tool.observations.models import MemberStatus, ObservationStatus
from lti_tool.observations.services import ObservationService
from lti_tool.outreach.models import ReceptionDuty, ReceptionRecord
from lti_tool.patrols.services import semester_months
from lti_tool.policy.store import PolicyStore
from lti_tool.timetable.models import SessionStatus
from tests.support import factories as f

D = dt.date
SZ = "思政必修"


@pytest.fixture
def inst(db_session):  # type: ignore[no-untyped-def]
    return f.institution(db_session, "AUDIT")


@pytest.fixture
def sem(db_session, inst):  # type: ignore[no-untyped-def]
    return f.semester(db_session, inst, "2025-2026-1", week1_monday=D(2025, 9, 1), weeks=18)


def evaluate(s, inst, sem, *, system=None, as_of=None):  # type: ignore[no-untyped-def]
    report = ComplianceService(s, inst.id).evaluate(sem, system=system, as_of=as_of)
    return {(r.employee_no, r.rule_id): r for r in report.results}


def fig(r):  # type: ignore[no-untyped-def]
    return (r.done, r.required, r.status)


def sessions(s, sem, days, *, kind="", teacher=None, student_unit=None, offering_unit=None):  # type: ignore[no-untyped-def]
    """One course with one section and a session on each of ``days``."""
    crs = f.course(s, sem.institution_id, kind=kind, offering_unit=offering_unit)
    teacher = teacher or f.person(s, sem.institution_id)
    sec = f.section(s, sem, crs, [teacher], student_unit=student_unit)
    return [f.class_session(s, sec, d) for d in days]


# -- observation system ---------------------------------------------------------------------------------
def test_O1_records_on_the_semester_boundary_days(db_session, inst, sem):  # type: ignore[no-untyped-def]
    """First day (Mon 09-01) and last day (Sun 2026-01-04) count; the day before and after do not → 2/2."""
    s = db_session
    leader = f.person(s, inst, employee_no="L1", positions=["school_leader"])
    for cs in sessions(s, sem, [D(2025, 8, 31), D(2025, 9, 1), D(2026, 1, 4), D(2026, 1, 5)]):
        f.observation(s, cs, leader)
    assert fig(evaluate(s, inst, sem)[("L1", "O-1")]) == (2, 2, "ok")


def test_O1_a_draft_does_not_count_and_a_group_record_counts_once_per_signed_member(db_session, inst, sem):  # type: ignore[no-untyped-def]
    """A: author of a group record (B signed, C invited, D declined) and a draft → A 1, B 1, C 0, D 0."""
    s = db_session
    a, b, c, d = (
        f.person(s, inst, employee_no=no, positions=["school_leader"]) for no in ("A", "B", "C", "D")
    )
    one, two = sessions(s, sem, [D(2025, 9, 10), D(2025, 9, 17)])
    f.observation(
        s,
        one,
        a,
        members=[(b, MemberStatus.SIGNED), (c, MemberStatus.INVITED), (d, MemberStatus.DECLINED)],
    )
    f.observation(s, two, a, status=ObservationStatus.DRAFT)
    got = evaluate(s, inst, sem)
    assert [got[(no, "O-1")].done for no in "ABCD"] == [1, 1, 0, 0]


def test_O1_writing_ones_own_record_counts_only_once_it_is_submitted(db_session, inst, sem, time_machine):  # type: ignore[no-untyped-def]
    """B is invited to A's submitted group record and answers by writing a record of his own (O-12).
    While B's own record is a draft B has submitted nothing: 0. Once he submits it: 1 (once, not twice)."""
    s = db_session
    a = f.person(s, inst, employee_no="A", positions=["school_leader"])
    b = f.person(s, inst, employee_no="B", positions=["school_leader"])
    (cs,) = sessions(s, sem, [D(2025, 9, 10)])
    group = f.observation(s, cs, a, members=[(b, MemberStatus.INVITED)])
    service = ObservationService(s, inst.id, PolicyStore(s, inst.id).current())
    own = service.write_own(group, b.id)
    assert own.status == ObservationStatus.DRAFT
    got = evaluate(s, inst, sem)
    assert (got[("A", "O-1")].done, got[("B", "O-1")].done) == (1, 0)
    own.status = ObservationStatus.SUBMITTED  # as submit() leaves it: submitted, the author signed
    s.add(
        type(group.members[0])(
            institution_id=inst.id,
            observation_id=own.id,
            person_id=b.id,
            session_id=cs.id,
            role="author",
            status=MemberStatus.SIGNED,
        )
    )
    s.flush()
    assert evaluate(s, inst, sem)[("B", "O-1")].done == 1


def test_position_change_mid_semester_judges_each_position_in_its_own_window(db_session, inst, sem):  # type: ignore[no-untyped-def]
    """Party head until 10-31, dean from 11-01 (K-2, full quota each): records 10-08, 10-31 → O-5 2/3;
    11-01, 11-20 → O-4 2/5; both partial; O-10 (either position) sees all 4."""
    s = db_session
    college = f.unit(s, inst, "机电学院")
    p = f.person(
        s,
        inst,
        employee_no="H1",
        unit=college,
        positions=[
            ("college_party_head", None, D(2025, 10, 31)),
            ("college_dean", D(2025, 11, 1), None),
        ],
    )
    for cs in sessions(s, sem, [D(2025, 10, 8), D(2025, 10, 31), D(2025, 11, 1), D(2025, 11, 20)]):
        f.observation(s, cs, p)
    got = evaluate(s, inst, sem)
    o5, o4 = got[("H1", "O-5")], got[("H1", "O-4")]
    assert fig(o5) == (2, 3, "short") and o5.partial and o5.window_end == D(2025, 10, 31)
    assert fig(o4) == (2, 5, "short") and o4.partial and o4.window_start == D(2025, 11, 1)
    assert got[("H1", "O-10")].required == 4


def test_school_and_college_positions_at_once_each_rule_counts_the_same_records(db_session, inst, sem):  # type: ignore[no-untyped-def]
    """vp_teaching and college_dean together: 5 observations meet O-1 (2), O-2 (3) and O-4 (5) at once."""
    s = db_session
    p = f.person(s, inst, employee_no="V1", positions=["vp_teaching", "college_dean"])
    for cs in sessions(s, sem, [D(2025, 9, 8) + dt.timedelta(days=7 * i) for i in range(5)]):
        f.observation(s, cs, p)
    got = evaluate(s, inst, sem)
    assert [fig(got[("V1", r)]) for r in ("O-1", "O-2", "O-4")] == [
        (5, 2, "ok"),
        (5, 3, "ok"),
        (5, 5, "ok"),
    ]


def test_O3_partial_tenure_owes_only_the_courses_taught_inside_it(db_session, inst, sem):  # type: ignore[no-untyped-def]
    """President from 11-01. SZ-a is taught only in September (not owed), SZ-b in Sep and Nov (owed,
    observed 11-05), SZ-c only in December (owed, not observed) → 1/2 short, missing SZ-c."""
    s = db_session
    p = f.person(s, inst, employee_no="P1", positions=[("president", D(2025, 11, 1), None)])
    sessions(s, sem, [D(2025, 9, 9)], kind=SZ)
    b_sessions = sessions(s, sem, [D(2025, 9, 10), D(2025, 11, 5)], kind=SZ)
    c_sessions = sessions(s, sem, [D(2025, 12, 3)], kind=SZ)
    f.observation(s, b_sessions[1], p)
    o3 = evaluate(s, inst, sem)[("P1", "O-3")]
    assert fig(o3) == (1, 2, "short")
    c_code = s.get(type(c_sessions[0].section.course), c_sessions[0].section.course_id).code
    assert [m.code for m in o3.missing] == [c_code]


def test_O3_O6_a_session_gone_from_the_timetable_makes_nothing_owed(db_session, inst, sem):  # type: ignore[no-untyped-def]
    """A re-import keeps a session somebody has a record of but flags it vanished: it is no longer in the
    timetable and cannot be observed (ObservationService.start refuses it). SZ-b's only section vanished, so
    the president owes SZ-a only (observed) → O-3 1/1 ok; the Marxism-School leader owes the teacher of
    SZ-a only (observed), not SZ-b's → O-6 1/1 ok. A submitted record of a vanished session still counts."""
    s = db_session
    mx = f.unit(s, inst, "马克思主义学院", kind="marxism_school")
    pres = f.person(s, inst, employee_no="P1", positions=["president"])
    lead = f.person(s, inst, employee_no="M1", unit=mx, positions=["marxism_school_leader"])
    t1, t2 = f.person(s, inst, unit=mx), f.person(s, inst, unit=mx)
    (a,) = sessions(s, sem, [D(2025, 9, 8)], teacher=t1, offering_unit=mx, kind=SZ)
    (b,) = sessions(s, sem, [D(2025, 9, 9)], teacher=t2, offering_unit=mx, kind=SZ)
    f.observation(s, a, pres)
    f.observation(s, a, lead)
    f.observation(s, b, f.person(s, inst), status=ObservationStatus.DRAFT)
    b.status = SessionStatus.VANISHED
    s.flush()
    got = evaluate(s, inst, sem)
    assert fig(got[("P1", "O-3")]) == (1, 1, "ok")
    assert fig(got[("M1", "O-6")]) == (1, 1, "ok")
    (c,) = sessions(s, sem, [D(2025, 9, 10)])
    f.observation(s, c, pres)
    c.status = SessionStatus.VANISHED
    s.flush()
    assert evaluate(s, inst, sem)[("P1", "O-1")].done == 2


def test_O4_O5_supervision_counts_for_the_dean_only(db_session, inst, sem):  # type: ignore[no-untyped-def]
    s = db_session
    dean = f.person(s, inst, employee_no="D1", positions=["college_dean"])
    head = f.person(s, inst, employee_no="D2", positions=["college_party_head"])
    for cs in sessions(s, sem, [D(2025, 9, 8), D(2025, 9, 15)]):
        f.observation(s, cs, dean, supervision=True)
        f.observation(s, cs, head, supervision=True)
    got = evaluate(s, inst, sem)
    assert (got[("D1", "O-4")].done, got[("D2", "O-5")].done) == (2, 0)


def test_O8_a_non_ideological_course_does_not_count(db_session, inst, sem):  # type: ignore[no-untyped-def]
    s = db_session
    p = f.person(s, inst, employee_no="X1", positions=["head_propaganda"])
    (plain,) = sessions(s, sem, [D(2025, 9, 8)], kind="专业必修")
    f.observation(s, plain, p)
    assert fig(evaluate(s, inst, sem)[("X1", "O-8")]) == (0, 1, "short")
    (sz,) = sessions(s, sem, [D(2025, 9, 9)], kind=f" {SZ} ")  # the export's stray spaces
    f.observation(s, sz, p)
    assert fig(evaluate(s, inst, sem)[("X1", "O-8")]) == (1, 1, "ok")


def test_O9_month_boundaries_and_a_tenure_starting_mid_month(db_session, inst, sem):  # type: ignore[no-untyped-def]
    """Head of security from 10-20: October, November, December and January (1–4) are owed. Patrols on
    10-19 (before the tenure), 10-31, 11-01 and 2026-01-04 (the semester's last day) → Dec missing."""
    s = db_session
    p = f.person(s, inst, employee_no="S1", positions=[("head_security", D(2025, 10, 20), None)])
    for day in (D(2025, 10, 19), D(2025, 10, 31), D(2025, 11, 1), D(2026, 1, 4)):
        f.patrol(s, p, day)
    o9 = evaluate(s, inst, sem)[("S1", "O-9")]
    assert fig(o9) == (3, 4, "short") and o9.partial
    assert [m.code for m in o9.missing] == ["2025-12"]


def test_O9_a_month_touched_only_on_holidays_or_a_weekend_is_not_owed(db_session, inst):  # type: ignore[no-untyped-def]
    """S ends on Sunday 2026-01-04; 2026-01-01 and 01-02 (Thu, Fri) are holidays (元旦), 01-03/04 a weekend:
    January has no teaching day, so 4 months are owed (Sep … Dec), and the patrol page lists the same four.
    Without the holidays January is owed (5). A tenure ending on Saturday 2025-11-01 owes no November."""
    s = db_session
    holiday = f.semester(
        s,
        inst,
        "2025-2026-1",
        week1_monday=D(2025, 9, 1),
        weeks=18,
        holidays=[D(2026, 1, 1), D(2026, 1, 2)],
    )
    full = f.person(s, inst, employee_no="S1", positions=["head_security"])
    left = f.person(s, inst, employee_no="S2", positions=[("head_assets", None, D(2025, 11, 1))])
    for who in (full, left):
        for day in (D(2025, 9, 10), D(2025, 10, 10)):
            f.patrol(s, who, day)
    f.patrol(s, full, D(2025, 11, 10))
    f.patrol(s, full, D(2025, 12, 10))
    got = evaluate(s, inst, holiday)
    assert fig(got[("S1", "O-9")]) == (4, 4, "ok")
    assert fig(got[("S2", "O-9")]) == (2, 2, "ok")
    assert semester_months(holiday) == [(2025, 9), (2025, 10), (2025, 11), (2025, 12)]
    holiday.holidays = []
    s.flush()
    again = evaluate(s, inst, holiday)[("S1", "O-9")]
    assert fig(again) == (4, 5, "short") and [m.code for m in again.missing] == ["2026-01"]


def test_O9_at_a_checkpoint_a_month_still_under_way_is_not_owed_yet(db_session, inst, sem):  # type: ignore[no-untyped-def]
    """A bulletin's checkpoint (as_of) judges the duties as they stood at the end of that day. Patrols on
    09-10 and 10-20. 10-15: September owed and done, October under way → 1/1 ok; 10-25: October already
    done → 2/2; 11-15: November under way → 2/2 ok; 11-30 (its last day): November owed → 2/3 short;
    2026-01-03: January under way → 2/4, Nov and Dec missing; 2026-01-04, the semester's last day, is the
    whole semester: January (1–4) owed → 2/5."""
    s = db_session
    p = f.person(s, inst, employee_no="G1", positions=["head_logistics"])
    f.patrol(s, p, D(2025, 9, 10))
    f.patrol(s, p, D(2025, 10, 20))

    def o9(day):  # type: ignore[no-untyped-def]
        r = evaluate(s, inst, sem, system="observation", as_of=day)[("G1", "O-9")]
        return (r.done, r.required, r.status, [m.code for m in r.missing])

    assert o9(D(2025, 10, 15)) == (1, 1, "ok", [])
    assert o9(D(2025, 10, 25)) == (2, 2, "ok", [])
    assert o9(D(2025, 11, 15)) == (2, 2, "ok", [])
    assert o9(D(2025, 11, 30)) == (2, 3, "short", ["2025-11"])
    assert o9(D(2026, 1, 3)) == (2, 4, "short", ["2025-11", "2025-12"])
    assert o9(D(2026, 1, 4)) == (2, 5, "short", ["2025-11", "2025-12", "2026-01"])
    assert o9(None) == (2, 5, "short", ["2025-11", "2025-12", "2026-01"])


def test_O10_a_teacher_of_a_teaching_office_under_the_college_is_the_colleges_teacher(db_session, inst, sem):  # type: ignore[no-untyped-def]
    """三.2 本院（部）教师: the dean of 机电学院 observes a class of a teacher on the roster under the
    college's 机械教研室, taught to another college's students → in scope. A class of another college's
    teacher to another college's students → not. 1 of 2 in scope."""
    s = db_session
    college, other = f.unit(s, inst, "机电学院"), f.unit(s, inst, "交通学院")
    office = f.unit(s, inst, "机械教研室", kind="teaching_office")
    office.parent_id = college.id
    s.flush()
    dean = f.person(s, inst, employee_no="D1", unit=college, positions=["college_dean"])
    ours = f.person(s, inst, unit=office)
    theirs = f.person(s, inst, unit=other)
    (mine,) = sessions(s, sem, [D(2025, 9, 8)], teacher=ours, student_unit=other)
    (not_mine,) = sessions(s, sem, [D(2025, 9, 9)], teacher=theirs, student_unit=other)
    f.observation(s, mine, dean)
    f.observation(s, not_mine, dean)
    o10 = evaluate(s, inst, sem)[("D1", "O-10")]
    assert (o10.done, o10.required) == (1, 2)


def test_O6_term_ending_in_the_break_is_judged_by_the_semester_it_ends_after(db_session, inst, sem):  # type: ignore[no-untyped-def]
    """A Marxism-School leader's term runs 2025-03-01 … 2026-02-10 (in the winter break after S). Two
    teachers teach the school's course in S; one is observed → 1/2 short, and S's result is the term's final
    one while no semester starts before 02-10; with a spring from 2026-02-02, the term continues into it."""
    s = db_session
    mx = f.unit(s, inst, "马克思主义学院", kind="marxism_school")
    lead = f.person(
        s,
        inst,
        employee_no="M1",
        unit=mx,
        positions=[("marxism_school_leader", D(2025, 3, 1), D(2026, 2, 10))],
    )
    t1, t2 = f.person(s, inst, unit=mx), f.person(s, inst, unit=mx)
    (a,) = sessions(s, sem, [D(2025, 9, 8)], teacher=t1, offering_unit=mx, kind=SZ)
    sessions(s, sem, [D(2025, 9, 9)], teacher=t2, offering_unit=mx, kind=SZ)
    f.observation(s, a, lead)
    o6 = evaluate(s, inst, sem)[("M1", "O-6")]
    assert fig(o6) == (1, 2, "short")
    # No semester starts before 2026-02-10: S is the term's last, its result final (not "continues").
    assert o6.params["term_end"] == "2026-02-10" and "continues" not in o6.explanation
    f.semester(s, inst, "2025-2026-2", week1_monday=D(2026, 2, 2), weeks=18)
    again = evaluate(s, inst, sem)[("M1", "O-6")]
    assert fig(again) == (1, 2, "short") and "continues" in again.explanation


# -- contact system ----------------------------------------------------------------------------------------
def _record(s, inst, kind, day, members, *, unit=None, klass=None, status="submitted", confirmed=""):  # type: ignore[no-untyped-def]
    rec = ContactRecord(
        institution_id=inst.id,
        author_id=members[0].id,
        kind=kind,
        date=day,
        target_kind="student_class" if klass else (unit.kind if unit else ""),
        unit_id=unit.id if unit else None,
        student_class_id=klass.id if klass else None,
        status=status,
        branch_confirmation=confirmed,
        content=kind,
        submitted_at=dt.datetime.combine(day, dt.time(10), dt.UTC) if status == "submitted" else None,
    )
    s.add(rec)
    s.flush()
    for i, who in enumerate(members):
        s.add(
            ContactMember(
                institution_id=inst.id,
                record_id=rec.id,
                person_id=who.id,
                role="author" if i == 0 else "member",
            )
        )
    s.flush()
    return rec


def _point(s, inst, who, kind, year, *, unit=None, klass=None, start=None, end=None):  # type: ignore[no-untyped-def]
    s.add(
        ContactPoint(
            institution_id=inst.id,
            person_id=who.id,
            academic_year=year,
            kind=kind,
            unit_id=unit.id if unit else None,
            student_class_id=klass.id if klass else None,
            start_date=start,
            end_date=end,
        )
    )
    s.flush()


def _sub(s, inst, name, kind, parent, branch_kind=""):  # type: ignore[no-untyped-def]
    u = f.unit(s, inst, name, kind=kind)
    u.parent_id, u.branch_kind = parent.id, branch_kind
    s.flush()
    return u


def test_C1a_rotation_across_academic_years(db_session, inst, sem):  # type: ignore[no-untyped-def]
    """2024-2025: A. 2025-2026: B and C → ok (2, rotated). Another leader keeps A → short (not rotated);
    a third holds three colleges → short (too many)."""
    s = db_session
    a, b, c = (f.unit(s, inst, n) for n in ("A学院", "B学院", "C学院"))
    one = f.person(s, inst, employee_no="L1", positions=["school_leader"])
    two = f.person(s, inst, employee_no="L2", positions=["school_leader"])
    three = f.person(s, inst, employee_no="L3", positions=["school_leader"])
    for who in (one, two):
        _point(s, inst, who, "college", "2024-2025", unit=a)
    _point(s, inst, one, "college", "2025-2026", unit=b)
    _point(s, inst, one, "college", "2025-2026", unit=c)
    _point(s, inst, two, "college", "2025-2026", unit=a)
    for u in (a, b, c):
        _point(s, inst, three, "college", "2025-2026", unit=u)
    got = evaluate(s, inst, sem, system="contact")
    assert fig(got[("L1", "C-1a")]) == (2, 1, "ok")
    assert got[("L2", "C-1a")].status == "short"
    assert got[("L3", "C-1a")].status == "short"


def test_C1b_a_visit_on_the_contact_points_last_day_counts_the_next_day_not(db_session, inst, sem):  # type: ignore[no-untyped-def]
    """College A contacted until 2025-11-30, then B: visits to A on 11-30 (counts) and 12-01 (not), to B on
    12-01 (counts), a draft visit to B (not) → 2/2 ok."""
    s = db_session
    a, b = f.unit(s, inst, "A学院"), f.unit(s, inst, "B学院")
    lead = f.person(s, inst, employee_no="L1", positions=["school_leader"])
    _point(s, inst, lead, "college", "2025-2026", unit=a, end=D(2025, 11, 30))
    _point(s, inst, lead, "college", "2025-2026", unit=b, start=D(2025, 12, 1))
    _record(s, inst, "visit", D(2025, 11, 30), [lead], unit=a)
    _record(s, inst, "visit", D(2025, 12, 1), [lead], unit=a)
    _record(s, inst, "visit", D(2025, 12, 1), [lead], unit=b)
    _record(s, inst, "visit", D(2025, 12, 8), [lead], unit=b, status="draft")
    assert fig(evaluate(s, inst, sem, system="contact")[("L1", "C-1b")]) == (2, 2, "ok")


def test_C3a_party_members_only_and_confirmation(db_session, inst, sem):  # type: ignore[no-untyped-def]
    """A party-member leader attends a branch of the contacted college: unconfirmed → 0/1 short; confirmed
    on paper → ok. A leader who is not a party member has no C-3a duty."""
    s = db_session
    a = f.unit(s, inst, "A学院")
    branch = _sub(s, inst, "A学院学生党支部", "party_branch", a, "student")
    member = f.person(s, inst, employee_no="L1", positions=["school_leader"])
    member.party_member = True
    other = f.person(s, inst, employee_no="L2", positions=["school_leader"])
    for who in (member, other):
        _point(s, inst, who, "college", "2025-2026", unit=a)
    rec = _record(s, inst, "branch_activity", D(2025, 10, 15), [member], unit=branch)
    got = evaluate(s, inst, sem, system="contact")
    assert fig(got[("L1", "C-3a")]) == (0, 1, "short")
    assert got[("L2", "C-3a")].status == "not_applicable"
    rec.confirmed_on_paper = True
    s.flush()
    assert fig(evaluate(s, inst, sem, system="contact")[("L1", "C-3a")]) == (1, 1, "ok")


def test_C3b_the_party_head_owes_it_whatever_the_roster_says(db_session, inst, sem):  # type: ignore[no-untyped-def]
    """二.(二) 「教学院（部）党组织负责人和党员院长（主任）」: the party head is bound unconditionally, the
    dean only as a party member. A party head whose roster row has no 政治面貌 (party_member false): 0/1
    short, then 1/1 after a confirmed activity of a branch of the college; a dean who is not a party
    member: not applicable; one person holding both positions, not a party member: bound (0/1)."""
    s = db_session
    college = f.unit(s, inst, "A学院")
    branch = _sub(s, inst, "学生党支部", "party_branch", college, "student")
    head = f.person(s, inst, employee_no="H1", unit=college, positions=["college_party_head"])
    f.person(s, inst, employee_no="H2", unit=college, positions=["college_dean"])
    f.person(s, inst, employee_no="H3", unit=college, positions=["college_dean", "college_party_head"])
    got = evaluate(s, inst, sem, system="contact")
    assert fig(got[("H1", "C-3b")]) == (0, 1, "short")
    assert got[("H2", "C-3b")].status == "not_applicable"
    assert fig(got[("H3", "C-3b")]) == (0, 1, "short")
    _record(s, inst, "branch_activity", D(2025, 11, 5), [head], unit=branch, confirmed="confirmed")
    assert fig(evaluate(s, inst, sem, system="contact")[("H1", "C-3b")]) == (1, 1, "ok")


def test_C3b_own_branch_does_not_count_another_branch_of_the_college_does(db_session, inst, sem):  # type: ignore[no-untyped-def]
    s = db_session
    college = f.unit(s, inst, "A学院")
    mine = _sub(s, inst, "教工党支部", "party_branch", college, "teacher")
    theirs = _sub(s, inst, "学生党支部", "party_branch", college, "student")
    dean = f.person(s, inst, employee_no="H2", unit=college, positions=["college_dean"])
    dean.party_member, dean.branch_id = True, mine.id
    _record(s, inst, "branch_activity", D(2025, 10, 15), [dean], unit=mine, confirmed="confirmed")
    assert fig(evaluate(s, inst, sem, system="contact")[("H2", "C-3b")]) == (0, 1, "short")
    _record(s, inst, "branch_activity", D(2025, 10, 22), [dean], unit=theirs, confirmed="confirmed")
    assert fig(evaluate(s, inst, sem, system="contact")[("H2", "C-3b")]) == (1, 1, "ok")


def test_C2a_C2b_points_and_visits_at_them(db_session, inst, sem):  # type: ignore[no-untyped-def]
    """A dean holds a lab and a class (2/2); visits the lab twice (one is a draft) and a class that is not
    theirs → C-2b 1/2 short."""
    s = db_session
    college = f.unit(s, inst, "A学院")
    lab = _sub(s, inst, "实验室", "lab", college)
    klass = StudentClass(institution_id=inst.id, name="机电2501", unit_id=college.id, source="import")
    other_class = StudentClass(institution_id=inst.id, name="机电2502", unit_id=college.id, source="import")
    s.add_all([klass, other_class])
    s.flush()
    dean = f.person(s, inst, employee_no="H1", unit=college, positions=["college_dean"])
    _point(s, inst, dean, "lab", "2025-2026", unit=lab)
    _point(s, inst, dean, "student_class", "2025-2026", klass=klass)
    _record(s, inst, "visit", D(2025, 10, 1), [dean], unit=lab)
    _record(s, inst, "visit", D(2025, 10, 8), [dean], unit=lab, status="draft")
    _record(s, inst, "visit", D(2025, 10, 9), [dean], klass=other_class)
    got = evaluate(s, inst, sem, system="contact")
    assert fig(got[("H1", "C-2a")]) == (2, 2, "ok")
    assert fig(got[("H1", "C-2b")]) == (1, 2, "short")


def test_C6a_reception_weeks_at_a_checkpoint(db_session, inst, sem):  # type: ignore[no-untyped-def]
    """Scheduled weeks 2 (09-08 … 09-14, recorded), 3 (09-15 … 09-21, not) and 4 (09-22 … 09-28, not).
    As of Saturday 09-20 week 3 is under way and week 4 not begun → 1/2 ok; at the end of Sunday 09-21 week 3
    has ended unrecorded → 1/2 short; the whole (past) semester → 1/3 short, weeks 3 and 4 missing."""
    s = db_session
    lead = f.person(s, inst, employee_no="L1", positions=["school_leader"])
    duties = {
        w: ReceptionDuty(institution_id=inst.id, semester_id=sem.id, week=w, person_id=lead.id)
        for w in (2, 3, 4)
    }
    s.add_all(duties.values())
    s.flush()
    s.add(
        ReceptionRecord(
            institution_id=inst.id,
            duty_id=duties[2].id,
            recorded_by_id=lead.id,
            date=D(2025, 9, 10),
            no_visitors=True,
            status="submitted",
        )
    )
    s.flush()
    then = evaluate(s, inst, sem, system="contact", as_of=D(2025, 9, 20))[("L1", "C-6a")]
    assert fig(then) == (1, 2, "ok")
    later = evaluate(s, inst, sem, system="contact", as_of=D(2025, 9, 21))[("L1", "C-6a")]
    assert fig(later) == (1, 2, "short") and [m.code for m in later.missing] == ["week:3"]
    whole = evaluate(s, inst, sem, system="contact")[("L1", "C-6a")]
    assert fig(whole) == (1, 3, "short") and [m.code for m in whole.missing] == ["week:3", "week:4"]


def test_C7b_a_summary_submitted_late_on_the_deadline_evening_in_utc(db_session, inst, sem, time_machine):  # type: ignore[no-untyped-def]
    """Deadline 2026-07-15 (Beijing). Submitted 2026-07-15 15:30 UTC = 07-15 23:30 Beijing → on time;
    2026-07-15 16:30 UTC = 07-16 00:30 Beijing → late, judged in the spring (which contains … no: ends
    before) — in the year's last semester once the deadline has passed."""
    s = db_session
    spring = f.semester(s, inst, "2025-2026-2", week1_monday=D(2026, 3, 2), weeks=18)  # ends 2026-07-05
    ok = f.person(s, inst, employee_no="L1", positions=["school_leader"])
    late = f.person(s, inst, employee_no="L2", positions=["school_leader"])
    for who, at in (
        (ok, dt.datetime(2026, 7, 15, 15, 30, tzinfo=dt.UTC)),
        (late, dt.datetime(2026, 7, 15, 16, 30, tzinfo=dt.UTC)),
    ):
        s.add(
            ContactSummary(
                institution_id=inst.id,
                person_id=who.id,
                academic_year="2025-2026",
                status="submitted",
                version=1,
                submitted_at=at,
            )
        )
    s.flush()
    got = evaluate(s, inst, spring, system="contact")
    assert got[("L1", "C-7b")].status == "ok"
    assert fig(got[("L2", "C-7b")]) == (0, 1, "short")
    assert evaluate(s, inst, sem, system="contact")[("L2", "C-7b")].status == "short"  # submitted: late


def test_C7b_a_leader_who_left_before_the_deadline_owes_no_summary_wherever_the_month(db_session, inst, sem):  # type: ignore[no-untyped-def]
    """Summary of 2025-2026 due 2026-07-15 (the spring S2 runs 2026-03-02 … 07-05, so the deadline falls in
    the summer break and has passed). None of them submitted. Left in December (autumn only) and left in
    March (autumn and spring): both not applicable, the same whatever the month they left; in office all
    year, or only from June: short in the spring."""
    s = db_session
    spring = f.semester(s, inst, "2025-2026-2", week1_monday=D(2026, 3, 2), weeks=18)
    f.person(s, inst, employee_no="L1", positions=[("school_leader", None, D(2025, 12, 15))])
    f.person(s, inst, employee_no="L2", positions=[("school_leader", None, D(2026, 3, 20))])
    f.person(s, inst, employee_no="L3", positions=["school_leader"])
    f.person(s, inst, employee_no="L4", positions=[("school_leader", D(2026, 6, 1), None)])
    autumn = evaluate(s, inst, sem, system="contact")
    later = evaluate(s, inst, spring, system="contact")
    assert autumn[("L1", "C-7b")].status == "not_applicable"
    assert later[("L2", "C-7b")].status == "not_applicable"
    assert fig(later[("L3", "C-7b")]) == (0, 1, "short")
    assert fig(later[("L4", "C-7b")]) == (0, 1, "short")
    assert "2026-07-15" in later[("L2", "C-7b")].explanation_text


def test_C6a_a_week_ends_at_midnight_in_beijing_not_in_utc(db_session, inst, time_machine):  # type: ignore[no-untyped-def]
    """Week 2 of a semester from Monday 2026-09-07 runs 09-14 … Sunday 09-20. At 15:00 UTC on the Sunday
    (23:00 Beijing) the week is still under way → ok; at 17:00 UTC (Monday 01:00 in Beijing, still Sunday on
    a UTC server) it has ended unrecorded → short, week 2 missing."""
    s = db_session
    autumn = f.semester(s, inst, "2026-2027-1", week1_monday=D(2026, 9, 7), weeks=18)
    lead = f.person(s, inst, employee_no="L1", positions=["school_leader"])
    s.add(ReceptionDuty(institution_id=inst.id, semester_id=autumn.id, week=2, person_id=lead.id))
    s.flush()
    time_machine.move_to(dt.datetime(2026, 9, 20, 15, tzinfo=dt.UTC))
    assert evaluate(s, inst, autumn, system="contact")[("L1", "C-6a")].status == "ok"
    time_machine.move_to(dt.datetime(2026, 9, 20, 17, tzinfo=dt.UTC))
    late = evaluate(s, inst, autumn, system="contact")[("L1", "C-6a")]
    assert fig(late) == (0, 1, "short") and [m.code for m in late.missing] == ["week:2"]
