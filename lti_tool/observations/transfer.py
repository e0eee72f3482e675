"""Exporting observation records (CSV, XLSX) and importing historical paper records with the same columns.

Exports are opened in spreadsheet programs, so any text a user typed could be a formula
(``=HYPERLINK(...)``): every text cell starting with ``= + - @ \\t \\r \\n`` gets a leading apostrophe,
and XLSX cells are written as explicit string cells. The importer removes that apostrophe again, so an
export can be read back.

Import (``tingke import observations FILE``): one row is one record. ``observers`` holds employee numbers,
";"-separated for a group observation (the first is the author; the others co-signed). The class session
is found from course_code + teacher_no + date + periods; a row whose session does not exist (outside the
semester, a holiday, a week the class does not meet, e.g. an odd/even week), whose observer is unknown, or
whose course is not for full-time students (O-10) is refused by row and column, and then nothing from the
file is stored. A record that was already imported (same author and session) is skipped, so re-running an
import is harmless.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.acting import logged_import
from lti_tool.directory.models import Person
from lti_tool.directory.services import parse_date
from lti_tool.observations.fields import (
    EXCHANGE_TIMES,
    FIXED,
    comment_field,
    display_value,
    exchange_time_error,
    missing_fields,
    parse_field,
    rating_field,
)
from lti_tool.observations.models import (
    MemberRole,
    MemberStatus,
    Observation,
    ObservationMember,
    ObservationRating,
    ObservationStatus,
)
from lti_tool.observations.services import ObservationService, RecordFilter
from lti_tool.policy.schema import Policy
from lti_tool.tabular import Row, RowErrors, read_table
from lti_tool.timetable.models import (
    ClassSession,
    Course,
    CourseSection,
    SectionTeacher,
    Semester,
    SemesterStatus,
    SessionStatus,
)

log = logging.getLogger(__name__)

DANGEROUS_LEADS = ("=", "+", "-", "@", "\t", "\r", "\n")
WEEKDAYS = "一二三四五六日"

# canonical column → Chinese header used in exports, then further aliases accepted on import
BASE_COLUMNS: list[tuple[str, list[str]]] = [
    ("id", ["记录编号"]),
    ("observers", ["听课人工号", "听课人员工号", "observer_no"]),
    ("observer_names", ["听课人", "听课人员"]),
    ("course_code", ["课程代码"]),
    ("course_name", ["课程名称"]),
    ("teacher_no", ["教师工号", "授课教师工号"]),
    ("teacher_names", ["授课教师"]),
    ("classes", ["上课班级"]),
    ("date", ["日期", "听课日期"]),
    ("periods", ["节次"]),
    ("room", ["教室"]),
    ("status", ["状态"]),
    ("supervision", ["教学督导", "督导"]),
    ("arrival_time", ["到达时间", "到课时间"]),
    ("arrived_late", ["迟到"]),
    ("expected_count", ["应到人数", "应到"]),
    ("present_count", ["实到人数", "实到"]),
]
TEXT_COLUMNS: list[tuple[str, list[str]]] = [
    ("narrative", ["教学过程记录", "教学过程", "听课记录"]),
    ("strengths", ["优点", "主要优点"]),
    ("problems_text", ["存在问题", "问题"]),
    ("suggestions", ["意见建议", "建议"]),
    ("exchange_teacher_done", ["课后与教师交流"]),
    ("exchange_teacher_at", ["与教师交流时间"]),
    ("exchange_teacher_text", ["与教师交流内容"]),
    ("exchange_students_done", ["课后与学生交流"]),
    ("exchange_students_at", ["与学生交流时间"]),
    ("exchange_students_text", ["与学生交流内容"]),
    ("submitted_at", ["提交时间"]),
    ("teacher_reply", ["教师回复"]),
]
REQUIRED = ["observers", "course_code", "teacher_no", "date", "periods", "status", "supervision"]
STATUS_VALUES = {
    "draft": ObservationStatus.DRAFT,
    "草稿": ObservationStatus.DRAFT,
    "submitted": ObservationStatus.SUBMITTED,
    "已提交": ObservationStatus.SUBMITTED,
    "提交": ObservationStatus.SUBMITTED,
}


STATUS_WORDS: dict[str, str] = {ObservationStatus.DRAFT: "草稿", ObservationStatus.SUBMITTED: "已提交"}
"""The export says what a record's status is in words; the import reads the words back (STATUS_VALUES)."""
YES_NO = {True: "是", False: "否"}


