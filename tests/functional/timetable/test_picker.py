"""The session picker (issue 3 §3; O-10, O-11), through real launches.

The semester is laid around *today* (Asia/Shanghai) so the picker's default window (today + 6 days) and
"now and next" have classes: today is in week 2, and every course meets on every weekday, so any
7-day window holds exactly one session of each course.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from sqlalchemy import select

from lti_tool import clock
from lti_tool.directory.models import Person, PositionHolding, Unit
from lti_tool.lti.nrps import CourseMembersService
from lti_tool.observations.models import MemberRole, MemberStatus, Observation, ObservationMember
from lti_tool.observations.picker import ObserverProgress, duty_marks
from lti_tool.policy.schema import default_policy
from lti_tool.timetable.importer import TimetableImporter
from lti_tool.timetable.models import ClassSession, Course, CourseSection
from lti_tool.timetable.periods import PeriodService
from lti_tool.timetable.search import SessionFacts, TeacherFacts
from lti_tool.timetable.semesters import SemesterService
from tests.functional.timetable.test_import import HEADER_EN, csrf_of, csv_bytes
from tests.support.platform import LTI, ROLE_INSTRUCTOR, ROLE_LEARNER, LmsUser

PERIODS = [["period", "start", "end"]] + [[str(n), f"{7 + n:02d}:00", f"{7 + n:02d}:45"] for n in range(1, 9)]
COURSES = [  # code, name, kind, offering unit, teachers, classes, student unit, periods, full time
    (
        "MKS101",
        "思想道德与法治",
        "思政必修",
        "马克思主义学院",
        "M001",
        "计算机2301",
        "计算机学院",
        "1-2",
        "是",
    ),
    ("CS201", "数据结构", "专业必修", "计算机学院", "T001", "计算机2301", "计算机学院", "3-4", "是"),
    ("EE301", "电路分析", "专业必修", "电气学院", "T002", "电气2301", "电气学院", "5-6", "是"),
    ("PT101", "成人教育导论", "专业选修", "电气学院", "T002", "成教2301", "电气学院", "7-8", "否"),
]


def today() -> dt.date:
    return clock.today()


def timetable_rows(semester: str, courses=COURSES) -> list[list[str]]:
    return [
        [
            semester,
            code,
            name,
            kind,
            unit,
            teachers,
            classes,
            student_unit,
            str(day),
            periods,
            "1-16",
            f"R{day}",
            full_time,
        ]
        for code, name, kind, unit, teachers, classes, student_unit, periods, full_time in courses
        for day in range(1, 8)
    ]


@dataclass
class World:
    institution_id: int
    units: dict[str, int]
    semester: str


@pytest.fixture
def world(session_factory, institution_id) -> World:
    CourseMembersService.clear_cache()
    monday = today() - dt.timedelta(days=today().weekday()) - dt.timedelta(days=7)
    code = f"{monday.year}-{monday.year + 1}-1"
    with session_factory.begin() as s:
        units = {}
        for ucode, name, kind, function in [
            ("CS", "计算机学院", "college", ""),
            ("EE", "电气学院", "college", ""),
            ("MX", "马克思主义学院", "marxism_school", ""),
            ("QC", "教学质量监控与评价中心", "department", "quality_center"),
        ]:
            unit = Unit(institution_id=institution_id, code=ucode, name=name, kind=kind, function=function)
            s.add(unit)
            s.flush()
            units[ucode] = unit.id
        people = [
            ("M001", "马老师", "MX", ()),
            ("T001", "张老师", "CS", ()),
            ("T002", "李老师", "EE", ()),
            ("L001", "赵校长", None, ("vp_ideology",)),
            ("D001", "钱院长", "CS", ("college_dean",)),
            ("X001", "孙书记", "MX", ("marxism_school_leader",)),
            ("H001", "周处长", None, ("head_academic_affairs",)),
            ("Q001", "质控员", "QC", ()),
        ]
        for no, name, ucode, positions in people:
            person = Person(
                institution_id=institution_id,
                employee_no=no,
                name=name,
                email=f"{no.lower()}@jti.edu",
                unit_id=units[ucode] if ucode else None,
            )
            for position in positions:
                person.positions.append(
                    PositionHolding(
                        institution_id=institution_id,
                        position_code=position,
                        start_date=monday - dt.timedelta(days=365),
                    )
                )
            s.add(person)
        SemesterService(s, institution_id).add(code, monday, 16, [])
        PeriodService(s, institution_id).import_periods(csv_bytes(PERIODS), "periods.csv")
        data = csv_bytes([HEADER_EN, *timetable_rows(code)])
        TimetableImporter(s, institution_id).import_file(data, "t.csv")
    return World(institution_id, units, code)


@dataclass
class Item:
    id: int
    course: str
    date: str
    rules: list[str]
    submitted: int
    pending: int
    mine: bool
    can_start: bool


def items(text: str, section: str = "results") -> list[Item]:
    """The session rows of one section of a picker or home page."""
    assert f'id="{section}"' in text, f"no section {section}"
    part = text.split(f'id="{section}"', 1)[1].split("</section>", 1)[0]
    out = []
    for block in part.split('<li class="tt-session')[1:]:
        block = block.split("</li>", 1)[0]

        def attr(name: str, block: str = block) -> str:
            match = re.search(rf'{name}="([^"]*)"', block)
            assert match, name
            return match.group(1)

        out.append(
            Item(
                int(attr("id").rsplit("-", 1)[1]),
                attr("data-course"),
                attr("data-date"),
                re.findall(r'data-rule="([^"]+)"', block),
                int(attr("data-submitted")),
                int(attr("data-pending")),
                "tt-mine" in block,
                'name="session_id"' in block,
            )
        )
    return out


def launch(
    launcher,
    platform,
    no: str,
    *,
    context: dict | None = None,
    sourcedid: str | None = None,
    roles: list[str] | None = None,
):
    platform.context = context or {"id": "leaders", "label": "LEADERS", "title": "领导听课"}
    lis = {
        "person_sourcedid": no,
        "course_offering_sourcedid": platform.context["label"] if sourcedid is None else sourcedid,
    }
    return launcher.launch(
        LmsUser(f"u-{no}", no, f"{no.lower()}@jti.edu", no, roles or [ROLE_LEARNER]), **{LTI + "lis": lis}
    )


def pick(client, session, query: str = ""):
    page = session.get(client, f"/timetable/pick{'?' + quote(query, safe='=&') if query else ''}")
    assert page.status_code == 200, page.get_data(as_text=True)[:2000]
    return page.get_data(as_text=True)


def courses_of(found: list[Item]) -> set[str]:
    return {i.course for i in found}


# -- scope: the launching course ------------------------------------------------------------------------
def test_course_launch_opens_on_that_courses_sessions(world, launcher, platform, client) -> None:
    context = {"id": "m-55", "label": "思政课", "title": "思想道德与法治"}
    leader = launch(launcher, platform, "L001", context=context, sourcedid="MKS101")
    text = pick(client, leader)
    found = items(text)
    assert found and courses_of(found) == {"MKS101"}
    assert min(i.date for i in found) >= today().isoformat()
    assert "scope=all" in text  # a way out to the whole institution
    everything = items(pick(client, leader, "scope=all"))
    assert courses_of(everything) == {"MKS101", "CS201", "EE301"}


def test_context_label_is_the_fallback_course_key(world, launcher, platform, client) -> None:
    dean = launch(
        launcher,
        platform,
        "D001",
        context={"id": "m-56", "label": "CS201", "title": "数据结构"},
        sourcedid="",
    )
    assert courses_of(items(pick(client, dean))) == {"CS201"}


def test_a_course_outside_the_timetable_opens_on_all_classes_not_its_members(
    world, launcher, platform, client
) -> None:
    """Issue 11 §8: launched from the leaders' own course (its members teach, but it is no timetable
    course), the picker opens on every class now and next, not on the members' classes."""
    platform.members["m-57"] = [
        {"user_id": "u-T002", "lis_person_sourcedid": "T002", "roles": [ROLE_INSTRUCTOR], "status": "Active"},
        {"user_id": "u-H001", "lis_person_sourcedid": "H001", "roles": [ROLE_INSTRUCTOR], "status": "Active"},
    ]
    context = {"id": "m-57", "label": "LEADERS", "title": "领导干部听课"}
    head = launch(launcher, platform, "H001", context=context, roles=[ROLE_INSTRUCTOR])
    text = pick(client, head)
    assert courses_of(items(text)) == {"MKS101", "CS201", "EE301"}
    assert "tt-scope" not in text  # no narrowing to announce


