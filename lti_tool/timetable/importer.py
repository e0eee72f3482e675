"""The timetable import (issue 3 §2): the academic system's export (CSV or XLSX, English or Chinese
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

What a file may remove (issue 11 §2): by default an import *updates* — a section the file does not list is
removed only if the file lists its course in that semester (the course's timetable is the file's); every
other section and its sessions stay. Only ``replace=True`` (a separate, confirmed choice) makes the file the
semesters' whole timetable. Rows of an archived semester are skipped and counted, not refused one by one.

Nothing is stored before a preview: ``TimetableImportPreviews.create`` runs the import in a savepoint,
keeps what it would change (``TimetableImportResult``) and rolls back, then keeps the upload
(``PendingTimetableImport``) with the digest of those changes; ``confirm`` runs it again and stores it only
if it makes exactly the changes previewed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.acting import logged_import
from lti_tool.directory.models import Unit
from lti_tool.directory.services import DirectoryService
from lti_tool.errors import Conflict, NotFound, ValidationFailed
from lti_tool.i18n import N_
from lti_tool.import_runs.services import register_importer
from lti_tool.observations.models import (
    Observation,
    ObservationMember,
)
from lti_tool.tabular import Row, RowErrors, read_table
from lti_tool.timetable.models import (
    ClassSession,
    Course,
    CourseSection,
    PendingTimetableImport,
    SectionTeacher,
    Semester,
    SemesterStatus,
    SessionStatus,
)
from lti_tool.timetable.periods import PeriodService
from lti_tool.timetable.semesters import SemesterService
from lti_tool.timetable.specs import (
    SpecError,
    format_weeks,
    parse_periods,
    parse_weekday,
    parse_weeks,
    parse_yes_no,
)

log = logging.getLogger(__name__)

_CHUNK = 500
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


@dataclass(frozen=True)
class SectionLine:
    """A section as the preview names it."""

    semester: str
    course_code: str
    course_name: str
    classes: str
    weekday: int
    period_start: int
    period_end: int
    weeks: str


@dataclass(frozen=True)
class ObservedLine:
    """A session with observation records (or drafts, or invitations) that the import touches."""

    session_id: int
    date: dt.date
    period_start: int
    period_end: int
    course_code: str
    course_name: str
    classes: str
    status: str
    """What it becomes: ``changed`` (its row changed or it moved to another row), ``vanished`` (kept,
    no longer in the timetable) or ``active`` (back in the timetable exactly as observed)."""


@dataclass
class TimetableImportResult:
    replace: bool = False
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
    sections_kept: int = 0
    """Sections of the file's semesters the file does not mention, left alone (an update, not a replace)."""
    skipped_archived: dict[str, int] = field(default_factory=dict)
    """Rows of archived semesters, skipped: semester code → rows."""
    added: list[SectionLine] = field(default_factory=list, repr=False)
    changed: list[SectionLine] = field(default_factory=list, repr=False)
    removed: list[SectionLine] = field(default_factory=list, repr=False)
    observed: list[ObservedLine] = field(default_factory=list, repr=False)
    observed_ids: dict[int, str] = field(default_factory=dict, repr=False)
    """Observed sessions touched → their status after the import (``observed`` has their labels)."""
    changes: list[Any] = field(default_factory=list, repr=False)
    """Every change, by keys that stay the same between a preview and its confirmation (``digest``)."""

    @property
    def nothing_to_do(self) -> bool:
        return not self.changes

    @property
    def digest(self) -> str:
        payload = json.dumps(sorted(self.changes, key=repr), default=str, sort_keys=True)
        return hashlib.sha256(f"{self.replace}|{payload}".encode()).hexdigest()

    def __str__(self) -> str:
        skipped = "".join(
            f"; {n} rows of archived semester {code} skipped"
            for code, n in sorted(self.skipped_archived.items())
        )
        return (
            f"{'replace' if self.replace else 'update'}: "
            f"{self.rows} rows; courses +{self.courses_created} ~{self.courses_updated}; sections "
            f"+{self.sections_created} ~{self.sections_updated} ={self.sections_unchanged} "
            f"-{self.sections_removed}; sessions +{self.sessions_created} ~{self.sessions_updated} "
            f"-{self.sessions_removed}; flagged changed {self.flagged_changed}, "
            f"vanished {self.flagged_vanished}; {self.sections_kept} sections not in the file kept{skipped}"
        )


