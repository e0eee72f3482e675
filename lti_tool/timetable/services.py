"""Semesters, the period table, the timetable import, LMS-course mapping and the session picker.

The timetable import (issue 3 §2) takes the academic system's export (CSV or XLSX, English or Chinese
headers), checks every row first and stores nothing if any row is bad (``RowErrors``: row and column).
A clean file then

1. upserts courses by code and sections by their natural key (course | classes | weekday | periods |
   weeks, see ``CourseSection.natural_key``) within each semester the file names;
2. expands each section into ``ClassSession`` rows: week N, weekday D → week-1 Monday + 7(N−1) + (D−1)
   days, clock times from the period table, skipping holidays and weeks beyond the semester;
3. diffs those against the stored sessions by (section, date, first period), so a re-import of the same
   file changes nothing. Sessions are written with bulk statements: a whole college (~800 sections ×
   16 weeks) is ~13k rows.

Observations reference sessions (``ondelete=RESTRICT``), so a session that has observations is never
deleted: if its section changed it is flagged ``changed``; if it is gone from the file it is flagged
``vanished`` — unless the same course and classes still meet at that date and period in another row
(the weeks of a row were edited), in which case the session moves to that row, flagged ``changed``.
Sessions without observations are simply updated or removed.

The picker (issue 3 §3, O-10, O-11) lists only sessions of full-time sections that have not vanished,
and marks those that would count toward one of the observer's duties (``duty_marks``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import and_, delete, exists, false, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from lti_tool import clock
from lti_tool.acting import logged_import
from lti_tool.db import get_scoped
from lti_tool.directory.models import Person, PositionHolding, Unit
from lti_tool.directory.services import DirectoryService
from lti_tool.errors import NotFound, ValidationFailed
from lti_tool.lti.models import CourseContextMapping, LaunchSession, Platform
from lti_tool.observations.models import (
    COUNTED_MEMBER_STATUSES,
    MemberStatus,
    Observation,
    ObservationMember,
    ObservationStatus,
)
from lti_tool.policy.schema import Policy
from lti_tool.tabular import Row, RowErrors, read_table
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import (
    ClassSession,
    Course,
    CourseSection,
    Period,
    SectionTeacher,
    Semester,
    SemesterStatus,
    SessionStatus,
)
from lti_tool.timetable.semesters import SemesterService
from lti_tool.timetable.specs import (
    MAX_PERIOD,
    SpecError,
    format_weeks,
    parse_periods,
    parse_time,
    parse_weekday,
    parse_weeks,
    parse_yes_no,
)

log = logging.getLogger(__name__)

_CHUNK = 500

PERIOD_ALIASES = {
    "period": ["节次", "节", "number"],
    "start": ["开始", "开始时间", "start_time"],
    "end": ["结束", "结束时间", "end_time"],
}
TIMETABLE_ALIASES = {
    "semester": ["学期", "学年学期"],
    "course_code": ["课程代码", "课程号", "课程编号"],
    "course_name": ["课程名称", "课程名"],
    "course_kind": ["课程类别", "课程性质"],
    "offering_unit": ["开课单位", "开课学院", "开课部门"],
    "teacher_no": ["教师工号", "teacher_nos", "工号"],
    "classes": ["上课班级", "班级", "教学班组成"],
    "student_unit": ["学生所属单位", "学生单位", "student_college"],
    "weekday": ["星期"],
    "periods": ["节次"],
    "weeks": ["周次"],
    "room": ["教室", "上课地点"],
    "full_time": ["全日制"],
}
TIMETABLE_REQUIRED = ["semester", "course_code", "course_name", "teacher_no", "weekday", "periods", "weeks"]
_LIST_SEPARATOR = re.compile(r"[;；]")


# -- periods -----------------------------------------------------------------------------------------
@dataclass
class PeriodImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0

    def __str__(self) -> str:
        return (
            f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}, "
            f"removed {self.removed}"
        )


class PeriodService:
    """The institution's period table (节次 → clock times). An imported file replaces the whole table."""

    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    def all(self) -> list[Period]:
        return list(
            self.session.scalars(
                select(Period).where(Period.institution_id == self.institution_id).order_by(Period.number)
            )
        )

    def table(self) -> dict[int, Period]:
        return {p.number: p for p in self.all()}

    @logged_import(log, "periods")
    def import_periods(self, data: bytes, filename: str) -> PeriodImportResult:
        table = read_table(data, filename, PERIOD_ALIASES, ["period", "start", "end"])
        errors = table.errors
        parsed: dict[int, tuple[dt.time, dt.time, int]] = {}
        for row in table.rows:
            number_text = row.get("period")
            number = None
            match = re.match(r"^第?\s*(\d{1,2})\s*节?$", number_text)
            if match is None or not 1 <= int(match.group(1)) <= MAX_PERIOD:
                errors.add(
                    row.number,
                    "period",
                    f"“{number_text}”应为 1–{MAX_PERIOD} 的节次 "
                    f"(expected a period number from 1 to {MAX_PERIOD})",
                )
            else:
                number = int(match.group(1))
                if number in parsed:
                    errors.add(
                        row.number,
                        "period",
                        f"与第 {parsed[number][2]} 行重复 (duplicate of row {parsed[number][2]})",
                    )
                    number = None
            times: list[dt.time | None] = []
            for column in ("start", "end"):
                try:
                    times.append(parse_time(row.get(column)))
                except SpecError as exc:
                    errors.add(row.number, column, str(exc))
                    times.append(None)
            start, end = times
            if start and end and end <= start:
                errors.add(row.number, "end", "结束时间应晚于开始时间 (the end must be after the start)")
            if number is not None and start and end:
                parsed[number] = (start, end, row.number)
        ordered = sorted(parsed.items())
        for (prev_no, (_, prev_end, _)), (no, (start, _, row_no)) in zip(ordered, ordered[1:], strict=False):
            if start < prev_end:
                errors.add(
                    row_no,
                    "start",
                    f"第 {no} 节在第 {prev_no} 节结束（{prev_end:%H:%M}）前开始 "
                    f"(period {no} starts before period {prev_no} ends)",
                )
        if not table.rows:
            errors.add(2, "period", "文件中没有节次 (the file has no periods)")
        errors.raise_if_any("periods")
        result = PeriodImportResult()
        existing = self.table()
        for number, (start, end, _) in ordered:
            period = existing.pop(number, None)
            if period is None:
                self.session.add(
                    Period(institution_id=self.institution_id, number=number, start_time=start, end_time=end)
                )
                result.created += 1
            elif (period.start_time, period.end_time) != (start, end):
                period.start_time, period.end_time = start, end
                result.updated += 1
            else:
                result.unchanged += 1
        for period in existing.values():
            self.session.delete(period)
            result.removed += 1
        self.session.flush()
        return result


