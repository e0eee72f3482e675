"""The test colleges, built in one place on the row factories (tests/support/factories.py).

Each builder takes a session (and, for the page tests, an existing institution), flushes plain rows and
returns a small dataclass with what the tests refer to. Its docstring holds the hand counts the tests
assert, so a number in a test is checked against the comment next to the row that makes it.

- ``observation_world``: one course taught in odd weeks around a holiday, the observation pages and
  service (``complete_fields`` fills a submission).
- ``statistics_world``: the semester statistics, report, bulletin and PDFs (``STATISTICS_EXPECTED``).
- ``compliance_world``: every observation rule O-1 … O-10 (the compliance engine, its CLI and pages).
- ``contacts_world``: every contact rule C-1a … C-7b (the engine, the contact pages and reports).
- ``Roster``: units and people committed for the browser tests, handing back the matching LMS users.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.contacts.models import ContactMember, ContactPoint, ContactRecord
from lti_tool.contacts.summaries import ContactSummary
from lti_tool.directory.models import Person, StudentClass, Unit
from lti_tool.observations.models import MemberStatus, Observation, ObservationRating, ObservationStatus
from lti_tool.problems.models import Problem, ProblemEvent
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import ClassSession, Course, CourseSection, Semester
from tests.support import factories as f
from tests.support.platform import ROLE_INSTRUCTOR, ROLE_LEARNER, LmsUser

D = dt.date


# -- the observation world -----------------------------------------------------------------------------------
MONDAY_W1 = D(2026, 9, 7)
MONDAY_W2 = D(2026, 9, 14)
MONDAY_W3 = D(2026, 9, 21)
HOLIDAY_MONDAY = D(2026, 10, 5)
WEEKS = 18


@dataclass
class ObservationWorld:
    institution_id: int
    semester: Semester
    observer: Person
    co_observer: Person
    third_observer: Person
    teacher: Person
    qc: Person
    logistics: Unit
    college: Unit
    math: Course
    adult: Course
    section: CourseSection
    session_w1: ClassSession
    session_w3: ClassSession
    adult_session: ClassSession
    people: dict[str, Person] = field(default_factory=dict)


def _sessions(
    s: Session, section: CourseSection, weeks: list[int], times: tuple[dt.time, dt.time]
) -> list[ClassSession]:
    """The section's meetings in ``weeks``, leaving out the semester's holidays."""
    sem = s.get(Semester, section.semester_id)
    assert sem is not None
    days = [sem.week1_monday + dt.timedelta(days=7 * (week - 1) + section.weekday - 1) for week in weeks]
    holidays = set(sem.holidays or ())
    return [f.class_session(s, section, day, times=times) for day in days if day.isoformat() not in holidays]


def observation_world(s: Session, inst: int) -> ObservationWorld:
    """A small college for the observation tests: people, a semester and a timetable.

    Semester 2026-2027-1 starts on Monday 2026-09-07 (week 1) with 18 weeks and the National Day holiday
    2026-10-01..07. 高等数学 (MATH1) is taught by 李老师 (T001) on Mondays, periods 3-4 (10:00-11:40), in
    odd weeks only (``1-17单``), so sessions exist on 2026-09-07 (week 1) and 2026-09-21 (week 3) but not
    on 2026-09-14 (week 2) nor on the holiday Monday 2026-10-05 (week 5). 成人英语 (ADULT1) is a
    part-time course (O-10).
    """
    college = f.unit(s, inst, "机电工程学院", code="JD")
    qc_unit = f.unit(
        s, inst, "教学质量监控与评价中心", kind="department", code="QC", function="quality_center"
    )
    logistics = f.unit(s, inst, "后勤管理处", kind="department", code="HQ")

    def person(no: str, name: str, unit: Unit | None, *positions: str) -> Person:
        return f.person(
            s, inst, name, employee_no=no, unit=unit, email=f"{no.lower()}@jti.edu", positions=positions
        )

    observer = person("L001", "王校长", None, "school_leader")
    co_observer = person("L002", "赵院长", college, "college_dean")
    third = person("L003", "钱书记", college, "college_party_head")
    teacher = person("T001", "李老师", college)
    qc = person("Q001", "孙主任", qc_unit)
    holidays = [HOLIDAY_MONDAY - dt.timedelta(days=4) + dt.timedelta(days=i) for i in range(7)]
    sem = f.semester(s, inst, "2026-2027-1", week1_monday=MONDAY_W1, weeks=WEEKS, holidays=holidays)
    math = f.course(s, inst, "高等数学", code="MATH1", kind="公共基础", offering_unit=college)
    adult = f.course(s, inst, "成人英语", code="ADULT1", kind="公共基础", offering_unit=college)
    section = f.section(
        s,
        sem,
        math,
        [teacher],
        classes="机电2401",
        weekday=1,
        periods=(3, 4),
        weeks_spec="1-17单",
        room="A101",
        natural_key="MATH1|机电2401|1|3-4|1-17单",
    )
    adult_section = f.section(
        s,
        sem,
        adult,
        [teacher],
        classes="成教2401",
        weekday=2,
        periods=(1, 2),
        room="B201",
        full_time=False,
        natural_key="ADULT1|成教2401|2|1-2|1-18",
    )
    math_sessions = _sessions(s, section, list(range(1, 18, 2)), (dt.time(10, 0), dt.time(11, 40)))
    adult_sessions = _sessions(s, adult_section, [1], (dt.time(8, 0), dt.time(9, 40)))
    by_date = {c.date: c for c in math_sessions}
    world = ObservationWorld(
        inst,
        sem,
        observer,
        co_observer,
        third,
        teacher,
        qc,
        logistics,
        college,
        math,
        adult,
        section,
        by_date[MONDAY_W1],
        by_date[MONDAY_W3],
        adult_sessions[0],
    )
    world.people = {p.employee_no: p for p in (observer, co_observer, third, teacher, qc)}
    return world


def complete_fields(policy, **overrides: object) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Every field a submission needs, filled in plausibly (as the form would send them)."""
    fields: dict[str, object] = {f"rating__{d.code}": policy.scale[0].code for d in policy.dimensions}
    fields.update(
        {
            "narrative": "教师先复习上节内容，随后讲解导数的定义并组织小组练习。",
            "strengths": "板书清晰",
            "problems_text": "个别学生看手机",
            "suggestions": "增加课堂提问",
            "arrival_time": "09:55",
            "expected_count": "42",
            "present_count": "40",
            "exchange_teacher_done": "yes",
            "exchange_teacher_text": "交流了练习设计",
            "exchange_students_done": "no",
            "is_supervision": False,
        }
    )
    fields.update(overrides)
    return fields