_SESSION_ATTRS = ("week", "period_end", "starts_at", "ends_at", "room")


class TimetableImporter:
    """Imports the academic system's timetable export; see the module docstring for the rules."""

    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    @logged_import(log, "timetable")
    def import_file(self, data: bytes, filename: str, replace: bool = False) -> TimetableImportResult:
        """Store the file at once (the demo, the CLI's ``--apply``); pages go through a preview."""
        return self._run(data, filename, replace)

    def preview(self, data: bytes, filename: str, replace: bool = False) -> TimetableImportResult:
        """What importing the file would change; nothing is stored (a savepoint, rolled back)."""
        savepoint = self.session.begin_nested()
        try:
            result = self._run(data, filename, replace)
        finally:
            savepoint.rollback()
        self._label_observed(result)
        return result

    @logged_import(log, "timetable")
    def apply_previewed(
        self, data: bytes, filename: str, replace: bool, digest: str
    ) -> TimetableImportResult:
        """Store the file only if it makes exactly the changes of the preview with this ``digest``."""
        savepoint = self.session.begin_nested()
        try:
            result = self._run(data, filename, replace)
        except BaseException:
            savepoint.rollback()
            raise
        if result.digest != digest:
            savepoint.rollback()
            raise Conflict(
                "The timetable, the period table or the observation records changed since the preview, "
                "so this import would no longer make the changes you saw. Nothing was stored: upload the "
                "file again to see what it would change now."
            )
        savepoint.commit()
        self._label_observed(result)
        return result

    def _run(self, data: bytes, filename: str, replace: bool) -> TimetableImportResult:
        table = read_table(data, filename, TIMETABLE_ALIASES, TIMETABLE_REQUIRED)
        courses, rows, skipped = self._parse(table.rows, table.errors)
        table.errors.raise_if_any("timetable")
        result = self._store(courses, rows, replace)
        result.skipped_archived = skipped
        return result

    def _label_observed(self, result: TimetableImportResult) -> None:
        if not result.observed_ids:
            return
        rows = self.session.execute(
            select(
                ClassSession.id,
                ClassSession.date,
                ClassSession.period_start,
                ClassSession.period_end,
                Course.code,
                Course.name,
                CourseSection.classes,
            )
            .join(CourseSection, CourseSection.id == ClassSession.section_id)
            .join(Course, Course.id == CourseSection.course_id)
            .where(
                ClassSession.institution_id == self.institution_id,
                ClassSession.id.in_(list(result.observed_ids)),
            )
            .order_by(ClassSession.date, ClassSession.period_start, Course.code)
        )
        result.observed = [
            ObservedLine(sid, day, p1, p2, code, name, classes.replace(";", "；"), result.observed_ids[sid])
            for sid, day, p1, p2, code, name, classes in rows
        ]

    # -- parsing ---------------------------------------------------------------------------------
    def _parse(
        self, raw_rows: list[Row], errors: RowErrors
    ) -> tuple[dict[str, _CourseInfo], list[_SectionRow], dict[str, int]]:
        semesters = {s.code: s for s in SemesterService(self.session, self.institution_id).all()}
        periods = PeriodService(self.session, self.institution_id).table()
        directory = DirectoryService(self.session, self.institution_id)
        units = directory.unit_lookup()
        people = directory.people_by_no()
        has_full_time = "full_time" in errors.headers
        courses: dict[str, _CourseInfo] = {}
        keys: dict[tuple[int, str], int] = {}
        rows: list[_SectionRow] = []
        skipped: dict[str, int] = defaultdict(int)
        if not periods and raw_rows:
            errors.add(
                raw_rows[0].number,
                "periods",
                "节次表为空：请先导入节次表 (the period table is empty: import periods first)",
            )
        for row in raw_rows:
            ok = True
            semester_code = row.get("semester")
            semester = semesters.get(semester_code)
            if semester is not None and semester.status == SemesterStatus.ARCHIVED:
                skipped[semester_code] += 1  # one line for all of them, not an error per row
                continue

            def bad(column: str, message: str, row: Row = row) -> None:
                nonlocal ok
                ok = False
                errors.add(row.number, column, message)

            if semester is None:
                bad(
                    "semester",
                    f"学期“{semester_code}”不存在，请先添加学期 "
                    f"(unknown semester: add it first with `tingke semester add`)",
                )
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
        return courses, rows, dict(skipped)

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
    def _store(
        self, courses: dict[str, _CourseInfo], rows: list[_SectionRow], replace: bool
    ) -> TimetableImportResult:
        result = TimetableImportResult(replace=replace, rows=len(rows))
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
            line = SectionLine(
                row.semester.code,
                row.course_code,
                courses[row.course_code].name,
                row.classes_text.replace(";", "；"),
                row.weekday,
                row.period_start,
                row.period_end,
                row.weeks_spec,
            )
            if section is None:
                section = CourseSection(
                    institution_id=self.institution_id,
                    semester_id=row.semester.id,
                    natural_key=row.natural_key,
                    **values,
                )
                self.session.add(section)
                result.sections_created += 1
                result.added.append(line)
                # by what it holds, not by its course's id: a new course's id differs between the preview
                # (rolled back) and the confirmation where ids come from a sequence (PostgreSQL)
                result.changes.append(("section+", row.semester.id, row.natural_key, row.content_hash(0)))
            elif section.content_hash != digest:
                result.changes.append(("section~", section.id, section.content_hash, digest))
                for name, value in values.items():
                    setattr(section, name, value)
                changed_sections.add(section.id)
                result.sections_updated += 1
                result.changed.append(line)
            else:
                section.weeks_spec = row.weeks_spec  # same weeks, possibly written another way
                result.sections_unchanged += 1
            wanted.append((row, section))
        self.session.flush()  # ids for new sections
        if not replace:
            # An update: a section the file does not list goes only if the file lists its course in that
            # semester; the sections of every other course stay as they are, with their sessions.
            listed = {(row.semester.id, course_ids[row.course_code]) for row in rows}
            kept = {k for k, s in sections.items() if (s.semester_id, s.course_id) not in listed}
            result.sections_kept = len(kept)
            sections = {k: s for k, s in sections.items() if k not in kept}

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
                result.changes.append(("course+", code, info.name, info.kind, info.offering_unit_id))
            elif (course.name, course.kind, course.offering_unit_id) != (
                info.name,
                info.kind,
                info.offering_unit_id,
            ):
                course.name, course.kind = info.name, info.kind
                course.offering_unit_id = info.offering_unit_id
                result.courses_updated += 1
                result.changes.append(("course~", code, info.name, info.kind, info.offering_unit_id))
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
        # only the sessions of the file's sections and of the sections it may remove (an update keeps others)
        sections_by_id = {s.id: s for _, s in wanted} | {s.id: s for s in leftover_sections.values()}
        existing: dict[tuple[int, dt.date, int], dict[str, Any]] = {}
        for r in self.session.execute(
            select(*cols).where(
                ClassSession.institution_id == self.institution_id, ClassSession.semester_id.in_(semester_ids)
            )
        ):
            if r.section_id in sections_by_id:
                existing[(r.section_id, r.date, r.period_start)] = dict(r._mapping)
        observed = self._observed_session_ids(semester_ids)

        inserts: dict[tuple[int, dt.date, int], dict[str, Any]] = {}
        by_meeting: dict[tuple[int, str, dt.date, int], tuple[int, dt.date, int]] = {}
        updates: list[dict[str, Any]] = []
        before: dict[int, dict[str, Any]] = {}
        """The stored values of the sessions updated or removed: a confirmation checks they are unchanged."""
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
                    before[old["id"]] = old

        # Stored sessions no longer in the file: keep (flagged) those with observations, drop the others.
        deletes: list[int] = []
        before.update({old["id"]: old for old in existing.values()})
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
        # the changes by keys a confirmation reproduces (a new section's id is not one of them)
        key_of = {s.id: (s.semester_id, s.natural_key) for s in sections_by_id.values()}
        result.changes += [("session-", i, *before[i].values()) for i in deletes]
        result.changes += [("session+", key_of[k[0]], k[1], k[2]) for k in inserts]
        for u in updates:
            target = key_of[u["section_id"]] if "section_id" in u else None
            after = (u["status"], target, *(u[a] for a in _SESSION_ATTRS))
            result.changes.append(("session~", u["id"], *before[u["id"]].values(), *after))
            if u["id"] in observed:
                result.observed_ids[u["id"]] = u["status"]

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
        semester_codes = {r.semester.id: r.semester.code for r, _ in wanted}
        result.removed = [
            SectionLine(
                semester_codes.get(s.semester_id, ""),
                s.course.code,
                s.course.name,
                s.classes.replace(";", "；"),
                s.weekday,
                s.period_start,
                s.period_end,
                s.weeks_spec,
            )
            for s in sorted(leftover_sections.values(), key=lambda s: s.natural_key)
            if s.id not in still_used
        ]
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
        gone_ids = set(gone)
        for section in sorted(leftover_sections.values(), key=lambda s: s.natural_key):
            if section.id in gone_ids:
                result.changes.append(("section-", section.id))
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


