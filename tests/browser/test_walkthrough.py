"""Walkthroughs: each persona's main task in the LMS iframe, on a phone and on a desktop (issue 11 §13).

Every page the walk reaches is checked the same way (``Walk.check``): no 4xx/5xx response from the tool,
no horizontal scrolling on the phone, and no untranslated text on a Chinese page (an English msgid of the
catalog shown as is). Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import expect
from sqlalchemy import select

from lti_tool import PROJECT_ROOT
from lti_tool.directory.models import Person, Unit
from lti_tool.observations.services import ObservationService
from lti_tool.policy.schema import default_policy
from lti_tool.timetable.models import ClassSession, Semester
from tests.browser import test_observation_flow as flow
from tests.browser.conftest import LmsBrowser
from tests.browser.test_contact_duties import _build_and_download
from tests.browser.test_observation_flow import DESKTOP, NEXT_PAINT, OVERFLOWING, PHONE, go, launch, snap
from tests.support import factories
from tests.support.platform import LTI, LmsUser, PlatformSimulator
from tests.support.worlds import Roster, complete_fields
from worker import jobs

new_lms = flow.new_lms  # the fixture: fresh browser contexts on the LMS course page

VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}


def _english_msgids() -> list[str]:
    """Catalog msgids whose Chinese differs, long enough that seeing one on a page means it was not
    translated (short ones such as "OK" or "PDF" are legitimately the same)."""
    path = PROJECT_ROOT / "lti_tool" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalog = read_po(fh)
    out = []
    for message in catalog:
        if not message.id or not isinstance(message.id, str) or "%(" in message.id:
            continue
        translated = message.string if isinstance(message.string, str) else ""
        # a translation that keeps the English on purpose (Moodle's own field names) is not "left in English"
        if translated and message.id not in translated and len(message.id) >= 12 and " " in message.id:
            out.append(message.id)
    return out


ENGLISH = _english_msgids()


def _chinese_msgstrs() -> list[str]:
    """The catalog's Chinese for its msgids: seeing one on an English page means it was left in Chinese.
    (Six characters at least: shorter ones, such as 党委组织部, are also what units are called.)"""
    path = PROJECT_ROOT / "lti_tool" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalog = read_po(fh)
    return sorted(
        {
            m.string
            for m in catalog
            if isinstance(m.string, str) and len(m.string) >= 6 and "%(" not in m.string and m.string != m.id
        }
    )


CHINESE = _chinese_msgstrs()


class Walk:
    """One person on one device: launches, follows links, and checks every page it reaches."""

    def __init__(self, lms: LmsBrowser, device: str, artifact_path: Callable[[str], Path]) -> None:
        self.lms = lms
        self.device = device
        self.artifact_path = artifact_path
        self.seen = 0

    @property
    def frame(self) -> Any:
        return self.lms.frame

    def fit_frame(self) -> None:
        """On a phone, the activity's iframe fills the screen's width (as Moodle's Boost theme does)."""
        if self.device != "phone":
            return
        self.lms.page.evaluate("""() => {
            document.body.style.margin = '0';
            const f = document.getElementById('tool');
            f.style.width = '100%'; f.style.height = '740px'; f.style.border = '0'; }""")
        self.frame.wait_for_function("(w) => window.innerWidth === w", arg=PHONE["width"])

    def check(self, name: str) -> str:
        """The page now in the iframe: no tool error, fits a phone, nothing left in English; a screenshot."""
        f = self.frame
        failed = [
            r
            for r in self.lms.log.responses
            if re.match(r"^[45]\d\d ", r) and self.lms.tool_base in r and "favicon" not in r
        ]
        assert not failed, f"{name}: the tool answered {failed}{self.lms.log}"
        if self.device == "phone":
            width = f.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{name} is {width}px wide on a phone: {f.evaluate(OVERFLOWING)}"
        text = str(f.inner_text("body"))
        lang = f.evaluate("document.documentElement.lang")
        if lang.startswith("zh"):
            left = [m for m in ENGLISH if m in text]
            assert not left, f"{name}: untranslated text on a Chinese page: {left[:5]}"
        else:
            left = [text[max(0, text.index(m) - 40) : text.index(m) + 40] for m in CHINESE if m in text]
            assert not left, f"{name}: Chinese interface text on an English page: {left[:5]}"
        f.evaluate(NEXT_PAINT)
        self.seen += 1
        snap(self.lms, self.artifact_path(f"{self.device}-{self.seen:02d}-{name}.png"))
        return text

    def click(self, locator: Any, path_regex: str, name: str) -> str:
        go(self.lms, locator.click, path_regex)
        return self.check(name)


@pytest.fixture(params=list(VIEWPORTS))
def device(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- the quality center closes a running semester; the leader finds their draft locked ------------------
@pytest.fixture
def running_semester(
    roster: Roster, session_factory: Any, institution_id: int, platform: PlatformSimulator
) -> Any:
    roster.unit("QC", "教学质量监控与评价中心", kind="department", function="quality_center")
    qc = roster.person("Q001", "孙主任", unit="QC")
    leader = roster.person("L001", "王校长", positions=("school_leader",))
    today = flow.shanghai_today()
    monday = today - dt.timedelta(days=today.weekday() + 7)
    with session_factory.begin() as s:
        teacher = factories.person(s, institution_id, "李老师", employee_no="T001")
        sem = factories.semester(s, institution_id, "2026-2027-1", week1_monday=monday, weeks=18)
        section = factories.section(s, sem, factories.course(s, institution_id, "高等数学"), [teacher])
        first = factories.class_session(s, section, monday)
        factories.class_session(s, section, monday + dt.timedelta(days=7 * 17))
        author = s.scalars(select(Person).where(Person.employee_no == "L001")).one()
        draft = ObservationService(s, institution_id, default_policy()).start(author.id, first.id)
        ids = sem.id, draft.id
    return qc, leader, ids


def test_quality_center_closes_a_running_semester_deliberately_and_the_leader_is_told(
    new_lms: Callable[..., LmsBrowser],
    running_semester: Any,
    device: str,
    artifact_path: Callable[[str], Path],
    session_factory: Any,
) -> None:
    qc, leader, (semester_id, draft_id) = running_semester
    walk = Walk(new_lms(VIEWPORTS[device]), device, artifact_path)
    launch(walk.lms, qc)
    walk.fit_frame()
    walk.check("qc-home")
    walk.click(walk.frame.locator("a[href*='/archive/']").first, r"/archive/(\?|$)", "archive")
    text = walk.click(
        walk.frame.locator(f"a[href*='/archive/{semester_id}/close']"), r"/archive/\d+/close", "close"
    )
    assert "王校长" in text  # the open draft is listed
    expect(walk.frame.locator("#early")).to_be_visible()
    walk.frame.locator("#confirm").fill("2026-2027-1")
    walk.click(walk.frame.locator("form[action*='/close'] button[type=submit]"), r"/archive/(\?|$)", "closed")
    with session_factory() as s:
        assert s.get(Semester, semester_id).status == "archived"

    person = Walk(new_lms(VIEWPORTS[device]), device, artifact_path)
    launch(person.lms, leader)
    person.fit_frame()
    person.check("leader-home")
    go(
        person.lms,
        person.frame.locator(f"a[href*='/observations/{draft_id}']").first.click,
        r"/observations/\d+",
    )
    text = person.check("locked-draft")
    expect(person.frame.locator("#locked")).to_be_visible()
    assert "2026-2027-1" in text


# -- every persona walks every page of its navigation bar ------------------------------------------------
@pytest.fixture
def college(
    roster: Roster, session_factory: Any, institution_id: int, platform: PlatformSimulator
) -> dict[str, Any]:
    """One person per persona, a running semester with a class last week, a submitted record of it with a
    problem routed to logistics, and a draft."""
    roster.unit("JD", "机电工程学院")
    roster.unit("HQ", "后勤管理处", kind="department")
    roster.unit("QC", "教学质量监控与评价中心", kind="department", function="quality_center")
    roster.unit("ZZ", "党委组织部", kind="department", function="organization")
    users = {
        "leader": roster.person("L001", "王校长", positions=("school_leader",)),
        "teacher": roster.person("T001", "李老师", unit="JD"),
        "handler": roster.person("H001", "后勤干事", unit="HQ"),
        "quality_center": roster.person("Q001", "孙主任", unit="QC"),
        "organization": roster.person("O001", "吴部长", unit="ZZ"),
        "student": Roster.learner(),
    }
    today = flow.shanghai_today()
    monday = today - dt.timedelta(days=today.weekday() + 7)
    with session_factory.begin() as s:
        people = {
            p.employee_no: p for p in s.scalars(select(Person).where(Person.institution_id == institution_id))
        }
        sem = factories.semester(s, institution_id, "2026-2027-1", week1_monday=monday, weeks=18)
        course = factories.course(s, institution_id, "高等数学", code="MATH101", kind="公共基础")
        section = factories.section(
            s, sem, course, [people["T001"]], classes="机电2401", weekday=monday.isoweekday()
        )
        last_week = factories.class_session(s, section, monday)
        factories.class_session(s, section, monday + dt.timedelta(days=7))
        factories.class_session(s, section, today + dt.timedelta(days=1))  # a class still to come
        service = ObservationService(s, institution_id, default_policy())
        record = service.start(people["L001"].id, last_week.id)
        service.autosave(record, people["L001"].id, complete_fields(default_policy()), 0)
        service.submit(record, people["L001"].id)
        hq = s.scalars(select(Unit).where(Unit.code == "HQ")).one()
        service.raise_problem(
            record, people["L001"].id, category="facilities", unit_id=hq.id, description="投影仪不亮"
        )
        # a second finished record of 李老师's class (last week's Tuesday) and a second problem for logistics
        second = service.start(
            people["L001"].id, factories.class_session(s, section, monday + dt.timedelta(days=1)).id
        )
        service.autosave(second, people["L001"].id, complete_fields(default_policy()), 0)
        service.submit(second, people["L001"].id)
        service.raise_problem(
            second, people["L001"].id, category="environment", unit_id=hq.id, description="教室空调漏水"
        )
        # two classes today at 08:00-09:40 for the leader to observe (one per device)
        for code, name in (("PHY101", "大学物理"), ("CHE101", "大学化学")):
            other = factories.section(
                s,
                sem,
                factories.course(s, institution_id, name, code=code),
                [people["T001"]],
                classes="机电2402",
            )
            factories.class_session(s, other, today)
    return users


@pytest.mark.parametrize(
    "persona", ["leader", "teacher", "handler", "quality_center", "organization", "student"]
)
def test_each_persona_walks_its_pages(
    new_lms: Callable[..., LmsBrowser],
    college: dict[str, Any],
    persona: str,
    device: str,
    artifact_path: Callable[[str], Path],
) -> None:
    walk = Walk(new_lms(VIEWPORTS[device]), device, artifact_path)
    launch(walk.lms, college[persona])
    walk.fit_frame()
    text = walk.check("home")
    links = walk.frame.locator(".mainnav a")
    hrefs = [str(links.nth(i).get_attribute("href")) for i in range(links.count())]
    if persona == "student":  # a Learner has one page of their own: letters to the school leaders
        assert [h.split("?")[0] for h in hrefs] == ["/home", "/outreach/letters"], hrefs
        assert "学生" in text or "students" in text
    assert len(hrefs) >= 2, f"{persona} has no navigation bar"
    for i, href in enumerate(hrefs[1:], start=1):
        path = href.split("?")[0]
        walk.click(
            walk.frame.locator(".mainnav a").nth(i),
            re.escape(path) + r"(\?|$)",
            path.strip("/").replace("/", "-"),
        )
        expect(walk.frame.locator(".mainnav a.active")).to_have_count(1)


def test_leader_picker_on_a_phone_shows_classes_before_the_search(
    new_lms: Callable[..., LmsBrowser], college: dict[str, Any], artifact_path: Callable[[str], Path]
) -> None:
    """Issue 11 §8: opened from the leaders' course (no timetable course), the picker lists the classes of the
    coming days, and on a phone they come before the search form."""
    walk = Walk(new_lms(PHONE), "phone", artifact_path)
    launch(walk.lms, college["leader"], page="pick")
    walk.fit_frame()
    walk.check("pick")
    results = walk.frame.locator("#results").bounding_box()
    search = walk.frame.locator("#search").bounding_box()
    assert results is not None and search is not None and results["y"] < search["y"]
    expect(walk.frame.locator("#results li.tt-session").first).to_be_visible()


# -- each persona's main task, on a phone and on a desktop ----------------------------------------------
def _launch(walk: Walk, user: LmsUser, path: str = "/home", *, english: bool = False) -> str:
    """Open the course page as ``user`` (in English when the LMS says so) and check the first page."""
    platform = walk.lms.platform
    claims: dict[str, Any] = {}
    if english:
        claims[LTI + "launch_presentation"] = {"locale": "en-US"}
    if path == "/timetable/pick":
        claims[LTI + "custom"] = {"tingke_page": "pick"}
    platform.extra_claims = claims
    try:
        walk.lms.open_course(user, path)
    finally:
        platform.extra_claims = {}
    walk.fit_frame()
    return walk.check(path.strip("/").replace("/", "-") or "home")


def _walks(new_lms: Callable[..., LmsBrowser], artifact_path: Callable[[str], Path]) -> list[Walk]:
    """The same person on a phone, then on a desktop (one world for both: a walk per device)."""
    return [Walk(new_lms(VIEWPORTS[d]), d, artifact_path) for d in VIEWPORTS]


@pytest.fixture
def after_class(monkeypatch: pytest.MonkeyPatch) -> None:
    """The record service's clock at 09:41 today: today's 08:00-09:40 classes are over (O-13)."""
    bell = dt.datetime.combine(flow.shanghai_today(), dt.time(9, 41), tzinfo=ZoneInfo("Asia/Shanghai"))
    monkeypatch.setattr(ObservationService, "now", lambda self: bell)


def test_leader_picks_a_class_fills_the_record_and_submits_it(
    after_class: None,
    new_lms: Callable[..., LmsBrowser],
    college: dict[str, Any],
    artifact_path: Callable[[str], Path],
    session_factory: Any,
) -> None:
    today = flow.shanghai_today()
    with session_factory() as s:
        todays = [
            c.id
            for c in s.scalars(select(ClassSession).where(ClassSession.date == today)).all()
            if c.section.course.code in ("PHY101", "CHE101")
        ]
    assert len(todays) == 2
    for walk, session_id in zip(_walks(new_lms, artifact_path), todays, strict=True):
        _launch(walk, college["leader"], "/timetable/pick")
        if walk.device == "phone":  # the classes come before the search form on a phone (issue 11 §8)
            results = walk.frame.locator("#results").bounding_box()
            search = walk.frame.locator("#search").bounding_box()
            assert results is not None and search is not None and results["y"] < search["y"]
        flow.pick_session(walk.lms, session_id)
        walk.check("record-form")
        flow.fill_some(walk.lms)
        flow.fill_rest(walk.lms)
        walk.check("record-filled")
        flow.submit(walk.lms)
        walk.check("record-submitted")
    with session_factory() as s:
        from lti_tool.observations.models import Observation

        statuses = s.scalars(select(Observation.status).where(Observation.session_id.in_(todays))).all()
        assert sorted(statuses) == ["submitted", "submitted"]


def test_teacher_reads_the_feedback_and_replies(
    new_lms: Callable[..., LmsBrowser], college: dict[str, Any], artifact_path: Callable[[str], Path]
) -> None:
    for i, walk in enumerate(_walks(new_lms, artifact_path)):
        _launch(walk, college["teacher"])
        items = walk.frame.locator("#panel-feedback a[href*='/observations/feedback/']")
        expect(items).to_have_count(2)
        text = walk.click(items.nth(i), r"/observations/feedback/\d+(\?|$)", "feedback")
        assert "王校长" in text and "高等数学" in text
        reply = f"谢谢指导，已调整教学安排（{walk.device}）。"
        walk.frame.locator("#reply-text").fill(reply)
        walk.click(
            walk.frame.locator("form[action*='/reply'] button"), r"/observations/feedback/\d+\?", "replied"
        )
        expect(walk.frame.locator("#reply blockquote.reply")).to_have_text(reply)


def test_handler_accepts_and_resolves_a_problem(
    new_lms: Callable[..., LmsBrowser], college: dict[str, Any], artifact_path: Callable[[str], Path]
) -> None:
    for walk, description in zip(_walks(new_lms, artifact_path), ("投影仪不亮", "教室空调漏水"), strict=True):
        home = _launch(walk, college["handler"])
        assert description in home  # the handler's list shows what the problem is
        link = walk.frame.locator("main a", has_text=description).first
        walk.click(link, r"/problems/\d+(\?|$)", "problem")
        walk.click(
            walk.frame.locator("button[name=status][value=accepted]"), r"/problems/\d+(\?|$)", "accepted"
        )
        walk.frame.locator("#note").fill("已派人维修，恢复正常。")
        text = walk.click(
            walk.frame.locator("button[name=status][value=resolved]"), r"/problems/\d+(\?|$)", "resolved"
        )
        assert "已派人维修，恢复正常。" in text
        expect(walk.frame.locator("button[name=status][value=resolved]")).to_have_count(0)


def test_quality_center_reads_compliance_and_downloads_the_report(
    new_lms: Callable[..., LmsBrowser],
    college: dict[str, Any],
    artifact_path: Callable[[str], Path],
    settings: Any,
    session_factory: Any,
) -> None:
    for walk in _walks(new_lms, artifact_path):
        _launch(walk, college["quality_center"])
        text = walk.click(
            walk.frame.locator(".mainnav a[href*='/policy/']").first, r"/policy/(\?|$)", "compliance"
        )
        assert "王校长" in text and "O-1 " in text
        walk.click(walk.frame.locator(".mainnav a[href*='/reports/']").first, r"/reports/(\?|$)", "reports")
        walk.frame.select_option("#kind", "execution_report")
        # the semester report form's button (not the bulletin's nor the cadre file's)
        start = walk.frame.locator("main form:has(#kind) button[type=submit]")
        walk.click(start, r"/reports/runs/\d+", "report-run")
        pdf = _build_and_download(
            walk.lms, settings, session_factory, f"{walk.device}-report.png", artifact_path
        )
        walk.check("report-ready")
        assert len(pdf) > 20_000
        label = walk.frame.locator("#run-download .output").inner_text()
        assert "2026-2027-1" in label and "KB" in label  # what, which semester, when, how big
        # the semester statistics: a page that shows what was computed (issue 11 §6)
        walk.click(walk.frame.locator(".mainnav a[href*='/reports/']").first, r"/reports/(\?|$)", "reports-2")
        walk.frame.select_option("#kind", "statistics")
        walk.click(start, r"/reports/runs/\d+", "statistics-run")
        run_id = int(re.search(r"/reports/runs/(\d+)", walk.frame.url).group(1))  # type: ignore[union-attr]
        jobs.configure(settings)
        try:
            jobs.run_report(run_id)
        finally:
            jobs.dispose()
        expect(walk.frame.locator("#statistics")).to_be_visible()  # the page reloads itself once done
        text = walk.check("statistics")
        assert "统计结果" in text and "O-1 每学期至少听2次课" in text and "月度情况" in text


def test_organization_department_reads_each_cadre_and_downloads_the_cadre_file(
    new_lms: Callable[..., LmsBrowser],
    college: dict[str, Any],
    artifact_path: Callable[[str], Path],
    settings: Any,
    session_factory: Any,
) -> None:
    for walk in _walks(new_lms, artifact_path):
        english = walk.device == "desktop"  # one of the two walks in English: no Chinese interface text
        home = _launch(walk, college["organization"], english=english)
        assert ("Cadre assessment" if english else "干部") in home
        walk.click(
            walk.frame.locator("#panel-cadres a[href*='/policy/']").first, r"/policy/(\?|$)", "compliance"
        )
        text = walk.click(
            walk.frame.locator("main a[href*='/policy/person/']", has_text="王校长").first,
            r"/policy/person/\d+",
            "cadre",
        )
        assert "O-1" in text
        walk.click(walk.frame.locator(".mainnav a").first, r"/home(\?|$)", "home-again")
        make = walk.frame.locator("#panel-cadres form button[value=cadre_file]")
        walk.click(make, r"/reports/runs/\d+", "cadre-run")
        data = _build_and_download(
            walk.lms, settings, session_factory, f"{walk.device}-cadre.png", artifact_path, magic=b"PK"
        )
        walk.check("cadre-ready")
        book = openpyxl.load_workbook(io.BytesIO(data))
        summary = book.worksheets[0]  # 汇总, or Summary for the walk in English
        assert summary.title == ("Summary" if english else "汇总")
        names = [row[1] for row in summary.iter_rows(min_row=2, values_only=True)]
        assert "王校长" in names


def test_student_sees_their_page(
    new_lms: Callable[..., LmsBrowser], college: dict[str, Any], artifact_path: Callable[[str], Path]
) -> None:
    for walk in _walks(new_lms, artifact_path):
        english = walk.device == "desktop"
        text = _launch(walk, college["student"], english=english)
        assert ("Students have one page here" if english else "学生") in text
        # A student's nav: home and the letters to the school leaders; the home page's letter entry.
        nav = walk.frame.locator(".mainnav a")
        expect(nav).to_have_count(2)
        expect(nav.nth(1)).to_have_text("Write to the school leaders" if english else "写信给校领导")
        expect(nav.nth(1)).to_have_attribute("href", re.compile(r"/outreach/letters"))
        expect(walk.frame.locator("#panel-letters a.button")).to_have_attribute(
            "href", re.compile(r"/outreach/letters/new")
        )
