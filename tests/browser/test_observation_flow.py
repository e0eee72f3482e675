"""Issue 3 §10: the observation workflow in Debian's Chromium, inside the LMS's iframe, with third-party
cookies blocked (O-11 … O-13).

Every person works in their own fresh browser context on the simulated LMS's course page
(http://127.0.0.1), which frames Tingke (http://localhost) — a third party, as in Moodle. The course is
the timetable course 高等数学 (MATH101): the simulator sends its label as the lis
``course_offering_sourcedid``, so the picker opens on that course's sessions.

1. A school leader picks a session, types, sees the autosave indicator, reloads the frame, continues on a
   second device (the first tab then refuses to overwrite and shows both texts), is told what is missing,
   completes, submits.
2. Group observation: the leader adds a dean as co-observer; after submission the dean co-signs from
   their list, and the record counts once for them.
3. The teacher sees nothing while the record is a draft; after submission they read it, acknowledge and
   reply; the leader sees the reply.
4. The picker and the record form on a 375-px phone, the iframe as wide as the phone.
5. The autosave indicator does not say "saved" while newer typing is still waiting to be sent.

Assertions use structure (ids, form actions, the form's own ``data-msg-*`` texts) and the Chinese data
(names, course, typed text), not UI wording, which the translation catalogs may still change.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from lti_tool import clock
from lti_tool.directory.models import Person, Unit
from lti_tool.observations.services import ObservationService
from lti_tool.policy.schema import default_policy
from tests.browser.conftest import DEFAULT_TIMEOUT_MS, LmsBrowser, third_party_cookies_seen
from tests.support import factories
from tests.support.platform import LTI, LmsUser, PlatformSimulator
from tests.support.worlds import Roster

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect  # auto-retrying assertions

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 1000}
COURSE_CODE = "MATH101"
COURSE_NAME = "高等数学"
DIMENSIONS = [d.code for d in default_policy().dimensions]
DIMENSION_LABELS = [d.label for d in default_policy().dimensions]

NARRATIVE = "教师以生活实例导入极限概念，板书清晰，分组讨论充分；学生参与积极。"
MORAL_COMMENT = "结合我国高铁建设讲解变化率，自然融入家国情怀。"
SUGGESTIONS = "建议增加课堂小测，及时了解学生掌握情况。"
EXCHANGE_TEXT = "课后与李老师交流了例题难度的安排。"
REPLY = "感谢王校长的指导，下周起每节课增加五分钟小测。"


# -- the campus ------------------------------------------------------------------------------------------
@dataclass
class Campus:
    leader: LmsUser
    dean: LmsUser
    teacher: LmsUser
    today_session: int
    tomorrow_session: int
    other_course_session: int


def shanghai_today() -> dt.date:
    return clock.today()


@pytest.fixture(autouse=True)
def after_the_bell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Records are submitted only once their class is over (docs/policy-rules.md "What unannounced means
    in the data"): the observation service's clock stands at 09:41 today, a minute after today's 08:00-09:40
    class.
    (The live server runs in this process, so the pin reaches it; launches keep the real clock.)"""
    bell = dt.datetime.combine(shanghai_today(), dt.time(9, 41), tzinfo=ZoneInfo("Asia/Shanghai"))
    monkeypatch.setattr(ObservationService, "now", lambda self: bell)