# -- timetable import --------------------------------------------------------------------------------
@dataclass
class _SectionRow:
    """One parsed, valid timetable row."""

    number: int
    semester: Semester
    course_code: str
    classes: tuple[str, ...]
    student_unit_id: int | None
    teacher_ids: tuple[int, ...]
    weekday: int
    period_start: int
    period_end: int
    weeks: tuple[int, ...]
    weeks_spec: str
    room: str
    full_time: bool

    @property
    def classes_text(self) -> str:
        return ";".join(self.classes)

    @property
    def natural_key(self) -> str:
        classes = self.classes_text
        key = (
            f"{self.course_code}|{classes}|{self.weekday}|{self.period_start}-{self.period_end}|"
            f"{format_weeks(self.weeks)}"
        )
        if len(key) > 500:  # a very long class list: keep the key within its column, still deterministic
            digest = hashlib.sha256(classes.encode()).hexdigest()[:24]
            key = (
                f"{self.course_code}|#{digest}|{self.weekday}|{self.period_start}-{self.period_end}|"
                f"{format_weeks(self.weeks)}"[:500]
            )
        return key

    def content_hash(self, course_id: int) -> str:
        """What, besides the natural key, makes a row "changed" (teachers, room, student unit, O-10 flag)."""
        payload = [
            course_id,
            self.classes_text,
            self.student_unit_id,
            sorted(self.teacher_ids),
            self.weekday,
            self.period_start,
            self.period_end,
            format_weeks(self.weeks),
            self.room,
            self.full_time,
        ]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


@dataclass
class _CourseInfo:
    name: str
    kind: str
    offering_unit_id: int | None
    row: int


@dataclass
class TimetableImportResult:
    rows: int = 0
    courses_created: int = 0
    courses_updated: int = 0
    sections_created: int = 0
    sections_updated: int = 0
    sections_unchanged: int = 0
    sections_removed: int = 0
    sessions_created: int = 0
    sessions_updated: int = 0
    sessions_removed: int = 0
    flagged_changed: int = 0
    """Sessions with observations whose timetable row changed in this import."""
    flagged_vanished: int = 0
    """Sessions with observations whose timetable row disappeared in this import (kept, flagged)."""

    def __str__(self) -> str:
        return (
            f"{self.rows} rows; courses +{self.courses_created} ~{self.courses_updated}; sections "
            f"+{self.sections_created} ~{self.sections_updated} ={self.sections_unchanged} "
            f"-{self.sections_removed}; sessions +{self.sessions_created} ~{self.sessions_updated} "
            f"-{self.sessions_removed}; flagged changed {self.flagged_changed}, "
            f"vanished {self.flagged_vanished}"
        )


_SESSION_ATTRS = ("week", "period_end", "starts_at", "ends_at", "room")


