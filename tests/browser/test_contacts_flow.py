"""Issue 9: the grassroots-contact pages in Debian's Chromium, inside the LMS's iframe, third-party cookies
blocked.

1. A school leader on a 390×844 phone records a visit to their contact college from the home page's button:
   chooses the contact point, types, sees the autosave indicator, submits; the record is stored, linked to
   the contact point, and nothing on the way is wider than the phone.
2. The school office on a desktop reaches its contact points, records and branch confirmations from the
   home page, confirms a branch activity from paper evidence (a confirmation dialog first).
3. The leader's contact record typed with the network cut is kept, submitting is refused, and it is saved
   once the network returns (the observation form's script, docs/decisions.md S-3).

Screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lti_tool import clock
from lti_tool.contacts.models import ContactMember, ContactPoint, ContactRecord
from lti_tool.contacts.summaries import ContactSummary
from lti_tool.directory.models import Person, Unit
from tests.browser.conftest import DEFAULT_TIMEOUT_MS, LmsBrowser, third_party_cookies_seen
from tests.browser.test_observation_flow import NEXT_PAINT, OVERFLOWING, go, snap
from tests.support.platform import LmsUser, PlatformSimulator
from tests.support.worlds import Roster

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 1000}
CONTENT = "到汽车工程学院调研新能源实训基地建设，察看一体化教室，听取骨干教师意见。"


def shanghai_today() -> dt.date:
    return clock.today()


def academic_year(day: dt.date) -> str:
    first = day.year if (day.month, day.day) >= (8, 1) else day.year - 1
    return f"{first}-{first + 1}"


@pytest.fixture
def people(roster: Roster, session_factory: Any, institution_id: int) -> dict[str, LmsUser]:
    roster.unit("QC", "汽车工程学院")
    roster.unit("XB", "学校办公室", kind="department", function="school_office")
    leader = roster.person("100001", "王书记", positions=("school_leader", "party_secretary"))
    office = roster.person("300002", "孙干事", unit="XB")
    with session_factory.begin() as s:
        qc = s.scalars(select(Unit).where(Unit.code == "QC")).one()
        branch = Unit(institution_id=institution_id, code="QC-DZB1", name="汽车工程学院教工党支部",
                      kind="party_branch", parent_id=qc.id, branch_kind="teacher")  # fmt: skip
        s.add(branch)
        s.flush()
        me = s.scalars(select(Person).where(Person.employee_no == "100001")).one()
        me.party_member, me.branch_id = True, None
        year = academic_year(shanghai_today())
        s.add(ContactPoint(institution_id=institution_id, person_id=me.id, academic_year=year, kind="college",
                           unit_id=qc.id))  # fmt: skip
        activity = ContactRecord(
            institution_id=institution_id,
            author_id=me.id,
            kind="branch_activity",
            date=shanghai_today() - dt.timedelta(days=3),
            target_kind="party_branch",
            unit_id=branch.id,
            content="参加教工党支部主题党日活动",
            status="submitted",
        )
        activity.members.append(ContactMember(institution_id=institution_id, person_id=me.id, role="author"))
        s.add(activity)
    return {"leader": leader, "office": office}


@pytest.fixture
def new_lms(
    browser: Any, platform: PlatformSimulator, live_server: str, cookie_probe: Any
) -> Iterator[Callable[..., LmsBrowser]]:
    contexts: list[Any] = []

    def make(viewport: dict[str, int]) -> LmsBrowser:
        ctx = browser.new_context(locale="zh-CN", viewport=viewport)
        ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
        if not contexts:
            seen = third_party_cookies_seen(ctx, platform, cookie_probe).split()
            assert "plain3p" not in seen, f"third-party cookies are NOT blocked here (got {seen})"
            ctx.clear_cookies()
        contexts.append(ctx)
        return LmsBrowser(ctx, platform, live_server)

    yield make
    for ctx in contexts:
        ctx.close()


def phone_sized(lms: LmsBrowser) -> None:
    """The activity's iframe fills the phone's width, as Moodle's Boost theme does."""
    lms.page.evaluate("""() => {
        document.body.style.margin = '0';
        const f = document.getElementById('tool');
        f.style.width = '100%'; f.style.height = '780px'; f.style.border = '0'; }""")
    lms.frame.wait_for_function("(w) => window.innerWidth === w", arg=PHONE["width"])


def assert_fits(lms: LmsBrowser, what: str) -> None:
    f = lms.frame
    width = f.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{what} is {width}px wide on a phone: {f.evaluate(OVERFLOWING)}"


def test_leader_records_a_visit_on_a_phone(
    new_lms: Callable[..., LmsBrowser],
    people: dict[str, LmsUser],
    session_factory: Any,
    artifact_path: Callable[[str], Path],
) -> None:
    phone = new_lms(PHONE)
    phone.open_course(people["leader"])
    phone_sized(phone)
    f = phone.frame
    expect(f.locator("#panel-contacts")).to_be_visible()
    assert_fits(phone, "the home page")
    f.evaluate(NEXT_PAINT)
    phone.page.screenshot(path=str(artifact_path("home-390.png")))

    go(phone, lambda: f.locator("#panel-contacts button[type=submit]").click(), r"/contacts/(\d+)/edit")
    assert_fits(phone, "the contact record form")
    f.select_option("#kind", "visit")
    with session_factory() as s:
        point_id = s.scalars(select(ContactPoint.id)).one()
    f.select_option("#contact_point_id", str(point_id))
    f.fill("#place", "新能源实训中心")
    f.fill("#participants", "15")
    f.fill("#content", CONTENT)
    f.fill("#opinions", "实训设备台套数不足")
    status = f.locator("#save-status")
    expect(status).to_contain_text(f.locator("#record").get_attribute("data-msg-saved").split("__TIME__")[0])
    snap(phone, artifact_path("record-390.png"))
    button = f.locator("button[data-action=submit]")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"], box
    go(phone, button.click, r"/contacts/(\d+)\?done=submitted")
    assert "汽车工程学院" in phone.text() and CONTENT in phone.text()
    assert_fits(phone, "the submitted record")
    f.evaluate(NEXT_PAINT)
    phone.page.screenshot(path=str(artifact_path("submitted-390.png")))
    with session_factory() as s:
        record = s.scalars(select(ContactRecord).where(ContactRecord.kind == "visit")).one()
        assert (record.status, record.content, record.place, record.participants) == (
            "submitted",
            CONTENT,
            "新能源实训中心",
            15,
        )
        assert record.contact_point_id is not None and record.date == shanghai_today()