@pytest.fixture
def campus(roster: Roster, session_factory: Any, institution_id: int, platform: PlatformSimulator) -> Campus:
    """Two colleges, a leader, a dean, two teachers; MATH101 meets today and tomorrow, CS201 today.

    The semester began the Monday before last, so today (Asia/Shanghai) is in week 2 whatever the date.
    """
    jd = roster.unit("JD", "机电工程学院")
    xx = roster.unit("XX", "信息工程学院")
    leader = roster.person("L001", "王校长", positions=("school_leader",))
    dean = roster.person("D001", "赵院长", positions=("college_dean",), unit="JD")
    teacher = roster.person("T001", "李老师", unit="JD")
    roster.person("T002", "陈老师", unit="XX")
    today = shanghai_today()
    monday = today - dt.timedelta(days=today.weekday() + 7)
    with session_factory.begin() as s:
        people = {
            p.employee_no: p for p in s.scalars(select(Person).where(Person.institution_id == institution_id))
        }
        sem = factories.semester(
            s, institution_id, f"{monday.year}-{monday.year + 1}-1", week1_monday=monday, weeks=18
        )
        math = factories.course(
            s, institution_id, COURSE_NAME, code=COURSE_CODE, kind="公共基础", offering_unit=s.get(Unit, jd)
        )
        math_section = factories.section(
            s,
            sem,
            math,
            [people["T001"]],
            classes="机电2401",
            student_unit=s.get(Unit, jd),
            weekday=today.isoweekday(),
        )
        math_section.room = "A101"
        today_session = factories.class_session(s, math_section, today)
        tomorrow_session = factories.class_session(s, math_section, today + dt.timedelta(days=1))
        cs = factories.course(s, institution_id, "数据结构", code="CS201", offering_unit=s.get(Unit, xx))
        cs_section = factories.section(
            s,
            sem,
            cs,
            [people["T002"]],
            classes="计算机2401",
            student_unit=s.get(Unit, xx),
            weekday=today.isoweekday(),
        )
        other = factories.class_session(s, cs_section, today)
        ids = today_session.id, tomorrow_session.id, other.id
    # The Moodle course of 高等数学: its short name (label) is the timetable course code.
    platform.context = {"id": "moodle-course-77", "label": COURSE_CODE, "title": "高等数学（机电2401）"}
    return Campus(leader, dean, teacher, *ids)


# -- browsers ----------------------------------------------------------------------------------------------
@pytest.fixture
def new_lms(
    browser: Any, platform: PlatformSimulator, live_server: str, cookie_probe: Any
) -> Iterator[Callable[..., LmsBrowser]]:
    """``new_lms()`` → another person's (or device's) fresh browser context on the LMS course page.

    The first one is checked to block unpartitioned third-party cookies (all are made alike).
    """
    contexts: list[Any] = []

    def make(viewport: dict[str, int] | None = None) -> LmsBrowser:
        ctx = browser.new_context(locale="zh-CN", viewport=viewport or DESKTOP)
        ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
        if not contexts:  # the block is the browser's default: proving it once per test is enough
            seen = third_party_cookies_seen(ctx, platform, cookie_probe).split()
            assert "plain3p" not in seen, f"third-party cookies are NOT blocked here (got {seen})"
            ctx.clear_cookies()
        contexts.append(ctx)
        return LmsBrowser(ctx, platform, live_server)

    yield make
    for ctx in contexts:
        ctx.close()


def launch(lms: LmsBrowser, user: LmsUser, *, page: str = "home") -> Any:
    """Open the course page as ``user``; ``page="pick"`` is a Moodle activity made by deep linking
    (custom parameter ``tingke_page=pick``) and lands on the picker."""
    platform = lms.platform
    platform.extra_claims = {LTI + "custom": {"tingke_page": "pick"}} if page == "pick" else {}
    try:
        return lms.open_course(user, "/timetable/pick" if page == "pick" else "/home")
    finally:
        platform.extra_claims = {}


EDIT = r"/observations/(\d+)/edit"
VIEW = r"/observations/(\d+)(\?|#|$)"


def go(lms: LmsBrowser, action: Callable[[], Any], path_regex: str) -> None:
    """Run ``action`` and wait for the iframe's next page, whose path matches ``path_regex``."""
    pattern = re.compile(re.escape(lms.tool_base) + path_regex)
    try:
        with lms.frame.expect_navigation(url=pattern, wait_until="load"):
            action()
    except Exception as exc:
        text = ""
        with contextlib.suppress(Exception):  # best-effort diagnostics only
            text = lms.text()
        raise AssertionError(
            f"the iframe did not reach {path_regex}; it is at {lms.frame.url}\n"
            f"--- iframe text\n{text}{lms.log}"
        ) from exc