def _text(value: Any) -> str:
    """A cell as text (CSV, widths): dates as YYYY-MM-DD, times without seconds."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


def _display_width(text: str) -> int:
    """Columns a text needs in a spreadsheet: CJK characters are about two wide. Long text wraps at 50."""
    line = max(text.splitlines() or [""], key=len)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in line)


def neutralise(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe; numbers pass."""
    if isinstance(value, str) and value.startswith(DANGEROUS_LEADS):
        return "'" + value
    return value


def unneutralise(value: str) -> str:
    if value.startswith("'") and value[1:2] and value[1:].startswith(DANGEROUS_LEADS):
        return value[1:]
    return value


def columns(policy: Policy) -> list[tuple[str, list[str]]]:
    """Every column of the export (and of the import), in order, with its headers."""
    dims: list[tuple[str, list[str]]] = []
    for d in policy.dimensions:
        dims.append((rating_field(d.code), [d.label, d.code]))
        dims.append(
            (
                comment_field(d.code),
                [f"{d.label}评语", f"{d.code}_comment", f"{d.label}_评语", f"{d.label}意见"],
            )
        )
    return BASE_COLUMNS + dims + TEXT_COLUMNS


@dataclass
class ImportResult:
    created: int = 0
    skipped: int = 0

    def __str__(self) -> str:
        return f"created {self.created}, already imported {self.skipped}"


@dataclass
class _Parsed:
    row: int
    session: ClassSession
    observers: list[Person]
    status: str
    values: dict[str, Any] = field(default_factory=dict)
    submitted_at: dt.datetime | None = None