# -- the statistics world ------------------------------------------------------------------------------------
STATISTICS_NOW = dt.datetime(2027, 1, 15, 12, 0, tzinfo=dt.UTC)
DIMENSIONS = ("moral_education", "attitude", "methods", "discipline", "atmosphere", "effect")

STATISTICS_EXPECTED = {
    "observers_with_duty": 5,
    "observers_active": 4,
    "observations": 6,
    "observer_counts": 7,
    "group_observations": 1,
    "supervision_observations": 1,
    "sessions_covered": 5,
    "teachers_teaching": 5,
    "teachers_covered": 4,
    "teachers_never_observed": 1,
    "patrols": 5,
    "problems": 3,
    "compliant_people": 2,
    "short_people": 3,
}


@dataclass
class StatisticsWorld:
    institution_id: int
    semester: Semester
    previous: Semester
    other_institution_id: int


def _rate(s: Session, o: Observation, levels: tuple[str, ...]) -> None:
    for i, (dim, level) in enumerate(zip(DIMENSIONS, levels, strict=True)):
        s.add(
            ObservationRating(
                observation_id=o.id, dimension=dim, position=i, rating=level, comment=f"{dim}评语"
            )
        )
    s.flush()


def _problem(
    s: Session,
    inst: int,
    raised_by: int,
    *,
    unit_id: int,
    category: str,
    status: str,
    created: dt.datetime,
    observation_id: int | None = None,
    patrol_id: int | None = None,
    resolved: dt.datetime | None = None,
    note: str = "",
    description: str = "问题",
) -> Problem:
    p = Problem(
        institution_id=inst,
        observation_id=observation_id,
        patrol_id=patrol_id,
        raised_by_id=raised_by,
        unit_id=unit_id,
        category=category,
        room="A101",
        description=description,
        status=status,
        created_at=created,
        resolved_at=resolved,
    )
    p.events.append(ProblemEvent(person_id=raised_by, status="new", note=description, at=created))
    if note:
        p.events.append(ProblemEvent(person_id=None, status=status, note=note, at=resolved or created))
    s.add(p)
    s.flush()
    return p