def link(scope: str, path: str) -> str:
    """A selector for links to ``path`` inside ``scope``, with or without a query (the session travels
    in the partitioned cookie, so links carry none)."""
    return f"{scope} a[href='{path}'], {scope} a[href^='{path}?']"


def reload_frame(lms: LmsBrowser) -> None:
    """Reload only the tool's iframe (as the browser's own reload would)."""
    url = lms.frame.url
    path = re.escape(url.split(lms.tool_base, 1)[1].split("?", 1)[0])
    go(lms, lambda: lms.frame.evaluate("setTimeout(function () { location.reload(); }, 0)"), path)


def obs_id_of(lms: LmsBrowser) -> int:
    match = re.search(r"/observations/(\d+)", lms.frame.url)
    assert match, lms.frame.url
    return int(match.group(1))


NEXT_PAINT = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"


def snap(lms: LmsBrowser, path: Path) -> None:
    """A screenshot of the LMS page with the iframe stretched to its content's height (then restored).

    The iframe is another site, so Chromium renders it in its own process and only rasterises what lies
    inside the window: the window grows with the frame for the picture, and the test waits for both to
    paint at the new size, or the picture shows a blank or half-drawn frame.
    """
    viewport = lms.page.viewport_size
    height = lms.frame.evaluate("document.documentElement.scrollHeight")
    old = lms.page.evaluate(
        "(h) => { const f = document.getElementById('tool'); const o = f.style.height;"
        " f.style.height = h + 'px'; return o; }",
        height,
    )
    try:
        bottom = lms.page.evaluate("document.documentElement.scrollHeight")
        lms.page.set_viewport_size({"width": viewport["width"], "height": max(viewport["height"], bottom)})
        lms.frame.wait_for_function("(h) => window.innerHeight === h", arg=height)
        lms.frame.evaluate(NEXT_PAINT)
        lms.page.evaluate(NEXT_PAINT)
        lms.page.screenshot(path=str(path))
    finally:
        lms.page.set_viewport_size(viewport)
        restored = lms.page.evaluate(
            "(o) => { const f = document.getElementById('tool'); f.style.height = o; "
            "return f.clientHeight; }",
            old,
        )
        # The frame lays itself out again in its own process: until it has, a click lands where the link was
        # in the stretched frame and does nothing (seen in CI: a walk stuck on a nav link after a snapshot).
        lms.frame.wait_for_function("(h) => window.innerHeight === h", arg=restored)
        lms.frame.evaluate(NEXT_PAINT)


# -- the record form -----------------------------------------------------------------------------------
def pick_session(lms: LmsBrowser, session_id: int) -> int:
    """In the picker: "observe this class" on ``session_id``; returns the draft's id (edit page open)."""
    row = lms.frame.locator(f"#results #session-{session_id}")
    go(lms, row.locator("button[type=submit]").click, EDIT)
    expect(lms.frame.locator("#record")).to_be_visible()
    return obs_id_of(lms)


def saved_prefix(frame: Any) -> str:
    """The autosave indicator's "saved" text up to the time, from the form's own message."""
    return str(frame.locator("#record").get_attribute("data-msg-saved")).split("__TIME__")[0]