class TimetableImporter:
    """Imports the academic system's timetable export; see the module docstring for the rules."""

    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    @logged_import(log, "timetable")
    def import_file(self, data: bytes, filename: str) -> TimetableImportResult:
        table = read_table(data, filename, TIMETABLE_ALIASES, TIMETABLE_REQUIRED)
        courses, rows = self._parse(table.rows, table.errors)
        table.errors.raise_if_any("timetable")
        return self._store(courses, rows)

    # -- parsing ---------------------------------------------------------------------------------
    def _parse(
        self, raw_rows: list[Row], errors: RowErrors
    ) -> tuple[dict[str, _CourseInfo], list[_SectionRow]]:
        semesters = {s.code: s for s in SemesterService(self.session, self.institution_id).all()}
        periods = PeriodService(self.session, self.institution_id).table()
        directory = DirectoryService(self.session, self.institution_id)
        units = directory.unit_lookup()
        people = directory.people_by_no()
        has_full_time = "full_time" in errors.headers
        courses: dict[str, _CourseInfo] = {}
        keys: dict[tuple[int, str], int] = {}
        rows: list[_SectionRow] = []
        if not periods and raw_rows:
            errors.add(
                raw_rows[0].number,
                "periods",
                "节次表为空：请先导入节次表 (the period table is empty: import periods first)",
            )
        for row in raw_rows:
            ok = True

            def bad(column: str, message: str, row: Row = row) -> None:
                nonlocal ok
                ok = False
                errors.add(row.number, column, message)

            semester_code = row.get("semester")
            semester = semesters.get(semester_code)
            if semester is None:
                bad(
                    "semester",
                    f"学期“{semester_code}”不存在，请先添加学期 "
                    f"(unknown semester: add it first with `tingke semester add`)",
                )
            elif semester.status == SemesterStatus.ARCHIVED:
                bad("semester", f"学期“{semester_code}”已归档，课表不能再改 (the semester is archived)")
            code, name, kind = row.get("course_code"), row.get("course_name"), row.get("course_kind")
            if not code:
                bad("course_code", "不能为空 (must not be empty)")
            elif len(code) > 64:
                bad("course_code", "超过 64 个字符 (longer than 64 characters)")
            if not name:
                bad("course_name", "不能为空 (must not be empty)")
            if len(kind) > 64:
                bad("course_kind", "超过 64 个字符 (longer than 64 characters)")
            offering_unit_id = self._unit(row, "offering_unit", units, bad)
            student_unit_id = self._unit(row, "student_unit", units, bad)
            teacher_ids: list[int] = []
            teacher_nos = [t.strip() for t in _LIST_SEPARATOR.split(row.get("teacher_no")) if t.strip()]
            if not teacher_nos:
                bad("teacher_no", "不能为空 (must not be empty)")
            for no in teacher_nos:
                person = people.get(no)
                if person is None:
                    bad(
                        "teacher_no",
                        f"教师工号“{no}”不在人员名单中，请先导入人员 "
                        f"(unknown teacher employee number: import people first)",
                    )
                elif person.id not in teacher_ids:
                    teacher_ids.append(person.id)
            classes = tuple(
                sorted({c.strip() for c in _LIST_SEPARATOR.split(row.get("classes")) if c.strip()})
            )
            if len(";".join(classes)) > 1000:
                bad("classes", "超过 1000 个字符 (longer than 1000 characters)")
            room = row.get("room")
            if len(room) > 100:
                bad("room", "超过 100 个字符 (longer than 100 characters)")
            weekday = period_start = period_end = 0
            try:
                weekday = parse_weekday(row.get("weekday"))
            except SpecError as exc:
                bad("weekday", str(exc))
            try:
                period_start, period_end = parse_periods(row.get("periods"))
                missing = [p for p in (period_start, period_end) if p not in periods]
                if missing and periods:
                    bad(
                        "periods",
                        f"第 {missing[0]} 节不在节次表中（已有 {min(periods)}–{max(periods)}） "
                        f"(period {missing[0]} is not in the period table)",
                    )
            except SpecError as exc:
                bad("periods", str(exc))
            weeks: tuple[int, ...] = ()
            try:
                weeks = parse_weeks(row.get("weeks"))
            except SpecError as exc:
                bad("weeks", str(exc))
            full_time = True
            if has_full_time:
                try:
                    full_time = parse_yes_no(row.get("full_time"))
                except SpecError as exc:
                    bad("full_time", str(exc))
            if code and name and len(code) <= 64:
                info = courses.get(code)
                if info is None:
                    courses[code] = _CourseInfo(name[:200], kind, offering_unit_id, row.number)
                elif info.name != name[:200]:
                    bad(
                        "course_name",
                        f"与第 {info.row} 行同一课程代码的课程名称不一致 "
                        f"(conflicts with row {info.row} for the same course code)",
                    )
                elif info.kind != kind:
                    bad(
                        "course_kind",
                        f"与第 {info.row} 行同一课程代码的课程类别不一致 "
                        f"(conflicts with row {info.row} for the same course code)",
                    )
                elif info.offering_unit_id != offering_unit_id:
                    bad(
                        "offering_unit",
                        f"与第 {info.row} 行同一课程代码的开课单位不一致 "
                        f"(conflicts with row {info.row} for the same course code)",
                    )
            if not ok or semester is None:
                continue
            parsed = _SectionRow(
                number=row.number,
                semester=semester,
                course_code=code,
                classes=classes,
                student_unit_id=student_unit_id,
                teacher_ids=tuple(teacher_ids),
                weekday=weekday,
                period_start=period_start,
                period_end=period_end,
                weeks=weeks,
                weeks_spec=row.get("weeks")[:200],
                room=room,
                full_time=full_time,
            )
            key = (semester.id, parsed.natural_key)
            if key in keys:
                errors.add(
                    row.number,
                    "weeks",
                    f"与第 {keys[key]} 行的课程、班级、星期、节次、周次完全相同 "
                    f"(the same course, classes, weekday, periods and weeks as row {keys[key]})",
                )
                continue
            keys[key] = row.number
            rows.append(parsed)
        return courses, rows

    @staticmethod
    def _unit(row: Row, column: str, units: dict[str, Unit], bad: Callable[[str, str], None]) -> int | None:
        text = row.get(column)
        if not text:
            return None
        unit = units.get(text)
        if unit is None:
            bad(column, f"单位“{text}”不存在，请先导入单位 (unknown unit: import units first)")
            return None
        return unit.id

    # -- storing ---------------------------------------------------------------------------------
    def _store(self, courses: dict[str, _CourseInfo], rows: list[_SectionRow]) -> TimetableImportResult:
        result = TimetableImportResult(rows=len(rows))
        # Every class named in 上课班级 becomes a student class of the directory (a contact point, C-2a).
        classes: dict[str, int | None] = {}
        for row in rows:
            for name in row.classes:
                classes[name] = classes.get(name) or row.student_unit_id
        DirectoryService(self.session, self.institution_id).record_classes(classes)
        course_ids = self._store_courses(courses, result)
        semester_ids = sorted({r.semester.id for r in rows})
        sections = {
            (s.semester_id, s.natural_key): s
            for s in self.session.scalars(
                select(CourseSection).where(
                    CourseSection.institution_id == self.institution_id,
                    CourseSection.semester_id.in_(semester_ids),
                )
            )
        }
        teachers: dict[int, set[int]] = defaultdict(set)
        for section_id, person_id in self.session.execute(
            select(SectionTeacher.section_id, SectionTeacher.person_id)
            .join(CourseSection, CourseSection.id == SectionTeacher.section_id)
            .where(
                CourseSection.institution_id == self.institution_id,
                CourseSection.semester_id.in_(semester_ids),
            )
        ):
            teachers[section_id].add(person_id)

        wanted: list[tuple[_SectionRow, CourseSection]] = []
        changed_sections: set[int] = set()
        for row in rows:
            course_id = course_ids[row.course_code]
            digest = row.content_hash(course_id)
            section = sections.pop((row.semester.id, row.natural_key), None)
            values = {
                "course_id": course_id,
                "classes": row.classes_text,
                "student_unit_id": row.student_unit_id,
                "weekday": row.weekday,
                "period_start": row.period_start,
                "period_end": row.period_end,
                "weeks_spec": row.weeks_spec,
                "room": row.room,
                "full_time": row.full_time,
                "content_hash": digest,
            }
            if section is None:
                section = CourseSection(
                    institution_id=self.institution_id,
                    semester_id=row.semester.id,
                    natural_key=row.natural_key,
                    **values,
                )
                self.session.add(section)
                result.sections_created += 1
            elif section.content_hash != digest:
                for name, value in values.items():
                    setattr(section, name, value)
                changed_sections.add(section.id)
                result.sections_updated += 1
            else:
                section.weeks_spec = row.weeks_spec  # same weeks, possibly written another way
                result.sections_unchanged += 1
            wanted.append((row, section))
        self.session.flush()  # ids for new sections

        add_teachers = []
        for row, section in wanted:
            have, want = teachers.get(section.id, set()), set(row.teacher_ids)
            if have - want:
                self.session.execute(
                    delete(SectionTeacher).where(
                        SectionTeacher.section_id == section.id, SectionTeacher.person_id.in_(have - want)
                    )
                )
            add_teachers += [{"section_id": section.id, "person_id": p} for p in sorted(want - have)]
        if add_teachers:
            self.session.execute(insert(SectionTeacher), add_teachers)

        self._store_sessions(wanted, changed_sections, semester_ids, sections, result)
        return result

    def _store_courses(
        self, courses: dict[str, _CourseInfo], result: TimetableImportResult
    ) -> dict[str, int]:
        existing = {
            c.code: c
            for c in self.session.scalars(
                select(Course).where(
                    Course.institution_id == self.institution_id, Course.code.in_(list(courses))
                )
            )
        }
        for code, info in courses.items():
            course = existing.get(code)
            if course is None:
                course = Course(
                    institution_id=self.institution_id,
                    code=code,
                    name=info.name,
                    kind=info.kind,
                    offering_unit_id=info.offering_unit_id,
                )
                self.session.add(course)
                existing[code] = course
                result.courses_created += 1
            elif (course.name, course.kind, course.offering_unit_id) != (
                info.name,
                info.kind,
                info.offering_unit_id,
            ):
                course.name, course.kind = info.name, info.kind
                course.offering_unit_id = info.offering_unit_id
                result.courses_updated += 1
        self.session.flush()
        return {code: course.id for code, course in existing.items()}

    def _store_sessions(
        self,
        wanted: list[tuple[_SectionRow, CourseSection]],
        changed_sections: set[int],
        semester_ids: list[int],
        leftover_sections: dict[tuple[int, str], CourseSection],
        result: TimetableImportResult,
    ) -> None:
        periods = PeriodService(self.session, self.institution_id).table()
        cols = (
            ClassSession.id,
            ClassSession.section_id,
            ClassSession.date,
            ClassSession.period_start,
            ClassSession.week,
            ClassSession.period_end,
            ClassSession.starts_at,
            ClassSession.ends_at,
            ClassSession.room,
            ClassSession.status,
        )
        existing: dict[tuple[int, dt.date, int], dict[str, Any]] = {}
        for r in self.session.execute(
            select(*cols).where(
                ClassSession.institution_id == self.institution_id, ClassSession.semester_id.in_(semester_ids)
            )
        ):
            existing[(r.section_id, r.date, r.period_start)] = dict(r._mapping)
        observed = self._observed_session_ids(semester_ids)

        inserts: dict[tuple[int, dt.date, int], dict[str, Any]] = {}
        by_meeting: dict[tuple[int, str, dt.date, int], tuple[int, dt.date, int]] = {}
        updates: list[dict[str, Any]] = []
        semester_facts = {
            r.semester.id: (
                r.semester.week1_monday,
                r.semester.weeks,
                {dt.date.fromisoformat(d) for d in r.semester.holidays or []},
            )
            for r, _ in wanted
        }
        for row, section in wanted:
            # plain locals: this loop runs once per class session (~13k for a college)
            section_id, course_id, classes = section.id, section.course_id, section.classes
            semester_id = row.semester.id
            monday, n_weeks, holidays = semester_facts[semester_id]
            starts_at, ends_at = periods[row.period_start].start_time, periods[row.period_end].end_time
            for week in row.weeks:
                if week > n_weeks:
                    continue
                day = monday + dt.timedelta(days=7 * (week - 1) + row.weekday - 1)
                if day in holidays:
                    continue
                attrs = {
                    "week": week,
                    "period_end": row.period_end,
                    "starts_at": starts_at,
                    "ends_at": ends_at,
                    "room": row.room,
                }
                key = (section_id, day, row.period_start)
                old = existing.pop(key, None)
                if old is None:
                    inserts[key] = {
                        "institution_id": self.institution_id,
                        "semester_id": semester_id,
                        "section_id": section_id,
                        "date": day,
                        "period_start": row.period_start,
                        "status": SessionStatus.ACTIVE.value,
                        **attrs,
                    }
                    by_meeting[(course_id, classes, day, row.period_start)] = key
                    continue
                differs = any(old[a] != attrs[a] for a in _SESSION_ATTRS)
                status = old["status"]
                if old["id"] in observed:
                    if differs or section_id in changed_sections:
                        status = SessionStatus.CHANGED.value
                    elif status == SessionStatus.VANISHED:
                        status = SessionStatus.ACTIVE.value  # back, exactly as it was observed
                else:
                    status = SessionStatus.ACTIVE.value
                if differs or status != old["status"]:
                    if status == SessionStatus.CHANGED and old["status"] != SessionStatus.CHANGED:
                        result.flagged_changed += 1
                    updates.append({"id": old["id"], "status": status, **attrs})

        # Stored sessions no longer in the file: keep (flagged) those with observations, drop the others.
        sections_by_id = {s.id: s for _, s in wanted} | {s.id: s for s in leftover_sections.values()}
        deletes: list[int] = []
        for (section_id, day, period_start), old in existing.items():
            if old["id"] not in observed:
                deletes.append(old["id"])
                continue
            owner = sections_by_id.get(section_id)
            meeting = (owner.course_id, owner.classes, day, period_start) if owner else None
            moved_to = by_meeting.pop(meeting, None) if meeting else None
            if moved_to is not None:
                new = inserts.pop(moved_to)
                updates.append(
                    {
                        "id": old["id"],
                        "section_id": new["section_id"],
                        "status": SessionStatus.CHANGED.value,
                        **{a: new[a] for a in _SESSION_ATTRS},
                    }
                )
                if old["status"] != SessionStatus.CHANGED:
                    result.flagged_changed += 1
            elif old["status"] != SessionStatus.VANISHED:
                updates.append(
                    {
                        "id": old["id"],
                        "status": SessionStatus.VANISHED.value,
                        **{a: old[a] for a in _SESSION_ATTRS},
                    }
                )
                result.flagged_vanished += 1

        for chunk in _chunks(deletes):
            self.session.execute(
                delete(ClassSession)
                .where(ClassSession.id.in_(chunk))
                .execution_options(synchronize_session=False)
            )
        if updates:
            plain = [u for u in updates if "section_id" not in u]
            moved = [u for u in updates if "section_id" in u]
            for batch in (plain, moved):
                if batch:
                    self.session.execute(update(ClassSession), batch)
        if inserts:
            self.session.execute(insert(ClassSession), list(inserts.values()))
        result.sessions_removed = len(deletes)
        result.sessions_updated = len(updates)
        result.sessions_created = len(inserts)

        # Sections gone from the file: removed unless a kept (vanished) session still points at them.
        still_used = set(
            self.session.scalars(
                select(ClassSession.section_id)
                .where(
                    ClassSession.institution_id == self.institution_id,
                    ClassSession.semester_id.in_(semester_ids),
                )
                .distinct()
            )
        )
        gone = [s.id for s in leftover_sections.values() if s.id not in still_used]
        for chunk in _chunks(gone):
            self.session.execute(delete(SectionTeacher).where(SectionTeacher.section_id.in_(chunk)))
            self.session.execute(
                delete(CourseSection)
                .where(CourseSection.id.in_(chunk))
                .execution_options(synchronize_session=False)
            )
        for section in leftover_sections.values():
            if section.id in gone:
                self.session.expunge(section)
        result.sections_removed = len(gone)
        self.session.flush()

    def _observed_session_ids(self, semester_ids: list[int]) -> set[int]:
        """Sessions some observation (or observation member) references: these are never deleted."""
        in_semesters = select(ClassSession.id).where(
            ClassSession.institution_id == self.institution_id, ClassSession.semester_id.in_(semester_ids)
        )
        ids = set(
            self.session.scalars(
                select(Observation.session_id).where(Observation.session_id.in_(in_semesters)).distinct()
            )
        )
        ids |= set(
            self.session.scalars(
                select(ObservationMember.session_id)
                .where(ObservationMember.session_id.in_(in_semesters))
                .distinct()
            )
        )
        return ids


