"""Localisation: the catalogs are complete, and pages really come out in Chinese (zh_CN is the default).

Two halves:

* the catalogs — every msgid the code marks (``_()``, ``gettext``, ``lazy_gettext``, ``N_`` and the first
  argument of the domain errors of ``lti_tool/errors.py``) is in ``messages.pot``, and every msgid of the
  template has a non-fuzzy zh_CN translation with the same %(name)s placeholders. A string added without
  running ``scripts/i18n.sh`` + a translation pass fails here, not in front of a college leader;
* the running app — through real LTI launches, the observer's home, the session picker, the quality
  center's home and the other main pages show no English UI word in the default locale, and the language
  switch (``POST /home/locale``) turns the same page English.
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po
from sqlalchemy import select

from lti_tool import clock, errors
from lti_tool.directory.models import Person, PositionHolding, Unit
from lti_tool.lti.models import Platform
from lti_tool.policy.schema import default_policy
from lti_tool.timetable.importer import TimetableImporter
from lti_tool.timetable.periods import PeriodService
from lti_tool.timetable.semesters import SemesterService
from tests.functional.timetable.test_import import HEADER_EN, csv_bytes
from tests.support.launch import LaunchResult
from tests.support.platform import LTI, ROLE_INSTRUCTOR, ROLE_LEARNER, LmsUser

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "lti_tool" / "translations"
SOURCE_DIRS = ("lti_tool", "worker", "templates")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdifr]")


# -- the catalogs -----------------------------------------------------------------------------------------
def _catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)


@pytest.fixture(scope="module")
def template() -> Catalog:
    return _catalog(TRANSLATIONS / "messages.pot")


@pytest.fixture(scope="module")
def zh_cn() -> Catalog:
    """The catalog zh_CN pages use: it lives in ``zh`` (Babel resolves zh_CN to zh_Hans_CN → ``zh``)."""
    return _catalog(TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po", "zh")


def _script_keywords() -> list[str]:
    """The ``-k`` keywords of scripts/i18n.sh: the one list extraction and this test share."""
    return re.findall(r"-k (\S+)", (ROOT / "scripts" / "i18n.sh").read_text(encoding="utf-8"))


def _msgid(message_id: str | tuple[str, ...] | list[str]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def test_extraction_keywords_cover_gettext_and_every_domain_error() -> None:
    keywords = set(_script_keywords())
    assert {"_", "gettext", "ngettext:1,2", "lazy_gettext", "N_"} <= keywords
    error_classes = {
        name
        for name, obj in vars(errors).items()
        if isinstance(obj, type) and issubclass(obj, errors.TingkeError)
    }
    assert error_classes >= {
        "TingkeError",
        "BadRequest",
        "Forbidden",
        "NotFound",
        "Conflict",
        "ValidationFailed",
        "LaunchRefused",
        "NotAuthenticated",
    }
    assert error_classes <= keywords, f"add -k for {sorted(error_classes - keywords)} to scripts/i18n.sh"


def test_template_holds_every_marked_string(template: Catalog) -> None:
    """What the code marks today equals messages.pot: otherwise run scripts/i18n.sh and translate."""
    keywords = dict(DEFAULT_KEYWORDS)
    keywords.update(parse_keywords(_script_keywords()))
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    assert {pattern.split("/")[0] for pattern, _ in method_map} >= set(SOURCE_DIRS)

    def wanted(dirpath: str) -> bool:
        rel = Path(dirpath).relative_to(ROOT).parts
        return not rel or rel[0] in SOURCE_DIRS and not any(p.startswith((".", "_")) for p in rel)

    found = {
        _msgid(m[2]): m[0]
        for m in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords, directory_filter=wanted
        )
    }
    found.pop("", None)
    in_template = {_msgid(m.id) for m in template if m.id}
    missing = sorted(set(found) - in_template)
    assert not missing, f"not in messages.pot (run scripts/i18n.sh): {[(found[m], m) for m in missing][:20]}"
    stale = sorted(in_template - set(found))
    assert not stale, f"no longer in the code (run scripts/i18n.sh): {stale[:20]}"


def test_every_msgid_has_a_chinese_translation_with_the_same_placeholders(
    template: Catalog, zh_cn: Catalog
) -> None:
    problems = []
    ids = [m.id for m in template if m.id]
    assert len(ids) > 500  # the catalog is the real one, not an empty shell
    for msgid in ids:
        entry = zh_cn.get(msgid)
        strings = (
            []
            if entry is None
            else (list(entry.string) if isinstance(entry.string, (list, tuple)) else [entry.string])
        )
        if entry is None or not strings or not all(s and s.strip() for s in strings):
            problems.append(f"untranslated: {msgid!r}")
            continue
        if entry.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        names = set(PLACEHOLDER.findall(_msgid(msgid)))
        for text in [str(s) for s in strings]:
            if set(PLACEHOLDER.findall(text)) != names:
                problems.append(f"placeholders differ: {msgid!r} -> {text!r}")
            try:  # as gettext(msgid, **params) and Jinja's newstyle _() do: a stray "%" would raise here
                text % {n: "x" for n in names}
            except (ValueError, TypeError, KeyError) as exc:
                problems.append(f"does not format ({exc}): {text!r}")
            if text == _msgid(msgid) and re.search(r"[A-Za-z]{3,}", text):
                problems.append(f"left in English: {msgid!r}")
    assert not problems, "\n".join(problems[:40])


def test_english_catalog_falls_back_to_the_msgids() -> None:
    """``en`` shows the msgids: its catalog must hold no stray (e.g. Chinese) translation."""
    en = _catalog(TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po", "en")
    odd = [m.id for m in en if m.id and m.string and m.string != m.id]
    assert not odd, odd[:10]


# -- the running app --------------------------------------------------------------------------------------
class VisibleText(HTMLParser):
    """The text a person sees: text nodes outside script/style, and the attributes shown as text.

    ``<code>`` is left out: it shows identifiers a person types into a file (position codes, rule kinds
    of the policy TOML), which stay as they are in every language.
    """

    SHOWN = ("placeholder", "title", "aria-label", "alt")

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template", "code"):
            self._hidden += 1
        values = dict(attrs)
        for name, value in attrs:
            shown = (
                name in self.SHOWN
                or name.startswith("data-msg")
                or name == "data-confirm"
                or (name == "value" and tag == "input" and values.get("type") in ("submit", "button"))
            )
            if shown and value:  # "__TIME__" and the like are filled in by JavaScript
                self.parts.append(re.sub(r"__[A-Z]+__", "", value))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template", "code"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts)


# Words that stay English in the Chinese UI: the language switch, file formats/protocols and size units.
ALLOWED = {
    "MB",
    "English",
    "ID",
    "CSV",
    "XLSX",
    "Excel",
    "PDF",
    "LTI",
    "TOML",
    "UTF",
    "GB",
    "YYYY",
    "MM",
    "DD",
    "HH",
}
COMMON_UI_WORDS = (
    "Submit",
    "Save",
    "Search",
    "Home",
    "Semester",
    "Observation",
    "Records",
    "Cancel",
    "Add",
    "Import",
    "Export",
    "Download",
    "Status",
    "Teacher",
    "Course",
    "Date",
    "Name",
    "Position",
)


# Data shown as it is: e-mail addresses and the policy's position codes (shown next to position names).
POSITION_CODES = sorted(default_policy().positions, key=len, reverse=True)
DATA = re.compile(r"[\w.+-]+@[\w.-]+|\b(?:" + "|".join(POSITION_CODES) + r")\b")


def english_words(html: str) -> set[str]:
    return {w for w in re.findall(r"[A-Za-z]{2,}", DATA.sub(" ", visible_text(html))) if w not in ALLOWED}


def today() -> dt.date:
    return clock.today()


@pytest.fixture
def college(session_factory, institution_id, platform) -> str:  # type: ignore[no-untyped-def]
    """A small college with no English in its data: units, leaders, teachers, a semester around today.

    Codes are digits (unit, course, employee numbers, the LMS course id) and the simulated LMS gets a
    Chinese name, so any Latin word on a page is UI text.
    """
    monday = today() - dt.timedelta(days=today().weekday()) - dt.timedelta(days=7)
    semester = f"{monday.year}-{monday.year + 1}-1"
    with session_factory.begin() as s:
        for row in s.scalars(select(Platform)):
            row.name = "学校网络教学平台"
        units = {}
        for code, name, kind, function in [
            ("01", "汽车工程学院", "college", ""),
            ("02", "马克思主义学院", "marxism_school", ""),
            ("03", "教学质量监控与评价中心", "department", "quality_center"),
            ("04", "后勤管理处", "department", ""),
        ]:
            units[code] = Unit(
                institution_id=institution_id, code=code, name=name, kind=kind, function=function
            )
            s.add(units[code])
        s.flush()
        start = monday - dt.timedelta(days=365)
        for no, name, unit, positions in [
            ("1001", "赵校长", None, ("school_leader", "vp_ideology", "head_student_affairs")),
            ("2001", "马老师", "02", ()),
            ("2002", "汽老师", "01", ()),
            ("3001", "钱院长", "01", ("college_dean",)),
            ("9001", "质控员", "03", ()),
            ("4001", "孙处长", "04", ("head_logistics",)),
        ]:
            person = Person(
                institution_id=institution_id,
                employee_no=no,
                name=name,
                email=f"p{no}@jti.edu",
                unit_id=units[unit].id if unit else None,
            )
            for position in positions:
                person.positions.append(
                    PositionHolding(institution_id=institution_id, position_code=position, start_date=start)
                )
            s.add(person)
        SemesterService(s, institution_id).add(semester, monday, 16, [])
        periods = [["period", "start", "end"]] + [
            [str(n), f"{7 + n:02d}:00", f"{7 + n:02d}:45"] for n in range(1, 9)
        ]
        PeriodService(s, institution_id).import_periods(csv_bytes(periods), "periods.csv")
        rows = [
            [
                semester,
                code,
                name,
                kind,
                unit,
                teacher,
                "汽车2301",
                "汽车工程学院",
                str(day),
                periods_,
                "1-16",
                f"{day}01",
                "是",
            ]
            for code, name, kind, unit, teacher, periods_ in [
                ("110101", "思想道德与法治", "思政必修", "马克思主义学院", "2001", "1-2"),
                ("120202", "汽车构造", "专业必修", "汽车工程学院", "2002", "3-4"),
            ]
            for day in range(1, 8)
        ]
        TimetableImporter(s, institution_id).import_file(csv_bytes([HEADER_EN, *rows]), "timetable.csv")
    return semester


def launch(
    launcher,
    platform,
    no: str,
    roles: list[str] | None = None,  # type: ignore[no-untyped-def]
    claims: dict[str, object] | None = None,
) -> LaunchResult:
    platform.context = {"id": "101", "label": "领导听课", "title": "领导干部听课"}
    return launcher.launch(
        LmsUser(f"u-{no}", f"用户{no}", f"p{no}@jti.edu", no, roles or [ROLE_LEARNER]), **(claims or {})
    )


def get_ok(client, session: LaunchResult, path: str) -> str:  # type: ignore[no-untyped-def]
    page = session.get(client, path)
    assert page.status_code == 200, f"{path}: {page.status_code} {page.get_data(as_text=True)[:1500]}"
    return page.get_data(as_text=True)


# Known leaks the page's owner has to fix (reported); listed per page so nothing else slips through.
KNOWN_LEAKS = {
    # templates/policy/policy.html passes the unit kind code ("marxism_school") as %(kind)s, not its label.
    "/policy/rules": {"marxism", "school"},
}


def assert_chinese(html: str, path: str) -> None:
    assert re.search(r'<html lang="zh-CN"', html), path
    common = [w for w in COMMON_UI_WORDS if re.search(rf"\b{w}\b", visible_text(html))]
    assert not common, f"{path}: English UI words {common}"
    leaked = english_words(html) - KNOWN_LEAKS.get(path, set())
    assert not leaked, f"{path}: English words on a Chinese page: {sorted(leaked)}"


OBSERVER_PAGES = [
    "/home",
    "/timetable/pick",
    "/timetable/pick?scope=all",
    "/observations/",
    "/policy/me",
    "/patrols/",
    "/problems/",
]
QC_PAGES = [
    "/home",
    "/policy/",
    "/policy/rules",
    "/directory/units",
    "/directory/people",
    "/directory/users/unmatched",
    "/timetable/semesters",
    "/timetable/periods",
    "/timetable/import",
    "/timetable/mappings",
    "/observations/all",
    "/reports/",
    "/archive/",
    "/problems/",
]


def test_observer_pages_are_chinese_by_default(college, launcher, platform, client) -> None:  # type: ignore[no-untyped-def]
    leader = launch(launcher, platform, "1001")
    home = get_ok(client, leader, "/home")
    assert "赵校长" in home and "我的听课任务" in home  # the page is the observer's, in Chinese
    for path in OBSERVER_PAGES:
        assert_chinese(get_ok(client, leader, path), path)


def test_observation_form_is_chinese(college, launcher, platform, client) -> None:  # type: ignore[no-untyped-def]
    """The record form (the longest page an observer fills), opened from the picker's start button."""
    leader = launch(launcher, platform, "1001")
    picker = get_ok(client, leader, "/timetable/pick?scope=all")
    form = re.search(
        r'<form method="post" action="([^"]+)"[^>]*>\s*<input type="hidden" name="csrf" '
        r'value="([^"]+)">\s*<input type="hidden" name="session_id" value="(\d+)"',
        picker,
    )
    assert form, "no start button on the picker"
    action, csrf, session_id = (form.group(i).replace("&amp;", "&") for i in (1, 2, 3))
    started = client.post(action, data={"csrf": csrf, "session_id": session_id})
    assert started.status_code == 303, started.get_data(as_text=True)[:1500]
    edit = client.get(started.headers["Location"])
    assert edit.status_code == 200
    assert_chinese(edit.get_data(as_text=True), "observation form")