# -- preview, then confirm -------------------------------------------------------------------------------
PREVIEW_LIFETIME = dt.timedelta(hours=1)
PREVIEW_LINES = 200
"""How many sections (and observed sessions) the preview lists of each kind; the counts are complete."""


class TimetableImportPreviews:
    """An upload is previewed first and stored only when the person confirms what the preview showed."""

    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id
        self.importer = TimetableImporter(session, institution_id)

    def create(
        self, data: bytes, filename: str, replace: bool, person_id: int | None
    ) -> tuple[PendingTimetableImport, TimetableImportResult]:
        """Check and preview the file, keep it for the confirmation; raises ``ValidationFailed`` for a bad
        file (every row and column in its details), storing nothing."""
        now = clock.utcnow()
        self.session.execute(
            delete(PendingTimetableImport).where(
                PendingTimetableImport.institution_id == self.institution_id,
                PendingTimetableImport.expires_at < now,
            )
        )
        result = self.importer.preview(data, filename, replace)
        pending = PendingTimetableImport(
            institution_id=self.institution_id,
            token=secrets.token_urlsafe(24),
            filename=filename[:255],
            content=data,
            replace=replace,
            digest=result.digest,
            created_by_id=person_id,
            created_at=now,
            expires_at=now + PREVIEW_LIFETIME,
        )
        self.session.add(pending)
        self.session.flush()
        return pending, result

    def get(self, token: str) -> PendingTimetableImport:
        pending = self.session.scalars(
            select(PendingTimetableImport).where(
                PendingTimetableImport.institution_id == self.institution_id,
                PendingTimetableImport.token == (token or "")[:64],
            )
        ).first()
        if pending is None or pending.expires_at < clock.utcnow():
            raise NotFound(
                "This preview has expired or was already imported. Nothing was stored from it: "
                "upload the file again."
            )
        return pending

    def confirm(self, token: str, replace_confirmed: bool = False) -> TimetableImportResult:
        """Store exactly what the preview showed, or nothing (``Conflict`` if it would differ now)."""
        pending = self.get(token)
        if pending.replace and not replace_confirmed:
            raise ValidationFailed(
                "Replacing the timetable removes every section the file does not list: tick the box to "
                "confirm that this is what you want."
            )
        result = self.importer.apply_previewed(
            pending.content, pending.filename, pending.replace, pending.digest
        )
        self.session.delete(pending)
        self.session.flush()
        return result


