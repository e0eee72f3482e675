"""The college's date, not the server's (docs/decisions.md T-1): at 17:30 UTC it is already tomorrow in
Beijing, and every place that used the server's date got the wrong day there.

The suite runs pinned at 17:00 UTC (tests/support/clock.py); these tests move to 17:30 UTC explicitly and
check each fixed place against the college's date, which at that hour is the UTC date + 1.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from lti_tool import clock
from lti_tool.lti.models import LaunchSession
from lti_tool.patrols.models import Patrol
from lti_tool.reminders.services import Checkpoint, ReminderService, checkpoint_due_at
from lti_tool.reports.statistics import StatisticsService
from lti_tool.tenancy import Institution
from lti_tool.timetable.search import local_now
from tests.support import factories as f
from tests.support.clock import awkward_instant
from tests.support.platform import ROLE_ADMIN, ROLE_INSTRUCTOR, LmsUser

BEIJING = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def half_past_five_utc(time_machine) -> dt.datetime:  # type: ignore[no-untyped-def]
    """17:30 UTC, i.e. 01:30 the next day in Beijing."""
    at = awkward_instant().replace(minute=30)
    time_machine.move_to(at, tick=False)
    return at


def _college_today(at: dt.datetime) -> dt.date:
    return (at.astimezone(BEIJING)).date()


def test_the_hour_is_awkward(half_past_five_utc) -> None:  # type: ignore[no-untyped-def]
    assert clock.utcnow() == half_past_five_utc
    assert clock.today() == half_past_five_utc.date() + dt.timedelta(days=1)
    assert clock.now().hour == 1 and clock.now().utcoffset() == dt.timedelta(hours=8)


def test_an_institution_in_another_zone_has_its_own_date(half_past_five_utc) -> None:  # type: ignore[no-untyped-def]
    london = Institution(name="x", timezone="Europe/London")
    assert clock.today(london) == half_past_five_utc.date()
    assert clock.today(Institution(name="y", timezone="")) == _college_today(half_past_five_utc)


def test_the_default_zone_comes_from_the_settings() -> None:
    try:
        clock.set_default_zone("America/New_York")
        assert clock.zone(None).key == "America/New_York"
        assert clock.zone(Institution(name="z", timezone="Asia/Shanghai")).key == "Asia/Shanghai"
    finally:
        clock.set_default_zone(clock.DEFAULT_ZONE)


def _patrol_world(session_factory, institution_id: int, today: dt.date) -> None:  # type: ignore[no-untyped-def]
    monday = today - dt.timedelta(days=today.weekday() + 7 * 3)
    with session_factory.begin() as s:
        f.semester(s, institution_id, "S-CLOCK", week1_monday=monday, weeks=16)
        f.person(
            s, institution_id, "保卫处长", employee_no="9001", positions=[("head_security", monday, None)]
        )


def test_a_patrol_dated_the_colleges_today_is_accepted_at_1730_utc(  # type: ignore[no-untyped-def]
    half_past_five_utc, session_factory, institution_id, launcher, client
):
    today = _college_today(half_past_five_utc)
    assert today > half_past_five_utc.date()  # the server's date is still yesterday
    _patrol_world(session_factory, institution_id, today)
    session = launcher.launch(LmsUser("g", "保卫处长", "", "9001", [ROLE_INSTRUCTOR]))
    page = session.get(client, "/patrols/").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    post = {"csrf": csrf, "rooms": "A栋", "checked": ["facilities"], "notes": "正常"}
    tomorrow = client.post(
        f"/patrols/?s={session.token}", data={**post, "date": str(today + dt.timedelta(1))}
    )
    assert tomorrow.status_code == 422  # still in the future for the college
    saved = client.post(f"/patrols/?s={session.token}", data={**post, "date": today.isoformat()})
    assert saved.status_code == 303
    with session_factory() as s:
        assert s.scalars(select(Patrol.date)).all() == [today]


def test_a_tenure_starting_the_colleges_today_grants_the_persona_at_launch(  # type: ignore[no-untyped-def]
    half_past_five_utc, session_factory, institution_id, launcher
):
    today = _college_today(half_past_five_utc)
    with session_factory.begin() as s:
        f.person(
            s, institution_id, "新任校领导", employee_no="L9", positions=[("school_leader", today, None)]
        )
    launcher.launch(LmsUser("new", "新任校领导", "", "L9", [ROLE_INSTRUCTOR]))
    with session_factory() as s:
        assert s.scalars(select(LaunchSession.persona)).all() == ["observer"]


def test_the_export_is_named_after_the_colleges_date(half_past_five_utc, launcher, client) -> None:  # type: ignore[no-untyped-def]
    qc = launcher.launch(LmsUser("admin", "管理员", "", "", [ROLE_ADMIN]))
    exported = qc.get(client, "/observations/export.csv")
    stamp = _college_today(half_past_five_utc).strftime("%Y%m%d")
    assert exported.status_code == 200
    assert f'filename="observations-{stamp}.csv"' in exported.headers["Content-Disposition"]


def test_the_picker_and_the_report_use_the_colleges_date(
    half_past_five_utc, db_session, institution_id
) -> None:  # type: ignore[no-untyped-def]
    today = _college_today(half_past_five_utc)
    now = local_now(db_session, institution_id)
    assert (now.date(), now.hour) == (today, 1)
    semester = f.semester(
        db_session, institution_id, "S-ASOF", week1_monday=today - dt.timedelta(days=today.weekday())
    )
    stats = StatisticsService(db_session, institution_id).compute(semester)
    assert stats.as_of == today.isoformat()


def test_a_reminder_checkpoint_is_on_the_colleges_day(db_session, institution_id) -> None:  # type: ignore[no-untyped-def]
    """Week 6 ends at Monday 00:00 in Beijing, which is still Sunday in UTC: the reminder's "next classes"
    start on the college's Monday, not on the Sunday before."""
    semester = f.semester(db_session, institution_id, "S-REM", week1_monday=dt.date(2026, 9, 7), weeks=16)
    due = checkpoint_due_at(semester, 6, "Asia/Shanghai")
    assert due == dt.datetime(2026, 10, 18, 16, 0, tzinfo=dt.UTC)  # Monday 19 October, 00:00 in Beijing
    teacher = f.person(db_session, institution_id, "任课教师")
    section = f.section(db_session, semester, f.course(db_session, institution_id, "高等数学"), [teacher])
    f.class_session(db_session, section, dt.date(2026, 10, 18))
    f.class_session(db_session, section, dt.date(2026, 10, 19))
    leader = f.person(db_session, institution_id, "落后校领导", positions=["school_leader"])
    (reminder,) = ReminderService(db_session, institution_id).run_checkpoint(
        Checkpoint(institution_id, semester.id, 6, due)
    )
    assert reminder.person_id == leader.id
    assert "2026-10-19" in reminder.body and "2026-10-18" not in reminder.body
