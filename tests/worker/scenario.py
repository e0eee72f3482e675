"""A small college whose statistics were counted by hand (the numbers in ``EXPECTED``).

Semester S = 2026-2027-1 (2026-09-07 … 2027-01-10, five months Sep … Jan); the previous semester
S0 = 2025-2026-2 (2026-03-02 … 2026-07-05). "Now" for the problem ages is ``NOW`` (2027-01-15).

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

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from lti_tool.observations.models import MemberStatus, Observation, ObservationRating, ObservationStatus
from lti_tool.problems.models import Problem, ProblemEvent
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import Semester
from tests.support import factories as f

D = dt.date
NOW = dt.datetime(2027, 1, 15, 12, 0, tzinfo=dt.UTC)
DIMS = ("moral_education", "attitude", "methods", "discipline", "atmosphere", "effect")

EXPECTED = {
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
class Scenario:
    institution_id: int
    semester: Semester
    previous: Semester
    other_institution_id: int


def _rate(s: Session, o: Observation, levels: tuple[str, ...]) -> None:
    for i, (dim, level) in enumerate(zip(DIMS, levels, strict=True)):
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


def build(
    s: Session,
    institution_id: int | None = None,
    *,
    name: str = "吉林交通职业技术学院",
    narrative: str = "教师讲解清楚，学生参与积极。",
) -> Scenario:
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
    return Scenario(inst, S, S0, other.id)