# -- as an import run (lti_tool/import_runs): the worker previews, the person confirms, the worker applies --
_LISTS = ("added", "changed", "removed", "observed")


def preview_json(result: TimetableImportResult) -> dict[str, Any]:
    """A preview as the run keeps it: its counts and lines, and the digest its confirmation must match."""
    kept = {
        f.name: getattr(result, f.name)
        for f in fields(result)
        if f.name not in (*_LISTS, "observed_ids", "changes")
    }
    lines = {name: [asdict(line) for line in getattr(result, name)] for name in _LISTS}
    for line in lines["observed"]:
        line["date"] = line["date"].isoformat()
    return kept | lines | {"digest": result.digest, "nothing_to_do": result.nothing_to_do}


def preview_from_json(preview: dict[str, Any]) -> TimetableImportResult:
    """The preview page's ``result`` again, from ``preview_json``."""
    counts = {f.name: preview[f.name] for f in fields(TimetableImportResult) if f.name in preview}
    return TimetableImportResult(
        **{k: v for k, v in counts.items() if k not in _LISTS},
        added=[SectionLine(**line) for line in preview.get("added", [])],
        changed=[SectionLine(**line) for line in preview.get("changed", [])],
        removed=[SectionLine(**line) for line in preview.get("removed", [])],
        observed=[
            ObservedLine(**(line | {"date": dt.date.fromisoformat(line["date"])}))
            for line in preview.get("observed", [])
        ],
        changes=[] if preview.get("nothing_to_do") else [preview.get("digest")],  # only its emptiness is read
    )