def test_on_a_phone_the_classes_come_before_the_search_form(world, launcher, platform, client) -> None:
    text = pick(client, launch(launcher, platform, "L001"))
    assert 'class="pick-page"' in text and 'class="card tt-search"' in text  # ordered by app.css on a phone


def test_quality_center_maps_an_lms_course(world, launcher, platform, client) -> None:
    context = {"id": "m-99", "label": "DS-2026", "title": "数据结构（2026 秋）"}
    qc = launch(launcher, platform, "Q001", context=context, roles=[ROLE_INSTRUCTOR])
    page = qc.get(client, "/timetable/mappings")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'value="m-99"' in text  # the course the quality center launched from is offered
    bad = client.post(
        f"/timetable/mappings?s={qc.token}",
        data={
            "csrf": csrf_of(text),
            "platform_id": re.search(r'<option value="(\d+)"', text).group(1),
            "context_id": "m-99",
            "context_title": context["title"],
            "course_code": "NOPE",
        },
    )
    assert bad.status_code == 422
    saved = client.post(
        f"/timetable/mappings?s={qc.token}",
        data={
            "csrf": csrf_of(text),
            "platform_id": re.search(r'<option value="(\d+)"', text).group(1),
            "context_id": "m-99",
            "context_title": context["title"],
            "course_code": "CS201",
        },
    )
    assert saved.status_code == 303
    assert "CS201" in client.get(saved.headers["Location"]).get_data(as_text=True)

    dean = launch(launcher, platform, "D001", context=context, sourcedid="")
    assert courses_of(items(pick(client, dean))) == {"CS201"}


