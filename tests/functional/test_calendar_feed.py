"""The personal calendar feed (issue 15 item 5) through real launches and a calendar client without a session.

A hand-built college: 王 (vice president for teaching: a school leader with the year-end summary duty) is
rostered for reception weeks 6 (this week) and 8, has drafts of a class tomorrow 08:00–09:40 (planned) and of
one yesterday (over), a submitted record of tomorrow's other class, a letter waiting for his instruction and
one already closed; 李 has week 7 and his own draft; the academic affairs office (J001) owes the answer to a
proposal. Another institution holds rows that name 王's person id. The feed is parsed back with icalendar
and every event, time and zone is checked against that scenario.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
import secrets
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select, update

from lti_tool import clock
from lti_tool.academic_year import academic_year_of
from lti_tool.calendar_feed.models import CalendarFeed
from lti_tool.calendar_feed.services import TOKEN_LENGTH
from lti_tool.contacts.summaries import summary_deadline
from lti_tool.lti.models import LaunchSession
from lti_tool.observations.models import ObservationStatus
from lti_tool.outreach.models import FollowUp, Letter, Proposal, ReceptionDuty
from lti_tool.policy.store import PolicyStore
from lti_tool.problems.models import Problem
from lti_tool.tenancy import Institution
from tests.support import factories as f
from tests.support.launch import LaunchResult
from tests.support.platform import ROLE_LEARNER, LmsUser

WANG = LmsUser("wang-1", "王副校长", "", "L002", [ROLE_LEARNER])
LI = LmsUser("li-1", "李副校长", "", "L003", [ROLE_LEARNER])
HANDLER = LmsUser("jwc-1", "教务干事", "", "J001", [ROLE_LEARNER])
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _letter(s, inst: int, *, status: str, deadline: dt.date, title: str, **kw):
    fu = FollowUp(institution_id=inst, kind="letter", status=status, deadline=deadline, **kw)
    s.add(fu)
    s.flush()
    s.add(
        Letter(
            institution_id=inst,
            follow_up_id=fu.id,
            subject=title,
            body="……",
            received_on=deadline - dt.timedelta(days=20),
        )
    )
    s.flush()
    return fu


@pytest.fixture
def college(session_factory, institution_id):
    from lti_tool.outreach.models import CongressSession

    with session_factory.begin() as s:
        today = clock.today(s.get(Institution, institution_id))
        monday = today - dt.timedelta(days=today.weekday())
        semester = f.semester(s, institution_id, "2026-2027-1", week1_monday=monday - dt.timedelta(weeks=5))
        jwc = f.unit(s, institution_id, "教务处", kind="department", code="JWC")
        wang = f.person(s, institution_id, "王副校长", employee_no="L002", positions=["vp_teaching"])
        li = f.person(s, institution_id, "李副校长", employee_no="L003", positions=["school_leader"])
        f.person(s, institution_id, "教务干事", employee_no="J001", unit=jwc)
        teacher = f.person(s, institution_id, "周老师", employee_no="T001")
        for week, who, place in ((6, wang, "行政楼201"), (7, li, ""), (8, wang, "")):
            s.add(
                ReceptionDuty(
                    institution_id=institution_id,
                    semester_id=semester.id,
                    week=week,
                    person_id=who.id,
                    place=place,
                )
            )
        crs = f.course(s, institution_id, "机械制图")
        sec = f.section(s, semester, crs, [teacher], classes="机电2401", room="A101", periods=(1, 2))
        other_sec = f.section(s, semester, f.course(s, institution_id, "高等数学"), [teacher], room="B202")
        tomorrow = f.class_session(s, sec, today + dt.timedelta(days=1))
        yesterday = f.class_session(s, sec, today - dt.timedelta(days=1))
        other = f.class_session(s, other_sec, today + dt.timedelta(days=1))
        later = f.class_session(
            s, other_sec, today + dt.timedelta(days=8), times=(dt.time(14, 0), dt.time(15, 40))
        )
        planned = f.observation(s, tomorrow, wang, status=ObservationStatus.DRAFT)
        f.observation(s, yesterday, wang, status=ObservationStatus.DRAFT)
        f.observation(s, other, wang, status=ObservationStatus.SUBMITTED)
        f.observation(s, later, li, status=ObservationStatus.DRAFT)
        letter = _letter(
            s,
            institution_id,
            status="with_leader",
            deadline=today + dt.timedelta(days=10),
            title="图书馆开放时间",
            leader_id=wang.id,
        )
        _letter(
            s,
            institution_id,
            status="closed",
            deadline=today + dt.timedelta(days=3),
            title="已办结的信",
            leader_id=wang.id,
        )
        congress = CongressSession(
            institution_id=institution_id, body="staff", number=1, title="第一届教代会", held_on=today
        )
        s.add(congress)
        s.flush()
        fu = FollowUp(
            institution_id=institution_id,
            kind="proposal",
            status="with_unit",
            unit_id=jwc.id,
            deadline=today + dt.timedelta(days=5),
        )
        s.add(fu)
        s.flush()
        s.add(
            Proposal(
                institution_id=institution_id,
                follow_up_id=fu.id,
                session_id=congress.id,
                number=1,
                proposer_name="周老师",
                title="增加实训室开放时间",
                content="……",
            )
        )
        # a problem routed to the academic affairs office (a patrol's: released at once), open
        s.add(
            Problem(
                institution_id=institution_id,
                raised_by_id=wang.id,
                unit_id=jwc.id,
                category="facilities",
                room="A101",
                description="投影仪不亮",
            )
        )
        # Another institution: rows that name 王's person id must never reach his calendar.
        other_inst = Institution(code="OTHER", name="另一所学院")
        s.add(other_inst)
        s.flush()
        PolicyStore(s, other_inst.id).ensure_version()
        other_sem = f.semester(s, other_inst.id, "2026-2027-1", week1_monday=monday - dt.timedelta(weeks=5))
        stranger = f.person(s, other_inst.id, "外校领导", employee_no="L002", positions=["vp_teaching"])
        s.add(
            ReceptionDuty(institution_id=other_inst.id, semester_id=other_sem.id, week=9, person_id=wang.id)
        )
        _letter(
            s,
            other_inst.id,
            status="with_leader",
            deadline=today + dt.timedelta(days=4),
            title="外校的信",
            leader_id=wang.id,
        )
        return {
            "institution": institution_id,
            "today": today,
            "monday": monday,
            "wang": wang.id,
            "li": li.id,
            "planned": planned.id,
            "letter": letter.id,
            "proposal": fu.id,
            "other": other_inst.id,
            "stranger": stranger.id,
        }


def _page(result: LaunchResult, client, path: str, status: int = 200) -> str:
    response = result.get(client, path)
    text = response.get_data(as_text=True)
    assert response.status_code == status, text[:3000]
    return text


def _post(result: LaunchResult, client, path: str, data: dict, status: int = 303):
    csrf = re.search(r'data-csrf="([^"]+)"', _page(result, client, "/home"))
    assert csrf
    response = client.post(f"{path}?s={result.token}", data={"csrf": csrf.group(1), **data})
    assert response.status_code == status, response.get_data(as_text=True)[:3000]
    return response


def _address(html: str) -> str:
    found = re.search(r'id="feed-url" value="([^"]+)"', html)
    assert found, html[:2000]
    url = html_lib.unescape(found.group(1))
    assert "?s=" not in url and "&s=" not in url  # the page's link token never rides along
    return url


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def _fetch(app, path: str, status: int = 200, **headers: str):
    """A calendar client: a fresh client with no cookie and no token."""
    response = app.test_client().get(path, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response


def test_the_leaders_calendar_holds_his_dates_in_the_colleges_zone(
    college, launcher, client, app, session_factory
) -> None:
    wang = launcher.launch(WANG)
    html = _page(wang, client, "/my-calendar")
    assert "我的日历" in html and "导入日历" in html  # zh_CN first: the page and Moodle's steps
    url = _address(html)
    assert url.startswith("http") and url.endswith(".ics")
    response = _fetch(app, _path(url))
    assert response.mimetype == "text/calendar"
    assert "private" in response.headers["Cache-Control"]
    cal = Calendar.from_ical(response.data)

    # the college's zone, as a VTIMEZONE and on every timed event
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    assert str(cal["X-WR-TIMEZONE"]) == "Asia/Shanghai"
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    today, monday = college["today"], college["monday"]
    by_kind: dict[str, list] = {}
    for uid, event in events.items():
        by_kind.setdefault(uid.split("-")[0], []).append(event)

    # reception weeks 6 and 8 (his), not 7 (李's), not the other institution's week 9
    reception = sorted(by_kind["reception"], key=lambda e: e.decoded("DTSTART"))
    assert [(e.decoded("DTSTART"), e.decoded("DTEND")) for e in reception] == [
        (monday, monday + dt.timedelta(days=7)),
        (monday + dt.timedelta(weeks=2), monday + dt.timedelta(weeks=2, days=7)),
    ]
    assert str(reception[0]["SUMMARY"]) == "校领导接待日值班（第 6 周）"
    assert str(reception[0]["LOCATION"]) == "行政楼201"

    # the planned class: tomorrow 08:00–09:40 Beijing time, TZID Asia/Shanghai; not yesterday's, not the
    # submitted one, not 李's
    (planned,) = by_kind["observation"]
    start, end = planned.decoded("DTSTART"), planned.decoded("DTEND")
    assert start == dt.datetime.combine(today + dt.timedelta(days=1), dt.time(8, 0), tzinfo=SHANGHAI)
    assert end == dt.datetime.combine(today + dt.timedelta(days=1), dt.time(9, 40), tzinfo=SHANGHAI)
    assert str(start.tzinfo) == "Asia/Shanghai"
    assert planned["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert "机械制图" in str(planned["SUMMARY"]) and str(planned["LOCATION"]) == "A101"
    assert "周老师" in str(planned["DESCRIPTION"])

    # deadlines: the year's summary (C-7b) and the letter waiting for his instruction; not the closed
    # letter, not the unit's proposal, not the other institution's letter
    with session_factory() as s:
        policy = PolicyStore(s, college["institution"]).current()
    year = academic_year_of(today, policy.contact.academic_year_start)
    (summary,) = by_kind["summary"]
    assert summary.decoded("DTSTART") == summary_deadline(policy.contact, year)
    assert year in str(summary["SUMMARY"])
    (letter,) = by_kind["follow"]
    assert letter.decoded("DTSTART") == today + dt.timedelta(days=10)
    assert "图书馆开放时间" in str(letter["SUMMARY"])
    assert set(by_kind) == {"reception", "observation", "summary", "follow"}
    assert "外校" not in response.get_data(as_text=True)

    # the same feed twice: the same UIDs and body, and a client that has it gets 304
    again = _fetch(app, _path(url))
    assert again.data == response.data
    assert {str(e["UID"]) for e in Calendar.from_ical(again.data).walk("VEVENT")} == set(events)
    assert _fetch(app, _path(url), status=304, **{"If-None-Match": again.headers["ETag"]}).data == b""

    # the page now says a calendar fetched it
    assert "日历最近一次获取于" in _page(wang, client, "/my-calendar")


def test_the_units_handler_sees_the_proposal_his_unit_owes(college, launcher, client, app) -> None:
    handler = launcher.launch(HANDLER)
    body = _fetch(app, _path(_address(_page(handler, client, "/my-calendar")))).data
    events = {str(e["UID"]).split("-")[0]: e for e in Calendar.from_ical(body).walk("VEVENT")}
    assert set(events) == {"follow", "problem"}
    assert str(events["follow"]["SUMMARY"]) == "待办提案：增加实训室开放时间"
    assert events["follow"].decoded("DTSTART") == college["today"] + dt.timedelta(days=5)
    # the open problem routed to the unit, on the day it becomes overdue (the policy's 7 days)
    assert str(events["problem"]["SUMMARY"]) == "待处理问题：教学设施，A101"
    assert events["problem"].decoded("DTSTART") == college["today"] + dt.timedelta(days=7)


def test_the_feed_speaks_the_persons_language(college, launcher, client, app, session_factory) -> None:
    wang = launcher.launch(WANG)
    path = _path(_address(_page(wang, client, "/my-calendar")))
    zh = Calendar.from_ical(_fetch(app, path).data)
    assert any("接待" in str(e["SUMMARY"]) for e in zh.walk("VEVENT"))
    with session_factory.begin() as s:
        s.execute(update(LaunchSession).where(LaunchSession.person_id == college["wang"]).values(locale="en"))
    en = Calendar.from_ical(_fetch(app, path).data)
    summaries = [str(e["SUMMARY"]) for e in en.walk("VEVENT")]
    assert "Reception day duty (week 6)" in summaries
    assert any(s.startswith("Observe: ") for s in summaries)
    assert any(s.startswith("Letter to answer: ") for s in summaries)


def test_reset_needs_a_confirmation_and_the_old_address_then_404s(
    college, launcher, client, app, session_factory
) -> None:
    wang = launcher.launch(WANG)
    old = _path(_address(_page(wang, client, "/my-calendar")))
    assert _address(_page(wang, client, "/my-calendar")).endswith(old)  # shown again, unchanged
    _fetch(app, old)
    refused = _post(wang, client, "/my-calendar/reset", {}, status=422)
    assert "旧地址" in refused.get_data(as_text=True)
    _fetch(app, old)  # still works: nothing was reset
    _post(wang, client, "/my-calendar/reset", {"understood": "yes"})
    html = _page(wang, client, "/my-calendar?reset=1")
    new = _path(_address(html))
    assert new != old
    _fetch(app, old, status=404)
    assert Calendar.from_ical(_fetch(app, new).data).walk("VEVENT")


def test_the_secret_is_never_stored_and_unknown_addresses_404(
    college, launcher, client, app, session_factory
) -> None:
    wang = launcher.launch(WANG)
    path = _path(_address(_page(wang, client, "/my-calendar")))
    token = path.rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) == TOKEN_LENGTH
    with session_factory() as s:
        row = s.scalars(select(CalendarFeed)).one()
        assert token not in (row.salt, row.token_hash)
        assert row.institution_id != college["other"]
    # a well-formed guess, a near miss, a malformed one, an empty one: 404 each, no calendar
    guess = secrets.token_urlsafe(32)[:TOKEN_LENGTH]
    near = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (guess, near, token + "x", "../../etc", "a" * 500, token.upper()):
        response = app.test_client().get(f"/calendar/{bad}.ics")
        assert response.status_code == 404, bad
        assert b"BEGIN:VCALENDAR" not in response.data
    # the feed needs no session, and a session does not open another person's feed
    assert _fetch(app, path).status_code == 200


def test_another_institutions_person_gets_only_their_own(
    college, launcher, client, app, session_factory
) -> None:
    from lti_tool.calendar_feed.services import CalendarAddressService

    with session_factory.begin() as s:
        address = CalendarAddressService(
            s, college["other"], app.extensions["tingke"].secret, "http://x"
        ).address(college["stranger"])
    body = _fetch(app, _path(address.url)).get_data(as_text=True)
    # the stranger holds the summary duty in their own college and nothing else: 王's rows are not theirs
    events = Calendar.from_ical(body.encode()).walk("VEVENT")
    assert [str(e["UID"]).split("-")[0] for e in events] == ["summary"]
    assert "图书馆" not in body and "机械制图" not in body and "外校的信" not in body
