"""Searching class sessions for the picker, the home panel and the reminders (O-10, O-11).

The picker lists only sessions of full-time sections that have not vanished (``SessionSearchService``).
What an observer has done on them (who is on a session, which duties it would count toward) is the
observations domain's to say: ``lti_tool/observations/picker.py`` decorates these views.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import exists, false, func, or_, select
from sqlalchemy.orm import Session, aliased

from lti_tool import clock
from lti_tool.directory.models import Person, Unit
from lti_tool.errors import NotFound
from lti_tool.policy.schema import Policy
from lti_tool.tenancy import Institution
from lti_tool.timetable.mapping import CourseMappingService
from lti_tool.timetable.models import (
    ClassSession,
    Course,
    CourseSection,
    SectionTeacher,
    SessionStatus,
)

# -- what other domains add to the picker's rows -----------------------------------------------------
SessionDecoration = Callable[[Session, int, Policy, list["SessionView"], int | None, set[str], dt.date], None]
"""Fills a viewer's fields of the picker's rows (who is on a session, which duties it counts toward):
``(session, institution_id, policy, views, viewer_id, viewer_positions, today)``."""
_decorations: list[SessionDecoration] = []


def register_session_decoration(decoration: SessionDecoration) -> SessionDecoration:
    """Registered by the domain that knows (observations/picker.py): timetable never reads observations."""
    _decorations.append(decoration)
    return decoration


# -- the session picker ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TeacherFacts:
    person_id: int
    unit_id: int | None
    unit_kind: str | None
    unit_parent_id: int | None = None
    """The college of a teacher whose unit is a teaching office or lab under it (O-10's 本院（部）教师)."""


@dataclass(frozen=True)
class SessionFacts:
    """What the duty rules need to know about one class session."""

    course_code: str
    course_kind: str
    teachers: tuple[TeacherFacts, ...]
    student_unit_id: int | None


@dataclass
class SessionFilters:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    unit_id: int | None = None
    teacher: str = ""
    course: str = ""
    class_name: str = ""
    ideological_only: bool = False
    course_codes: tuple[str, ...] = ()
    """Restrict to these course codes (the launching LMS course)."""
    teacher_ids: tuple[int, ...] = ()
    """Restrict to sessions taught by these people (the LMS course's teachers, via NRPS)."""


@dataclass
class TeacherView:
    person_id: int
    name: str
    employee_no: str
    unit_id: int | None
    unit_kind: str | None
    unit_name: str
    unit_parent_id: int | None = None


@dataclass
class SessionView:
    """One session as the picker shows it."""

    id: int
    date: dt.date
    week: int
    period_start: int
    period_end: int
    starts_at: dt.time | None
    ends_at: dt.time | None
    room: str
    status: str
    course_code: str
    course_name: str
    course_kind: str
    ideological: bool
    classes: str
    student_unit_id: int | None
    student_unit_name: str
    offering_unit_name: str
    teachers: list[TeacherView] = field(default_factory=list)
    observers_submitted: int = 0
    """People who have a submitted record of this session (author or co-signer)."""
    observers_pending: int = 0
    """People with a draft or an open invitation on it (and nothing submitted yet)."""
    mine: bool = False
    """The viewer is already on an observation of this session."""
    marks: tuple[str, ...] = ()

    @property
    def weekday(self) -> int:
        return self.date.isoweekday()

    def facts(self) -> SessionFacts:
        return SessionFacts(
            self.course_code,
            self.course_kind,
            tuple(TeacherFacts(t.person_id, t.unit_id, t.unit_kind, t.unit_parent_id) for t in self.teachers),
            self.student_unit_id,
        )


@dataclass
class SessionPage:
    items: list[SessionView]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _contains(column: Any, text: str) -> Any:
    return column.icontains(text, autoescape=True)


class SessionSearchService:
    """Searching class sessions for the picker and the home panel (O-10, O-11)."""

    def __init__(self, session: Session, institution_id: int, policy: Policy) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy

    # -- queries ---------------------------------------------------------------------------------
    def _base(self, filters: SessionFilters) -> Any:
        stmt = (
            select(ClassSession.id)
            .join(CourseSection, CourseSection.id == ClassSession.section_id)
            .join(Course, Course.id == CourseSection.course_id)
            .where(
                ClassSession.institution_id == self.institution_id,
                CourseSection.full_time.is_(True),
                ClassSession.in_timetable(),
            )
        )
        if filters.date_from:
            stmt = stmt.where(ClassSession.date >= filters.date_from)
        if filters.date_to:
            stmt = stmt.where(ClassSession.date <= filters.date_to)
        if filters.course_codes:
            stmt = stmt.where(Course.code.in_(filters.course_codes))
        if filters.teacher_ids:
            stmt = stmt.where(
                exists().where(
                    SectionTeacher.section_id == CourseSection.id,
                    SectionTeacher.person_id.in_(filters.teacher_ids),
                )
            )
        if filters.course.strip():
            term = filters.course.strip()
            stmt = stmt.where(or_(_contains(Course.code, term), _contains(Course.name, term)))
        if filters.class_name.strip():
            stmt = stmt.where(_contains(CourseSection.classes, filters.class_name.strip()))
        if filters.teacher.strip():
            term = filters.teacher.strip()
            stmt = stmt.where(
                exists().where(
                    SectionTeacher.section_id == CourseSection.id,
                    Person.id == SectionTeacher.person_id,
                    or_(_contains(Person.name, term), _contains(Person.employee_no, term)),
                )
            )
        if filters.unit_id:
            unit = filters.unit_id
            stmt = stmt.where(
                or_(
                    Course.offering_unit_id == unit,
                    CourseSection.student_unit_id == unit,
                    exists().where(
                        SectionTeacher.section_id == CourseSection.id,
                        Person.id == SectionTeacher.person_id,
                        Person.unit_id == unit,
                    ),
                )
            )
        if filters.ideological_only:
            kinds = sorted(self.policy.ideological_course_kinds)
            stmt = stmt.where(Course.kind.in_(kinds) if kinds else false())
        return stmt

    def search(self, filters: SessionFilters, page: int = 1, per_page: int = 25) -> SessionPage:
        base = self._base(filters)
        total = int(self.session.scalar(select(func.count()).select_from(base.subquery())) or 0)
        pages = max(1, -(-total // per_page))
        page = min(max(1, page), pages)
        ids = list(
            self.session.scalars(
                base.order_by(
                    ClassSession.date,
                    ClassSession.starts_at,
                    ClassSession.period_start,
                    Course.code,
                    ClassSession.id,
                )
                .limit(per_page)
                .offset((page - 1) * per_page)
            )
        )
        return SessionPage(self._views(ids), total, page, per_page)

    def now_and_next(
        self, now: dt.datetime, limit: int = 5, filters: SessionFilters | None = None, days_ahead: int = 7
    ) -> list[SessionView]:
        """Sessions under way or starting later today (local time), then the next days', up to ``limit``.

        ``now`` is the observer's local time (the institution's time zone, Asia/Shanghai by default).
        """
        filters = filters or SessionFilters()
        today, clock = now.date(), now.time().replace(tzinfo=None)
        base = self._base(replace(filters, date_from=None, date_to=None))
        order = (
            ClassSession.date,
            ClassSession.starts_at,
            ClassSession.period_start,
            Course.code,
            ClassSession.id,
        )
        ids = list(
            self.session.scalars(
                base.where(
                    ClassSession.date == today,
                    or_(ClassSession.ends_at.is_(None), ClassSession.ends_at > clock),
                )
                .order_by(*order)
                .limit(limit)
            )
        )
        if len(ids) < limit:
            ids += list(
                self.session.scalars(
                    base.where(
                        ClassSession.date > today, ClassSession.date <= today + dt.timedelta(days=days_ahead)
                    )
                    .order_by(*order)
                    .limit(limit - len(ids))
                )
            )
        return self._views(ids)

    def get(self, session_id: int) -> SessionView:
        """One session, as long as it may be observed (full-time, not vanished: O-10)."""
        stmt = self._base(SessionFilters()).where(ClassSession.id == session_id)
        if self.session.scalar(stmt) is None:
            raise NotFound("No class session %(id)s that may be observed.", id=session_id)
        return self._views([session_id])[0]

    def _views(self, ids: list[int]) -> list[SessionView]:
        if not ids:
            return []
        student_unit, offering_unit = aliased(Unit), aliased(Unit)
        rows = self.session.execute(
            select(
                ClassSession,
                CourseSection.classes,
                CourseSection.student_unit_id,
                Course.code,
                Course.name,
                Course.kind,
                student_unit.name,
                offering_unit.name,
            )
            .join(CourseSection, CourseSection.id == ClassSession.section_id)
            .join(Course, Course.id == CourseSection.course_id)
            .outerjoin(student_unit, student_unit.id == CourseSection.student_unit_id)
            .outerjoin(offering_unit, offering_unit.id == Course.offering_unit_id)
            .where(ClassSession.institution_id == self.institution_id, ClassSession.id.in_(ids))
        )
        by_id: dict[int, SessionView] = {}
        section_of: dict[int, int] = {}
        for cs, classes, student_unit_id, code, name, kind, su_name, ou_name in rows:
            by_id[cs.id] = SessionView(
                id=cs.id,
                date=cs.date,
                week=cs.week,
                period_start=cs.period_start,
                period_end=cs.period_end,
                starts_at=cs.starts_at,
                ends_at=cs.ends_at,
                room=cs.room,
                status=cs.status,
                course_code=code,
                course_name=name,
                course_kind=kind,
                ideological=self.policy.is_ideological(kind),
                classes=classes.replace(";", "；"),
                student_unit_id=student_unit_id,
                student_unit_name=su_name or "",
                offering_unit_name=ou_name or "",
            )
            section_of[cs.id] = cs.section_id
        teachers: dict[int, list[TeacherView]] = defaultdict(list)
        for section_id, pid, pname, pno, unit_id, unit_kind, unit_name, parent_id in self.session.execute(
            select(
                SectionTeacher.section_id,
                Person.id,
                Person.name,
                Person.employee_no,
                Person.unit_id,
                Unit.kind,
                Unit.name,
                Unit.parent_id,
            )
            .join(Person, Person.id == SectionTeacher.person_id)
            .outerjoin(Unit, Unit.id == Person.unit_id)
            .where(SectionTeacher.section_id.in_(set(section_of.values())))
            .order_by(Person.employee_no)
        ):
            teachers[section_id].append(
                TeacherView(pid, pname, pno, unit_id, unit_kind, unit_name or "", parent_id)
            )
        for sid, view in by_id.items():
            view.teachers = teachers.get(section_of[sid], [])
        return [by_id[i] for i in ids if i in by_id]

    # -- what the picker offers beside the sessions ---------------------------------------------
    def decorate(
        self, views: list[SessionView], viewer_id: int | None, positions: set[str], today: dt.date
    ) -> None:
        """The registered domains fill the viewer's fields of these rows (``register_session_decoration``)."""
        for decoration in _decorations:
            decoration(self.session, self.institution_id, self.policy, views, viewer_id, positions, today)

    def teaching(self, person_ids: Iterable[int]) -> list[int]:
        """Those of ``person_ids`` who teach a timetabled section of this institution."""
        wanted = list(set(person_ids))
        if not wanted:
            return []
        return sorted(
            set(
                self.session.scalars(
                    select(SectionTeacher.person_id)
                    .join(CourseSection, CourseSection.id == SectionTeacher.section_id)
                    .where(
                        CourseSection.institution_id == self.institution_id,
                        SectionTeacher.person_id.in_(wanted),
                    )
                )
            )
        )

    def units(self) -> list[Unit]:
        return list(
            self.session.scalars(
                select(Unit).where(Unit.institution_id == self.institution_id).order_by(Unit.kind, Unit.code)
            )
        )

    def flagged(self, limit: int = 200) -> list[SessionView]:
        """Sessions flagged by a re-import (changed or vanished), for the quality center to review."""
        ids = list(
            self.session.scalars(
                select(ClassSession.id)
                .where(
                    ClassSession.institution_id == self.institution_id,
                    ClassSession.status.in_([SessionStatus.CHANGED.value, SessionStatus.VANISHED.value]),
                )
                .order_by(ClassSession.date, ClassSession.period_start)
                .limit(limit)
            )
        )
        return self._views(ids)

    def scope(
        self,
        *,
        platform_id: int,
        context_id: str,
        course_keys: Iterable[str],
        course_teacher_ids: Callable[[], Iterable[int]] | None = None,
        viewer_id: int | None = None,
    ) -> PickerScope:
        """Where the picker opens for a launch (issue 3 §3).

        1. The launching LMS course is a timetable course: by lis ``course_offering_sourcedid`` (Moodle's
           course idnumber), then the context label, else the quality center's manual mapping.
        2. Else the LMS course's teachers (NRPS), when any of them teaches a timetabled section; the
           viewer is left out (a leader is often an Instructor of the leaders' own course).
        3. Else the whole institution.
        """
        codes = CourseMappingService(self.session, self.institution_id).course_codes_for(
            platform_id, context_id, course_keys
        )
        if codes:
            names = list(
                self.session.scalars(
                    select(Course.name).where(
                        Course.institution_id == self.institution_id, Course.code.in_(codes)
                    )
                )
            )
            return PickerScope("course", course_codes=tuple(codes), label="、".join(names) or codes[0])
        if course_teacher_ids is not None and context_id:
            ids = [i for i in self.teaching(course_teacher_ids()) if i != viewer_id]
            if ids:
                names = list(
                    self.session.scalars(
                        select(Person.name)
                        .where(Person.institution_id == self.institution_id, Person.id.in_(ids))
                        .order_by(Person.employee_no)
                    )
                )
                return PickerScope("teachers", teacher_ids=tuple(ids), label="、".join(names))
        return PickerScope("all")


@dataclass(frozen=True)
class PickerScope:
    kind: str
    """``course`` (the launching course's sessions), ``teachers`` (its teachers'), or ``all``."""
    course_codes: tuple[str, ...] = ()
    teacher_ids: tuple[int, ...] = ()
    label: str = ""


def local_now(session: Session, institution_id: int, now: dt.datetime | None = None) -> dt.datetime:
    """The institution's wall-clock time (class sessions are local times; Asia/Shanghai by default)."""
    return clock.local(now or clock.utcnow(), session.get(Institution, institution_id))
