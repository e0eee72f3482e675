"""The notification pages (issue 15 §1, §2): my notifications, my choices, the college's channels (secrets
never shown back), the roster's account ids; each reachable from the navigation bar."""

from __future__ import annotations

import re

from sqlalchemy import select

from lti_tool.directory.models import Person
from lti_tool.notifications.events import Event
from lti_tool.notifications.models import ChannelSetting, Notification, Preference
from lti_tool.notifications.services import NotificationService
from tests.functional.observations import test_workflow as flow
from tests.functional.observations.test_workflow import CO_OBSERVER, OBSERVER, QC, TEACHER

world, as_user = flow.world, flow.as_user


def _nav_links(page: str) -> list[str]:
    bar = re.search(r'<nav class="mainnav"[^>]*>(.*?)</nav>', page, re.S)
    assert bar
    return [href.split("?")[0] for href in re.findall(r'href="([^"]+)"', bar.group(1))]


def test_preferences_reachable_and_saved(world, as_user, session_factory) -> None:  # type: ignore[no-untyped-def]
    teacher = as_user(TEACHER)
    assert "/notifications/" in _nav_links(teacher.get("/home").get_data(as_text=True))
    mine = teacher.get("/notifications/").get_data(as_text=True)
    assert "我的消息" in mine and "/notifications/preferences" in mine
    page = teacher.get("/notifications/preferences").get_data(as_text=True)
    assert "有我所授课程的听课记录" in page  # the event in words, not its code
    assert 'value="record_available:email" checked' in page
    everything = re.findall(r'name="on" value="([^"]+)"', page)
    keep = [v for v in everything if v != "record_available:email"]
    response = teacher.post("/notifications/preferences", {"on": keep})
    assert response.status_code == 303
    page = teacher.get("/notifications/preferences?saved=1").get_data(as_text=True)
    assert "您的选择已保存" in page and 'value="record_available:email" checked' not in page
    with session_factory() as s:
        teacher_id = s.scalars(select(Person.id).where(Person.employee_no == "T001")).one()
        off = s.scalars(select(Preference).where(Preference.enabled.is_(False))).all()
        assert [(p.person_id, p.event, p.channel) for p in off] == [(teacher_id, "record_available", "email")]
        assert (
            NotificationService(s, world.institution_id).notify(Event.RECORD_AVAILABLE, [teacher_id], {})
            == []
        )