def statistics_world(
    s: Session,
    institution_id: int | None = None,
    *,
    name: str = "吉林交通职业技术学院",
    narrative: str = "教师讲解清楚，学生参与积极。",
) -> StatisticsWorld:
    """A small college whose statistics were counted by hand (the numbers in ``STATISTICS_EXPECTED``).

    Semester S = 2026-2027-1 (2026-09-07 … 2027-01-10, five months Sep … Jan); the previous semester
    S0 = 2025-2026-2 (2026-03-02 … 2026-07-05). "Now" for the problem ages is ``STATISTICS_NOW`` (2027-01-15).

    People with duties in S (5): 王书记 (party_secretary: O-1, O-3), 张副校长 (vp_teaching: O-1, O-2, O-3),
    陈院长 (college_dean: O-4, O-10), 马主任 (marxism_school_leader from 2026-09-01: O-6), 后勤处长
    (head_logistics: O-9). Teachers teaching in S (5): 孙 (SZ1, 马院), 钱 (SZ2, 马院), 郑 (JT1, 交通),
    冯 (QC1, 汽车), 何 (JT2, 交通; never observed).

    Records in S (r1 … r7; r6 is a draft):
      r1 SZ1 09-15 王 + 张 (signed)            → group observation; ratings all 优
      r2 SZ2 10-20 王                          → ratings 良 ×5, effect 中
      r3 JT1 10-22 张
      r4 JT1 11-10 陈, supervision             → ratings 优 良 良 差 良 良
      r5 SZ1 09-15 马 (same session as r1)
      r6 QC1 11-12 陈, draft                   → ratings 差 ×6 (must not count)
      r7 QC1 11-12 陈, 王 only invited          → 王 not counted
    Hand counts: 6 records; 听课人次 7 (王 sz1, 张 sz1, 马 sz1, 王 sz2, 张 jt1, 陈 jt1b, 陈 qc1); 1 group
    record; 1 supervision; 5 sessions covered; teachers covered 4 of 5 (何 never observed); 4 active.
    Compliance: 王 ok (O-1 2/2, O-3 2/2); 张 short (O-2 2/3, O-3 SZ2 missing); 陈 short (O-4 2/5);
    马 short (O-6 1/2, 钱 missing); 后勤 ok (patrol every month) → 2 of 5 compliant = 40 %.
    Problems of S: P1 (r4, facilities, 后勤处, new, raised 2026-11-01 → 75 days, overdue), P2 (patrol 10-10,
    environment, 后勤处, resolved after 2 days, note 已更换灯管), P3 (r2, teaching_style, 马克思主义学院,
    accepted, raised 2027-01-12 → 3 days, not overdue). P4 belongs to S0.
    Previous semester S0: one record (陈 on JT1 2026-04-15), 1 teacher teaching and covered, 4 people with
    duties (马 starts in S), none compliant, 1 problem (P4).
    """
    inst = institution_id or f.institution(s, "STAT", name).id
    if institution_id:
        row = s.get(Institution, institution_id)
        assert row is not None
        name = row.name
    S = f.semester(s, inst, "2026-2027-1", week1_monday=D(2026, 9, 7), weeks=18)
    S0 = f.semester(s, inst, "2025-2026-2", week1_monday=D(2026, 3, 2), weeks=18)
    mks = f.unit(s, inst, "马克思主义学院", kind="marxism_school", code="MKS")
    jt = f.unit(s, inst, "交通工程学院", code="JT")
    qc = f.unit(s, inst, "汽车工程学院", code="QC")
    dw = f.unit(s, inst, "党委办公室", kind="department", code="DW")
    hqc = f.unit(s, inst, "后勤处", kind="department", code="HQC")

    sun = f.person(s, inst, "孙老师", employee_no="T101", unit=mks)
    qian = f.person(s, inst, "钱老师", employee_no="T102", unit=mks)
    zheng = f.person(s, inst, "郑老师", employee_no="T201", unit=jt)
    feng = f.person(s, inst, "冯老师", employee_no="T301", unit=qc)
    he = f.person(s, inst, "何老师", employee_no="T202", unit=jt)

    wang = f.person(s, inst, "王书记", employee_no="L001", unit=dw, positions=["party_secretary"])
    zhang = f.person(s, inst, "张副校长", employee_no="L002", unit=dw, positions=["vp_teaching"])
    chen = f.person(s, inst, "陈院长", employee_no="H001", unit=jt, positions=["college_dean"])
    ma = f.person(
        s,
        inst,
        "马主任",
        employee_no="H003",
        unit=mks,
        positions=[("marxism_school_leader", D(2026, 9, 1), None)],
    )
    hq = f.person(s, inst, "后勤处长", employee_no="F006", unit=hqc, positions=["head_logistics"])

    sz1 = f.course(s, inst, "思想道德与法治", code="SZ1", kind="思政必修", offering_unit=mks)
    sz2 = f.course(
        s, inst, "毛泽东思想和中国特色社会主义理论体系概论", code="SZ2", kind="思政必修", offering_unit=mks
    )
    jt1 = f.course(s, inst, "道路工程", code="JT1", kind="专业必修", offering_unit=jt)
    jt2 = f.course(s, inst, "桥梁工程", code="JT2", kind="专业必修", offering_unit=jt)
    qc1 = f.course(s, inst, "汽车构造", code="QC1", kind="专业必修", offering_unit=qc)

    s_sz1 = f.class_session(s, f.section(s, S, sz1, [sun], student_unit=jt), D(2026, 9, 15))
    s_sz2 = f.class_session(s, f.section(s, S, sz2, [qian], student_unit=qc), D(2026, 10, 20))
    sec_jt1 = f.section(s, S, jt1, [zheng], student_unit=jt)
    s_jt1a = f.class_session(s, sec_jt1, D(2026, 10, 22))
    s_jt1b = f.class_session(s, sec_jt1, D(2026, 11, 10))
    s_qc1 = f.class_session(s, f.section(s, S, qc1, [feng], student_unit=qc), D(2026, 11, 12))
    f.class_session(s, f.section(s, S, jt2, [he], student_unit=jt), D(2026, 12, 1))

    obs = f.observation
    r1 = obs(s, s_sz1, wang, members=[(zhang, MemberStatus.SIGNED)])
    _rate(s, r1, ("excellent",) * 6)
    r2 = obs(s, s_sz2, wang)
    _rate(s, r2, ("good",) * 5 + ("fair",))
    obs(s, s_jt1a, zhang)
    r4 = obs(s, s_jt1b, chen, supervision=True)
    _rate(s, r4, ("excellent", "good", "good", "poor", "good", "good"))
    r4.narrative = narrative
    r4.exchange_teacher_done = True
    r4.exchange_teacher_text = "与郑老师交流了板书设计。"
    r4.teacher_reply = "感谢指导，已改进。"
    obs(s, s_sz1, ma)
    r6 = obs(s, s_qc1, chen, status=ObservationStatus.DRAFT)
    _rate(s, r6, ("poor",) * 6)
    obs(s, s_qc1, chen, members=[(wang, MemberStatus.INVITED)])

    patrols = [
        f.patrol(s, hq, d)
        for d in (D(2026, 9, 20), D(2026, 10, 10), D(2026, 11, 5), D(2026, 12, 3), D(2027, 1, 5))
    ]

    _problem(
        s,
        inst,
        chen.id,
        unit_id=hqc.id,
        category="facilities",
        status="new",
        observation_id=r4.id,
        created=dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC),
        description="投影仪不清晰",
    )
    _problem(
        s,
        inst,
        hq.id,
        unit_id=hqc.id,
        category="environment",
        status="resolved",
        patrol_id=patrols[1].id,
        created=dt.datetime(2026, 10, 10, 2, 0, tzinfo=dt.UTC),
        resolved=dt.datetime(2026, 10, 12, 2, 0, tzinfo=dt.UTC),
        note="已更换灯管",
        description="教室灯管损坏",
    )
    _problem(
        s,
        inst,
        wang.id,
        unit_id=mks.id,
        category="teaching_style",
        status="accepted",
        observation_id=r2.id,
        created=dt.datetime(2027, 1, 12, 2, 0, tzinfo=dt.UTC),
        description="个别学生迟到",
    )

    # The previous semester: one record by 陈 and one problem from it.
    s0_jt1 = f.class_session(s, f.section(s, S0, jt1, [zheng], student_unit=jt), D(2026, 4, 15))
    r0 = obs(s, s0_jt1, chen)
    _problem(
        s,
        inst,
        chen.id,
        unit_id=jt.id,
        category="teaching",
        status="confirmed",
        observation_id=r0.id,
        created=dt.datetime(2026, 4, 15, 2, 0, tzinfo=dt.UTC),
        description="上学期问题",
    )

    # Another institution with look-alike data: never counted here.
    other = f.institution(s, "OTHERSTAT", "另一所学院")
    oS = f.semester(s, other, "2026-2027-1", week1_monday=D(2026, 9, 7), weeks=18)
    o_leader = f.person(s, other, "外校长", employee_no="L001", positions=["school_leader"])
    o_sec = f.section(s, oS, f.course(s, other, "思想道德与法治", code="SZ1", kind="思政必修"), [o_leader])
    o_obs = obs(s, f.class_session(s, o_sec, D(2026, 9, 15)), o_leader)
    _rate(s, o_obs, ("poor",) * 6)
    s.flush()
    return StatisticsWorld(inst, S, S0, other.id)


