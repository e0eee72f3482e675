"""The contact duties walked through in Debian's Chromium, launched from the LMS into the iframe (issue 9 §9).

1. A school leader on a phone (390×844) opens their duty page: C-1b is 1/2 and says "本学期尚未到道桥工程学院
   调研" with a button; the button opens the record form prefilled with that contact point; the leader writes
   and submits the visit; the duty page now shows C-1b 2/2, met. Every page fits the phone.
2. The school office at a desktop sees contact compliance for all leaders, drills down to the leader, builds
   the leader's contact archive and the contact execution report (the worker's job, run in-process), and
   downloads both PDFs.

Screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lti_tool import clock
from lti_tool.academic_year import academic_year_of
from lti_tool.contacts.models import ContactMember, ContactPoint, ContactRecord
from lti_tool.directory.models import Person, Unit
from lti_tool.reports.models import ReportRun
from tests.browser.conftest import LmsBrowser
from tests.support import factories
from tests.support.platform import LmsUser
from tests.support.worlds import Roster
from worker import jobs

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 1000}
OVERFLOWING = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
  .slice(0, 5).map(e => e.tagName + '.' + e.className).join(', ')"""


def today() -> dt.date:
    return clock.today()


@pytest.fixture
def contacts(roster: Roster, session_factory: Any, institution_id: int) -> dict[str, Any]:
    """A semester running since the Monday before last; 王副校长 contacts 汽车工程学院 (visited once this
    semester) and 道桥工程学院 (not yet); the school office; a department head for a second group."""
    roster.unit("QC", "汽车工程学院")
    roster.unit("DQ", "道桥工程学院")
    roster.unit("XB", "学校办公室", kind="department", function="school_office")
    leader = roster.person("L001", "王副校长", positions=("vp_teaching",))
    office = roster.person("X001", "办公室李主任", unit="XB")
    day = today()
    monday = day - dt.timedelta(days=day.weekday() + 7)
    year = academic_year_of(monday)
    with session_factory.begin() as s:
        factories.semester(
            s, institution_id, f"{monday.year}-{monday.year + 1}-1", week1_monday=monday, weeks=18
        )
        wang = s.scalars(
            select(Person).where(Person.institution_id == institution_id, Person.employee_no == "L001")
        ).one()
        units = {u.code: u for u in s.scalars(select(Unit).where(Unit.institution_id == institution_id))}
        points = {}
        for code in ("QC", "DQ"):
            point = ContactPoint(
                institution_id=institution_id,
                person_id=wang.id,
                academic_year=year,
                kind="college",
                unit_id=units[code].id,
            )
            s.add(point)
            s.flush()
            points[code] = point.id
        visit = ContactRecord(
            institution_id=institution_id,
            author_id=wang.id,
            kind="visit",
            date=monday + dt.timedelta(days=2),
            target_kind="college",
            unit_id=units["QC"].id,
            contact_point_id=points["QC"],
            content="到汽车工程学院调研实训基地建设。",
            opinions="实训车辆老化，希望更新。",
            status="submitted",
            submitted_at=clock.utcnow(),
        )
        visit.members.append(ContactMember(institution_id=institution_id, person_id=wang.id, role="author"))
        s.add(visit)
        leader_id = wang.id
    return {"leader": leader, "office": office, "leader_id": leader_id, "points": points}


def open_path(lms: LmsBrowser, path: str) -> None:
    """Go to ``path`` inside the iframe (the partitioned session cookie carries the session)."""
    lms.navigate(lambda: lms.frame.goto(f"{lms.tool_base}{path}"), path.split("?")[0])


def phone_sized(lms: LmsBrowser) -> None:
    """A phone-sized LMS page: the iframe fills the screen's width (as Moodle's Boost theme does)."""
    lms.page.evaluate("""() => {
        document.body.style.margin = '0';
        const f = document.getElementById('tool');
        f.style.width = '100%'; f.style.height = '844px'; f.style.border = '0'; }""")
    lms.frame.wait_for_function("(w) => window.innerWidth === w", arg=PHONE["width"])


def fits_phone(lms: LmsBrowser, what: str) -> None:
    inner = lms.frame.evaluate("window.innerWidth")
    assert inner == PHONE["width"], f"the iframe is {inner}px wide, not phone-wide: this would prove nothing"
    width = lms.frame.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{what} is {width}px wide: {lms.frame.evaluate(OVERFLOWING)}"


def shot(lms: LmsBrowser, path: Any) -> None:
    height = lms.frame.evaluate("document.documentElement.scrollHeight")
    lms.page.evaluate("(h) => { document.getElementById('tool').style.height = h + 'px'; }", height)
    size = lms.page.viewport_size
    lms.page.set_viewport_size({"width": size["width"], "height": max(size["height"], height + 200)})
    lms.frame.evaluate("() => new Promise(d => requestAnimationFrame(() => requestAnimationFrame(d)))")
    lms.page.screenshot(path=str(path))
    lms.page.set_viewport_size(size)