def test_quality_center_pages_are_chinese_by_default(college, launcher, platform, client) -> None:  # type: ignore[no-untyped-def]
    qc = launch(launcher, platform, "9001", [ROLE_INSTRUCTOR])
    home = get_ok(client, qc, "/home")
    assert "教学质量监控与评价中心" in visible_text(home)
    for path in QC_PAGES:
        assert_chinese(get_ok(client, qc, path), path)
    people = get_ok(client, qc, "/directory/people")
    person_id = re.search(r'href="/directory/people/(\d+)', people)
    assert person_id, "no link to a person's page"
    for path in (f"/directory/people/{person_id.group(1)}", f"/policy/person/{person_id.group(1)}"):
        assert_chinese(get_ok(client, qc, path), path)


def test_teacher_handler_and_learner_pages_are_chinese(college, launcher, platform, client) -> None:  # type: ignore[no-untyped-def]
    teacher = launch(launcher, platform, "2002", [ROLE_INSTRUCTOR])
    for path in ("/home", "/observations/feedback"):
        assert_chinese(get_ok(client, teacher, path), path)
    student = launch(launcher, platform, "S001")
    assert_chinese(get_ok(client, student, "/home"), "learner home")


def test_domain_error_message_is_translated(college, launcher, platform, client) -> None:  # type: ignore[no-untyped-def]
    """A ``NotFound("No observation record %(id)s.")`` raised by a service reaches the page in Chinese."""
    qc = launch(launcher, platform, "9001", [ROLE_INSTRUCTOR])
    page = qc.get(client, "/observations/all/987654")
    assert page.status_code == 404
    text = visible_text(page.get_data(as_text=True))
    assert "听课记录 987654 不存在" in text
    assert "No observation record" not in text