# -- the compliance world (observation rules) ----------------------------------------------------------------
SIGNED, OWN, INVITED, DECLINED = (
    MemberStatus.SIGNED,
    MemberStatus.OWN_RECORD,
    MemberStatus.INVITED,
    MemberStatus.DECLINED,
)
DRAFT = ObservationStatus.DRAFT


@dataclass
class ComplianceWorld:
    institution_id: int
    other_institution_id: int
    semester: Semester
    previous: Semester
    people: dict[str, str]
    """Short name → employee number."""


def compliance_world(s: Session, institution_id: int | None = None) -> ComplianceWorld:
    """The college counted by hand for the observation rules O-1 … O-10 (the counts are in the comments
    below and in tests/functional/compliance/test_scenarios.py); ``institution_id`` reuses an existing
    institution (page tests)."""
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
    return ComplianceWorld(inst, other.id, S, S0, people)


# -- the outreach college (division of work, reception days, letters, proposals) ---------------------------
def outreach_world(s: Session, institution_id: int) -> dict[str, Any]:
    """The school office (X001), two school leaders (王 L002 in charge of teaching, 李 L003), the academic
    affairs office's handler (J001) and a teacher who is also a congress proposer (T001), in a semester
    whose week 6 is this week (tests/functional/outreach)."""
    today = clock.today(s.get(Institution, institution_id))
    monday = today - dt.timedelta(days=today.weekday())
    semester = f.semester(s, institution_id, "2026-2027-1", week1_monday=monday - dt.timedelta(weeks=5))
    office = f.unit(s, institution_id, "学校办公室", kind="department", code="XB", function="school_office")
    jwc = f.unit(s, institution_id, "教务处", kind="department", code="JWC")
    f.person(s, institution_id, "办公室干事", employee_no="X001", unit=office)
    wang = f.person(s, institution_id, "王副校长", employee_no="L002", positions=["vp_teaching"])
    li = f.person(s, institution_id, "李副校长", employee_no="L003", positions=["school_leader"])
    f.person(s, institution_id, "教务干事", employee_no="J001", unit=jwc)
    teacher = f.person(s, institution_id, "周老师", employee_no="T001")
    return {
        "semester": semester.id,
        "jwc": jwc.id,
        "wang": wang.id,
        "li": li.id,
        "teacher": teacher.id,
        "today": today,
    }