def test_my_notifications_lists_only_mine(world, as_user, session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        ids = dict(s.execute(select(Person.employee_no, Person.id)).all())
        service = NotificationService(s, world.institution_id)
        service.notify(
            Event.GROUP_INVITED,
            [ids["L001"]],
            {"author": "赵院长", "course": "高等数学", "date": "2026-09-10"},
        )
        service.notify(
            Event.RECORD_REPLIED,
            [ids["L002"]],
            {"teacher": "李老师", "course": "x", "date": "y", "reply": "秘密"},
        )
    page = as_user(OBSERVER).get("/notifications/").get_data(as_text=True)
    assert "赵院长 邀请您参加集体听课" in page and "待发送" in page
    assert "秘密" not in page


def test_channels_page_saves_and_never_shows_the_secret(world, as_user, session_factory) -> None:  # type: ignore[no-untyped-def]
    qc = as_user(QC)
    assert "/notifications/channels" in _nav_links(qc.get("/home").get_data(as_text=True))
    assert as_user(TEACHER).get("/notifications/channels").status_code == 403
    secret = "corp-secret-abcdefgh-9876"
    response = qc.post(
        "/notifications/channels",
        {"channel": "wecom", "enabled": "1", "corpid": "ww123", "agentid": "1000002", "secret": secret},
    )
    assert response.status_code == 303
    page = qc.get("/notifications/channels?saved=wecom").get_data(as_text=True)
    assert secret not in page and "••••9876" in page and "企业微信：设置已保存" in page
    # saving again without a secret keeps the stored one
    assert (
        qc.post(
            "/notifications/channels",
            {"channel": "wecom", "enabled": "1", "corpid": "ww123", "agentid": "1000002"},
        ).status_code
        == 303
    )
    with session_factory() as s:
        row = s.scalars(select(ChannelSetting).where(ChannelSetting.channel == "wecom")).one()
        assert row.secret == secret and row.enabled and row.options["corpid"] == "ww123"
    # bad input: a clear 422, nothing stored
    bad = qc.post("/notifications/channels", {"channel": "dingtalk", "enabled": "1", "agent_id": "abc"})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "AgentId：请填写数字" in text and "AppKey：启用该渠道必须填写" in text
    with session_factory() as s:
        assert s.scalars(select(ChannelSetting).where(ChannelSetting.channel == "dingtalk")).first() is None


def test_failures_shown_to_the_quality_center(world, as_user, session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        teacher_id = s.scalars(select(Person.id).where(Person.employee_no == "T001")).one()
        s.add(
            Notification(
                institution_id=world.institution_id, event="problem_routed", person_id=teacher_id,
                channel="wecom", subject="s", body="b", status="failed", attempts=4,
                error="60020: not allow to access from your ip",
            )
        )  # fmt: skip
    page = as_user(QC).get("/notifications/channels").get_data(as_text=True)
    assert "not allow to access from your ip" in page and "有问题转交本单位处理" in page and "李老师" in page


def test_account_ids_edited_on_the_person_page(world, as_user, session_factory) -> None:  # type: ignore[no-untyped-def]
    qc = as_user(QC)
    with session_factory() as s:
        teacher_id = s.scalars(select(Person.id).where(Person.employee_no == "T001")).one()
    response = qc.post(
        f"/directory/people/{teacher_id}/accounts", {"wecom_userid": "LiLaoshi", "dingtalk_userid": "0425"}
    )
    assert response.status_code == 303
    page = qc.get(f"/directory/people/{teacher_id}?accounts=1").get_data(as_text=True)
    assert 'value="LiLaoshi"' in page and "账号已保存" in page
    bad = qc.post(
        f"/directory/people/{teacher_id}/accounts", {"wecom_userid": "有 空格", "dingtalk_userid": ""}
    )
    assert bad.status_code == 422 and "企业微信账号：只能包含" in bad.get_data(as_text=True)
    with session_factory() as s:
        assert s.get(Person, teacher_id).wecom_userid == "LiLaoshi"


def _offered(page: str) -> set[str]:
    return {v.split(":")[0] for v in re.findall(r'name="on" value="([^"]+)"', page)}


def test_each_person_is_offered_only_the_events_that_can_concern_them(
    world, as_user, session_factory
) -> None:  # type: ignore[no-untyped-def]
    """The relation is events.AUDIENCES; what a person belongs to comes from what they hold (issue 15)."""
    teacher = as_user(TEACHER).get("/notifications/preferences").get_data(as_text=True)
    assert _offered(teacher) == {"record_available"}  # teaches classes, holds nothing else
    assert "有人回复" not in teacher and "校领导的来信" not in teacher

    leader = as_user(OBSERVER).get("/notifications/preferences").get_data(as_text=True)
    assert _offered(leader) == {  # a school leader with no unit: observing duties and letters to leaders
        "record_replied",
        "problem_resolved",
        "group_invited",
        "reminder",
        "letter_routed",
        "letter_overdue",
        "bulletin_issued",
    }
    dean = as_user(CO_OBSERVER).get("/notifications/preferences").get_data(as_text=True)
    # a college's dean: observing duties, and the college's problems, letters and proposals as its head
    assert {"problem_routed", "problem_overdue", "proposal_routed", "record_replied"} <= _offered(dean)
    assert "record_available" not in _offered(dean) and "branch_confirmation" not in _offered(dean)


def test_a_choice_outside_the_persons_events_is_refused_and_the_others_are_left_alone(  # type: ignore[no-untyped-def]
    world, as_user, session_factory
) -> None:
    teacher = as_user(TEACHER)
    assert teacher.post("/notifications/preferences", {"on": ["reminder:email"]}).status_code == 400
    assert teacher.post("/notifications/preferences", {"on": []}).status_code == 303
    with session_factory() as s:
        events = set(s.scalars(select(Preference.event)).all())
    assert events == {"record_available"}  # saving the page touched only the events it showed


def test_the_relation_covers_every_event() -> None:
    from lti_tool.notifications.events import AUDIENCES, TEMPLATES

    assert set(AUDIENCES) == set(TEMPLATES) == set(Event)
    assert all(AUDIENCES[e] for e in Event)
