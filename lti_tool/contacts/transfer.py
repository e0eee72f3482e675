"""Importing contact points and contact records from CSV or XLSX (``tingke import contact-points|contacts``).

Headers may be Chinese or English, kinds Chinese names or codes. Every row is checked first and every problem
reported as "row N, column C" (lti_tool/tabular.py); only a clean file is stored (docs/decisions.md I-1).

Contact points: for every (person, academic year) the file lists, the file's points *replace* the stored
ones (a point that stays keeps its id, so records linked to it stay linked). Contact records: a paper record
imported twice is the same record (same author, date, kind and target), updated rather than duplicated.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.academic_year import parse_academic_year
from lti_tool.contacts.models import (
    BranchConfirmation,
    ContactKind,
    ContactMember,
    ContactPoint,
    ContactPointKind,
    ContactRecord,
    ContactRole,
    ContactStatus,
    TargetKind,
)
from lti_tool.contacts.services import ContactDirectory, ContactPointService, ContactRecordService, Target
from lti_tool.db import utcnow
from lti_tool.directory.models import Person
from lti_tool.directory.services import ImportResult, parse_date
from lti_tool.i18n import N_
from lti_tool.import_runs.services import register_importer
from lti_tool.policy.schema import Policy
from lti_tool.tabular import Row, RowErrors, read_table

logger = logging.getLogger(__name__)

POINT_ALIASES = {
    "employee_no": ["工号", "职工号"],
    "academic_year": ["学年", "year"],
    "kind": ["类型", "联系点类型", "type"],
    "target": ["对象", "联系对象", "联系点"],
    "start": ["开始", "开始日期", "start_date"],
    "end": ["结束", "结束日期", "end_date"],
}
RECORD_ALIASES = {
    "employee_no": ["工号", "职工号"],
    "date": ["日期", "时间"],
    "kind": ["类型", "活动类型", "type"],
    "target_kind": ["对象类型", "target_type"],
    "target": ["对象", "联系对象"],
    "place": ["地点"],
    "participants": ["参加人数", "人数"],
    "content": ["内容", "活动内容"],
    "opinions": ["意见建议", "意见和建议"],
    "status": ["状态"],
    "branch_confirmed": ["支部确认", "支部已确认"],
}
TARGET_KIND_NAMES = {
    "college": TargetKind.COLLEGE,
    "学院": TargetKind.COLLEGE,
    "教学院": TargetKind.COLLEGE,
    "教学院（部）": TargetKind.COLLEGE,
    "二级学院": TargetKind.COLLEGE,
    "teaching_office": TargetKind.TEACHING_OFFICE,
    "教研室": TargetKind.TEACHING_OFFICE,
    "lab": TargetKind.LAB,
    "实验室": TargetKind.LAB,
    "实训室": TargetKind.LAB,
    "student_class": TargetKind.STUDENT_CLASS,
    "班级": TargetKind.STUDENT_CLASS,
    "学生班级": TargetKind.STUDENT_CLASS,
    "party_branch": TargetKind.PARTY_BRANCH,
    "党支部": TargetKind.PARTY_BRANCH,
    "支部": TargetKind.PARTY_BRANCH,
    "dormitory": TargetKind.DORMITORY,
    "宿舍": TargetKind.DORMITORY,
    "学生宿舍": TargetKind.DORMITORY,
    "club": TargetKind.CLUB,
    "社团": TargetKind.CLUB,
    "学生社团": TargetKind.CLUB,
    "friend": TargetKind.FRIEND,
    "联系交友": TargetKind.FRIEND,
    "交友": TargetKind.FRIEND,
    "交友对象": TargetKind.FRIEND,
    "unit": TargetKind.UNIT,
    "单位": TargetKind.UNIT,
    "部门": TargetKind.UNIT,
}
KIND_NAMES = {
    **{k.value: k for k in ContactKind},
    "调研指导": ContactKind.VISIT,
    "调研": ContactKind.VISIT,
    "下基层调研指导": ContactKind.VISIT,
    "听取汇报": ContactKind.WORK_REPORT,
    "工作汇报": ContactKind.WORK_REPORT,
    "征求意见": ContactKind.CONSULTATION,
    "支部活动": ContactKind.BRANCH_ACTIVITY,
    "参加支部活动": ContactKind.BRANCH_ACTIVITY,
    "会议": ContactKind.MEETING,
    "思政课": ContactKind.LECTURE,
    "形势政策课": ContactKind.LECTURE,
    "思政课/形势政策课": ContactKind.LECTURE,
    "思想政治理论课": ContactKind.LECTURE,
    "座谈会": ContactKind.SYMPOSIUM,
    "谈心谈话": ContactKind.TALK,
    "联系交友": ContactKind.FRIEND,
    "离退休通报": ContactKind.RETIREE_BRIEFING,
    "其他": ContactKind.OTHER,
}
STATUS_NAMES = {
    "": ContactStatus.SUBMITTED,
    "submitted": ContactStatus.SUBMITTED,
    "已提交": ContactStatus.SUBMITTED,
    "提交": ContactStatus.SUBMITTED,
    "draft": ContactStatus.DRAFT,
    "草稿": ContactStatus.DRAFT,
}
YES_NO = {"": None, "yes": True, "y": True, "是": True, "已确认": True, "no": False, "n": False, "否": False}
SEPARATOR = re.compile(r"[;；,，、]")
"""Several employee numbers in one cell: ";" (or the full-width "；", a comma, 、)."""


def _choice(mapping: Mapping[str, str], text: str) -> str | None:
    return mapping.get(text) or mapping.get(text.lower()) or mapping.get(text.replace(" ", ""))


@dataclass
class _PointRow:
    row: int
    person: Person
    year: str
    kind: str
    target: Target
    start: dt.date | None
    end: dt.date | None


@dataclass
class _RecordRow:
    row: int
    people: list[Person]
    date: dt.date
    kind: str
    target: Target
    place: str
    participants: int | None
    content: str
    opinions: str
    status: str
    branch_confirmed: bool | None
    values: dict[str, object] = field(default_factory=dict)


class ContactTransfer:
    def __init__(self, session: Session, institution_id: int, policy: Policy) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy
        self.directory = ContactDirectory(session, institution_id)
        self.points = ContactPointService(session, institution_id, policy)
        self.records = ContactRecordService(session, institution_id, policy)
        self.last_points: list[_PointRow] = []
        """The rows of the last contact-point file read (the page's preview lists them)."""

    def _people(self) -> dict[str, Person]:
        return {
            p.employee_no: p
            for p in self.session.scalars(select(Person).where(Person.institution_id == self.institution_id))
        }

    @staticmethod
    def _date(row: Row, errors: RowErrors, column: str) -> dt.date | None:
        text = row.get(column)
        if not text:
            return None
        try:
            return parse_date(text)
        except ValueError:
            errors.add(row.number, column, f"“{text}”不是日期，应为 YYYY-MM-DD (not a date)")
            return None

    def _target(self, row: Row, errors: RowErrors, kind: str | None, column: str = "target") -> Target | None:
        if kind is None:
            return None
        try:
            return self.directory.resolve(kind, row.get(column))
        except ValueError as exc:
            text = row.get(column)
            reason = {
                "Name the target.": "不能为空 (must not be empty)",
                "No such student class (as the timetable names it).": f"班级“{text}”不存在 (no such class)",
                "No such unit.": f"“{text}”不存在 (no such unit)",
                "This is not a teaching college.": f"“{text}”不是教学院（部） (not a teaching college)",
                "This unit is not of the chosen kind.": f"“{text}”不是所填类型的单位 (not of this kind)",
                "This text is too long.": "超过 200 个字符 (longer than 200 characters)",
            }.get(str(exc), str(exc))
            errors.add(row.number, column, reason)
            return None

    # -- contact points ------------------------------------------------------------------------------
    def import_points(self, data: bytes, filename: str, actor: str = "cli") -> ImportResult:
        table = read_table(data, filename, POINT_ALIASES, ["employee_no", "academic_year", "kind", "target"])
        errors = table.errors
        people = self._people()
        parsed: list[_PointRow] = []
        seen: dict[tuple[str, str, str, int | None, int | None, str], int] = {}
        for row in table.rows:
            no = row.get("employee_no")
            person = people.get(no)
            if not no:
                errors.add(row.number, "employee_no", "不能为空 (must not be empty)")
            elif person is None:
                errors.add(row.number, "employee_no", f"工号“{no}”不在人员名单中 (not on the roster)")
            year_text = row.get("academic_year")
            try:
                year = parse_academic_year(year_text)
            except ValueError:
                year = None
                errors.add(
                    row.number,
                    "academic_year",
                    f"“{year_text}”不是学年，应为 2026-2027 (not an academic year)",
                )
            kind_text = row.get("kind")
            kind = _choice(TARGET_KIND_NAMES, kind_text)
            if kind is None or kind == TargetKind.UNIT:
                errors.add(
                    row.number,
                    "kind",
                    f"“{kind_text}”不是联系点类型 college / teaching_office / lab / student_class / "
                    "party_branch / dormitory / club / friend (not a kind of contact point)",
                )
                kind = None
            target = self._target(row, errors, kind)
            start, end = self._date(row, errors, "start"), self._date(row, errors, "end")
            if person is None or year is None or kind is None or target is None:
                continue
            key = (
                person.employee_no,
                year,
                kind,
                target.unit.id if target.unit else None,
                target.student_class.id if target.student_class else None,
                target.label,
            )
            if key in seen:
                errors.add(row.number, "target", f"与第 {seen[key]} 行重复 (duplicate of row {seen[key]})")
                continue
            seen[key] = row.number
            parsed.append(_PointRow(row.number, person, year, kind, target, start, end))
        colleges: dict[tuple[int, str], set[int]] = {}
        for p in parsed:
            if p.kind == ContactPointKind.COLLEGE and p.target.unit is not None:
                colleges.setdefault((p.person.id, p.year), set()).add(p.target.unit.id)
        column_of = {"kind": "kind", "target": "target", "start": "start", "end": "end"}
        english = {
            "The date is outside the academic year.": "不在该学年内 (outside the academic year)",
            "The end is before the start.": "早于开始日期 (before the start)",
        }
        for p in parsed:
            problems = self.points.check_point(
                p.person, p.year, p.kind, p.target, p.start, p.end, colleges.get((p.person.id, p.year), set())
            )
            for name, msgid in problems.items():
                text = english.get(msgid) or (
                    f"党支部“{p.target.name}”不属于该人本学年联系的学院，也不属于其所在学院 "
                    "(a branch of a college the person neither contacts that year nor belongs to, C-3a)"
                )
                errors.add(p.row, column_of[name], text)
        errors.raise_if_any("contact points")
        self.last_points = parsed
        result = self._store_points(parsed)
        logger.info("contact points imported: institution=%s actor=%s %s", self.institution_id, actor, result)
        return result

    def _store_points(self, parsed: list[_PointRow]) -> ImportResult:
        result = ImportResult()
        by_owner: dict[tuple[int, str], list[_PointRow]] = {}
        for p in parsed:
            by_owner.setdefault((p.person.id, p.year), []).append(p)
        for (person_id, year), rows in by_owner.items():
            stored = self.points.points(year, person_id)
            kept: set[int] = set()
            for p in rows:
                match = next(
                    (
                        s
                        for s in stored
                        if s.id not in kept
                        and s.kind == p.kind
                        and s.unit_id == (p.target.unit.id if p.target.unit else None)
                        and s.student_class_id
                        == (p.target.student_class.id if p.target.student_class else None)
                        and (s.label or "") == p.target.label
                    ),
                    None,
                )
                if match is None:
                    self.session.add(
                        ContactPoint(
                            institution_id=self.institution_id,
                            person_id=person_id,
                            academic_year=year,
                            kind=p.kind,
                            unit_id=p.target.unit.id if p.target.unit else None,
                            student_class_id=p.target.student_class.id if p.target.student_class else None,
                            label=p.target.label,
                            start_date=p.start,
                            end_date=p.end,
                        )
                    )
                    result.created += 1
                    continue
                kept.add(match.id)
                if (match.start_date, match.end_date) != (p.start, p.end):
                    match.start_date, match.end_date = p.start, p.end
                    result.updated += 1
                else:
                    result.unchanged += 1
            for s in stored:
                if s.id not in kept:
                    self.session.delete(s)
                    result.removed += 1
        self.session.flush()
        return result

    # -- contact records -----------------------------------------------------------------------------
    def import_records(self, data: bytes, filename: str, actor: str = "cli") -> ImportResult:
        table = read_table(
            data, filename, RECORD_ALIASES, ["employee_no", "date", "kind", "target_kind", "target"]
        )
        errors = table.errors
        people = self._people()
        today = self.records.today()
        parsed: list[_RecordRow] = []
        for row in table.rows:
            found: list[Person] = []
            numbers = [n.strip() for n in SEPARATOR.split(row.get("employee_no")) if n.strip()]
            if not numbers:
                errors.add(row.number, "employee_no", "不能为空 (must not be empty)")
            for no in numbers:
                person = people.get(no)
                if person is None:
                    errors.add(row.number, "employee_no", f"工号“{no}”不在人员名单中 (not on the roster)")
                elif person not in found:
                    found.append(person)
            day = self._date(row, errors, "date")
            if row.get("date") == "":
                errors.add(row.number, "date", "不能为空 (must not be empty)")
            elif day is not None and day > today:
                errors.add(
                    row.number, "date", "是将来的日期 (in the future: the activity has not happened yet)"
                )
            kind_text = row.get("kind")
            kind = _choice(KIND_NAMES, kind_text)
            if kind is None:
                errors.add(
                    row.number,
                    "kind",
                    f"“{kind_text}”不是联系活动类型，如 调研指导 / 听取汇报 / 支部活动 / 座谈会 / visit … "
                    "(not a kind of contact activity)",
                )
            tk_text = row.get("target_kind")
            target_kind = _choice(TARGET_KIND_NAMES, tk_text)
            if target_kind is None:
                errors.add(row.number, "target_kind", f"“{tk_text}”不是对象类型 (not a kind of target)")
            elif kind == ContactKind.BRANCH_ACTIVITY and target_kind != TargetKind.PARTY_BRANCH:
                errors.add(
                    row.number,
                    "target_kind",
                    "支部活动的对象必须是党支部 (a branch activity must target a party branch)",
                )
                target_kind = None
            target = self._target(row, errors, target_kind)
            participants_text = row.get("participants")
            participants = None
            if participants_text:
                if participants_text.isdigit() and len(participants_text) <= 6:
                    participants = int(participants_text)
                else:
                    errors.add(row.number, "participants", f"“{participants_text}”不是人数 (not a number)")
            status = _choice(STATUS_NAMES, row.get("status"))
            if status is None:
                errors.add(
                    row.number, "status", f"“{row.get('status')}”不是 draft / submitted (not a status)"
                )
            confirmed_text = row.get("branch_confirmed")
            confirmed = YES_NO.get(confirmed_text.lower(), YES_NO.get(confirmed_text, "bad"))
            if confirmed == "bad":
                errors.add(row.number, "branch_confirmed", f"“{confirmed_text}”不是 yes / no (not yes or no)")
                confirmed = None
            elif confirmed is not None and kind != ContactKind.BRANCH_ACTIVITY:
                errors.add(
                    row.number,
                    "branch_confirmed",
                    "只有支部活动需要支部确认 (only a branch activity is confirmed by the branch)",
                )
            content = row.get("content")
            if status == ContactStatus.SUBMITTED and not content:
                errors.add(
                    row.number, "content", "已提交的记录不能没有内容 (a submitted record needs content)"
                )
            for column, limit in (("content", 20000), ("opinions", 20000), ("place", 200)):
                if len(row.get(column)) > limit:
                    errors.add(row.number, column, f"超过 {limit} 个字符 (longer than {limit} characters)")
            if not found or day is None or kind is None or target is None or status is None:
                continue
            parsed.append(
                _RecordRow(
                    row.number,
                    found,
                    day,
                    kind,
                    target,
                    row.get("place"),
                    participants,
                    content,
                    row.get("opinions"),
                    status,
                    confirmed if isinstance(confirmed, bool) else None,
                )
            )
        errors.raise_if_any("contact records")
        result = self._store_records(parsed)
        logger.info(
            "contact records imported: institution=%s actor=%s %s", self.institution_id, actor, result
        )
        return result

    def _store_records(self, parsed: list[_RecordRow]) -> ImportResult:
        result = ImportResult()
        existing: dict[tuple[object, ...], ContactRecord] = {}
        for r in self.session.scalars(
            select(ContactRecord).where(
                ContactRecord.institution_id == self.institution_id, ContactRecord.imported.is_(True)
            )
        ):
            existing[
                (r.author_id, r.date, r.kind, r.target_kind, r.unit_id, r.student_class_id, r.target_label)
            ] = r
        now = utcnow()
        for p in parsed:
            author = p.people[0]
            key = (
                author.id,
                p.date,
                p.kind,
                p.target.kind,
                p.target.unit.id if p.target.unit else None,
                p.target.student_class.id if p.target.student_class else None,
                p.target.label,
            )
            record = existing.get(key)
            created = record is None
            if record is None:
                record = ContactRecord(
                    institution_id=self.institution_id,
                    author_id=author.id,
                    date=p.date,
                    kind=p.kind,
                    target_kind=p.target.kind,
                    unit_id=p.target.unit.id if p.target.unit else None,
                    student_class_id=p.target.student_class.id if p.target.student_class else None,
                    target_label=p.target.label,
                    imported=True,
                    draft_version=0,
                )
                self.session.add(record)
                existing[key] = record
            before = (record.place, record.participants, record.content, record.opinions, record.status)
            record.place, record.participants = p.place[:200], p.participants
            record.content, record.opinions, record.status = p.content, p.opinions, p.status
            if p.status == ContactStatus.SUBMITTED and record.submitted_at is None:
                record.submitted_at = now
            confirmation_changed = False
            if p.branch_confirmed is not None:
                wanted = BranchConfirmation.CONFIRMED if p.branch_confirmed else BranchConfirmation.DECLINED
                confirmation_changed = record.branch_confirmation != wanted
                record.branch_confirmation = wanted
                record.branch_confirmed_at = record.branch_confirmed_at or now
            members = {m.person_id for m in record.members}
            wanted_members = [person.id for person in p.people]
            for person_id in wanted_members:
                if person_id not in members:
                    record.members.append(
                        ContactMember(
                            institution_id=self.institution_id,
                            person_id=person_id,
                            role=ContactRole.AUTHOR if person_id == author.id else ContactRole.MEMBER,
                        )
                    )
            for member in list(record.members):
                if member.person_id not in wanted_members:
                    record.members.remove(member)
            self.session.flush()
            self.records._link_point(record)  # noqa: SLF001 - the same rule as a record from the form
            if created:
                result.created += 1
            elif (
                confirmation_changed
                or before
                != (
                    record.place,
                    record.participants,
                    record.content,
                    record.opinions,
                    record.status,
                )
                or members != set(wanted_members)
            ):
                result.updated += 1
            else:
                result.unchanged += 1
        self.session.flush()
        return result


# -- contact points as an import run (lti_tool/import_runs): previewed by the job, applied by the job ------
PREVIEW_ROWS = 300
"""Rows the preview lists (its counts are complete)."""


def point_lines(points: list[_PointRow]) -> list[dict[str, str]]:
    """The preview's rows as the page lists them (the same for a preview in the request and in a run)."""
    return [
        {"person": p.person.name, "year": p.year, "kind": p.kind, "target": p.target.name}
        for p in points[:PREVIEW_ROWS]
    ]


def preview_points(transfer: ContactTransfer, data: bytes, filename: str, actor: str) -> dict[str, Any]:
    """What importing the file would do, nothing stored (a savepoint, rolled back): counts, the people it
    names and its first rows. Raises ``ValidationFailed`` listing every bad row and column."""
    savepoint = transfer.session.begin_nested()
    try:
        result = transfer.import_points(data, filename, actor=actor)
        people = sorted({p.person.name for p in transfer.last_points})
        lines = point_lines(transfer.last_points)
    finally:
        savepoint.rollback()
    counts = {k: int(getattr(result, k)) for k in ("created", "updated", "unchanged", "removed")}
    return {"result": counts, "people": people, "rows": lines}


def _transfer(session: Session, institution_id: int) -> ContactTransfer:
    from lti_tool.policy.store import PolicyStore

    return ContactTransfer(session, institution_id, PolicyStore(session, institution_id).current())


def _preview_job(
    session: Session, institution_id: int, data: bytes, filename: str, options: dict[str, Any]
) -> dict[str, Any]:
    return preview_points(_transfer(session, institution_id), data, filename, "worker")


def _apply_job(
    session: Session,
    institution_id: int,
    data: bytes,
    filename: str,
    options: dict[str, Any],
    preview: dict[str, Any],
) -> ImportResult:
    return _transfer(session, institution_id).import_points(data, filename, actor="worker")


@register_importer(
    "contact_points",
    aliases=POINT_ALIASES,
    required=["employee_no", "academic_year", "kind", "target"],
    label=N_("Import contact points"),
    personas=("school_office",),
    back="contacts.office_points",
    back_label=N_("Back to the contact points"),
    preview=_preview_job,
    apply=_apply_job,
    preview_template="contacts/office_points_preview.html",
)
def import_points_job(session: Session, institution_id: int, data: bytes, filename: str) -> ImportResult:
    """Contact points in one step (a run recorded without a preview), as ``tingke import contact-points``."""
    return _transfer(session, institution_id).import_points(data, filename, actor="worker")