# -- the contacts world (contact rules) ----------------------------------------------------------------------
YEAR, LAST = "2026-2027", "2025-2026"


@dataclass
class ContactsWorld:
    institution_id: int
    semester: Semester
    spring: Semester
    units: dict[str, int]
    people: dict[str, int]


def _record(
    s, inst, kind, day, members, *, unit=None, klass=None, status="submitted", confirmed="", target_kind=None
):  # type: ignore[no-untyped-def]
    rec = ContactRecord(
        institution_id=inst,
        author_id=members[0].id,
        kind=kind,
        date=day,
        target_kind=target_kind or ("student_class" if klass else (unit.kind if unit else "")),
        unit_id=unit.id if unit else None,
        student_class_id=klass.id if klass else None,
        status=status,
        branch_confirmation=confirmed,
        content=f"{kind} {day}",
        opinions="希望加强实训设备维护。" if kind == "visit" else "",
        submitted_at=dt.datetime.combine(day, dt.time(10), dt.UTC) if status == "submitted" else None,
    )
    s.add(rec)
    s.flush()
    for i, who in enumerate(members):
        s.add(
            ContactMember(
                institution_id=inst, record_id=rec.id, person_id=who.id, role="author" if i == 0 else "member"
            )
        )
    s.flush()
    return rec