def test_school_office_reaches_its_pages_and_confirms_on_paper(
    new_lms: Callable[..., LmsBrowser],
    people: dict[str, LmsUser],
    session_factory: Any,
    artifact_path: Callable[[str], Path],
) -> None:
    desk = new_lms(DESKTOP)
    desk.open_course(people["office"])
    f = desk.frame
    expect(f.locator("#panel-contacts-office")).to_be_visible()
    go(desk, lambda: f.locator("#panel-contacts-office a[href*='/contacts/office/points']").click(),
       r"/contacts/office/points")  # fmt: skip
    assert "王书记" in desk.text() and "汽车工程学院" in desk.text()
    snap(desk, artifact_path("points.png"))
    go(
        desk,
        lambda: f.locator("nav.tabs a[href*='/contacts/office/records']").click(),
        r"/contacts/office/records",
    )
    snap(desk, artifact_path("records.png"))
    go(
        desk,
        lambda: f.locator("nav.tabs a[href*='/contacts/office/branch']").click(),
        r"/contacts/office/branch",
    )
    assert "汽车工程学院教工党支部" in desk.text()
    desk.page.once("dialog", lambda d: d.accept())
    go(
        desk,
        lambda: f.locator("form[action*='/paper'] button").click(),
        r"/contacts/office/branch\?done=paper",
    )
    snap(desk, artifact_path("branch.png"))
    with session_factory() as s:
        assert s.scalars(select(ContactRecord.confirmed_on_paper)).one() is True
    go(desk, lambda: f.locator("nav.tabs a").first.click(), r"/home")


def test_contact_record_typed_offline_is_kept_and_saved_when_the_network_returns(
    new_lms: Callable[..., LmsBrowser], people: dict[str, LmsUser], session_factory: Any
) -> None:
    """The contact form shares the observation form's script (docs/decisions.md S-3): text typed with the
    network cut is kept and marked, submitting is refused, and back online it reaches the server."""
    phone = new_lms(PHONE)
    phone.open_course(people["leader"])
    phone_sized(phone)
    f = phone.frame
    go(phone, lambda: f.locator("#panel-contacts button[type=submit]").click(), r"/contacts/(\d+)/edit")
    record_id = int(f.url.split("/contacts/", 1)[1].split("/", 1)[0])
    status = f.locator("#save-status")
    phone.context.set_offline(True)
    f.locator("#content").press_sequentially(CONTENT, delay=5)
    expect(status).to_have_attribute("data-state", "offline")
    expect(f.locator(".unsynced-note[data-for=content]")).to_be_visible()
    f.locator("button[data-action=submit]").click()
    expect(status).to_have_text(str(f.locator("#record").get_attribute("data-msg-submit-offline")))
    with session_factory() as s:
        assert s.get(ContactRecord, record_id).content == ""  # type: ignore[union-attr]

    def carries_content(response: Any) -> bool:
        return "/autosave" in response.url and "content" in (response.request.post_data or "")

    with phone.page.expect_response(carries_content):
        phone.context.set_offline(False)
    expect(status).to_have_attribute("data-state", "saved")
    with session_factory() as s:
        assert s.get(ContactRecord, record_id).content == CONTENT  # type: ignore[union-attr]


def test_year_end_summary_asks_before_submitting_or_redrafting(
    new_lms: Callable[..., LmsBrowser],
    people: dict[str, LmsUser],
    session_factory: Any,
    artifact_path: Callable[[str], Path],
) -> None:
    """C-7b: submitting the summary cannot be undone and drafting it again replaces the first three parts;
    both ask first, and saying no leaves the page and the database as they were."""
    phone = new_lms(PHONE)
    phone.open_course(people["leader"])
    phone_sized(phone)
    f = phone.frame
    go(phone, lambda: f.goto(phone.tool_base + "/contacts/summary/"), r"/contacts/summary/")
    f.fill("#reflection", "明年继续深入联系学院。")
    asked: list[str] = []

    def say_no(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    phone.page.on("dialog", say_no)
    f.locator("button[name=action][value=submit]").click()
    f.locator("form[action*='/contacts/summary/redraft'] button").click()
    f.wait_for_timeout(300)
    phone.page.remove_listener("dialog", say_no)
    assert asked == [
        "将总结提交学校办公室？提交后不能再修改。",
        "用根据联系记录重新生成的初稿替换前三部分？“体会与改进”保留不变。",
    ], asked
    expect(f.locator("#reflection")).to_have_value("明年继续深入联系学院。")
    with session_factory() as s:
        assert s.scalars(select(ContactSummary)).first() is None
    assert_fits(phone, "the year-end summary")
    snap(phone, artifact_path("summary-asks.png"))
