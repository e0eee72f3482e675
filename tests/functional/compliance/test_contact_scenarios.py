"""Hand-computed scenarios for the contact rules C-1a … C-7b on a real database, through the one engine.

The college (``contacts_world``): semester S = 2026-2027-1 (2026-09-07 … 2027-01-10) and S2 = 2026-2027-2
(2027-03-01 … 2027-07-18), both in academic year 2026-2027 (2026-08-01 … 2027-07-31). Colleges 汽车 (A),
道桥 (B), 轨道 (C); under A a teaching office A1, a teacher branch AT and a class 汽修2401; under B a lab B1,
branches BT and BS; under C a branch CT.

Hand count for S (see each person's comment in ``contacts_world``):

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

import pytest

from lti_tool.compliance.services import ComplianceService
from tests.support.worlds import contacts_world

D = dt.date


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    return contacts_world(db_session)


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


def test_C7b_a_deadline_in_the_summer_break_is_owed_by_the_last_semester_once_passed(
    db_session, world, time_machine
):  # type: ignore[no-untyped-def]
    """A spring of 18 weeks ends 2027-07-04, before the 07-15 deadline: 钱's draft is not due on 07-15, short
    on 07-16 in the spring; the autumn, followed by the spring before the deadline, never answers for it."""
    world.spring.weeks = 18
    db_session.flush()
    service = ComplianceService(db_session, world.institution_id)

    def c7b(semester, no):  # type: ignore[no-untyped-def]
        return next(
            r
            for r in service.evaluate(semester, system="contact").results
            if r.employee_no == no and r.rule_id == "C-7b"
        )

    time_machine.move_to(dt.datetime(2027, 7, 15, 12, tzinfo=dt.UTC))
    assert c7b(world.spring, "H002").status == "not_applicable"
    time_machine.move_to(dt.datetime(2027, 7, 16, 12, tzinfo=dt.UTC))
    assert _fig(c7b(world.spring, "H002")) == (0, 1, "short")
    assert c7b(world.spring, "H001").status == "ok"
    assert c7b(world.semester, "H002").status == "not_applicable"


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
        contacts_world(s, "CLIC")
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
