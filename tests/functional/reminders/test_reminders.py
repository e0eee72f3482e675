"""Pacing reminders (issue 5 §3): a checkpoint fires once — also with two workers racing on Redis."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from lti_tool import clock
from lti_tool.reminders.models import Reminder, ReminderCheckpoint
from lti_tool.reminders.services import Checkpoint, ReminderService, checkpoint_due_at
from lti_tool.timetable.models import ClassSession, CourseSection, Semester
from tests.support import factories as f
from tests.support.clock import pinned_command, pinned_env
from tests.support.platform import LmsUser
from worker import jobs
from worker import reminders as tick_module
from worker.reminders import TICK_INTERVAL, send_due_reminders


@pytest.fixture
def college(session_factory, institution_id):  # type: ignore[no-untyped-def]
    """Week 6 ended at the college's last midnight: one school leader with nothing done, one who met O-1,
    one with no e-mail. "Today" is the college's (Asia/Shanghai), not the machine's: checkpoints fall due at
    the college's midnight, and between 00:00 and 16:00 UTC the two dates differ by a day."""
    today = clock.today()
    monday = today - dt.timedelta(days=7 * 6)  # week 6 ended at midnight, when today began
    with session_factory.begin() as s:
        inst = institution_id
        sem = f.semester(s, inst, "S-NOW", week1_monday=monday, weeks=16)
        college_unit = f.unit(s, inst, "汽车工程学院")
        behind = f.person(
            s, inst, "落后校领导", employee_no="L1", email="l1@jti.edu", positions=["school_leader"]
        )
        f.person(s, inst, "无邮箱校领导", employee_no="L3", positions=["school_leader"])
        on_track = f.person(
            s, inst, "达标校领导", employee_no="L2", email="l2@jti.edu", positions=["school_leader"]
        )
        teacher = f.person(s, inst, "教师", unit=college_unit)
        sec = f.section(s, sem, f.course(s, inst, "汽车构造"), [teacher])
        for day in (monday, monday + dt.timedelta(days=7)):
            f.observation(s, f.class_session(s, sec, day), on_track)
        f.class_session(s, sec, today + dt.timedelta(days=2))  # an upcoming session to suggest
        return {"institution_id": inst, "semester_id": sem.id, "behind": behind.id}


def _outbox(settings) -> list[Path]:  # type: ignore[no-untyped-def]
    box = Path(settings.outbox_path)
    return sorted(box.glob("*.eml")) if box.exists() else []


def test_checkpoint_due_and_sent_once(college, session_factory, settings):  # type: ignore[no-untyped-def]
    jobs.configure(settings)
    before = len(_outbox(settings))
    assert send_due_reminders() == 2  # the two leaders behind; the one on track gets nothing
    assert send_due_reminders() == 0  # a restart or a second tick never sends again
    mails = _outbox(settings)[before:]
    assert len(mails) == 1  # the leader without e-mail gets the banner only
    text = mails[0].read_text(encoding="utf-8")
    assert "l1@jti.edu" in text
    with session_factory() as s:
        reminders = s.scalars(select(Reminder)).all()
        assert {r.person_id for r in reminders} >= {college["behind"]}
        body = next(r.body for r in reminders if r.person_id == college["behind"])
        assert "O-1" in body and "还差 2" in body and "汽车构造" in body


def test_checkpoint_not_due_before_week_end_and_stale_skipped(college, session_factory):  # type: ignore[no-untyped-def]
    with session_factory() as s:
        from lti_tool.timetable.models import Semester

        sem = s.get(Semester, college["semester_id"])
        due = checkpoint_due_at(sem, 6, "Asia/Shanghai")
        service = ReminderService(s, college["institution_id"])
        assert service.due(due - dt.timedelta(minutes=1)) == []
        assert [c.week for c in service.due(due)] == [6]
        assert service.due(due + dt.timedelta(days=8)) == []  # found too late: skipped, not sent


def test_two_workers_fire_a_checkpoint_once(college, session_factory, settings, database_url, tmp_path):  # type: ignore[no-untyped-def]
    redis = Redis.from_url(settings.redis_url)
    queue = Queue(f"reminders-race-{os.getpid()}", connection=redis)
    queue.empty()
    for _ in range(4):
        queue.enqueue(send_due_reminders)
    env = pinned_env(
        dict(
            os.environ,
            TINGKE_DATABASE_URL=database_url,
            TINGKE_INSTANCE_PATH=str(tmp_path),
            TINGKE_OUTBOX=str(tmp_path / "outbox"),
            TINGKE_REDIS_URL=settings.redis_url,
        )
    )
    cmd = pinned_command("rq.cli", "worker", "--burst", "--url", settings.redis_url, queue.name)
    workers = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(2)
    ]
    outputs = [w.communicate(timeout=120)[0].decode() for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(ReminderCheckpoint)) == 1
        assert s.scalar(select(func.count()).select_from(Reminder)) == 2
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    redis.close()


def test_banner_shown_and_dismissed(college, session_factory, settings, client, platform, launcher):  # type: ignore[no-untyped-def]
    import re

    from tests.support.platform import LmsUser

    jobs.configure(settings)
    send_due_reminders()
    session = launcher.launch(LmsUser("u-l1", "落后校领导", "l1@jti.edu", "L1"))
    home = session.get(client, "/home").get_data(as_text=True)
    assert "听课提醒" in home
    rid = re.search(r"/reminders/(\d+)/dismiss", home).group(1)  # type: ignore[union-attr]
    csrf = re.search(r'name="csrf" value="([^"]+)"', home).group(1)  # type: ignore[union-attr]
    assert client.post(f"/reminders/{rid}/dismiss?s={session.token}", data={"csrf": csrf}).status_code == 303
    assert "听课提醒" not in session.get(client, "/home").get_data(as_text=True)


