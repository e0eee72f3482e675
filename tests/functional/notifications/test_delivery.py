"""Notifications (issue 15 §1, §2): one call, each channel against a local fake of its documented endpoints,
each person's choices and language, O-12's class end, failures kept and retried, tenants apart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from redis import Redis
from rq.job import Job
from sqlalchemy import select

from lti_tool import clock
from lti_tool.directory.models import PlatformUser
from lti_tool.lti.models import LaunchSession, Platform
from lti_tool.notifications import outbox
from lti_tool.notifications.delivery import MAX_ATTEMPTS, deliver
from lti_tool.notifications.events import TEMPLATES, Event
from lti_tool.notifications.models import ChannelSetting, DeliveryStatus, Notification
from lti_tool.notifications.services import NotificationService
from lti_tool.notifications.settings import ChannelSettingsService
from tests.support import factories as f
from tests.support.fake_channels import DINGTALK, MOODLE_TOKEN, WECOM, FakeChannels

MOODLE_SEND = "/webservice/rest/server.php"
WECOM_SEND = "/cgi-bin/message/send"
DINGTALK_SEND = "/topapi/message/corpconversation/asyncsend_v2"
PARAMS = {
    "course": "汽车构造",
    "date": "2026-12-01",
    "teacher": "王老师",
    "reply": "谢谢",
    "unit": "资产处",
    "category": "设施",
    "room": "A101",
    "description": "投影仪坏了",
    "days": 7,
    "note": "已更换",
    "author": "李校长",
    "subject": "【听课提醒】第 6 周",
    "body": "您的听课任务尚未完成",
    "leader": "李校长",
    "branch": "机关第一支部",
    "topic": "主题党日",
    "title": "关于食堂的建议",
    "deadline": "2026-12-10",
}


@pytest.fixture
def settings(settings, tmp_path):  # type: ignore[no-untyped-def]
    """The suite's settings with an outbox of this test's own (other tests count the shared one's files)."""
    return replace(settings, outbox_path=tmp_path / "outbox")


@pytest.fixture
def fake() -> Iterator[FakeChannels]:
    server = FakeChannels().start()
    yield server
    server.stop()


def configure_all(s, institution_id: int, url: str) -> None:  # type: ignore[no-untyped-def]
    settings = ChannelSettingsService(s, institution_id)
    settings.save("moodle", enabled=True, options={"base_url": url}, secret=MOODLE_TOKEN)
    settings.save(
        "wecom",
        enabled=True,
        options={"corpid": WECOM["corpid"], "agentid": "1000002", "base_url": url},
        secret=WECOM["secret"],
    )
    settings.save(
        "dingtalk",
        enabled=True,
        options={"appkey": DINGTALK["appkey"], "agent_id": "2000001", "base_url": url},
        secret=DINGTALK["secret"],
    )
    settings.save("email", enabled=True, options={})


@pytest.fixture
def world(session_factory, institution_id, fake):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        configure_all(s, institution_id, fake.url)
        platform = Platform(
            institution_id=institution_id,
            issuer=fake.url,
            client_id="c1",
            auth_login_url=f"{fake.url}/login",
            auth_token_url=f"{fake.url}/token",
            key_set_url=f"{fake.url}/jwks",
        )
        s.add(platform)
        s.flush()
        person = f.person(s, institution_id, "王老师", email="wang@jti.edu")
        person.wecom_userid, person.dingtalk_userid = "WangLaoshi", "manager4220"
        s.add(
            PlatformUser(
                institution_id=institution_id, platform_id=platform.id, lti_user_id="5", person_id=person.id
            )
        )
        return {"person": person.id, "platform": platform.id}


def deliver_all(session_factory, settings, now=None) -> list[str]:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        ids = s.scalars(select(Notification.id).where(Notification.status == "pending")).all()
        return [deliver(s, i, settings, now=now) for i in ids]


def eml(settings) -> list[Path]:  # type: ignore[no-untyped-def]
    box = Path(settings.outbox_path)
    return sorted(box.glob("*.eml"), key=lambda p: p.stat().st_mtime) if box.exists() else []


@pytest.mark.parametrize("event", list(Event))
def test_each_event_reaches_each_channel_in_the_documented_shape(  # type: ignore[no-untyped-def]
    event, world, fake, session_factory, institution_id, settings
):
    before = len(eml(settings))
    with session_factory.begin() as s:
        rows = NotificationService(s, institution_id).notify(event, [world["person"]], PARAMS)
        assert sorted(r.channel for r in rows) == ["dingtalk", "email", "moodle", "wecom"]
        subject = rows[0].subject
    assert deliver_all(session_factory, settings) == ["sent"] * 4

    (moodle,) = fake.sends(MOODLE_SEND)
    assert moodle.method == "POST"
    assert moodle.form["wstoken"] == MOODLE_TOKEN
    assert moodle.form["wsfunction"] == "core_message_send_instant_messages"
    assert moodle.form["moodlewsrestformat"] == "json"
    assert moodle.form["messages[0][touserid]"] == "5"  # the sub of the person's Moodle launches
    assert moodle.form["messages[0][textformat]"] == "2"
    assert subject in moodle.form["messages[0][text]"]

    (wecom,) = fake.sends(WECOM_SEND)
    assert wecom.query["access_token"].startswith("token-")
    assert wecom.json["touser"] == "WangLaoshi" and wecom.json["agentid"] == 1000002
    assert wecom.json["msgtype"] == "text" and subject in wecom.json["text"]["content"]

    (ding,) = fake.sends(DINGTALK_SEND)
    assert ding.json["agent_id"] == 2000001 and ding.json["userid_list"] == "manager4220"
    assert ding.json["msg"]["msgtype"] == "text" and subject in ding.json["msg"]["text"]["content"]

    mails = eml(settings)[before:]
    assert len(mails) == 1
    text = mails[0].read_text(encoding="utf-8")
    assert "wang@jti.edu" in text
    with session_factory() as s:
        for row in s.scalars(select(Notification)):
            assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None and row.error == ""
            # the message in the person's language (zh_CN: never launched), no internal code
            assert event.value not in row.subject + row.body
            assert "%(" not in row.subject + row.body


def test_message_in_each_persons_language(world, session_factory, institution_id):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        english = f.person(s, institution_id, "Ann", email="ann@jti.edu")
        s.add(
            LaunchSession(
                id="ls-en",
                institution_id=institution_id,
                platform_id=world["platform"],
                person_id=english.id,
                lti_user_id="9",
                locale="en",
                expires_at=clock.utcnow() + dt.timedelta(hours=1),
            )
        )
        s.flush()
        rows = NotificationService(s, institution_id).notify(
            Event.PROBLEM_RESOLVED, [world["person"], english.id], PARAMS
        )
        by_person = {r.person_id: r for r in rows if r.channel == "email"}
    assert by_person[english.id].subject == "Your problem was resolved"
    assert by_person[english.id].language == "en"
    assert by_person[world["person"]].language == "zh_CN"
    assert by_person[world["person"]].subject != "Your problem was resolved"  # translated
    assert "资产处" in by_person[world["person"]].body


def test_preferences_respected(world, fake, session_factory, institution_id, settings):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        service = NotificationService(s, institution_id)
        keep = {(e.value, c) for e in Event for c in ("moodle", "wecom", "dingtalk", "email")}
        keep -= {(Event.PROBLEM_ROUTED.value, "wecom"), (Event.PROBLEM_ROUTED.value, "email")}
        service.set_preferences(world["person"], keep)
        rows = service.notify(Event.PROBLEM_ROUTED, [world["person"]], PARAMS)
        assert sorted(r.channel for r in rows) == ["dingtalk", "moodle"]
        other = service.notify(Event.PROBLEM_RESOLVED, [world["person"]], PARAMS)
        assert len(other) == 4  # only that event was turned off
        prefs = {p.event: p.channels for p in service.preferences(world["person"])}
        assert prefs[Event.PROBLEM_ROUTED.value]["wecom"] is False
        assert prefs[Event.PROBLEM_ROUTED.value]["moodle"] is True
    deliver_all(session_factory, settings)
    assert len(fake.sends(WECOM_SEND)) == 1  # the resolved one only


def test_not_sent_before_its_moment_then_sent(world, fake, session_factory, institution_id, settings):  # type: ignore[no-untyped-def]
    """O-12: a row scheduled for the class end waits for it; the reconciler does not queue it early."""
    end = clock.utcnow() + dt.timedelta(hours=2)
    with session_factory.begin() as s:
        NotificationService(s, institution_id).notify(
            Event.RECORD_AVAILABLE, [world["person"]], PARAMS, not_before=end
        )
    assert set(deliver_all(session_factory, settings)) == {"pending"}
    assert fake.requests == []
    redis = Redis.from_url(settings.redis_url)
    with session_factory() as s:
        assert outbox.requeue_due(s, redis) == 0
    assert set(deliver_all(session_factory, settings, now=end + dt.timedelta(seconds=1))) == {"sent"}
    assert len(fake.sends(MOODLE_SEND)) == 1


def test_failure_recorded_retried_then_failed(world, fake, session_factory, institution_id, settings):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        NotificationService(s, institution_id).notify(Event.GROUP_INVITED, [world["person"]], PARAMS)
        s.execute(
            Notification.__table__.delete().where(Notification.channel.in_(["email", "moodle", "dingtalk"]))
        )
    fake.fail_next = 1
    now = clock.utcnow()
    assert deliver_all(session_factory, settings, now=now) == ["pending"]
    with session_factory() as s:
        row = s.scalars(select(Notification)).one()
        assert row.attempts == 1 and "system busy" in row.error or "500" in row.error
        assert row.next_attempt_at == now + dt.timedelta(minutes=1)
    assert deliver_all(session_factory, settings, now=now + dt.timedelta(seconds=30)) == ["pending"]
    assert deliver_all(session_factory, settings, now=now + dt.timedelta(minutes=2)) == ["sent"]
    # every attempt failing: failed after MAX_ATTEMPTS, and the quality center sees it
    with session_factory.begin() as s:
        NotificationService(s, institution_id).notify(Event.GROUP_INVITED, [world["person"]], PARAMS)
        s.execute(
            Notification.__table__.delete().where(
                Notification.channel != "wecom", Notification.status == "pending"
            )
        )
    fake.fail_next = 99
    later = now + dt.timedelta(minutes=10)
    for _ in range(MAX_ATTEMPTS):
        later += dt.timedelta(hours=1)
        deliver_all(session_factory, settings, now=later)
    with session_factory() as s:
        failures = NotificationService(s, institution_id).failures()
        assert [(n.status, n.attempts, name) for n, name in failures] == [("failed", MAX_ATTEMPTS, "王老师")]


def test_moodle_error_json_is_a_failed_attempt_with_its_message(
    world, fake, session_factory, institution_id, settings
):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        row = s.scalars(select(ChannelSetting).where(ChannelSetting.channel == "moodle")).one()
        row.secret = "wrong-token"
        NotificationService(s, institution_id).notify(Event.REMINDER, [world["person"]], PARAMS)
    deliver_all(session_factory, settings)
    with session_factory() as s:
        moodle = s.scalars(select(Notification).where(Notification.channel == "moodle")).one()
        assert moodle.status == "pending" and moodle.attempts == 1
        assert "invalidtoken" in moodle.error and "Invalid token" in moodle.error
    with session_factory.begin() as s:  # an unknown Moodle user: Moodle's msgid -1 with its errormessage
        s.scalars(select(PlatformUser)).one().lti_user_id = "999"
        s.scalars(
            select(ChannelSetting).where(ChannelSetting.channel == "moodle")
        ).one().secret = MOODLE_TOKEN
    deliver_all(session_factory, settings, now=clock.utcnow() + dt.timedelta(minutes=2))
    with session_factory() as s:
        moodle = s.scalars(select(Notification).where(Notification.channel == "moodle")).one()
        assert moodle.attempts == 2 and "does not exist" in moodle.error


def test_token_cached_and_refreshed_once_when_expired(world, fake, session_factory, institution_id, settings):  # type: ignore[no-untyped-def]
    for _ in range(2):
        with session_factory.begin() as s:
            NotificationService(s, institution_id).notify(Event.PROBLEM_ROUTED, [world["person"]], PARAMS)
        deliver_all(session_factory, settings)
    assert len(fake.sends("/cgi-bin/gettoken")) == 1  # cached until it expires
    assert len(fake.sends("/gettoken")) == 1
    fake.expire_token_once = True
    with session_factory.begin() as s:
        NotificationService(s, institution_id).notify(Event.PROBLEM_ROUTED, [world["person"]], PARAMS)
        s.execute(Notification.__table__.delete().where(Notification.channel != "wecom"))
    assert deliver_all(session_factory, settings) == ["sent"]
    assert len(fake.sends("/cgi-bin/gettoken")) == 2  # 42001 → one new token, then sent


def test_textcard_when_there_is_a_link(world, fake, session_factory, institution_id, settings):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        NotificationService(s, institution_id).notify(
            Event.PROBLEM_ROUTED, [world["person"]], PARAMS, link="https://tingke.example.edu/"
        )
    deliver_all(session_factory, settings)
    (wecom,) = fake.sends(WECOM_SEND)
    assert wecom.json["msgtype"] == "textcard"
    assert wecom.json["textcard"]["url"] == "https://tingke.example.edu/"
    assert wecom.json["textcard"]["title"] and wecom.json["textcard"]["description"]


def test_another_institutions_settings_never_used(world, fake, session_factory, institution_id, settings):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        other = f.institution(s, "OTHER")
        other_fake_url = "http://127.0.0.1:9"  # never reached
        ChannelSettingsService(s, other.id).save(
            "wecom",
            enabled=True,
            options={"corpid": "other", "agentid": "7", "base_url": other_fake_url},
            secret="other-secret",
        )
        ChannelSettingsService(s, institution_id).save("wecom", enabled=False, options={})
        rows = NotificationService(s, institution_id).notify(Event.PROBLEM_ROUTED, [world["person"]], PARAMS)
        assert "wecom" not in {r.channel for r in rows}  # this college's WeCom is off
        # a wecom row of this college (say, queued before the switch) is not sent through the other's
        s.add(
            Notification(
                institution_id=institution_id,
                event="problem_routed",
                person_id=world["person"],
                channel="wecom",
                subject="x",
                body="y",
            )
        )
        other_person = f.person(s, other.id, "外校", email="x@other.edu")
        assert NotificationService(s, other.id).notify(Event.PROBLEM_ROUTED, [world["person"]], PARAMS) == []
        assert other_person.id
    deliver_all(session_factory, settings)
    assert fake.sends(WECOM_SEND) == []
    with session_factory() as s:
        wecom = s.scalars(select(Notification).where(Notification.channel == "wecom")).one()
        assert wecom.status == DeliveryStatus.UNDELIVERABLE and wecom.error == "channel switched off"


def test_queued_after_commit_and_reconciled(world, session_factory, institution_id, settings):  # type: ignore[no-untyped-def]
    redis = Redis.from_url(settings.redis_url)
    outbox.configure(lambda: redis)
    try:
        with session_factory() as s:
            rows = NotificationService(s, institution_id).notify(Event.REMINDER, [world["person"]], PARAMS)
            ids = [r.id for r in rows]
            s.rollback()  # a rolled-back change leaves nothing behind and queues nothing
        with session_factory() as s:
            assert s.scalars(select(Notification)).all() == []
            NotificationService(s, institution_id).notify(Event.REMINDER, [world["person"]], PARAMS)
            s.commit()
        with session_factory() as s:
            rows = s.scalars(select(Notification)).all()
            assert len(rows) == 4 and all(r.job_id for r in rows)
            assert all(Job.exists(r.job_id, connection=redis) for r in rows)
            assert outbox.requeue_due(s, redis) == 0  # every row has its live job
            for r in rows:
                Job.fetch(r.job_id, connection=redis).delete()  # lost with Redis
        with session_factory() as s:
            assert outbox.requeue_due(s, redis) == 4
            assert outbox.requeue_due(s, redis) == 0
        assert ids
    finally:
        outbox.configure(None)


def test_every_event_has_words_in_both_languages() -> None:
    from lti_tool.notifications.events import render

    for event in TEMPLATES:
        zh_subject, zh_body = render(event, PARAMS, "zh_CN")
        en_subject, en_body = render(event, PARAMS, "en")
        if event != Event.REMINDER:  # the reminder's words are the reminder's own (Chinese, issue 11 §7)
            assert (zh_subject, zh_body) != (en_subject, en_body), event


def test_a_problems_category_in_each_readers_language(world, session_factory, institution_id):  # type: ignore[no-untyped-def]
    """The policy names each problem category in Chinese and English: the unit's handlers read it in theirs
    (it used to be Chinese in every message)."""
    from lti_tool.policy.store import PolicyStore
    from lti_tool.problems.models import Problem
    from lti_tool.problems.services import ProblemService

    with session_factory.begin() as s:
        unit = f.unit(s, institution_id, "后勤管理处", kind="department", code="HQ")
        english = f.person(s, institution_id, "Ann", email="ann@jti.edu", unit=unit)
        chinese = f.person(s, institution_id, "赵干事", email="zhao@jti.edu", unit=unit)
        s.add(
            LaunchSession(
                id="ls-en-category",
                institution_id=institution_id,
                platform_id=world["platform"],
                person_id=english.id,
                lti_user_id="9",
                locale="en",
                expires_at=clock.utcnow() + dt.timedelta(hours=1),
            )
        )
        problem = Problem(
            institution_id=institution_id,
            raised_by_id=world["person"],
            unit_id=unit.id,
            category="facilities",
            room="A101",
            description="投影仪不亮",
        )
        s.add(problem)
        s.flush()
        ProblemService(s, institution_id, PolicyStore(s, institution_id).current()).announce_routed([problem])
        rows = s.scalars(select(Notification).where(Notification.channel == "email")).all()
        by_person = {r.person_id: r for r in rows}
    assert "(Facilities, A101)" in by_person[english.id].body
    assert "教学设施" not in by_person[english.id].body
    assert "教学设施" in by_person[chinese.id].body and "Facilities" not in by_person[chinese.id].body