# -- search ---------------------------------------------------------------------------------------------
def test_search_across_the_institution(world, launcher, platform, client) -> None:
    head = launch(launcher, platform, "H001")
    found = items(pick(client, head))
    assert len(found) == 21  # 3 full-time courses × 7 days (today + 6)
    assert courses_of(found) == {"MKS101", "CS201", "EE301"}  # PT101 is not for full-time students (O-10)

    def search(query: str) -> set[str]:
        return courses_of(items(pick(client, head, query)))

    assert search("teacher=T002") == {"EE301"}
    assert search("teacher=马老师") == {"MKS101"}
    assert search("course=数据") == {"CS201"}
    assert search("course=ee301") == {"EE301"}
    assert search("class=电气") == {"EE301"}
    assert search(f"unit={world.units['EE']}") == {"EE301"}
    assert search(f"unit={world.units['CS']}") == {"MKS101", "CS201"}  # CS teacher, or CS students
    assert search("ideological=1") == {"MKS101"}
    assert search("course=PT101") == set()
    day = (today() + dt.timedelta(days=2)).isoformat()
    one_day = items(pick(client, head, f"from={day}&to={day}"))
    assert len(one_day) == 3 and {i.date for i in one_day} == {day}
    first = pick(client, head, "from=&to=")
    everything = items(first)
    assert len(everything) == 25  # one page of 3 × 7 × 16
    next_link = html.unescape(re.search(r'href="([^"]*page=2[^"]*)"', first).group(1))
    page2 = items(client.get(next_link).get_data(as_text=True))  # the link keeps the emptied dates
    assert len(page2) == 25 and not {i.id for i in page2} & {i.id for i in everything}
    assert min(i.date for i in page2) >= max(i.date for i in everything)
    assert head.get(client, "/timetable/pick?from=tomorrow").status_code == 400
    assert head.get(client, f"/timetable/pick?from={day}&to={today().isoformat()}").status_code == 400