def autosaved(lms: LmsBrowser, last: Callable[[], Any], field: str) -> None:
    """Run ``last`` (the final change of a batch, touching ``field``) and wait until its autosave has been
    answered and the indicator says "saved at HH:MM".

    Waiting for the request that carries the *last* field matters: an earlier save still in flight may
    answer first, and nothing is pending only once this one is done.
    """

    def carries_field(response: Any) -> bool:
        request = response.request
        return (
            request.method == "POST"
            and "/autosave" in response.url
            and f'"{field}"' in (request.post_data or "")
        )

    with lms.page.expect_response(carries_field) as info:
        last()
    assert info.value.status == 200, f"autosave answered {info.value.status}: {info.value.text()}{lms.log}"
    status = lms.frame.locator("#save-status")
    saved = re.escape(saved_prefix(lms.frame).strip())
    expect(status).to_have_text(re.compile("^" + saved + r".*\d{2}:\d{2}"))
    expect(status).not_to_have_class(re.compile("field-error"))


def fill_some(lms: LmsBrowser) -> None:
    """A first part of the record: narrative, one rating with its comment, arrival (late), 应到."""
    f = lms.frame
    f.locator("#narrative").fill(NARRATIVE)
    f.locator(f"input[name=rating__{DIMENSIONS[0]}][value=excellent]").check()
    f.locator(f"#comment__{DIMENSIONS[0]}").fill(MORAL_COMMENT)
    f.locator("#expected_count").fill("45")
    autosaved(lms, lambda: f.locator("#arrival_time").fill("08:05"), "arrival_time")


def fill_rest(lms: LmsBrowser) -> None:
    """Everything submit needs that ``fill_some`` left open (and arrival corrected to before the start)."""
    f = lms.frame
    for code in DIMENSIONS[1:]:
        f.locator(f"input[name=rating__{code}][value=good]").check()
    f.locator("#present_count").fill("43")
    f.locator("input[name=exchange_teacher_done][value=yes]").check()
    f.locator("#exchange_teacher_at").fill(f"{shanghai_today().isoformat()}T09:45")
    f.locator("#exchange_teacher_text").fill(EXCHANGE_TEXT)
    f.locator("input[name=exchange_students_done][value=no]").check()
    f.locator("#suggestions").fill(SUGGESTIONS)
    autosaved(lms, lambda: f.locator("#arrival_time").fill("07:55"), "arrival_time")


def submit(lms: LmsBrowser) -> None:
    go(lms, lms.frame.locator("button[data-action=submit]").click, VIEW)
    assert "done=submitted" in lms.frame.url, lms.frame.url
    expect(lms.frame.locator(".badge.ok").first).to_be_visible()


def start_record(new_lms: Callable[..., LmsBrowser], campus: Campus) -> tuple[LmsBrowser, int]:
    leader = new_lms()
    launch(leader, campus.leader, page="pick")
    return leader, pick_session(leader, campus.today_session)


