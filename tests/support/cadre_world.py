"""The annual cadre file's hand-computed college (issue 12 item 6): two cadres, both systems, three semesters.

Semesters: 2025-2026-2 (first Monday 2026-03-02), 2026-2027-1 (2026-09-07, runs into January 2027) and
2026-2027-2 (2027-03-01), 18 weeks each; the academic year 2026-2027 holds the last two, the calendar year
2026 the first two (a semester counts whole in the year of its first Monday).

王副校长 (L001, vp_research, not a party member):
- O-1 (≥2 observations): 2025-2026-2 none (short), 2026-2027-1 two (met), 2026-2027-2 one (short);
- C-1a: college 汽车工程学院 held in 2026-2027 (met in both of its semesters), none in 2025-2026 (short);
- C-1b (≥2 visits to a contacted college): 2026-2027-1 two (met), 2026-2027-2 one (short);
- C-3a: not applicable (not a party member);
- C-4 (≥1 lecture): 2026-2027-1 one (met), 2026-2027-2 none (short);
- C-6a: 2026-2027-1 weeks 2 (recorded) and 5 (not recorded) → 2 scheduled, 1 kept, short; 2026-2027-2 week 3
  recorded → 1/1 met; 2025-2026-2 not scheduled (not applicable);
- C-7b: the 2026-2027 summary submitted 2027-07-10, received 2027-07-12 (met wherever judged);
  no summary of 2025-2026;
- letters routed to him: received 2026-03-10 answered 2026-03-20 (due 03-25, on time); 2026-10-08 answered
  10-15 (due 10-20, on time); 2026-11-02 answered 11-20 (due 11-15, late); 2027-05-06 still with the unit
  (due 05-20, overdue on 2027-08-10); 2027-07-20 with the leader (due 08-20, in handling).
孙处长 (F001, head_academic_affairs, in 教务处, name and unit typed as formulas):
- O-7 (≥4 observations): 2026-2027-1 four (met), 2026-2027-2 none (short), 2025-2026-2 none (short);
- C-5 (≥1 symposium): 2026-2027-1 one (met), 2026-2027-2 none (short), 2025-2026-2 none (short).
周老师 (T001) holds no position: not a cadre, not in the file. Another institution's cadre is never in it.
Today is 2027-08-10 (``NOW``): every week of these semesters has ended.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from lti_tool.contacts.models import ContactPoint
from lti_tool.contacts.summaries import ContactSummary
from lti_tool.outreach.models import FollowUp, Letter, ReceptionDuty, ReceptionRecord
from tests.support import factories as f
from tests.support.worlds import _record

D = dt.date
NOW = dt.datetime(2027, 8, 10, 2, 0, tzinfo=dt.UTC)  # 10:00 in Beijing
SUN_NAME = "=1+2"
SUN_UNIT = "@SUM(A1)"


@dataclass
class CadreWorld:
    institution_id: int
    other_institution_id: int
    semesters: dict[str, int]
    people: dict[str, int]


def _utc(day: dt.date, hour_beijing: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour_beijing - 8), dt.UTC)


def cadre_world(s: Session, code: str = "CAD", institution_id: int | None = None) -> CadreWorld:
    inst = institution_id or f.institution(s, code).id
    s0 = f.semester(s, inst, "2025-2026-2", week1_monday=D(2026, 3, 2), weeks=18)
    s1 = f.semester(s, inst, "2026-2027-1", week1_monday=D(2026, 9, 7), weeks=18)
    s2 = f.semester(s, inst, "2026-2027-2", week1_monday=D(2027, 3, 1), weeks=18)
    college = f.unit(s, inst, "汽车工程学院", code="QC")
    dept = f.unit(s, inst, SUN_UNIT, kind="department", code="JW")
    wang = f.person(s, inst, "王副校长", employee_no="L001", positions=[("vp_research", D(2024, 9, 1), None)])
    sun = f.person(
        s,
        inst,
        SUN_NAME,
        employee_no="F001",
        unit=dept,
        positions=[("head_academic_affairs", D(2024, 9, 1), None)],
    )
    teacher = f.person(s, inst, "周老师", employee_no="T001", unit=college)
    course = f.course(s, inst, "汽车构造", code="QC101", offering_unit=college)

    def observe(who, sem, days):  # type: ignore[no-untyped-def]
        sec = f.section(s, sem, course, [teacher])
        for day in days:
            f.observation(s, f.class_session(s, sec, day), who)

    observe(wang, s1, [D(2026, 9, 15), D(2026, 10, 13)])
    observe(wang, s2, [D(2027, 3, 16)])
    observe(sun, s1, [D(2026, 9, 16), D(2026, 9, 23), D(2026, 10, 14), D(2026, 11, 4)])

    s.add(
        ContactPoint(
            institution_id=inst,
            person_id=wang.id,
            academic_year="2026-2027",
            kind="college",
            unit_id=college.id,
        )
    )
    s.flush()
    _record(s, inst, "visit", D(2026, 9, 20), [wang], unit=college)
    _record(s, inst, "visit", D(2026, 11, 3), [wang], unit=college)
    _record(s, inst, "lecture", D(2026, 11, 10), [wang], unit=college)
    _record(s, inst, "visit", D(2027, 4, 8), [wang], unit=college)
    _record(s, inst, "symposium", D(2026, 12, 1), [sun], unit=dept, target_kind="unit")

    def duty(sem, week, recorded_on):  # type: ignore[no-untyped-def]
        row = ReceptionDuty(institution_id=inst, semester_id=sem.id, week=week, person_id=wang.id)
        s.add(row)
        s.flush()
        if recorded_on:
            s.add(
                ReceptionRecord(
                    institution_id=inst,
                    duty_id=row.id,
                    recorded_by_id=wang.id,
                    date=recorded_on,
                    no_visitors=True,
                    status="submitted",
                    submitted_at=_utc(recorded_on),
                )
            )
            s.flush()

    duty(s1, 2, D(2026, 9, 16))
    duty(s1, 5, None)
    duty(s2, 3, D(2027, 3, 17))

    s.add(
        ContactSummary(
            institution_id=inst,
            person_id=wang.id,
            academic_year="2026-2027",
            activities="本学年……",
            status="submitted",
            version=1,
            submitted_at=_utc(D(2027, 7, 10)),
            received_at=_utc(D(2027, 7, 12)),
        )
    )

    def letter(received, deadline, status, answered=None):  # type: ignore[no-untyped-def]
        fu = FollowUp(
            institution_id=inst,
            kind="letter",
            status=status,
            outcome="answered" if status == "closed" else "",
            leader_id=wang.id,
            deadline=deadline,
            answered_at=_utc(answered) if answered else None,
            closed_at=_utc(answered) if status == "closed" else None,
        )
        s.add(fu)
        s.flush()
        s.add(
            Letter(
                institution_id=inst,
                follow_up_id=fu.id,
                subject=f"来信 {received}",
                body="……",
                received_on=received,
            )
        )
        s.flush()

    letter(D(2026, 3, 10), D(2026, 3, 25), "closed", D(2026, 3, 20))
    letter(D(2026, 10, 8), D(2026, 10, 20), "closed", D(2026, 10, 15))
    letter(D(2026, 11, 2), D(2026, 11, 15), "closed", D(2026, 11, 20))
    letter(D(2027, 5, 6), D(2027, 5, 20), "with_unit")
    letter(D(2027, 7, 20), D(2027, 8, 20), "with_leader")

    other = f.institution(s, f"{code}X")
    f.semester(s, other, "2026-2027-1", week1_monday=D(2026, 9, 7), weeks=18)
    f.person(s, other, "外校领导", employee_no="L001X", positions=[("vp_research", D(2024, 9, 1), None)])
    s.flush()
    return CadreWorld(
        inst,
        other.id,
        {sem.code: sem.id for sem in (s0, s1, s2)},
        {"wang": wang.id, "sun": sun.id, "teacher": teacher.id},
    )