def new_lms(browser: Any, platform: Any, live_server: str, viewport: dict[str, int]) -> LmsBrowser:
    ctx = browser.new_context(locale="zh-CN", viewport=viewport)
    ctx.set_default_timeout(15_000)
    return LmsBrowser(ctx, platform, live_server)


def test_leader_on_a_phone_records_a_visit_and_C1b_goes_from_1_to_2(  # type: ignore[no-untyped-def]
    browser, platform, live_server, contacts, artifact_path
):
    phone = new_lms(browser, platform, live_server, PHONE)
    leader: LmsUser = contacts["leader"]
    phone.open_course(leader)
    phone_sized(phone)
    open_path(phone, "/policy/me")
    c1b = phone.frame.locator("#rule-C-1b")
    expect(c1b.locator(".figure")).to_have_text("1/2")
    expect(c1b).to_contain_text("本学期尚未到道桥工程学院调研")
    fits_phone(phone, "the duty page")
    shot(phone, artifact_path("duty-before.png"))

    phone.navigate(lambda: c1b.get_by_role("link", name="记录调研").click(), "/contacts/new")
    expect(phone.frame.locator("main")).to_contain_text("道桥工程学院")
    fits_phone(phone, "the prefilled start page")
    with phone.frame.expect_navigation(url=re.compile(r"/contacts/\d+/edit")):
        phone.frame.locator("main form button[type=submit]").click()
    expect(phone.frame.locator("#contact_point_id")).to_have_value(str(contacts["points"]["DQ"]))
    phone.frame.fill("#content", "到道桥工程学院调研试验检测中心建设，听取教研室主任汇报。")
    phone.frame.fill("#opinions", "希望学校支持申报省级实训基地。")
    fits_phone(phone, "the record form")
    shot(phone, artifact_path("record-form.png"))
    with phone.frame.expect_navigation(url=re.compile(r"/contacts/\d+(\?|$)")):
        phone.frame.locator("button[data-action=submit]").click()

    open_path(phone, "/policy/me")
    c1b = phone.frame.locator("#rule-C-1b")
    expect(c1b.locator(".figure")).to_have_text("2/2")
    expect(c1b.locator(".badge.ok")).to_be_visible()
    expect(c1b).not_to_contain_text("本学期尚未到")
    fits_phone(phone, "the duty page after the visit")
    shot(phone, artifact_path("duty-after.png"))
    phone.context.close()


def _build_and_download(
    lms: LmsBrowser,
    settings: Any,
    session_factory: Any,
    name: str,
    artifact_path: Any,
    magic: bytes = b"%PDF",
) -> bytes:
    """On a report run's page: run the worker's job for it, reload, and download the file (which starts
    with ``magic``: a PDF's, or b"PK" for an Excel file)."""
    run_id = int(re.search(r"/reports/runs/(\d+)", lms.frame.url).group(1))  # type: ignore[union-attr]
    jobs.configure(settings)
    try:
        jobs.run_report(run_id)
    finally:
        jobs.dispose()
    with session_factory() as s:
        run = s.get(ReportRun, run_id)
        assert run is not None and run.status == "succeeded", run.error if run else "no run"
    lms.navigate(
        lambda: lms.frame.evaluate("setTimeout(() => location.reload(), 0)"), f"/reports/runs/{run_id}"
    )
    link = lms.frame.locator("#run-download a")
    expect(link).to_be_visible()
    shot(lms, artifact_path(name))
    with lms.page.expect_download() as info:
        link.click()
    data = Path(info.value.path()).read_bytes()
    assert data.startswith(magic), data[:20]
    return data


def test_school_office_sees_compliance_and_downloads_the_report_and_an_archive(  # type: ignore[no-untyped-def]
    browser, platform, live_server, contacts, artifact_path, settings, session_factory
):
    desk = new_lms(browser, platform, live_server, DESKTOP)
    desk.open_course(contacts["office"])
    open_path(desk, "/policy/")
    main = desk.frame.locator("main")
    expect(main).to_contain_text("C-1b")
    expect(main).to_contain_text("王副校长")
    expect(desk.frame.locator("nav.tabs a[aria-current=page]").last).to_have_text("联系基层")
    shot(desk, artifact_path("office-dashboard.png"))

    with desk.frame.expect_navigation(url=re.compile(r"/policy/person/\d+")):
        main.get_by_role("link", name="王副校长").first.click()
    expect(desk.frame.locator("#rule-C-1b")).to_contain_text("道桥工程学院")
    shot(desk, artifact_path("office-drilldown.png"))
    with desk.frame.expect_navigation(url=re.compile(r"/reports/runs/\d+")):
        desk.frame.get_by_role("button", name="本学年联系基层工作档案（PDF）").click()
    archive = _build_and_download(desk, settings, session_factory, "office-archive-run.png", artifact_path)
    assert len(archive) > 5_000

    open_path(desk, "/reports/")
    desk.frame.select_option("#kind", "contact_report")
    with desk.frame.expect_navigation(url=re.compile(r"/reports/runs/\d+")):
        desk.frame.locator("main form:has(#kind) button[type=submit]").click()
    report = _build_and_download(desk, settings, session_factory, "office-report-run.png", artifact_path)
    assert len(report) > 20_000
    desk.context.close()