def test_vanished_sessions_never_appear(world, launcher, platform, client, session_factory) -> None:
    day = today() + dt.timedelta(days=1)
    with session_factory.begin() as s:
        kept = _observe(s, world.institution_id, "EE301", day, "Q001")
        # EE301 leaves the (replaced) timetable: its observed session stays, flagged vanished; the rest go
        rows = timetable_rows(world.semester, [c for c in COURSES if c[0] != "EE301"])
        data = csv_bytes([HEADER_EN, *rows])
        result = TimetableImporter(s, world.institution_id).import_file(data, "t.csv", replace=True)
        assert result.flagged_vanished == 1
        assert s.scalar(select(ClassSession.status).where(ClassSession.id == kept)) == "vanished"
    head = launch(launcher, platform, "H001")
    assert "EE301" not in courses_of(items(pick(client, head, "from=&to=")))
    assert items(pick(client, head, "course=EE301&from=&to=")) == []


def test_now_and_next(world, launcher, platform, client) -> None:
    head = launch(launcher, platform, "H001")
    upcoming = items(pick(client, head), "now-next")
    assert 1 <= len(upcoming) <= 5
    last = (today() + dt.timedelta(days=7)).isoformat()
    assert all(today().isoformat() <= i.date <= last for i in upcoming)
    assert "PT101" not in courses_of(upcoming)
    home = head.get(client, "/home")
    assert home.status_code == 200
    on_home = items(home.get_data(as_text=True), "now-next")
    assert [i.id for i in on_home] == [i.id for i in upcoming]


# -- what each row says ---------------------------------------------------------------------------------
def _observe(
    s,
    institution_id: int,
    course: str,
    day: dt.date,
    author_no: str,
    *,
    status: str = "submitted",
    members: tuple[tuple[str, str], ...] = (),
) -> int:
    session = s.scalars(
        select(ClassSession)
        .join(CourseSection)
        .join(Course)
        .where(Course.code == course, ClassSession.date == day)
    ).one()
    people = {p.employee_no: p.id for p in s.scalars(select(Person))}
    obs = Observation(
        institution_id=institution_id,
        session_id=session.id,
        semester_id=session.semester_id,
        author_id=people[author_no],
        status=status,
        extra={},
    )
    obs.members.append(
        ObservationMember(
            institution_id=institution_id,
            person_id=people[author_no],
            session_id=session.id,
            role=MemberRole.AUTHOR,
            status=MemberStatus.SIGNED if status == "submitted" else MemberStatus.INVITED,
        )
    )
    for no, member_status in members:
        obs.members.append(
            ObservationMember(
                institution_id=institution_id,
                person_id=people[no],
                session_id=session.id,
                role=MemberRole.CO_OBSERVER,
                status=member_status,
            )
        )
    s.add(obs)
    s.flush()
    return session.id


def test_each_row_counts_the_observers_already_on_it(
    world, launcher, platform, client, session_factory
) -> None:
    day = today() + dt.timedelta(days=1)
    with session_factory.begin() as s:
        busy = _observe(
            s,
            world.institution_id,
            "CS201",
            day,
            "L001",
            members=(("D001", MemberStatus.SIGNED), ("X001", MemberStatus.DECLINED)),
        )
        _observe(s, world.institution_id, "CS201", day, "H001", status="draft")
        _observe(s, world.institution_id, "CS201", day, "D001", status="draft")  # D001 already counts as done
    head = launch(launcher, platform, "H001")
    rows = {i.id: i for i in items(pick(client, head))}
    assert (rows[busy].submitted, rows[busy].pending, rows[busy].mine) == (2, 1, True)
    quiet = [i for i in rows.values() if i.id != busy]
    assert all((i.submitted, i.pending, i.mine) == (0, 0, False) for i in quiet)