def _point(s, inst, who, kind, year=YEAR, *, unit=None, klass=None):  # type: ignore[no-untyped-def]
    s.add(
        ContactPoint(
            institution_id=inst,
            person_id=who.id,
            academic_year=year,
            kind=kind,
            unit_id=unit.id if unit else None,
            student_class_id=klass.id if klass else None,
        )
    )
    s.flush()


def contacts_world(s: Session, code: str = "CNT", institution_id: int | None = None) -> ContactsWorld:
    """The college counted by hand for the contact rules C-1a … C-7b (the counts are in
    tests/functional/compliance/test_contact_scenarios.py); ``institution_id`` reuses an existing
    institution (page tests)."""
    inst = institution_id or f.institution(s, code).id
    S = f.semester(s, inst, "2026-2027-1", week1_monday=D(2026, 9, 7), weeks=18)
    S2 = f.semester(s, inst, "2026-2027-2", week1_monday=D(2027, 3, 1), weeks=20)
    A = f.unit(s, inst, "汽车工程学院", code="QC")
    B = f.unit(s, inst, "道桥工程学院", code="DQ")
    C = f.unit(s, inst, "轨道交通学院", code="GD")
    dept = f.unit(s, inst, "教务处", kind="department", code="JW")

    def sub(name, kind, parent, code, branch_kind=""):  # type: ignore[no-untyped-def]
        u = f.unit(s, inst, name, kind=kind, code=code)
        u.parent_id, u.branch_kind = parent.id, branch_kind
        s.flush()
        return u

    A1 = sub("汽车运用教研室", "teaching_office", A, "QC-JY")
    AT = sub("汽车工程学院教工党支部", "party_branch", A, "QC-DZB1", "teacher")
    B1 = sub("道路材料实验室", "lab", B, "DQ-SYS")
    BT = sub("道桥工程学院教工党支部", "party_branch", B, "DQ-DZB1", "teacher")
    BS = sub("道桥工程学院学生党支部", "party_branch", B, "DQ-DZB2", "student")
    CT = sub("轨道交通学院教工党支部", "party_branch", C, "GD-DZB1", "teacher")
    klass = StudentClass(institution_id=inst, name="汽修2401", unit_id=A.id, source="import")
    s.add(klass)
    s.flush()

    wang = f.person(s, inst, "王副校长", employee_no="L001", positions=["vp_teaching"])
    li = f.person(s, inst, "李院长", employee_no="L002", positions=["president"])
    zhang = f.person(
        s, inst, "张书记", employee_no="L003", positions=[("party_secretary", D(2026, 11, 1), None)]
    )
    wu = f.person(s, inst, "吴副校长", employee_no="L004", positions=["vp_research"])
    zhao = f.person(s, inst, "赵院长", employee_no="H001", unit=A, positions=["college_dean"])
    qian = f.person(s, inst, "钱书记", employee_no="H002", unit=B, positions=["college_party_head"])
    sun = f.person(s, inst, "孙处长", employee_no="F001", unit=dept, positions=["head_academic_affairs"])
    zhou = f.person(s, inst, "周处长", employee_no="F002", unit=dept, positions=["head_logistics"])
    for who, branch in ((wang, None), (zhang, None), (wu, None), (zhao, AT), (qian, BT)):
        who.party_member = True
        who.branch_id = branch.id if branch else None
    s.flush()

    _point(s, inst, wang, "college", unit=A)
    _point(s, inst, wang, "college", unit=B)
    _point(s, inst, wang, "college", LAST, unit=C)
    _point(s, inst, li, "college", unit=A)
    _point(s, inst, li, "college", LAST, unit=A)
    _point(s, inst, zhang, "college", unit=C)
    _point(s, inst, zhao, "teaching_office", unit=A1)
    _point(s, inst, zhao, "student_class", klass=klass)
    _point(s, inst, qian, "lab", unit=B1)

    _record(s, inst, "visit", D(2026, 9, 15), [wang], unit=A)
    _record(s, inst, "visit", D(2026, 10, 10), [wang, li], unit=A1)
    _record(s, inst, "visit", D(2026, 11, 2), [wang], unit=B1)
    _record(s, inst, "visit", D(2026, 11, 9), [wang], unit=B, status="draft")
    _record(s, inst, "branch_activity", D(2026, 10, 28), [wang], unit=AT, confirmed="confirmed")
    _record(s, inst, "lecture", D(2026, 11, 5), [wang], klass=klass)
    _record(s, inst, "visit", D(2026, 10, 12), [li], unit=C)
    _record(s, inst, "visit", D(2026, 10, 20), [zhang], unit=C)
    _record(s, inst, "visit", D(2026, 11, 20), [zhang], unit=C)
    _record(s, inst, "branch_activity", D(2026, 12, 1), [zhang], unit=CT)
    _record(s, inst, "visit", D(2026, 9, 20), [zhao], unit=A1)
    _record(s, inst, "visit", D(2026, 10, 15), [zhao], klass=klass)
    _record(s, inst, "branch_activity", D(2026, 11, 12), [zhao], unit=AT, confirmed="confirmed")
    _record(s, inst, "visit", D(2026, 10, 8), [qian], unit=B1)
    _record(s, inst, "branch_activity", D(2026, 11, 18), [qian], unit=BS, confirmed="confirmed")
    _record(s, inst, "symposium", D(2026, 12, 1), [sun], unit=dept, target_kind="unit")

    def summary(who, status, at):  # type: ignore[no-untyped-def]
        s.add(
            ContactSummary(
                institution_id=inst,
                person_id=who.id,
                academic_year=YEAR,
                activities="本学年……",
                opinions="",
                problems="",
                reflection="",
                status=status,
                version=1,
                submitted_at=at,
            )
        )

    summary(zhao, "submitted", dt.datetime(2026, 12, 20, 2, 0, tzinfo=dt.UTC))
    summary(qian, "draft", None)
    summary(wu, "submitted", dt.datetime(2027, 7, 16, 2, 0, tzinfo=dt.UTC))
    s.flush()
    units = {u.code: u.id for u in (A, B, C, A1, AT, B1, BT, BS, CT)}
    people = {p.name[0]: p.id for p in (wang, li, zhang, wu, zhao, qian, sun, zhou)}
    return ContactsWorld(inst, S, S2, units, people)