class ObservationTransfer:
    def __init__(self, session: Session, institution_id: int, policy: Policy) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy
        self.service = ObservationService(session, institution_id, policy)

    # -- export -------------------------------------------------------------------------------------
    def rows(self, f: RecordFilter) -> tuple[list[str], list[list[Any]]]:
        cols = columns(self.policy)
        header = [aliases[0] for _, aliases in cols]
        tz = self.service.tz
        out = []
        for obs in self.service.all_matching(f):
            cs = obs.session
            section = cs.section
            signed = [
                m for m in obs.members if m.role == MemberRole.CO_OBSERVER and m.status == MemberStatus.SIGNED
            ]
            people = [obs.author] + [m.person for m in signed]
            values = self.service.values(obs)
            record: dict[str, Any] = {
                "id": obs.id,
                "observers": ";".join(p.employee_no for p in people),
                "observer_names": ";".join(p.name for p in people),
                "course_code": section.course.code,
                "course_name": section.course.name,
                "teacher_no": ";".join(t.employee_no for t in section.teachers),
                "teacher_names": ";".join(t.name for t in section.teachers),
                "classes": section.classes,
                "date": cs.date,
                "periods": f"{cs.period_start}-{cs.period_end}"
                if cs.period_end != cs.period_start
                else str(cs.period_start),
                "room": cs.room,
                "status": STATUS_WORDS.get(obs.status, obs.status),
                "supervision": YES_NO[obs.is_supervision],
                "arrived_late": YES_NO[obs.arrived_late],
                "submitted_at": obs.submitted_at.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)
                if obs.submitted_at
                else "",
                "teacher_reply": obs.teacher_reply,
            }
            for name, value in values.items():
                if isinstance(value, bool):
                    shown: Any = YES_NO[value]
                elif name.endswith("_count") and value is not None:
                    shown = value
                else:
                    shown = display_value(name, value, self.policy, tz)
                record.setdefault(name, shown)
            out.append([record.get(name, "") for name, _ in cols])
        return header, out

    def export_csv(self, f: RecordFilter) -> bytes:
        header, rows = self.rows(f)
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(header)
        for row in rows:
            writer.writerow([neutralise(_text(v)) for v in row])
        return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel then reads the Chinese correctly

    def export_xlsx(self, f: RecordFilter) -> bytes:
        """A workbook a person can use at once: dates as dates, readable widths, a filter on every column,
        the header frozen. Text cells are explicit strings (never formulas)."""
        from openpyxl import Workbook
        from openpyxl.utils import get_column_letter

        header, rows = self.rows(f)
        wb = Workbook()
        ws = wb.create_sheet("听课记录", 0)
        wb.remove(wb.worksheets[1])  # the empty default sheet
        ws.append(header)
        for row in rows:
            ws.append([None if v == "" else v for v in row])
            for c in ws[ws.max_row]:
                if isinstance(c.value, dt.datetime):
                    c.number_format = "yyyy-mm-dd hh:mm"
                elif isinstance(c.value, dt.date):
                    c.number_format = "yyyy-mm-dd"
                elif isinstance(c.value, str):
                    c.value = neutralise(c.value)
                    c.data_type = "s"  # an explicit string cell: never a formula, whatever the text
        for index, title in enumerate(header, start=1):
            cells = [title] + [_text(r[index - 1]) for r in rows[:200]]
            width = max(_display_width(v) for v in cells)
            ws.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 50)
        ws.freeze_panes = "A2"
        if header:
            ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{max(1, len(rows) + 1)}"
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()

    # -- import -------------------------------------------------------------------------------------
    @logged_import(log, "observations")
    def import_file(self, data: bytes, filename: str) -> ImportResult:
        cols = columns(self.policy)
        aliases = {name: names for name, names in cols}
        table = read_table(data, filename, aliases, REQUIRED)
        errors = table.errors
        people = {
            p.employee_no: p
            for p in self.session.scalars(select(Person).where(Person.institution_id == self.institution_id))
        }
        courses = {
            c.code: c
            for c in self.session.scalars(select(Course).where(Course.institution_id == self.institution_id))
        }
        semesters = list(
            self.session.scalars(select(Semester).where(Semester.institution_id == self.institution_id))
        )
        parsed: list[_Parsed] = []
        seen: dict[tuple[int, int], int] = {}
        for row in table.rows:
            item = self._parse_row(row, errors, people, courses, semesters)
            if item is None:
                continue
            key = (item.observers[0].id, item.session.id)
            if key in seen:
                errors.add(
                    row.number,
                    "observers",
                    f"与第 {seen[key]} 行是同一听课人对同一节课的记录 (duplicate of row {seen[key]})",
                )
                continue
            seen[key] = row.number
            parsed.append(item)
        errors.raise_if_any("observations")
        result = ImportResult()
        for item in parsed:
            if self._store(item):
                result.created += 1
            else:
                result.skipped += 1
        self.session.flush()
        return result

    def _parse_row(
        self,
        row: Row,
        errors: RowErrors,
        people: dict[str, Person],
        courses: dict[str, Course],
        semesters: list[Semester],
    ) -> _Parsed | None:
        before = len(errors.errors)
        observers: list[Person] = []
        tokens = [t.strip() for t in re.split(r"[;；,，]", row.get("observers")) if t.strip()]
        if not tokens:
            errors.add(row.number, "observers", "不能为空 (must not be empty)")
        for no in tokens:
            person = people.get(no)
            if person is None:
                errors.add(row.number, "observers", f"工号“{no}”不在人员名单中 (unknown observer)")
            elif person in observers:
                errors.add(row.number, "observers", f"工号“{no}”重复 (listed twice)")
            else:
                observers.append(person)
        teachers: list[Person] = []
        teacher_tokens = [t.strip() for t in re.split(r"[;；,，]", row.get("teacher_no")) if t.strip()]
        if not teacher_tokens:
            errors.add(row.number, "teacher_no", "不能为空 (must not be empty)")
        for no in teacher_tokens:
            person = people.get(no)
            if person is None:
                errors.add(row.number, "teacher_no", f"工号“{no}”不在人员名单中 (unknown teacher)")
            else:
                teachers.append(person)
        code = row.get("course_code")
        course = courses.get(code)
        if course is None:
            errors.add(row.number, "course_code", f"课程代码“{code}”不存在，请先导入课表 (unknown course)")
        day: dt.date | None = None
        try:
            day = parse_date(row.get("date"))
        except ValueError:
            errors.add(row.number, "date", f"“{row.get('date')}”不是日期，应为 YYYY-MM-DD (not a date)")
        periods = self._periods(row.get("periods"))
        if periods is None:
            errors.add(
                row.number, "periods", f"“{row.get('periods')}”不是节次，应如 3-4 (not a period range)"
            )
        status = STATUS_VALUES.get(row.get("status").lower())
        if status is None:
            errors.add(
                row.number, "status", f"“{row.get('status')}”应为 draft 或 submitted (draft | submitted)"
            )
        supervision = row.get("supervision").lower()
        if supervision not in ("", "yes", "no", "是", "否", "y", "n", "true", "false", "1", "0"):
            errors.add(row.number, "supervision", f"“{row.get('supervision')}”应为 yes 或 no (yes | no)")
        values: dict[str, Any] = {"is_supervision": supervision in ("yes", "是", "y", "true", "1")}
        now = self.service.now()
        tz = self.service.tz
        for name in [n for n, _ in columns(self.policy)]:
            if name in FIXED or name.startswith(("rating__", "comment__")):
                if name not in row.values or name == "is_supervision":
                    continue
                raw = unneutralise(row.get(name))
                value, error = parse_field(name, raw, self.policy, day or now.astimezone(tz).date(), tz)
                if error:
                    errors.add(row.number, name, f"“{raw}”: {error}")
                else:
                    values[name] = value
        if len(errors.errors) > before or course is None or day is None or periods is None:
            return None
        class_session = self._find_session(row, errors, course, teachers, day, periods, semesters)
        if class_session is None:
            return None
        class_end = class_session.ends_local(tz)
        if not class_session.has_ended(now, tz):
            errors.add(
                row.number,
                "date",
                f"这节课 {class_end:%Y-%m-%d %H:%M} 才结束，不能导入尚未上完的课的听课记录 "
                "(the class has not ended yet: a record of a future class cannot be imported)",
            )
            return None
        for name in EXCHANGE_TIMES:
            if exchange_time_error(name, values.get(name), class_end):
                errors.add(
                    row.number,
                    name,
                    f"课后交流时间早于下课时间 {class_end:%Y-%m-%d %H:%M} "
                    "(the after-class exchange cannot be before the class ended)",
                )
        for person in observers:
            if any(t.id == person.id for t in class_session.section.teachers):
                errors.add(
                    row.number,
                    "observers",
                    f"“{person.employee_no}”是这节课的授课教师 (an observer teaches this class)",
                )
        submitted_at = None
        if status == ObservationStatus.SUBMITTED:
            for name in missing_fields(values, self.policy):
                shown = "" if name in row.values else "（缺少该列 column missing）"
                errors.add(row.number, name, f"已提交的记录必须填写{shown} (required for a submitted record)")
            text = row.get("submitted_at")
            if text:
                submitted_at, error = _parse_local(text, tz)
                if error:
                    errors.add(row.number, "submitted_at", f"“{text}”不是日期时间 (not a date and time)")
                elif submitted_at is not None and submitted_at < class_end:
                    errors.add(
                        row.number,
                        "submitted_at",
                        f"提交时间早于下课时间 {class_end:%Y-%m-%d %H:%M} "
                        "(a record is submitted only after the class ended)",
                    )
            if submitted_at is None:
                submitted_at = class_end.astimezone(dt.UTC)
        if len(errors.errors) > before:
            return None
        assert status is not None
        return _Parsed(row.number, class_session, observers, status, values, submitted_at)

    @staticmethod
    def _periods(text: str) -> tuple[int, int] | None:
        m = re.fullmatch(r"\s*(\d{1,2})\s*(?:[-–~至]\s*(\d{1,2}))?\s*节?\s*", text or "")
        if not m:
            return None
        start, end = int(m.group(1)), int(m.group(2) or m.group(1))
        return (start, end) if 1 <= start <= end else None

    def _find_session(
        self,
        row: Row,
        errors: RowErrors,
        course: Course,
        teachers: list[Person],
        day: dt.date,
        periods: tuple[int, int],
        semesters: list[Semester],
    ) -> ClassSession | None:
        """The session the row describes, or a row error saying precisely why there is none."""
        semester = next((s for s in semesters if s.start_date <= day <= s.end_date), None)
        if semester is None:
            errors.add(row.number, "date", f"{day} 不在任何学期的教学周内 (not inside any semester)")
            return None
        if semester.status == SemesterStatus.ARCHIVED:
            errors.add(row.number, "date", f"学期 {semester.code} 已归档，记录已锁定 (semester archived)")
            return None
        if day.isoformat() in (semester.holidays or []):
            errors.add(row.number, "date", f"{day} 是假期，没有课 (a holiday: no classes)")
            return None
        sections = list(
            self.session.scalars(
                select(CourseSection).where(
                    CourseSection.institution_id == self.institution_id,
                    CourseSection.semester_id == semester.id,
                    CourseSection.course_id == course.id,
                )
            )
        )
        if not sections:
            errors.add(
                row.number,
                "course_code",
                f"课程“{course.code}”在学期 {semester.code} 没有排课 (not in this semester's timetable)",
            )
            return None
        teacher_ids = {t.id for t in teachers}
        taught = {
            sid
            for sid, pid in self.session.execute(
                select(SectionTeacher.section_id, SectionTeacher.person_id).where(
                    SectionTeacher.section_id.in_([s.id for s in sections])
                )
            )
            if pid in teacher_ids
        }
        by_teacher = [s for s in sections if s.id in taught]
        if not by_teacher:
            errors.add(
                row.number,
                "teacher_no",
                f"该教师在学期 {semester.code} 不教“{course.code}” "
                "(does not teach this course this semester)",
            )
            return None
        full_time = [s for s in by_teacher if s.full_time]
        if not full_time:
            errors.add(
                row.number,
                "course_code",
                f"“{course.code}”不是全日制学生的课程，不在听课范围 "
                "(not a course for full-time students, O-10)",
            )
            return None
        sessions = list(
            self.session.scalars(
                select(ClassSession).where(
                    ClassSession.section_id.in_([s.id for s in full_time]), ClassSession.date == day
                )
            )
        )
        if not sessions:
            weekday = day.isoweekday()
            same_day = [s for s in full_time if s.weekday == weekday]
            if same_day:
                week = semester.week_of(day)
                specs = "、".join(sorted({s.weeks_spec for s in same_day}))
                errors.add(
                    row.number,
                    "date",
                    f"{day} 是第 {week} 周，该课周次为 {specs}，这一周不上课 "
                    f"(week {week} is not a teaching week of this class: {specs})",
                )
            else:
                meets = "、".join(sorted({f"星期{WEEKDAYS[s.weekday - 1]}" for s in full_time}))
                errors.add(
                    row.number,
                    "date",
                    f"{day} 是星期{WEEKDAYS[weekday - 1]}，该课在{meets}上课 "
                    "(the class does not meet on this weekday)",
                )
            return None
        exact = [s for s in sessions if (s.period_start, s.period_end) == periods]
        if not exact:
            have = "、".join(sorted({f"{s.period_start}-{s.period_end}" for s in sessions}))
            errors.add(
                row.number, "periods", f"该课在 {day} 的节次是 {have} (the class meets in periods {have})"
            )
            return None
        if len(exact) > 1:
            classes = row.get("classes")
            exact = [s for s in exact if classes and s.section.classes == classes] or exact
            if len(exact) > 1:
                errors.add(
                    row.number,
                    "classes",
                    "有多个教学班同时上课，请填写上课班级 (several classes match: give the classes)",
                )
                return None
        if exact[0].status == SessionStatus.VANISHED:
            errors.add(row.number, "date", "这节课已不在课表中 (the session is no longer in the timetable)")
            return None
        return exact[0]

    def _store(self, item: _Parsed) -> bool:
        author = item.observers[0]
        existing = self.session.scalars(
            select(Observation).where(
                Observation.institution_id == self.institution_id,
                Observation.author_id == author.id,
                Observation.session_id == item.session.id,
            )
        ).first()
        if existing is not None:
            return False
        cs = item.session
        obs = Observation(
            institution_id=self.institution_id,
            session_id=cs.id,
            semester_id=cs.semester_id,
            author_id=author.id,
            status=item.status,
            imported=True,
            draft_version=0,
            extra={},
            submitted_at=item.submitted_at,
        )
        positions = {d.code: i for i, d in enumerate(self.policy.dimensions)}
        ratings: dict[str, ObservationRating] = {}
        for name, value in item.values.items():
            if name.startswith(("rating__", "comment__")):
                code = name.split("__", 1)[1]
                r = ratings.get(code)
                if r is None:
                    r = ratings[code] = ObservationRating(
                        dimension=code, position=positions.get(code, 99), comment=""
                    )
                if name.startswith("rating__"):
                    r.rating = value
                else:
                    r.comment = value or ""
            else:
                setattr(obs, name, value)
        obs.ratings = list(ratings.values())
        obs.arrived_late = bool(obs.arrival_time and cs.starts_at and obs.arrival_time > cs.starts_at)
        signed = item.status == ObservationStatus.SUBMITTED
        for i, person in enumerate(item.observers):
            obs.members.append(
                ObservationMember(
                    institution_id=self.institution_id,
                    person_id=person.id,
                    session_id=cs.id,
                    role=MemberRole.AUTHOR if i == 0 else MemberRole.CO_OBSERVER,
                    status=MemberStatus.SIGNED if signed else MemberStatus.INVITED,
                    signed_at=item.submitted_at if signed else None,
                )
            )
        if not signed:
            obs.members = [m for m in obs.members if m.role == MemberRole.CO_OBSERVER]
        self.session.add(obs)
        self.session.flush()
        return True


def _parse_local(text: str, tz: Any) -> tuple[dt.datetime | None, str | None]:
    pattern = r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::\d{2})?)?"
    m = re.fullmatch(pattern, text.strip())
    if not m:
        return None, "not a date and time"
    try:
        local = dt.datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4] or 0), int(m[5] or 0), tzinfo=tz)
    except ValueError:
        return None, "not a date and time"
    return local.astimezone(dt.UTC), None


__all__ = ["ImportResult", "ObservationTransfer", "columns", "neutralise", "unneutralise"]