# -- 1. pick, type, autosave, reload, another device, missing, submit ---------------------------------
def test_leader_picks_from_course_fills_autosaves_reloads_and_submits(
    third_party_cookies_blocked: None,
    lms: LmsBrowser,
    new_lms: Callable[..., LmsBrowser],
    campus: Campus,
    artifact_path: Callable[[str], Path],
) -> None:
    frame = launch(lms, campus.leader, page="pick")

    # The picker opens on the launching course: MATH101's two sessions, not CS201's.
    scope = frame.locator(".tt-scope")
    expect(scope).to_contain_text(COURSE_NAME)
    results = frame.locator("#results li.tt-session")
    expect(results).to_have_count(2)
    assert {results.nth(i).get_attribute("data-course") for i in range(2)} == {COURSE_CODE}
    assert (
        frame.locator(f"#session-{campus.other_course_session}, #next-{campus.other_course_session}").count()
        == 0
    )
    today_row = frame.locator(f"#results #session-{campus.today_session}")
    expect(today_row).to_contain_text("李老师")
    expect(today_row).to_contain_text("A101")
    snap(lms, artifact_path("picker.png"))

    obs_id = pick_session(lms, campus.today_session)
    expect(frame.locator(".obs-header")).to_contain_text(COURSE_NAME)
    for label in DIMENSION_LABELS:
        expect(frame.locator("#record")).to_contain_text(label)
    status = frame.locator("#save-status")
    expect(status).to_have_text("")

    # Typing saves to the server; an arrival after the 08:00 start is flagged.
    fill_some(lms)
    expect(frame.locator("#late-flag")).to_be_visible()

    # Reload the iframe: everything typed comes back from the server.
    reload_frame(lms)
    assert obs_id_of(lms) == obs_id
    assert frame.locator("#narrative").input_value() == NARRATIVE
    assert frame.locator(f"#comment__{DIMENSIONS[0]}").input_value() == MORAL_COMMENT
    assert frame.locator(f"input[name=rating__{DIMENSIONS[0]}][value=excellent]").is_checked()
    assert frame.locator("#expected_count").input_value() == "45"
    assert frame.locator("#arrival_time").input_value() == "08:05"
    expect(frame.locator("#late-flag")).to_be_visible()

    # Another device (a new launch in a new browser) finds the same draft on its home page.
    phone = new_lms()
    launch(phone, campus.leader)
    drafts = phone.frame.locator(f"#panel-observations a[href*='/observations/{obs_id}/edit']")
    expect(drafts).to_have_count(1)
    go(phone, drafts.click, EDIT)
    assert obs_id_of(phone) == obs_id
    assert phone.frame.locator("#narrative").input_value() == NARRATIVE
    autosaved(phone, lambda: phone.frame.locator("#strengths").fill("教学组织严谨。"), "strengths")

    # The first tab is now behind: its next change is refused, not written over the newer draft.
    conflict = str(frame.locator("#record").get_attribute("data-msg-conflict"))
    with lms.page.expect_response(lambda r: "/autosave" in r.url) as stale:
        frame.locator("#problems_text").fill("旧标签页里写的字")
    assert stale.value.status == 409
    expect(status).to_have_text(conflict)
    expect(status).to_have_class(re.compile("field-error"))

    # Submit too early: the page names what is missing, next to each field and in a summary.
    pf = phone.frame
    pf.locator("button[data-action=submit]").click()
    summary = pf.locator("#missing-summary")
    expect(summary).to_be_visible()
    for name in [
        "present_count",
        "exchange_teacher_done",
        "exchange_students_done",
        *(f"rating__{code}" for code in DIMENSIONS[1:]),
    ]:
        expect(summary.locator(f"a[href='#f-{name}']")).to_have_count(1)
        expect(pf.locator(f"#err-{name}")).not_to_be_empty()
    for name in ["narrative", "arrival_time", "expected_count", f"rating__{DIMENSIONS[0]}"]:
        expect(summary.locator(f"a[href='#f-{name}']")).to_have_count(0)
        expect(pf.locator(f"#err-{name}")).to_be_empty()
    assert re.search(EDIT, pf.url), "an incomplete record must stay on the form"
    snap(phone, artifact_path("missing.png"))

    # Complete it (arrival corrected to before the start: no longer flagged) and submit.
    fill_rest(phone)
    expect(pf.locator("#late-flag")).to_be_hidden()
    submit(phone)
    assert obs_id_of(phone) == obs_id
    record = pf.locator("body")
    for text in (
        NARRATIVE,
        MORAL_COMMENT,
        SUGGESTIONS,
        EXCHANGE_TEXT,
        "教学组织严谨。",
        "07:55",
        "45",
        "43",
        *DIMENSION_LABELS,
    ):
        expect(record).to_contain_text(text)
    expect(record).not_to_contain_text("旧标签页里写的字")
    snap(phone, artifact_path("submitted.png"))

    # The first device, reloaded, shows the submitted record as well; its stale text, kept on that device,
    # is offered beside the server's (empty) one, and choosing the server's drops it (docs/decisions.md S-3).
    reload_frame(lms)
    expect(frame.locator("#narrative")).to_have_value(NARRATIVE)
    assert frame.locator("#record").get_attribute("data-status") == "submitted"
    stale_field = frame.locator("#draft-conflict .conflict-field[data-field=problems_text]")
    expect(stale_field.locator(".conflict-device")).to_contain_text("旧标签页里写的字")
    stale_field.locator("button[data-keep=server]").click()
    expect(frame.locator("#draft-conflict")).to_have_count(0)
    assert frame.locator("#problems_text").input_value() == ""
    reload_frame(lms)
    expect(frame.locator("#draft-conflict")).to_have_count(0)
    assert frame.locator("#problems_text").input_value() == ""


