"""O-9 patrols through the real pages, and a problem's life cycle across two units (issue 5 §1, §2)."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select

from lti_tool import clock
from lti_tool.directory.models import Person, PositionHolding, Unit
from lti_tool.patrols.models import Patrol
from lti_tool.problems.models import Problem, ProblemEvent
from lti_tool.timetable.models import Semester
from tests.support.platform import ROLE_INSTRUCTOR, LmsUser


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def _seed(session_factory, institution_id: int, today: dt.date) -> dict[str, int]:  # type: ignore[no-untyped-def]
    monday = today - dt.timedelta(days=today.weekday() + 7 * 9)  # today is in week 10
    with session_factory.begin() as s:
        units = {
            code: Unit(institution_id=institution_id, code=code, name=name, kind="department")
            for code, name in [("BWC", "保卫处"), ("HQ", "后勤管理处"), ("ZC", "资产管理处")]
        }
        s.add_all(units.values())
        s.add(Semester(institution_id=institution_id, code="S1", week1_monday=monday, weeks=16, holidays=[]))
        s.flush()
        guard = Person(
            institution_id=institution_id, employee_no="9001", name="保卫处长", unit_id=units["BWC"].id
        )
        guard.positions.append(
            PositionHolding(institution_id=institution_id, position_code="head_security", start_date=monday)
        )
        hq = Person(
            institution_id=institution_id, employee_no="9002", name="后勤干事", unit_id=units["HQ"].id
        )
        zc = Person(
            institution_id=institution_id, employee_no="9003", name="资产干事", unit_id=units["ZC"].id
        )
        s.add_all([guard, hq, zc])
        s.flush()
        return {
            "guard": guard.id,
            "hq_unit": units["HQ"].id,
            "zc_unit": units["ZC"].id,
            "monday": monday.toordinal(),
        }


def test_patrol_recorded_and_month_missing_shown(session_factory, institution_id, launcher, client):  # type: ignore[no-untyped-def]
    today = clock.today()
    ids = _seed(session_factory, institution_id, today)
    session = launcher.launch(LmsUser("g", "保卫处长", "", "9001", [ROLE_INSTRUCTOR]))
    page = session.get(client, "/patrols/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # The semester started ~9 weeks ago: at least one earlier month has no patrol → shown as missing.
    assert "missing" in html or "未完成" in html or "缺" in html
    response = client.post(
        f"/patrols/?s={session.token}",
        data={
            "csrf": _csrf(html),
            "date": today.isoformat(),
            "rooms": "教学楼A 101-105",
            "checked": ["environment", "safety"],
            "notes": "正常",
            "problem_category_0": "facilities",
            "problem_unit_0": str(ids["hq_unit"]),
            "problem_room_0": "A101",
            "problem_description_0": "投影仪无法开机",
        },
    )
    assert response.status_code == 303
    with session_factory() as s:
        patrol = s.scalars(select(Patrol)).one()
        assert patrol.checked == ["environment", "safety"]
        problem = s.scalars(select(Problem)).one()
        assert (problem.patrol_id, problem.unit_id, problem.room, problem.status) == (
            patrol.id,
            ids["hq_unit"],
            "A101",
            "new",
        )
    html = session.get(client, "/patrols/").get_data(as_text=True)
    assert f"{today.year}-{today.month:02d}" in html


def test_patrol_refused_without_duty_or_with_bad_input(session_factory, institution_id, launcher, client):  # type: ignore[no-untyped-def]
    _seed(session_factory, institution_id, clock.today())
    session = launcher.launch(LmsUser("g", "保卫处长", "", "9001", [ROLE_INSTRUCTOR]))
    csrf = _csrf(session.get(client, "/patrols/").get_data(as_text=True))
    future = (clock.today() + dt.timedelta(days=3)).isoformat()
    bad = client.post(
        f"/patrols/?s={session.token}", data={"csrf": csrf, "date": future, "rooms": "", "checked": ["nope"]}
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "巡查日期不能晚于今天" in text and "请填写巡查的楼宇和教室" in text and "nope" in text
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Patrol)) == 0


def test_problem_life_cycle_across_two_units(session_factory, institution_id, launcher, client):  # type: ignore[no-untyped-def]
    ids = _seed(session_factory, institution_id, clock.today())
    guard = launcher.launch(LmsUser("g", "保卫处长", "", "9001", [ROLE_INSTRUCTOR]))
    csrf = _csrf(guard.get(client, "/patrols/").get_data(as_text=True))
    client.post(
        f"/patrols/?s={guard.token}",
        data={
            "csrf": csrf,
            "date": clock.today().isoformat(),
            "rooms": "B栋",
            "checked": ["facilities"],
            "problem_category_0": "facilities",
            "problem_unit_0": str(ids["hq_unit"]),
            "problem_room_0": "B201",
            "problem_description_0": "灯管损坏",
            "problem_category_1": "environment",
            "problem_unit_1": str(ids["zc_unit"]),
            "problem_room_1": "B202",
            "problem_description_1": "桌椅不足",
        },
    )
    with session_factory() as s:
        by_unit = {p.unit_id: p.id for p in s.scalars(select(Problem))}
    hq_problem, zc_problem = by_unit[ids["hq_unit"]], by_unit[ids["zc_unit"]]

    hq = launcher.launch(LmsUser("h", "后勤干事", "", "9002", [ROLE_INSTRUCTOR]))
    inbox = hq.get(client, "/problems/").get_data(as_text=True)
    assert "B201" in inbox and "B202" not in inbox
    assert hq.get(client, f"/problems/{zc_problem}").status_code == 403
    page = hq.get(client, f"/problems/{hq_problem}").get_data(as_text=True)
    csrf_h = _csrf(page)
    # Someone who may not act on a problem learns nothing of its state: 403 whatever the step (issue 13 §7)
    for status in ("resolved", "accepted", "no-such-status"):
        response = client.post(
            f"/problems/{zc_problem}/step?s={hq.token}", data={"csrf": csrf_h, "status": status, "note": "x"}
        )
        assert response.status_code == 403, status
    # Resolving needs a note (处理情况); accepting first.
    assert (
        client.post(
            f"/problems/{hq_problem}/step?s={hq.token}",
            data={"csrf": csrf_h, "status": "resolved", "note": "x"},
        ).status_code
        == 409
    )
    assert (
        client.post(
            f"/problems/{hq_problem}/step?s={hq.token}", data={"csrf": csrf_h, "status": "accepted"}
        ).status_code
        == 303
    )
    assert (
        client.post(
            f"/problems/{hq_problem}/step?s={hq.token}",
            data={"csrf": csrf_h, "status": "resolved", "note": ""},
        ).status_code
        == 422
    )
    assert (
        client.post(
            f"/problems/{hq_problem}/step?s={hq.token}",
            data={"csrf": csrf_h, "status": "resolved", "note": "已更换灯管"},
        ).status_code
        == 303
    )
    # The handler cannot confirm their own work; the raiser does.
    assert (
        client.post(
            f"/problems/{hq_problem}/step?s={hq.token}", data={"csrf": csrf_h, "status": "confirmed"}
        ).status_code
        == 403
    )
    guard_page = guard.get(client, f"/problems/{hq_problem}").get_data(as_text=True)
    assert "已更换灯管" in guard_page
    assert (
        client.post(
            f"/problems/{hq_problem}/step?s={guard.token}",
            data={"csrf": _csrf(guard_page), "status": "confirmed"},
        ).status_code
        == 303
    )

    zc = launcher.launch(LmsUser("z", "资产干事", "", "9003", [ROLE_INSTRUCTOR]))
    csrf_z = _csrf(zc.get(client, f"/problems/{zc_problem}").get_data(as_text=True))
    assert (
        client.post(
            f"/problems/{zc_problem}/step?s={zc.token}",
            data={"csrf": csrf_z, "status": "rejected", "note": "不属于本部门"},
        ).status_code
        == 303
    )
    with session_factory() as s:
        assert s.get(Problem, hq_problem).status == "confirmed"
        assert s.get(Problem, zc_problem).status == "rejected"
        steps = [
            e.status
            for e in s.scalars(
                select(ProblemEvent).where(ProblemEvent.problem_id == hq_problem).order_by(ProblemEvent.id)
            )
        ]
        assert steps == ["new", "accepted", "resolved", "confirmed"]


def test_recurrence_and_overdue(session_factory, institution_id, db_session):  # type: ignore[no-untyped-def]
    from lti_tool.db import utcnow
    from lti_tool.policy.schema import default_policy
    from lti_tool.problems.services import NewProblem, ProblemService

    ids = _seed(session_factory, institution_id, clock.today())
    service = ProblemService(db_session, institution_id, default_policy())
    (first,) = service.raise_problems(
        [NewProblem("facilities", ids["hq_unit"], "C301", "空调坏")], ids["guard"]
    )
    (second,) = service.raise_problems(
        [NewProblem("facilities", ids["hq_unit"], "C301", "空调又坏")], ids["guard"]
    )
    (other,) = service.raise_problems(
        [NewProblem("environment", ids["hq_unit"], "C301", "卫生差")], ids["guard"]
    )
    first.created_at = utcnow() - dt.timedelta(days=default_policy().problem_overdue_days + 1)
    db_session.flush()
    views = {v.problem.id: v for v in service.listing()}
    assert views[second.id].recurrences == 1 and views[other.id].recurrences == 0
    assert views[first.id].overdue and not views[second.id].overdue
    assert [v.problem.id for v in service.listing(overdue_only=True)] == [first.id]
