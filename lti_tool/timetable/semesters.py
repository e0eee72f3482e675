"""Semesters: week-1 Monday, teaching weeks and holidays, and which semester is current.

``SemesterService`` is the one place that says what the current semester is (``of_date``,
``current_or_latest``, ``current_or_next``); the picker, the dashboards, patrols and the reports ask it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.db import get_scoped
from lti_tool.directory.services import parse_date
from lti_tool.errors import Conflict, NotFound, ValidationFailed
from lti_tool.timetable.models import ClassSession, CourseSection, Semester, SemesterStatus, SessionStatus
from lti_tool.timetable.specs import SpecError, parse_holidays

SEMESTER_CODE = re.compile(r"^(\d{4})-(\d{4})-([1-3])$")
MAX_SEMESTER_WEEKS = 30


class SemesterService:
    """Semesters of one institution: week-1 Monday, number of teaching weeks and holidays, and which one is
    current (``of_date``, ``current_or_latest``, ``current_or_next``): every page, the engine and the
    reports ask here."""

    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    def starts_between(self, after: dt.date, until: dt.date) -> bool:
        """Whether a semester starts after ``after`` and on or before ``until``: a deadline or a term's end
        in the break after a semester (no semester starts before it) is that semester's to judge."""
        stmt = select(Semester.id).where(
            Semester.institution_id == self.institution_id,
            Semester.week1_monday > after,
            Semester.week1_monday <= until,
        )
        return self.session.execute(stmt.limit(1)).first() is not None

    def all(self) -> list[Semester]:
        return list(
            self.session.scalars(
                select(Semester)
                .where(Semester.institution_id == self.institution_id)
                .order_by(Semester.week1_monday.desc())
            )
        )

    def get(self, semester_id: int) -> Semester:
        semester = get_scoped(self.session, Semester, semester_id, self.institution_id)
        if semester is None:
            raise NotFound("No such semester.")
        return semester

    def by_code(self, code: str) -> Semester | None:
        return self.session.scalars(
            select(Semester).where(
                Semester.institution_id == self.institution_id, Semester.code == code.strip()
            )
        ).first()

    def of_date(self, day: dt.date) -> Semester | None:
        """The semester whose teaching weeks contain ``day`` (semesters never overlap)."""
        for semester in self.all():
            if semester.start_date <= day <= semester.end_date:
                return semester
        return None

    def current_or_latest(self, day: dt.date) -> Semester | None:
        """The semester of ``day``, else the latest one that has started, else the earliest one: what the
        dashboards open on."""
        semesters = self.all()
        current = self.of_date(day)
        if current is not None:
            return current
        started = [s for s in semesters if s.start_date <= day]
        if started:
            return started[0]
        return semesters[-1] if semesters else None

    def current_or_next(self, day: dt.date) -> Semester | None:
        """The semester of ``day``, else the next one to start, else the most recent one."""
        semesters = sorted(self.all(), key=lambda s: s.week1_monday)
        for semester in semesters:
            if day <= semester.end_date:
                return semester
        return semesters[-1] if semesters else None

    def add(
        self, code: str, start: dt.date | str, weeks: int | str, holidays: Iterable[str] = ()
    ) -> Semester:
        """Validate everything, report every problem at once, and store the semester."""
        problems: list[str] = []
        code = (code or "").strip()
        match = SEMESTER_CODE.match(code)
        if match is None:
            problems.append(
                f"学期代码“{code}”应如 2026-2027-1 (the semester code must look like 2026-2027-1)"
            )
        elif int(match.group(2)) != int(match.group(1)) + 1:
            problems.append(f"学期代码“{code}”的两个年份应相邻 (the two years must be consecutive)")
        monday: dt.date | None = None
        if isinstance(start, dt.date):
            monday = start
        else:
            try:
                monday = parse_date(start or "")
            except ValueError:
                problems.append(f"第 1 周周一“{start}”不是日期，应为 YYYY-MM-DD (the start is not a date)")
        if monday is not None and monday.isoweekday() != 1:
            problems.append(
                f"{monday.isoformat()} 不是星期一：开始日期应为第 1 周的星期一 "
                f"(the start must be the Monday of week 1)"
            )
        try:
            n_weeks = int(str(weeks).strip())
            if not 1 <= n_weeks <= MAX_SEMESTER_WEEKS:
                raise ValueError(weeks)
        except ValueError:
            problems.append(
                f"教学周数“{weeks}”应为 1–{MAX_SEMESTER_WEEKS} 的整数 "
                f"(the number of weeks must be a whole number from 1 to {MAX_SEMESTER_WEEKS})"
            )
            n_weeks = 0
        try:
            days = parse_holidays(list(holidays))
        except SpecError as exc:
            problems.append(f"节假日 (holidays): {exc}")
            days = []
        end: dt.date | None = None
        if monday is not None and n_weeks:
            try:
                end = monday + dt.timedelta(days=7 * n_weeks - 1)
            except OverflowError:
                problems.append(
                    f"第 1 周周一“{start}”太晚，学期将超出日历范围 "
                    f"(the semester would end after the year 9999)"
                )
        if monday is not None and end is not None:
            outside = [d.isoformat() for d in days if not monday <= d <= end]
            if outside:
                problems.append(
                    f"节假日不在学期内 (holidays outside the semester {monday}..{end}): "
                    f"{', '.join(outside[:10])}"
                )
            for other in self.all():
                if other.code != code and other.start_date <= end and other.end_date >= monday:
                    problems.append(
                        f"与学期 {other.code}（{other.start_date}..{other.end_date}）重叠 "
                        f"(overlaps semester {other.code})"
                    )
        if code and self.by_code(code) is not None:
            raise Conflict("Semester %(code)s already exists.", code=code)
        if problems:
            raise ValidationFailed("The semester could not be added.", details=problems)
        assert monday is not None
        semester = Semester(
            institution_id=self.institution_id,
            code=code,
            week1_monday=monday,
            weeks=n_weeks,
            holidays=[d.isoformat() for d in days],
            status=SemesterStatus.OPEN,
        )
        self.session.add(semester)
        self.session.flush()
        return semester

    def session_counts(self) -> dict[int, dict[str, int]]:
        """Per semester: sections, sessions and flagged sessions (for the quality center's list)."""
        out: dict[int, dict[str, int]] = defaultdict(
            lambda: {"sections": 0, "sessions": 0, "changed": 0, "vanished": 0}
        )
        for semester_id, n in self.session.execute(
            select(CourseSection.semester_id, func.count())
            .where(CourseSection.institution_id == self.institution_id)
            .group_by(CourseSection.semester_id)
        ):
            out[semester_id]["sections"] = int(n)
        for semester_id, status, n in self.session.execute(
            select(ClassSession.semester_id, ClassSession.status, func.count())
            .where(ClassSession.institution_id == self.institution_id)
            .group_by(ClassSession.semester_id, ClassSession.status)
        ):
            out[semester_id]["sessions"] += int(n)
            if status in (SessionStatus.CHANGED, SessionStatus.VANISHED):
                out[semester_id][str(status)] += int(n)
        return dict(out)