# -- 2. group observation: a dean co-signs -------------------------------------------------------------
def test_co_observer_dean_cosigns_the_submitted_record(
    new_lms: Callable[..., LmsBrowser], campus: Campus, artifact_path: Callable[[str], Path]
) -> None:
    leader, obs_id = start_record(new_lms, campus)
    fill_some(leader)
    fill_rest(leader)
    f = leader.frame

    # Find the dean by name and add them; the search first saves what is being typed.
    f.locator("#suggestions").fill(SUGGESTIONS + "（补充）")
    f.locator("#find").fill("赵院长")
    go(leader, f.locator("form.search-row button[type=submit]").click, EDIT)
    found = f.locator("#people-found li", has_text="赵院长")
    expect(found).to_have_count(1)
    go(leader, found.locator("button[type=submit]").click, EDIT)
    member = f.locator("#group li", has_text="赵院长")
    expect(member).to_have_count(1)
    expect(member.locator(".badge.warn")).to_be_visible()  # invited
    expect(f.locator("#suggestions")).to_have_value(SUGGESTIONS + "（补充）")

    # Removing a co-observer leaves the page too: what was just typed is saved first (the page comes back
    # with it and keeps saving, no stale version), then the dean is invited again.
    f.locator("#suggestions").fill(SUGGESTIONS + "（再补充）")
    go(leader, member.locator("form[action*='/members/'] button").click, EDIT)
    expect(f.locator("#group li", has_text="赵院长")).to_have_count(0)
    expect(f.locator("#suggestions")).to_have_value(SUGGESTIONS + "（再补充）")
    f.locator("#find").fill("赵院长")
    go(leader, f.locator("form.search-row button[type=submit]").click, EDIT)
    go(leader, f.locator("#people-found li", has_text="赵院长").locator("button[type=submit]").click, EDIT)
    expect(member).to_have_count(1)
    expect(f.locator("#suggestions")).to_have_value(SUGGESTIONS + "（再补充）")

    # Before submission the dean sees the invitation but cannot co-sign yet.
    dean = new_lms()
    launch(dean, campus.dean)
    invitation = dean.frame.locator(link("#panel-observations", f"/observations/{obs_id}"))
    expect(invitation).to_have_count(1)
    go(dean, invitation.click, VIEW)
    assert dean.frame.locator("form[action*='/cosign']").count() == 0
    expect(dean.frame.locator("body")).to_contain_text("王校长")

    submit(leader)

    # After submission, from the dean's list of records: co-sign.
    launch(dean, campus.dean)
    go(
        dean,
        dean.frame.locator(link("#panel-observations", "/observations/")).click,
        r"/observations/(\?|$)",
    )
    listed = dean.frame.locator(link("#invitations", f"/observations/{obs_id}"))
    expect(listed).to_have_count(1)
    go(dean, listed.click, VIEW)
    go(dean, dean.frame.locator("form[action*='/cosign'] button").click, VIEW)
    assert "done=cosigned" in dean.frame.url
    expect(dean.frame.locator("form[action*='/cosign']")).to_have_count(0)
    expect(dean.frame.locator("body")).to_contain_text(NARRATIVE)
    snap(dean, artifact_path("cosigned.png"))

    # It counts once for the dean: one row among their submitted records, none among invitations.
    go(dean, dean.frame.locator(link("", "/observations/")).first.click, r"/observations/(\?|$)")
    expect(dean.frame.locator("#invitations a")).to_have_count(0)
    rows = dean.frame.locator("#submitted tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".badge.ok")).to_be_visible()

    # The leader's page shows the dean as co-signed.
    reload_frame(leader)
    co = leader.frame.locator("section.card p", has_text="赵院长")
    expect(co.locator(".badge.ok")).to_be_visible()


# -- 3. the teacher: nothing before submission; then read, acknowledge, reply --------------------------
def test_teacher_sees_only_the_submitted_record_and_replies_leader_sees_reply(
    new_lms: Callable[..., LmsBrowser], campus: Campus, artifact_path: Callable[[str], Path]
) -> None:
    leader, obs_id = start_record(new_lms, campus)
    fill_some(leader)

    # A draft exists on the server; the teacher sees nothing of it (O-12: no notice in advance).
    teacher = new_lms()
    tf = launch(teacher, campus.teacher)
    expect(tf.locator("#panel-feedback")).to_be_visible()
    expect(tf.locator("#panel-feedback li")).to_have_count(0)
    assert "高等数学" not in tf.locator("#panel-feedback").inner_text()
    go(
        teacher,
        tf.locator(link("#panel-feedback", "/observations/feedback")).click,
        r"/observations/feedback(\?|$)",
    )
    expect(tf.locator("a[href*='/observations/feedback/']")).to_have_count(0)
    direct = tf.goto(f"{teacher.tool_base}/observations/feedback/{obs_id}")  # the session cookie
    assert direct is not None and direct.status == 404, direct and direct.status
    assert NARRATIVE not in teacher.text()

    fill_rest(leader)
    submit(leader)

    # The teacher launches again: the record is there, new; they read it, mark it read and reply.
    tf = launch(teacher, campus.teacher)
    item = tf.locator(link("#panel-feedback", f"/observations/feedback/{obs_id}"))
    expect(item).to_have_count(1)
    expect(tf.locator("#panel-feedback li .badge.warn")).to_have_count(1)  # new
    go(teacher, item.click, rf"/observations/feedback/{obs_id}(\?|$)")
    body = tf.locator("body")
    for text in (COURSE_NAME, NARRATIVE, MORAL_COMMENT, EXCHANGE_TEXT, "王校长", *DIMENSION_LABELS):
        expect(body).to_contain_text(text)
    go(teacher, tf.locator("form[action*='/ack'] button").click, rf"/observations/feedback/{obs_id}(\?|$)")
    assert "done=ack" in tf.url
    expect(tf.locator("form[action*='/ack']")).to_have_count(0)
    tf.locator("#reply-text").fill(REPLY)
    go(teacher, tf.locator("form[action*='/reply'] button").click, rf"/observations/feedback/{obs_id}(\?|$)")
    assert "done=reply" in tf.url
    expect(tf.locator("#reply blockquote.reply")).to_have_text(REPLY)
    snap(teacher, artifact_path("teacher-replied.png"))

    # The leader launches again: the reply is on their home page and on the record.
    launch(leader, campus.leader)
    lf = leader.frame
    expect(lf.locator("#panel-observations blockquote.reply")).to_contain_text(REPLY)
    go(leader, lf.locator(link("#panel-observations", f"/observations/{obs_id}")).first.click, VIEW)
    expect(lf.locator("#reply blockquote.reply")).to_have_text(REPLY)
    snap(leader, artifact_path("leader-sees-reply.png"))


# -- 4. a phone ------------------------------------------------------------------------------------------
OVERFLOWING = """() => {
  const w = document.documentElement.clientWidth;
  return Array.from(document.querySelectorAll('body *'))
    .filter(el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.right > w + 0.5; })
    .slice(0, 10).map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + (typeof el.className === 'string' && el.className
         ? '.' + el.className.trim().split(/\\s+/).join('.') : '')
      + ' right=' + Math.round(el.getBoundingClientRect().right));
}"""


def assert_fits_phone(lms: LmsBrowser, what: str) -> None:
    f = lms.frame
    inner = f.evaluate("window.innerWidth")
    assert inner == PHONE["width"], f"the iframe is {inner}px wide, not phone-wide: this would prove nothing"
    width = f.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (
        f"{what} is {width}px wide in a {PHONE['width']}px iframe; too wide: {f.evaluate(OVERFLOWING)}"
    )


def test_picker_and_record_form_fit_a_phone_inside_the_iframe(
    new_lms: Callable[..., LmsBrowser], campus: Campus, artifact_path: Callable[[str], Path]
) -> None:
    phone = new_lms(PHONE)
    launch(phone, campus.leader, page="pick")
    # A phone-sized LMS page: the activity's iframe fills the screen's width (as Moodle's Boost theme does).
    phone.page.evaluate("""() => {
        document.body.style.margin = '0';
        const f = document.getElementById('tool');
        f.style.width = '100%'; f.style.height = '740px'; f.style.border = '0'; }""")
    phone.frame.wait_for_function("(w) => window.innerWidth === w", arg=PHONE["width"])
    assert_fits_phone(phone, "the picker")
    phone.frame.evaluate(NEXT_PAINT)
    phone.page.screenshot(path=str(artifact_path("picker-375.png")))

    pick_session(phone, campus.today_session)
    f = phone.frame
    assert_fits_phone(phone, "the record form")

    # The submit button can be reached (scrolled to, inside the screen) and works.
    button = f.locator("button[data-action=submit]")
    button.scroll_into_view_if_needed()
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    button.click()
    expect(f.locator("#missing-summary")).to_be_visible()
    expect(f.locator(f"#err-rating__{DIMENSIONS[0]}")).not_to_be_empty()
    assert_fits_phone(phone, "the record form with its error messages")
    f.evaluate(NEXT_PAINT)
    phone.page.screenshot(path=str(artifact_path("record-375-errors.png")))  # what the phone shows
    snap(phone, artifact_path("record-375-whole.png"))


# -- 5. the indicator never claims "saved" while a change is still waiting -----------------------------
HOLD_SAVES = """() => {
  window.heldSaves = [];
  const real = window.tingke.fetch;
  window.tingke.fetch = (url, options) =>
    new Promise(done => window.heldSaves.push(() => real(url, options).then(done)));
}"""


def test_autosave_indicator_does_not_say_saved_while_newer_typing_waits(
    new_lms: Callable[..., LmsBrowser], campus: Campus
) -> None:
    """Typing while a save is on its way: that save's answer must not show "saved" — the newer text is
    not on the server yet (closing the tab at that moment would rely on the unload flush alone)."""
    leader, _ = start_record(new_lms, campus)
    f = leader.frame
    record = f.locator("#record")
    unsaved = str(record.get_attribute("data-msg-unsaved"))
    version = f.locator("input[name=draft_version]")
    f.evaluate(HOLD_SAVES)  # saves wait until the test lets them go

    f.locator("#narrative").fill(NARRATIVE)
    f.wait_for_function("() => window.heldSaves.length === 1")
    f.locator("#strengths").fill("教学组织严谨。")  # typed while the first save is held
    f.evaluate("() => window.heldSaves[0]()")
    expect(version).to_have_value("1")  # the first save's answer has been handled …
    assert f.locator("#save-status").inner_text() == unsaved  # … and the newer text is still pending

    f.wait_for_function("() => window.heldSaves.length === 2")
    f.evaluate("() => window.heldSaves[1]()")
    expect(version).to_have_value("2")
    expect(f.locator("#save-status")).to_have_text(re.compile("^" + re.escape(saved_prefix(f).strip())))
    reload_frame(leader)
    assert leader.frame.locator("#strengths").input_value() == "教学组织严谨。"