def _chunks(items: Sequence[int], size: int = _CHUNK) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


# -- LMS course ↔ course code ------------------------------------------------------------------------
@dataclass
class LmsContext:
    """An LMS course somebody launched Tingke from, for the quality center's mapping page."""

    platform_id: int
    platform_name: str
    context_id: str
    title: str
    label: str
    course_offering_sourcedid: str


class CourseMappingService:
    """Which timetable course(s) an LMS course (platform context) is (issue 3 §3).

    Automatic first: the launch's lis ``course_offering_sourcedid`` (Moodle's course idnumber), then the
    context label, when either equals a course code; else a mapping the quality center set by hand.
    """

    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    def known_codes(self, codes: Iterable[str]) -> list[str]:
        wanted = [c.strip() for c in codes if c and c.strip()]
        if not wanted:
            return []
        found = set(
            self.session.scalars(
                select(Course.code).where(
                    Course.institution_id == self.institution_id, Course.code.in_(wanted)
                )
            )
        )
        return [c for c in dict.fromkeys(wanted) if c in found]

    def course_codes_for(self, platform_id: int, context_id: str, course_keys: Iterable[str]) -> list[str]:
        automatic = self.known_codes(course_keys)
        if automatic:
            return automatic[:1]
        if not context_id:
            return []
        mapped = self.session.scalars(
            select(CourseContextMapping.course_code).where(
                CourseContextMapping.institution_id == self.institution_id,
                CourseContextMapping.platform_id == platform_id,
                CourseContextMapping.context_id == context_id,
            )
        ).first()
        return [mapped] if mapped else []

    def all(self) -> list[tuple[CourseContextMapping, str, str]]:
        """Mappings with their platform's name and the course's name."""
        rows = self.session.execute(
            select(CourseContextMapping, Platform.name, Platform.issuer, Course.name)
            .join(Platform, Platform.id == CourseContextMapping.platform_id)
            .outerjoin(
                Course,
                and_(
                    Course.institution_id == CourseContextMapping.institution_id,
                    Course.code == CourseContextMapping.course_code,
                ),
            )
            .where(CourseContextMapping.institution_id == self.institution_id)
            .order_by(CourseContextMapping.context_title, CourseContextMapping.id)
        )
        return [(m, pname or issuer, cname or "") for m, pname, issuer, cname in rows]

    def platforms(self) -> list[Platform]:
        return list(
            self.session.scalars(
                select(Platform).where(Platform.institution_id == self.institution_id).order_by(Platform.id)
            )
        )

    def set(
        self, platform_id: int, context_id: str, course_code: str, context_title: str = ""
    ) -> CourseContextMapping:
        problems = []
        platform = get_scoped(self.session, Platform, platform_id, self.institution_id)
        if platform is None:
            problems.append("LMS 平台不存在 (unknown LMS platform)")
        context_id = (context_id or "").strip()
        if not context_id or len(context_id) > 255:
            problems.append("LMS 课程 ID 不能为空 (the LMS course id must not be empty)")
        course_code = (course_code or "").strip()
        if not self.known_codes([course_code]):
            problems.append(f"课程代码“{course_code}”不在课表中 (the course code is not in the timetable)")
        if problems:
            raise ValidationFailed("The mapping could not be saved.", details=problems)
        mapping = self.session.scalars(
            select(CourseContextMapping).where(
                CourseContextMapping.platform_id == platform_id, CourseContextMapping.context_id == context_id
            )
        ).first()
        if mapping is None:
            mapping = CourseContextMapping(
                institution_id=self.institution_id, platform_id=platform_id, context_id=context_id
            )
            self.session.add(mapping)
        mapping.course_code = course_code
        mapping.context_title = (context_title or "").strip()[:500] or mapping.context_title or ""
        self.session.flush()
        return mapping

    def remove(self, mapping_id: int) -> None:
        mapping = get_scoped(self.session, CourseContextMapping, mapping_id, self.institution_id)
        if mapping is None:
            raise NotFound("No such mapping.")
        self.session.delete(mapping)
        self.session.flush()

    def recent_unmapped(self, limit: int = 50) -> list[LmsContext]:
        """LMS courses launched from recently that match no course code and have no mapping yet."""
        mapped = {(m.platform_id, m.context_id) for m, _, _ in self.all()}
        names = {p.id: p.name or p.issuer for p in self.platforms()}
        seen: dict[tuple[int, str], LmsContext] = {}
        rows = self.session.execute(
            select(LaunchSession.platform_id, LaunchSession.claims)
            .where(LaunchSession.institution_id == self.institution_id)
            .order_by(LaunchSession.created_at.desc())
            .limit(2000)
        )
        for platform_id, claims in rows:
            claims = claims or {}
            context_id = str(claims.get("context_id") or "")
            key = (platform_id, context_id)
            if not context_id or key in mapped or key in seen:
                continue
            seen[key] = LmsContext(
                platform_id,
                names.get(platform_id, ""),
                context_id,
                str(claims.get("context_title") or ""),
                str(claims.get("context_label") or ""),
                # the ID number: Moodle sends it as course_section_sourcedid (tests/fixtures/moodle-5.0)
                str(claims.get("course_offering_sourcedid") or claims.get("course_section_sourcedid") or ""),
            )
        matched = set(
            self.known_codes(
                [c.label for c in seen.values()] + [c.course_offering_sourcedid for c in seen.values()]
            )
        )
        return [
            c for c in seen.values() if c.label not in matched and c.course_offering_sourcedid not in matched
        ][:limit]