# -- the browser tests' roster -------------------------------------------------------------------------------
class Roster:
    """Seeds units and people (with positions) in committed transactions, as the browser tests need, and
    hands back the ``LmsUser`` that matches each person."""

    def __init__(self, session_factory: Any, institution_id: int) -> None:
        self.session_factory = session_factory
        self.institution_id = institution_id
        self._units: dict[str, int] = {}

    def unit(self, code: str, name: str, kind: str = "college", function: str = "") -> int:
        with self.session_factory.begin() as s:
            unit = f.unit(s, self.institution_id, name, kind=kind, code=code, function=function)
            self._units[code] = unit.id
            return unit.id

    def person(
        self,
        employee_no: str,
        name: str,
        *,
        positions: tuple[str, ...] = (),
        unit: str | None = None,
        email: str | None = None,
        since: dt.date | None = None,
        roles: list[str] | None = None,
    ) -> LmsUser:
        email = email or f"{employee_no}@jti.edu"
        start = since or D(2024, 9, 1)
        with self.session_factory.begin() as s:
            f.person(
                s,
                self.institution_id,
                name,
                employee_no=employee_no,
                email=email,
                unit=s.get(Unit, self._units[unit]) if unit else None,
                positions=[(code, start, None) for code in positions],
            )
        return LmsUser(f"u-{employee_no}", name, email, employee_no, roles or [ROLE_INSTRUCTOR])

    @staticmethod
    def learner(sub: str = "s-1", name: str = "学生甲") -> LmsUser:
        return LmsUser(sub, name, f"{sub}@students.jti.edu", f"S{sub}", [ROLE_LEARNER])