def test_rows_are_marked_with_the_duties_they_count_toward(
    world, launcher, platform, client, session_factory
) -> None:
    def marks(no: str) -> dict[str, set[str]]:
        found = items(pick(client, launch(launcher, platform, no)))
        out: dict[str, set[str]] = {}
        for i in found:
            out.setdefault(i.course, set()).update(i.rules)
        return out

    assert marks("L001") == {"MKS101": {"O-3"}, "CS201": set(), "EE301": set()}  # 思政 course, O-3
    assert marks("D001") == {"MKS101": {"O-10"}, "CS201": {"O-10"}, "EE301": set()}  # own college's
    assert marks("X001") == {"MKS101": {"O-6"}, "CS201": set(), "EE301": set()}  # Marxism-School teacher
    assert marks("H001") == {"MKS101": set(), "CS201": set(), "EE301": set()}  # plain minimum count

    # once the leader has observed the course (O-3) and M001 (O-6), those marks go away
    with session_factory.begin() as s:
        _observe(s, world.institution_id, "MKS101", today(), "L001", members=(("X001", MemberStatus.SIGNED),))
    assert marks("L001")["MKS101"] == set()
    assert marks("X001")["MKS101"] == set()


def test_observe_button_posts_the_session(world, launcher, platform, client) -> None:
    found = items(pick(client, launch(launcher, platform, "H001")))
    assert found
    assert all(i.can_start for i in found)


def test_who_may_pick(world, launcher, platform, client) -> None:
    teacher = launch(launcher, platform, "T001", roles=[ROLE_INSTRUCTOR])
    assert teacher.get(client, "/timetable/pick").status_code == 403
    qc = launch(launcher, platform, "Q001", roles=[ROLE_INSTRUCTOR])
    assert qc.get(client, "/timetable/pick").status_code == 200


# -- the marking rule itself (pure) ---------------------------------------------------------------------
MX_TEACHER = TeacherFacts(1, 10, "marxism_school")
CS_TEACHER = TeacherFacts(2, 20, "college")


def test_duty_marks_o3_o8_ideological_courses() -> None:
    policy = default_policy()
    ideological = SessionFacts("MKS101", "思政必修", (MX_TEACHER,), 20)
    plain = SessionFacts("CS201", "专业必修", (CS_TEACHER,), 20)
    assert duty_marks(policy, {"president"}, ideological) == ("O-3",)
    assert duty_marks(policy, {"president"}, plain) == ()
    assert (
        duty_marks(
            policy, {"president"}, ideological, ObserverProgress(observed_course_codes=frozenset({"MKS101"}))
        )
        == ()
    )
    assert duty_marks(policy, {"head_propaganda"}, ideological) == ("O-8",)
    done = ObserverProgress(ideological_observations=1)
    assert duty_marks(policy, {"head_propaganda"}, ideological, done) == ()
    assert duty_marks(policy, {"school_leader", "head_hr"}, ideological) == ()


def test_duty_marks_o6_and_o10() -> None:
    policy = default_policy()
    session = SessionFacts("MKS101", "思政必修", (MX_TEACHER, CS_TEACHER), 30)
    assert duty_marks(policy, {"marxism_school_leader"}, session) == ("O-6",)
    assert (
        duty_marks(
            policy, {"marxism_school_leader"}, session, ObserverProgress(observed_teacher_ids=frozenset({1}))
        )
        == ()
    )
    assert duty_marks(policy, {"college_dean"}, session, ObserverProgress(unit_id=20)) == ("O-10",)
    assert duty_marks(policy, {"college_party_head"}, session, ObserverProgress(unit_id=30)) == ("O-10",)
    assert duty_marks(policy, {"college_dean"}, session, ObserverProgress(unit_id=99)) == ()
    assert duty_marks(policy, {"head_security"}, session) == ()  # patrol duty only (O-9)
    both = duty_marks(policy, {"vp_ideology", "marxism_school_leader"}, session)
    assert set(both) == {"O-3", "O-6"}


def test_duty_marks_o10_a_teacher_of_a_teaching_office_under_the_college() -> None:
    """本院（部）教师 includes a teacher on the roster under one of the college's teaching offices (unit 21,
    parent 20), as the engine counts it (docs/decisions.md P-5)."""
    policy = default_policy()
    office_teacher = TeacherFacts(3, 21, "teaching_office", 20)
    session = SessionFacts("CS301", "专业必修", (office_teacher,), 40)
    assert duty_marks(policy, {"college_dean"}, session, ObserverProgress(unit_id=20)) == ("O-10",)
    assert duty_marks(policy, {"college_dean"}, session, ObserverProgress(unit_id=30)) == ()
