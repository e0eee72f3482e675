"""Hand-computed scenarios for the contact rules C-1a … C-7b on a real database, through the one engine.

The college (``build_contacts``): semester S = 2026-2027-1 (2026-09-07 … 2027-01-10) and S2 = 2026-2027-2
(2027-03-01 … 2027-07-18), both in academic year 2026-2027 (2026-08-01 … 2027-07-31). Colleges 汽车 (A),
道桥 (B), 轨道 (C); under A a teaching office A1, a teacher branch AT and a class 汽修2401; under B a lab B1,
branches BT and BS; under C a branch CT.

Hand count for S (see each person's comment in ``build_contacts``):

- 王 (vp_teaching, party member): colleges A and B, last year C → C-1a 2 ok; visits A (09-15), A1 in a
  group with 李 (10-10), B1 (11-02), and a draft to B (not counted) → C-1b 3/2 ok; branch AT confirmed →
  C-3a ok; a lecture → C-4 ok.
- 李 (president, not a party member): college A, which was also last year's → C-1a short (rotation);
  the group visit (10-10) and a visit to C (not contacted, not counted) → C-1b 1/2 short; C-3a not
  applicable; no lecture → C-4 short.
- 张 (party_secretary from 2026-11-01, partial tenure): college C; visits to C on 10-20 (before the tenure,
  not counted) and 11-20 → C-1b 1/2 short, partial; a branch activity at CT not confirmed → C-3a 0/1 short,
  naming 轨道交通学院.
- 赵 (dean of A, party member of branch AT): points A1 and 汽修2401 → C-2a 2/2 ok; visits A1 (09-20) and
  the class (10-15) → C-2b 2/2 ok; a confirmed activity of their own branch AT → C-3b 0/1 short; summary
  submitted 2026-12-20 → C-7b ok.
- 钱 (party head of B, party member of BT): point B1 only → C-2a 1/2 short, missing 学生班级; a visit to
  B1 → C-2b 1/2; a confirmed activity of BS (not their own branch) → C-3b ok; summary draft → C-7b not
  due in S, short in S2.
- 孙 (head of academic affairs): a symposium → C-5 ok. 周 (head of logistics): none → C-5 short.
- 吴 (vp_research) submits their summary on 2027-07-16, after the 07-15 deadline → C-7b short (late) in S2.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from lti_tool.compliance.services import ComplianceService
from lti_tool.contacts.models import ContactMember, ContactPoint, ContactRecord
from lti_tool.contacts.summaries import ContactSummary
from lti_tool.directory.models import StudentClass
from lti_tool.timetable.models import Semester
from tests.support import factories as f

D = dt.date
YEAR, LAST = "2026-2027", "2025-2026"


@dataclass
class Contacts:
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


def build_contacts(s, code: str = "CNT", institution_id: int | None = None) -> Contacts:  # type: ignore[no-untyped-def]
    """The hand-counted college; ``institution_id`` reuses an existing institution (page tests)."""
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
    return Contacts(inst, S, S2, units, people)


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    return build_contacts(db_session)


@pytest.fixture
def results(db_session, world):  # type: ignore[no-untyped-def]
    report = ComplianceService(db_session, world.institution_id).evaluate(world.semester, system="contact")
    return {(r.employee_no, r.rule_id): r for r in report.results}


def _fig(r):  # type: ignore[no-untyped-def]
    return (r.done, r.required, r.status)


def test_C1a_two_colleges_rotated_and_one_repeated(results):  # type: ignore[no-untyped-def]
    assert _fig(results[("L001", "C-1a")]) == (2, 1, "ok")
    li = results[("L002", "C-1a")]
    assert _fig(li) == (1, 1, "short") and "汽车工程学院" in li.explanation_text


def test_C1b_group_visit_counts_for_each_member_and_only_at_contacted_colleges(results):  # type: ignore[no-untyped-def]
    assert _fig(results[("L001", "C-1b")]) == (3, 2, "ok")
    li = results[("L002", "C-1b")]
    assert _fig(li) == (1, 2, "short")  # the group visit; the visit to 轨道 is not at a contacted college
    assert [m.code for m in li.missing] == ["activity:visit"]


def test_C1b_partial_tenure_counts_only_inside_it(results):  # type: ignore[no-untyped-def]
    zhang = results[("L003", "C-1b")]
    assert _fig(zhang) == (1, 2, "short") and zhang.partial
    assert zhang.windows[0].start == D(2026, 11, 1)


def test_C3a_unconfirmed_branch_activity_does_not_count(results):  # type: ignore[no-untyped-def]
    assert _fig(results[("L001", "C-3a")]) == (1, 1, "ok")
    zhang = results[("L003", "C-3a")]
    assert _fig(zhang) == (0, 1, "short")
    assert [m.label for m in zhang.missing] == ["轨道交通学院"]
    assert results[("L002", "C-3a")].status == "not_applicable"  # 李 is not a party member


def test_C3b_own_branch_never_counts(results):  # type: ignore[no-untyped-def]
    assert _fig(results[("H001", "C-3b")]) == (0, 1, "short")
    assert _fig(results[("H002", "C-3b")]) == (1, 1, "ok")


def test_C2a_and_C2b_college_heads(results):  # type: ignore[no-untyped-def]
    assert _fig(results[("H001", "C-2a")]) == (2, 2, "ok")
    qian = results[("H002", "C-2a")]
    assert _fig(qian) == (1, 2, "short") and [m.label for m in qian.missing] == ["学生班级"]
    assert _fig(results[("H001", "C-2b")]) == (2, 2, "ok")
    assert _fig(results[("H002", "C-2b")]) == (1, 2, "short")


def test_C4_and_C5(results):  # type: ignore[no-untyped-def]
    assert results[("L001", "C-4")].status == "ok"
    assert results[("L002", "C-4")].status == "short"
    assert ("H001", "C-4") not in results  # the shipped switch: C-4 binds school leaders only
    assert results[("F001", "C-5")].status == "ok"
    assert [m.label for m in results[("F002", "C-5")].missing] == ["召开师生员工座谈会"]


def test_C7b_submitted_draft_and_late(db_session, world, results):  # type: ignore[no-untyped-def]
    assert results[("H001", "C-7b")].status == "ok"
    assert results[("H002", "C-7b")].status == "not_applicable"  # due 2027-07-15, after S
    spring = ComplianceService(db_session, world.institution_id).evaluate(world.spring, system="contact")
    by = {(r.employee_no, r.rule_id): r for r in spring.results}
    assert by[("H001", "C-7b")].status == "ok"
    assert _fig(by[("H002", "C-7b")]) == (0, 1, "short")
    late = by[("L004", "C-7b")]
    assert late.status == "short" and "late" in late.explanation_text
    # annual rules are judged for the academic year in both semesters
    assert _fig(by[("L001", "C-1a")]) == (2, 1, "ok")


def test_observation_and_contact_rows_together(db_session, world):  # type: ignore[no-untyped-def]
    report = ComplianceService(db_session, world.institution_id).evaluate(world.semester)
    rules = {r["rule"] for r in report.to_list() if r["employee_no"] == "L001"}
    assert {"O-1", "O-2", "C-1a", "C-1b", "C-3a", "C-4", "C-7b"} <= rules


def test_cli_json_lists_contact_rows_beside_observation_rows(
    database_url, tmp_path, monkeypatch, session_factory
):  # type: ignore[no-untyped-def]
    import json

    from tests.support.cli import cli_runner

    with session_factory.begin() as s:
        build_contacts(s, "CLIC")
    run = cli_runner(monkeypatch, database_url, tmp_path / "instance")
    result = run("compliance", "--semester", "2026-2027-1", "--institution", "CLIC", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    by = {(r["employee_no"], r["rule"]): r for r in rows}
    assert {"O-1", "O-2", "C-1a", "C-1b"} <= {r for no, r in by if no == "L001"}
    zhang = by[("L003", "C-3a")]
    assert (zhang["required"], zhang["done"], zhang["status"], zhang["missing"]) == (
        1,
        0,
        "short",
        ["轨道交通学院"],
    )
    assert by[("H002", "C-2a")]["missing"] == ["学生班级"]
    assert by[("L002", "C-3a")]["status"] == "not_applicable"
    assert by[("L003", "C-1b")]["partial_tenure"] is True