# -- the session picker ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TeacherFacts:
    person_id: int
    unit_id: int | None
    unit_kind: str | None


@dataclass(frozen=True)
class SessionFacts:
    """What the duty rules need to know about one class session."""

    course_code: str
    course_kind: str
    teachers: tuple[TeacherFacts, ...]
    student_unit_id: int | None


@dataclass(frozen=True)
class ObserverProgress:
    """What the observer has already done (submitted) that makes some duties met."""

    unit_id: int | None = None
    observed_course_codes: frozenset[str] = frozenset()
    """Courses observed this semester (O-3: one observation per 思政 course)."""
    observed_teacher_ids: frozenset[int] = frozenset()
    """Teachers observed during the term of office (O-6)."""
    ideological_observations: int = 0
    """Observations of 思政 courses this semester (O-8)."""


def duty_marks(
    policy: Policy,
    position_codes: Iterable[str],
    session: SessionFacts,
    progress: ObserverProgress | None = None,
) -> tuple[str, ...]:
    """Rule IDs this session would count toward for an observer holding ``position_codes``.

    Only rules that single out *some* sessions mark anything (a plain minimum count is met by any
    session, so marking every row would say nothing):

    - a rule with ``courses = "ideological"`` (O-3 each course, O-8 at least N): a 思政 course, unless
      that course (O-3) or that number of 思政 observations (O-8) is already done;
    - ``tenure_coverage`` (O-6): a teacher of the rule's unit kind (the Marxism School) not yet observed;
    - ``in_scope_share`` (O-10): a teacher of the observer's own college, or its students.
    """
    progress = progress or ObserverProgress()
    marks: list[str] = []
    for rule in policy.rules_for(set(position_codes)):
        if rule.activity != "observation":
            continue
        if rule.courses == "ideological":
            if not policy.is_ideological(session.course_kind):
                continue
            if rule.kind == "each_course" and session.course_code in progress.observed_course_codes:
                continue
            if rule.kind == "min_count" and progress.ideological_observations >= rule.count:
                continue
            marks.append(rule.id)
        elif rule.kind == "tenure_coverage":
            if any(
                t.unit_kind == rule.unit_kind and t.person_id not in progress.observed_teacher_ids
                for t in session.teachers
            ):
                marks.append(rule.id)
        elif rule.kind == "in_scope_share":
            unit = progress.unit_id
            if unit is not None and (
                session.student_unit_id == unit or any(t.unit_id == unit for t in session.teachers)
            ):
                marks.append(rule.id)
    return tuple(dict.fromkeys(marks))


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
            tuple(TeacherFacts(t.person_id, t.unit_id, t.unit_kind) for t in self.teachers),
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
                ClassSession.status != SessionStatus.VANISHED.value,
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
        for section_id, pid, pname, pno, unit_id, unit_kind, unit_name in self.session.execute(
            select(
                SectionTeacher.section_id,
                Person.id,
                Person.name,
                Person.employee_no,
                Person.unit_id,
                Unit.kind,
                Unit.name,
            )
            .join(Person, Person.id == SectionTeacher.person_id)
            .outerjoin(Unit, Unit.id == Person.unit_id)
            .where(SectionTeacher.section_id.in_(set(section_of.values())))
            .order_by(Person.employee_no)
        ):
            teachers[section_id].append(TeacherView(pid, pname, pno, unit_id, unit_kind, unit_name or ""))
        for sid, view in by_id.items():
            view.teachers = teachers.get(section_of[sid], [])
        return [by_id[i] for i in ids if i in by_id]

    # -- decoration ------------------------------------------------------------------------------
    def add_observer_counts(self, views: list[SessionView], viewer_id: int | None = None) -> None:
        """How many people are already on each session: submitted vs. still pending (draft / invited).

        Authors and co-signers of a submitted record count as *submitted*; a draft's author and anybody
        invited or signed on a record not yet submitted count as *pending*, unless they already count as
        submitted. Declined invitations never count.
        """
        if not views:
            return
        ids = [v.id for v in views]
        submitted: dict[int, set[int]] = defaultdict(set)
        pending: dict[int, set[int]] = defaultdict(set)
        for sid, status, author_id in self.session.execute(
            select(Observation.session_id, Observation.status, Observation.author_id).where(
                Observation.institution_id == self.institution_id, Observation.session_id.in_(ids)
            )
        ):
            (submitted if status == ObservationStatus.SUBMITTED else pending)[sid].add(author_id)
        for sid, obs_status, person_id, member_status in self.session.execute(
            select(
                ObservationMember.session_id,
                Observation.status,
                ObservationMember.person_id,
                ObservationMember.status,
            )
            .join(Observation, Observation.id == ObservationMember.observation_id)
            .where(
                ObservationMember.institution_id == self.institution_id, ObservationMember.session_id.in_(ids)
            )
        ):
            if member_status == MemberStatus.DECLINED:
                continue
            if obs_status == ObservationStatus.SUBMITTED and member_status in COUNTED_MEMBER_STATUSES:
                submitted[sid].add(person_id)
            else:
                pending[sid].add(person_id)
        for view in views:
            done = submitted.get(view.id, set())
            waiting = pending.get(view.id, set()) - done
            view.observers_submitted, view.observers_pending = len(done), len(waiting)
            view.mine = viewer_id is not None and viewer_id in (done | waiting)

    def observer_progress(self, person_id: int, position_codes: set[str], today: dt.date) -> ObserverProgress:
        """What the observer has submitted that already meets part of a duty (see ``duty_marks``)."""
        person = self.session.get(Person, person_id)
        mine = person is not None and person.institution_id == self.institution_id
        unit_id = person.unit_id if mine and person is not None else None
        semester = SemesterService(self.session, self.institution_id).of_date(today)
        counted = or_(
            Observation.author_id == person_id,
            exists().where(
                ObservationMember.observation_id == Observation.id,
                ObservationMember.person_id == person_id,
                ObservationMember.status.in_(COUNTED_MEMBER_STATUSES),
            ),
        )
        base = (
            select(Course.code, Course.kind, ClassSession.section_id, ClassSession.date)
            .select_from(Observation)
            .join(ClassSession, ClassSession.id == Observation.session_id)
            .join(CourseSection, CourseSection.id == ClassSession.section_id)
            .join(Course, Course.id == CourseSection.course_id)
            .where(
                Observation.institution_id == self.institution_id,
                Observation.status == ObservationStatus.SUBMITTED.value,
                counted,
            )
        )
        codes: set[str] = set()
        ideological = 0
        if semester is not None:
            for code, kind, _, _ in self.session.execute(base.where(ClassSession.semester_id == semester.id)):
                codes.add(code)
                ideological += self.policy.is_ideological(kind)
        teacher_ids: set[int] = set()
        coverage = [r for r in self.policy.rules_for(position_codes) if r.kind == "tenure_coverage"]
        if coverage:
            coverage_codes = {p for r in coverage for p in r.positions} & position_codes
            starts = [
                h.start_date
                for h in self.session.scalars(
                    select(PositionHolding).where(
                        PositionHolding.person_id == person_id,
                        PositionHolding.position_code.in_(sorted(coverage_codes)),
                    )
                )
                if h.held_during(today, today)
            ]
            since = None if not starts or None in starts else min(s for s in starts if s)
            stmt = (
                select(SectionTeacher.person_id)
                .select_from(Observation)
                .join(ClassSession, ClassSession.id == Observation.session_id)
                .join(SectionTeacher, SectionTeacher.section_id == ClassSession.section_id)
                .where(
                    Observation.institution_id == self.institution_id,
                    Observation.status == ObservationStatus.SUBMITTED.value,
                    counted,
                )
            )
            if since is not None:
                stmt = stmt.where(ClassSession.date >= since)
            teacher_ids = set(self.session.scalars(stmt.distinct()))
        return ObserverProgress(
            unit_id=unit_id,
            observed_course_codes=frozenset(codes),
            observed_teacher_ids=frozenset(teacher_ids),
            ideological_observations=ideological,
        )

    def add_duty_marks(
        self, views: list[SessionView], position_codes: set[str], progress: ObserverProgress
    ) -> None:
        for view in views:
            view.marks = duty_marks(self.policy, position_codes, view.facts(), progress)

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