def _switch_to_english(client, session: LaunchResult, html: str, back_to: str):  # type: ignore[no-untyped-def]
    csrf = re.search(r'data-csrf="([^"]+)"', html)
    assert csrf
    form = {"csrf": csrf.group(1), "locale": "en", "next": f"{back_to}?s={session.token}"}
    switched = client.post(f"/home/locale?s={session.token}", data=form)
    assert switched.status_code == 303
    return client.get(switched.headers["Location"])


def test_language_switch_turns_the_same_page_english(college, launcher, platform, client) -> None:  # type: ignore[no-untyped-def]
    leader = launch(launcher, platform, "1001")
    chinese = get_ok(client, leader, "/timetable/pick")
    assert "选课听课" in chinese and "查询" in chinese
    page = _switch_to_english(client, leader, chinese, "/timetable/pick")
    assert page.status_code == 200
    english = visible_text(page.get_data(as_text=True))
    assert '<html lang="en"' in page.get_data(as_text=True)
    assert "Pick a class to observe" in english and "Search" in english
    assert "选课听课" not in english and "查询" not in english
    assert "中文" in english  # the way back
    home = visible_text(get_ok(client, leader, "/home"))  # the choice sticks to the launch session
    assert "My observation duties" in home and "我的听课任务" not in home
    assert "赵校长" in home  # data stays as it is


def test_english_lms_user_lands_in_english(college, launcher, platform, client) -> None:  # type: ignore[no-untyped-def]
    """Moodle sends the user's language in launch_presentation.locale; an English user gets the msgids."""
    leader = launch(launcher, platform, "1001", claims={LTI + "launch_presentation": {"locale": "en-US"}})
    home = visible_text(get_ok(client, leader, "/home"))
    assert "My observation duties" in home and "我的听课任务" not in home
