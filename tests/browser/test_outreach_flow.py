"""Issue 12 in Debian's Chromium, inside the LMS's iframe, third-party cookies blocked.

1. A student (a Learner, not on the roster) on a 390×844 phone writes to the school leaders anonymously from
   the home page (a refused first try leads back to the form with the letter still in it); the letter goes
   through the school office, the leader in charge and the unit; the student reads the answer on "my
   letters". Nothing on the way is wider than the phone.
2. A school leader scheduled for this week's reception records it on a phone from the home page: starts the
   week, adds a visitor with a follow-up for a unit, submits after a confirmation; a problem reaches the unit.

Screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lti_tool import clock
from lti_tool.directory.models import Person, Unit
from lti_tool.outreach.division import DivisionService
from lti_tool.outreach.followup import Acting
from lti_tool.outreach.letters import LetterService
from lti_tool.outreach.models import Letter, ReceptionRecord
from lti_tool.outreach.reception import ReceptionService
from lti_tool.policy.store import PolicyStore
from lti_tool.problems.models import Problem
from lti_tool.tenancy import Institution
from tests.browser.conftest import LmsBrowser
from tests.browser.test_contacts_flow import PHONE, assert_fits, phone_sized
from tests.browser.test_contacts_flow import new_lms as new_lms_fixture  # noqa: F401 (the fixture)
from tests.browser.test_observation_flow import NEXT_PAINT, go, snap
from tests.support import factories as f
from tests.support.platform import LmsUser
from tests.support.worlds import Roster

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def open_lms(new_lms_fixture: Callable[..., LmsBrowser]) -> Callable[..., LmsBrowser]:  # noqa: F811
    """A browser context of a given size, third-party cookies blocked (tests/browser/test_contacts_flow)."""
    return new_lms_fixture


@pytest.fixture
def college(roster: Roster, session_factory: Any, institution_id: int) -> dict[str, Any]:
    roster.unit("XB", "学校办公室", kind="department", function="school_office")
    roster.unit("JWC", "教务处", kind="department")
    roster.unit("HQ", "后勤处", kind="department")
    leader = roster.person("100002", "王副校长", positions=("vp_teaching",))
    roster.person("300001", "孙干事", unit="XB")
    roster.person("400001", "教务干事", unit="JWC")
    roster.person("500001", "后勤干事", unit="HQ")
    with session_factory.begin() as s:
        today = clock.today(s.get(Institution, institution_id))
        monday = today - dt.timedelta(days=today.weekday())
        semester = f.semester(s, institution_id, "2026-2027-1", week1_monday=monday - dt.timedelta(weeks=5))
        policy = PolicyStore(s, institution_id).current()
        division = DivisionService(s, institution_id, policy)
        wang = division.leaders()[0]
        division.set(division.current_year(), "teaching", wang.id)
        ReceptionService(s, institution_id, policy).assign(semester, 6, wang.id, "行政楼201")
        return {"leader": leader, "semester": semester.id, "today": today}


def test_a_student_writes_on_a_phone_and_reads_the_answer(
    open_lms: Callable[..., LmsBrowser],
    college: dict[str, Any],
    session_factory: Any,
    institution_id: int,
    artifact_path: Callable[[str], Path],
) -> None:
    student = Roster.learner("s-7", "学生丙")
    phone = open_lms(PHONE)
    phone.open_course(student)
    phone_sized(phone)
    fr = phone.frame
    expect(fr.locator("#panel-letters")).to_be_visible()
    assert_fits(phone, "the student's home page")
    fr.evaluate(NEXT_PAINT)
    phone.page.screenshot(path=str(artifact_path("student-home-390.png")))
    go(phone, lambda: fr.locator("#panel-letters a.button").click(), r"/outreach/letters/new")
    assert_fits(phone, "the letter form")
    # a subject of spaces passes the browser's check and is refused by the server: the error page leads back
    # to the form, which still holds the letter (the browser's own back button is out of sight in the iframe)
    fr.fill("#subject", "   ")
    fr.fill("#body", "希望考试周图书馆延长开放到晚上十一点。")
    go(
        phone,
        lambda: fr.locator("form[action*='/outreach/letters/new'] button").click(),
        r"/outreach/letters/new",
    )
    expect(fr.locator(".card.error")).to_contain_text("主题：请填写。")
    go(phone, lambda: fr.locator("a[data-back]").click(), r"/outreach/letters/new")
    expect(fr.locator("#body")).to_have_value("希望考试周图书馆延长开放到晚上十一点。")
    fr.fill("#subject", "图书馆考试周开放时间")
    fr.check("input[name=anonymous]")
    snap(phone, artifact_path("student-write-390.png"))
    go(
        phone,
        lambda: fr.locator("form[action*='/outreach/letters/new'] button").click(),
        r"/outreach/letters\?written=\d+",
    )
    assert "图书馆考试周开放时间" in phone.text()
    assert_fits(phone, "my letters")
    snap(phone, artifact_path("student-sent-390.png"))

    # the office routes it, the leader instructs, the unit answers, the office releases (their pages are
    # tested in tests/functional/test_outreach_pages.py)
    with session_factory.begin() as s:
        policy = PolicyStore(s, institution_id).current()
        letters = LetterService(s, institution_id, policy)
        letter = s.scalars(select(Letter)).one()
        assert letter.anonymous and letter.writer_person_id is None and letter.writer_platform_user_id
        office, leader, clerk = (
            s.scalars(select(Person.id).where(Person.employee_no == no)).one()
            for no in ("300001", "100002", "400001")
        )
        deadline = (college["today"] + dt.timedelta(days=10)).isoformat()
        letters.route(letter, Acting(office, office=True), area="teaching", leader="auto", deadline=deadline)
        jwc = s.scalars(select(Unit.id).where(Unit.code == "JWC")).one()
        letters.loop.instruct(letter.follow_up, Acting(leader), "请教务处会同图书馆研究答复。", jwc)
        letters.loop.answer(letter.follow_up, Acting(clerk), "考试周图书馆开放至22:30。")
        letters.loop.release(letter.follow_up, Acting(office, office=True))
        letter_id = letter.id
    go(
        phone,
        lambda: fr.locator(f"a[href*='/outreach/letters/{letter_id}']").click(),
        rf"/outreach/letters/{letter_id}",
    )
    expect(fr.locator("#answer")).to_contain_text("考试周图书馆开放至22:30。")
    assert_fits(phone, "the letter with its answer")
    snap(phone, artifact_path("student-answer-390.png"))


def test_a_leader_records_this_weeks_reception_on_a_phone(
    open_lms: Callable[..., LmsBrowser],
    college: dict[str, Any],
    session_factory: Any,
    artifact_path: Callable[[str], Path],
) -> None:
    leader: LmsUser = college["leader"]
    phone = open_lms(PHONE)
    phone.open_course(leader)
    phone_sized(phone)
    fr = phone.frame
    panel = fr.locator("#panel-outreach-leader")
    expect(panel).to_be_visible()
    assert_fits(phone, "the leader's home page")
    fr.evaluate(NEXT_PAINT)
    phone.page.screenshot(path=str(artifact_path("leader-home-390.png")))
    go(phone, lambda: panel.locator("a.button").click(), r"/outreach/reception/\d+")
    go(phone, lambda: fr.locator("form[action*='/open'] button").click(), r"/outreach/reception/\d+")
    assert_fits(phone, "the week's record")
    fr.select_option("#identity", "student")
    fr.fill("#visitor_unit", "汽车工程学院")
    fr.fill("#matter", "宿舍热水时有时无")
    fr.fill("#opinion", "希望尽快修复")
    fr.fill("#answer", "已请后勤处一周内检修")
    fr.check("input[name=outcome][value=solved]")
    fr.locator("#add-visitor details summary").click()
    with session_factory() as s:
        hq = s.scalars(select(Unit.id).where(Unit.code == "HQ")).one()
    fr.select_option("#follow_up_unit_id", str(hq))
    fr.select_option("#follow_up_category", "facilities")
    fr.fill("#follow_up", "检修三号宿舍楼热水管路")
    snap(phone, artifact_path("reception-visitor-390.png"))
    go(
        phone,
        lambda: fr.locator("#add-visitor button[type=submit]").click(),
        r"/outreach/reception/\d+\?done=visit",
    )
    expect(fr.locator("#visits")).to_contain_text("宿舍热水时有时无")
    assert_fits(phone, "the record with a visitor")
    phone.page.once("dialog", lambda d: d.accept())
    go(
        phone,
        lambda: fr.locator("form[action*='/submit'] button").click(),
        r"/outreach/reception/\d+\?done=submitted",
    )
    assert "本周接待已记录" in phone.text()
    assert_fits(phone, "the submitted record")
    snap(phone, artifact_path("reception-submitted-390.png"))
    with session_factory() as s:
        record = s.scalars(select(ReceptionRecord)).one()
        assert record.status == "submitted" and len(record.visits) == 1
        problem = s.scalars(select(Problem)).one()
        assert problem.unit_id == hq and "检修三号宿舍楼热水管路" in problem.description