def test_reminder_is_chinese_names_rules_and_suggests_no_past_class(
    college, session_factory, settings, client, platform, launcher
):  # type: ignore[no-untyped-def]
    """Issue 11 §7: no English in the Chinese message, rule IDs with what they ask, no class already past
    (today's class that has begun is not suggested), and a short banner linking to the page that helps."""
    with session_factory.begin() as s:
        sem = s.get(Semester, college["semester_id"])
        sec = s.scalars(select(CourseSection).where(CourseSection.semester_id == sem.id)).first()
        started = f.class_session(s, sec, clock.today())
        started.starts_at, started.ends_at = dt.time(0, 0), dt.time(0, 1)  # began at the college's midnight
        started_id = started.id
    jobs.configure(settings)
    send_due_reminders()
    with session_factory() as s:
        body = next(r.body for r in s.scalars(select(Reminder)) if r.person_id == college["behind"])
    assert "O-1 每学期至少听2次课" in body
    assert not re.search(r"[A-Za-z]{4,}", body.replace("O-1", "")), body  # no English words
    with session_factory() as s:
        started_day = s.get(ClassSession, started_id).date.isoformat()
    assert f"{started_day} 第" not in body  # today's class has begun: not suggested
    assert "汽车构造" in body  # the one in two days is
    session = launcher.launch(LmsUser("u-l1", "落后校领导", "l1@jti.edu", "L1"))
    home = session.get(client, "/home").get_data(as_text=True)
    banner = home.split('class="card reminder"', 1)[1].split("</section>", 1)[0]
    assert "/policy/me" in banner and "<details>" in banner


def test_a_checkpoint_fires_within_one_tick_of_its_time_in_the_college_zone(  # type: ignore[no-untyped-def]
    college, session_factory, settings, time_machine
):
    """Week 6 ends at midnight in Beijing (16:00 UTC on Sunday); the worker's tick, every TICK_INTERVAL,
    sends it on the first round after that moment: minutes late at most, never days."""
    with session_factory() as s:
        sem = s.get(Semester, college["semester_id"])
        due = checkpoint_due_at(sem, 6, "Asia/Shanghai")
    local = clock.local(due, None)
    assert (local.hour, local.minute) == (0, 0)  # midnight after the week's last day, in the college
    assert due.astimezone(dt.UTC).hour == 16  # ... which is 16:00 the day before on a UTC server
    assert dt.timedelta(minutes=15) >= TICK_INTERVAL
    jobs.configure(settings)
    time_machine.move_to(due - dt.timedelta(minutes=1), tick=False)
    assert send_due_reminders() == 0  # a minute early: nothing
    time_machine.move_to(due + TICK_INTERVAL, tick=False)  # the first tick after the checkpoint
    assert send_due_reminders() == 2
    with session_factory() as s:
        claimed = s.scalars(select(ReminderCheckpoint)).one()
        assert dt.timedelta(0) <= _aware(claimed.claimed_at) - due <= TICK_INTERVAL


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def test_the_tick_schedules_the_next_one_even_when_a_round_fails(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    scheduled: list[bool] = []

    def broken(now: dt.datetime | None = None) -> int:
        raise RuntimeError("database away")

    monkeypatch.setattr(tick_module, "send_due_reminders", broken)
    monkeypatch.setattr(tick_module, "schedule_tick", lambda connection=None: scheduled.append(True))
    with pytest.raises(RuntimeError):
        tick_module.tick()
    assert scheduled == [True]


def test_a_week_6_reminder_lists_only_the_months_already_over(session_factory, institution_id):  # type: ignore[no-untyped-def]
    """O-9 (a patrol every month) at week 6 of a 20-week semester: the months wholly before the checkpoint
    are owed, the month under way and the months to come are not listed as 未完成 yet."""
    today = clock.today()
    monday = today - dt.timedelta(days=7 * 6)
    with session_factory.begin() as s:
        sem = f.semester(s, institution_id, "S-O9", week1_monday=monday, weeks=20)
        f.person(
            s, institution_id, "保卫处长", employee_no="B1", email="b1@jti.edu", positions=["head_security"]
        )
        sem_id, end = sem.id, sem.end_date
    with session_factory.begin() as s:
        due = checkpoint_due_at(s.get(Semester, sem_id), 6, "Asia/Shanghai")
        (reminder,) = ReminderService(s, institution_id).run_checkpoint(
            Checkpoint(institution_id, sem_id, 6, due)
        )
        body = reminder.body
    checkpoint = today - dt.timedelta(days=1)  # the Sunday that ended week 6
    owed = {m for m in _months(monday, checkpoint) if _month_end(m) <= checkpoint}
    to_come = {m for m in _months(checkpoint, end)} - owed
    assert "O-9" in body
    assert owed and all(f"{y:04d}-{m:02d}" in body for y, m in owed), body
    for y, m in to_come:
        assert f"{y:04d}-{m:02d}" not in body, body


def _months(start: dt.date, end: dt.date) -> list[tuple[int, int]]:
    out, day = [], start.replace(day=1)
    while day <= end:
        out.append((day.year, day.month))
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return out


def _month_end(ym: tuple[int, int]) -> dt.date:
    first = dt.date(*ym, 1)
    return (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
