"""Letters tell people through the real pages (issue 15 §1): the leader in charge when the office routes a
letter, the handling unit when the leader instructs, the writer when the answer is released — each once, to
the right people, with their preferences, and the anonymous writer named to nobody; an overdue letter is told
once even when two workers run the tick."""

from __future__ import annotations

import datetime as dt
import os
import subprocess

from redis import Redis
from rq import Queue
from sqlalchemy import select, update

from lti_tool.directory.models import Person
from lti_tool.notifications.models import Notification
from lti_tool.outreach.models import FollowUp, Letter
from tests.functional.outreach.test_pages import HANDLER, LI, OFFICE, TEACHER, WANG, _year, page, post
from tests.functional.outreach.test_pages import college as college  # noqa: F401 (the fixture)
from tests.support.clock import pinned_command, pinned_env
from worker.reminders import send_due_reminders


def _emails(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        for person in s.scalars(select(Person)):
            person.email = f"{person.employee_no.lower()}@jti.edu"


def _rows(session_factory, event: str) -> list[tuple[int, str, str]]:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        return [
            (n.person_id, n.subject, n.body)
            for n in s.scalars(
                select(Notification).where(Notification.event == event).order_by(Notification.id)
            )
        ]


def _ids(session_factory) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        return {p.employee_no: p.id for p in s.scalars(select(Person))}


def test_an_anonymous_letter_tells_each_hand_once_and_names_the_writer_to_nobody(
    college, launcher, client, session_factory
) -> None:  # type: ignore[no-untyped-def]
    _emails(session_factory)
    ids = _ids(session_factory)
    teacher = launcher.launch(TEACHER)
    post(
        teacher,
        client,
        "/outreach/letters/new",
        {"subject": "实训室周末开放", "body": "希望周末开放实训室。", "anonymous": "yes"},
    )
    with session_factory() as s:
        fu_id = s.scalars(select(Letter.follow_up_id)).one()
    office = launcher.launch(OFFICE)
    post(
        office,
        client,
        "/outreach/office/division",
        {"year": _year(college), "leader-teaching": str(college["wang"])},
    )
    deadline = (college["today"] + dt.timedelta(days=10)).isoformat()
    post(
        office,
        client,
        f"/outreach/items/{fu_id}/accept",
        {"area": "teaching", "leader": "auto", "deadline": deadline},
    )
    routed = _rows(session_factory, "letter_routed")
    assert [r[0] for r in routed] == [college["wang"]]  # the leader in charge, once
    assert "实训室周末开放" in routed[0][1] and deadline in routed[0][2]

    # the handler turns the routed letters off on their own page, then turns them on again
    handler = launcher.launch(HANDLER)
    prefs = page(handler, client, "/notifications/preferences")
    assert "letter_routed:email" in prefs
    assert "letter_answered:email" not in prefs  # offered to writers of letters only (events.AUDIENCES)
    post(handler, client, "/notifications/preferences", {"on": ["letter_overdue:email"]})
    wang = launcher.launch(WANG)
    post(
        wang,
        client,
        f"/outreach/items/{fu_id}/instruct",
        {"instruction": "请教务处研究。", "unit": str(college["jwc"])},
    )
    assert len(_rows(session_factory, "letter_routed")) == 1  # the handler said no: nobody else in the unit
    post(handler, client, f"/outreach/items/{fu_id}/answer", {"answer": "周六上午开放。"})
    post(office, client, f"/outreach/items/{fu_id}/return", {"note": "请写明开放哪些实训室。"})
    assert len(_rows(session_factory, "letter_routed")) == 1
    post(
        handler, client, "/notifications/preferences", {"on": ["letter_routed:email", "letter_overdue:email"]}
    )
    post(handler, client, f"/outreach/items/{fu_id}/answer", {"answer": "周六上午开放汽车实训室。"})
    post(office, client, f"/outreach/items/{fu_id}/return", {"note": "请写明时间。"})
    assert [r[0] for r in _rows(session_factory, "letter_routed")] == [college["wang"], ids["J001"]]
    post(handler, client, f"/outreach/items/{fu_id}/answer", {"answer": "周六8:00-12:00开放汽车实训室。"})
    assert _rows(session_factory, "letter_answered") == []
    post(office, client, f"/outreach/items/{fu_id}/release", {"answer": "周六8:00-12:00开放汽车实训室。"})
    (answered,) = _rows(session_factory, "letter_answered")
    assert answered[0] == college["teacher"] and "实训室周末开放" in answered[1]
    # nobody's message names the writer; the writer hears only of the answer; another leader hears nothing
    with session_factory() as s:
        rows = list(s.scalars(select(Notification)))
    assert all("周老师" not in n.subject + n.body and "T001" not in n.body for n in rows)
    assert {n.event for n in rows if n.person_id == college["teacher"]} == {"letter_answered"}
    assert college["li"] not in {n.person_id for n in rows}
    li = launcher.launch(LI)
    assert "实训室周末开放" not in page(li, client, "/notifications/")
    assert "实训室周末开放" in page(launcher.launch(TEACHER), client, "/notifications/")


def test_an_overdue_letter_is_told_once_with_two_workers(
    college, launcher, client, session_factory, settings, database_url, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    _emails(session_factory)
    office = launcher.launch(OFFICE)
    post(
        office,
        client,
        "/outreach/office/letters/new",
        {
            "channel": "paper",
            "received_on": college["today"].isoformat(),
            "writer_name": "退休教师张某",
            "subject": "老干部活动室",
            "body": "活动室空调损坏。",
        },
    )
    with session_factory() as s:
        fu_id = s.scalars(select(Letter.follow_up_id)).one()
    deadline = (college["today"] + dt.timedelta(days=3)).isoformat()
    post(
        office,
        client,
        f"/outreach/items/{fu_id}/accept",
        {"area": "logistics", "leader": str(college["li"]), "deadline": deadline},
    )
    with session_factory.begin() as s:  # the deadline passes without the leader's instruction
        s.execute(
            update(FollowUp)
            .where(FollowUp.id == fu_id)
            .values(deadline=college["today"] - dt.timedelta(days=1))
        )
    redis = Redis.from_url(settings.redis_url)
    queue = Queue(f"outreach-overdue-race-{os.getpid()}", connection=redis)
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
    overdue = _rows(session_factory, "letter_overdue")
    assert [r[0] for r in overdue] == [college["li"]]  # the leader owing the 批示, once
    assert "老干部活动室" in overdue[0][2] and "退休教师张某" not in overdue[0][2]
    redis.close()