@dataclass(frozen=True)
class AppliedCounts:
    """What a confirmed import run stored, as the run's page counts it (sections)."""

    created: int
    updated: int
    unchanged: int
    removed: int


def _previewed(
    session: Session, institution_id: int, data: bytes, filename: str, options: dict[str, Any]
) -> dict[str, Any]:
    result = TimetableImporter(session, institution_id).preview(data, filename, bool(options.get("replace")))
    return preview_json(result)


def _apply(
    session: Session,
    institution_id: int,
    data: bytes,
    filename: str,
    options: dict[str, Any],
    preview: dict[str, Any],
) -> AppliedCounts:
    replace = bool(options.get("replace"))
    result = TimetableImporter(session, institution_id).apply_previewed(
        data, filename, replace, preview["digest"]
    )
    return AppliedCounts(
        result.sections_created, result.sections_updated, result.sections_unchanged, result.sections_removed
    )


def _replace_confirmed(options: dict[str, Any]) -> None:
    if options.get("replace") and not options.get("confirm_replace"):
        raise ValidationFailed(
            "Replacing the timetable removes every section the file does not list: tick the box to "
            "confirm that this is what you want."
        )


def _preview_context(preview: dict[str, Any]) -> dict[str, Any]:
    return {"result": preview_from_json(preview), "limit": PREVIEW_LINES}


@register_importer(
    "timetable",
    aliases=TIMETABLE_ALIASES,
    required=TIMETABLE_REQUIRED,
    label=N_("Import the timetable"),
    personas=("quality_center",),
    back="timetable.import_page",
    back_label=N_("Back to the import form"),
    preview=_previewed,
    apply=_apply,
    preview_template="timetable/import_preview.html",
    preview_context=_preview_context,
    confirm_check=_replace_confirmed,
)
def import_timetable_job(session: Session, institution_id: int, data: bytes, filename: str) -> AppliedCounts:
    """Without a preview (a run recorded as one step): the update import, as ``tingke import timetable
    --apply``."""
    result = TimetableImporter(session, institution_id).import_file(data, filename)
    return AppliedCounts(
        result.sections_created, result.sections_updated, result.sections_unchanged, result.sections_removed
    )
