"""The year-end summary of a leader's contact work (C-7b, 七.1 "年底要对本人联系基层工作情况进行总结").

One summary per person and academic year. ``SummaryService.draft`` proposes its text from the year's
submitted contact records (counts by kind, the units and branches contacted, the opinions heard, the
problems raised and how they were handled); the leader edits it, saves, and submits it; the school office
receives it. The compliance engine reads ``status`` and ``submitted_at`` against the policy's deadline
(``[contact] summary_deadline``); a submitted summary is no longer edited (the school office may return it,
which makes it a draft again).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from lti_tool import clock
from lti_tool.academic_year import academic_year_bounds, parse_academic_year
from lti_tool.contacts.models import ContactMember, ContactRecord, ContactStatus
from lti_tool.db import Base, InstitutionScoped, UTCDateTime, utcnow
from lti_tool.directory.models import Person
from lti_tool.errors import Conflict, NotFound, ValidationFailed
from lti_tool.policy.schema import ContactSettings
from lti_tool.problems.models import Problem, ProblemStatus

log = logging.getLogger(__name__)

MAX_FIELD = 20_000
KIND_WORDS = {
    "visit": "调研指导",
    "work_report": "听取汇报",
    "consultation": "征求意见",
    "branch_activity": "支部活动",
    "meeting": "会议",
    "lecture": "思政课/形势政策课",
    "symposium": "座谈会",
    "talk": "谈心谈话",
    "friend": "联系交友",
    "retiree_briefing": "离退休通报",
    "other": "其他",
}
"""The record kinds in the words of the documents filed with the school office (the drafted summary, the
archive and the report PDFs are Chinese documents whatever the reader's language; issue 9 §3)."""
FIELDS = ("activities", "opinions", "problems", "reflection")


class SummaryStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


class ContactSummary(InstitutionScoped, Base):
    """One leader's year-end summary of their contact work for one academic year (C-7b)."""

    __tablename__ = "contact_summary"
    __table_args__ = (UniqueConstraint("institution_id", "person_id", "academic_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    academic_year: Mapped[str] = mapped_column(String(9))
    activities: Mapped[str] = mapped_column(Text, default="")
    """What was done: counts by kind, the units, classes and branches contacted (drafted from records)."""
    opinions: Mapped[str] = mapped_column(Text, default="")
    """Opinions and suggestions heard (drafted from the records' 意见建议)."""
    problems: Mapped[str] = mapped_column(Text, default="")
    """Problems raised in contacts and how they were handled (drafted from the problem loop)."""
    reflection: Mapped[str] = mapped_column(Text, default="")
    """The leader's own assessment and next year's plan (体会与改进), written by them."""
    status: Mapped[str] = mapped_column(String(16), default=SummaryStatus.DRAFT)
    version: Mapped[int] = mapped_column(Integer, default=0)
    """Incremented on every save: a stale tab cannot overwrite a newer text (409)."""
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    person: Mapped[Person] = relationship(foreign_keys=[person_id])
    received_by: Mapped[Person | None] = relationship(foreign_keys=[received_by_id])


@dataclass(frozen=True)
class YearRecord:
    """A submitted contact record of the year, flattened for the summary, the archive and the report."""

    id: int
    date: dt.date
    kind: str
    target: str
    place: str
    participants: int | None
    content: str
    opinions: str
    follow_up: str
    leader_opinion: str
    members: str
    author_id: int
    branch_confirmed: bool


@dataclass(frozen=True)
class YearProblem:
    record_id: int
    description: str
    unit: str
    status: str
    handling: str


class SummaryService:
    """Drafting, saving, submitting and receiving year-end summaries. ``actor_id`` is who acts."""

    def __init__(self, session: Session, institution_id: int, actor_id: int | None = None) -> None:
        self.session = session
        self.institution_id = institution_id
        self.actor_id = actor_id

    # -- reading the year -----------------------------------------------------------------------------------
    def year_records(self, person_id: int, year: str, start: str = "08-01") -> list[YearRecord]:
        """Every submitted record of the year the person is a member of, in date order (C-7a's archive)."""
        first, last = academic_year_bounds(parse_academic_year(year), start)
        r, cm = ContactRecord, ContactMember
        records = list(
            self.session.scalars(
                select(r)
                .join(cm, cm.record_id == r.id)
                .where(
                    r.institution_id == self.institution_id,
                    cm.person_id == person_id,
                    r.status == ContactStatus.SUBMITTED.value,
                    r.date >= first,
                    r.date <= last,
                )
                .order_by(r.date, r.id)
            ).unique()
        )
        return [self._flatten(rec) for rec in records]

    @staticmethod
    def target_name(rec: ContactRecord) -> str:
        if rec.unit is not None:
            return rec.unit.name
        if rec.student_class is not None:
            return rec.student_class.name
        return rec.target_label or ""

    def _flatten(self, rec: ContactRecord) -> YearRecord:
        return YearRecord(
            id=rec.id,
            date=rec.date,
            kind=rec.kind,
            target=self.target_name(rec),
            place=rec.place or "",
            participants=rec.participants,
            content=rec.content or "",
            opinions=rec.opinions or "",
            follow_up=rec.follow_up or "",
            leader_opinion=rec.leader_opinion or "",
            members="、".join(m.person.name for m in rec.members),
            author_id=rec.author_id,
            branch_confirmed=rec.branch_confirmed,
        )

    def year_problems(self, record_ids: list[int]) -> list[YearProblem]:
        """Problems raised in these records, with where they were routed and the last handling note."""
        if not record_ids:
            return []
        out = []
        problems = self.session.scalars(
            select(Problem)
            .where(Problem.contact_record_id.in_(record_ids))
            .order_by(Problem.created_at, Problem.id)
        )
        for p in problems:
            note = next((e.note for e in reversed(p.events) if e.note), "")
            out.append(
                YearProblem(
                    p.contact_record_id or 0, p.description, p.unit.name if p.unit else "", p.status, note
                )
            )
        return out

    # -- the draft ------------------------------------------------------------------------------------------
    def draft_text(self, person_id: int, year: str, start: str) -> dict[str, str]:
        """The proposed text from the year's records, in the words of the filed document (``KIND_WORDS``)."""
        records = self.year_records(person_id, year, start)
        by_kind = Counter(r.kind for r in records)
        places = list(dict.fromkeys(r.target for r in records if r.target))
        lines = [
            f"{year}学年共记录联系基层活动{len(records)}次"
            + (
                "：" + "、".join(f"{KIND_WORDS.get(k, k)}{n}次" for k, n in by_kind.most_common()) + "。"
                if records
                else "。"
            )
        ]
        if places:
            lines.append("联系的单位、班级和党支部：" + "、".join(places) + "。")
        opinions = [f"{r.date:%m-%d} {r.target}：{r.opinions.strip()}" for r in records if r.opinions.strip()]
        problems = self.year_problems([r.id for r in records])
        status_words = {
            ProblemStatus.NEW.value: "待处理",
            ProblemStatus.ACCEPTED.value: "处理中",
            ProblemStatus.RESOLVED.value: "已解决",
            ProblemStatus.CONFIRMED.value: "已确认解决",
            ProblemStatus.REJECTED.value: "未受理",
        }
        problem_lines = [
            f"{p.description.strip()}（{p.unit or '未分派'}，{status_words.get(p.status, p.status)}"
            + (f"：{p.handling.strip()}" if p.handling.strip() else "")
            + "）"
            for p in problems
        ]
        return {
            "activities": "\n".join(lines),
            "opinions": "\n".join(opinions) or "（本学年联系记录中没有记录意见建议。）",
            "problems": "\n".join(problem_lines) or "（本学年联系记录中没有提出问题。）",
            "reflection": "",
        }

    # -- the summary's life ---------------------------------------------------------------------------------
    def get(self, person_id: int, year: str) -> ContactSummary | None:
        return self.session.scalars(
            select(ContactSummary).where(
                ContactSummary.institution_id == self.institution_id,
                ContactSummary.person_id == person_id,
                ContactSummary.academic_year == year,
            )
        ).first()

    def by_id(self, summary_id: int) -> ContactSummary:
        row = self.session.get(ContactSummary, summary_id)
        if row is None or row.institution_id != self.institution_id:
            raise NotFound("No summary %(id)s.", id=summary_id)
        return row

    def get_or_draft(self, person_id: int, year: str, start: str) -> ContactSummary:
        """The person's summary of the year; a new one starts from the drafted text (not yet stored)."""
        row = self.get(person_id, year)
        if row is None:
            row = ContactSummary(
                institution_id=self.institution_id,
                person_id=person_id,
                academic_year=year,
                status=SummaryStatus.DRAFT.value,
                version=0,
                **self.draft_text(person_id, year, start),
            )
        return row

    def save(
        self,
        person_id: int,
        year: str,
        fields: dict[str, str],
        version: int,
        *,
        submit: bool = False,
    ) -> ContactSummary:
        """Store the leader's text (and submit it); refuses a stale version and a submitted summary."""
        for key, value in fields.items():
            if key not in FIELDS:
                raise ValidationFailed("Unknown field %(field)s.", field=key)
            if len(value) > MAX_FIELD:
                raise ValidationFailed(
                    "%(field)s is longer than %(max)s characters.", field=key, max=MAX_FIELD
                )
        row = self.get(person_id, year)
        if row is None:
            row = ContactSummary(institution_id=self.institution_id, person_id=person_id, academic_year=year)
            row.version = 0
            self.session.add(row)
        elif row.status == SummaryStatus.SUBMITTED:
            raise Conflict(
                "This summary was submitted on %(date)s and can no longer be changed.",
                date=_day(row.submitted_at),
            )
        if (row.version or 0) != version:
            raise Conflict("The summary was changed elsewhere; reload the page to see the latest text.")
        for key in FIELDS:
            if key in fields:
                setattr(row, key, fields[key].replace("\r\n", "\n").strip())
        row.version = (row.version or 0) + 1
        if submit:
            if not (row.activities.strip() or row.reflection.strip()):
                raise ValidationFailed("Write the summary before submitting it.")
            row.status = SummaryStatus.SUBMITTED.value
            row.submitted_at = clock.utcnow()
        self.session.flush()
        log.info(
            "contact summary %s %s person=%s year=%s inst=%s actor=%s",
            row.id,
            "submitted" if submit else "saved",
            person_id,
            year,
            self.institution_id,
            self.actor_id,
        )
        return row

    def receive(self, summary_id: int) -> ContactSummary:
        """The school office files a submitted summary (received_at/by)."""
        row = self.by_id(summary_id)
        if row.status != SummaryStatus.SUBMITTED:
            raise Conflict("Only a submitted summary can be received.")
        if row.received_at is None:
            row.received_at = clock.utcnow()
            row.received_by_id = self.actor_id
            self.session.flush()
            log.info(
                "contact summary %s received inst=%s actor=%s", row.id, self.institution_id, self.actor_id
            )
        return row

    def return_to_author(self, summary_id: int) -> ContactSummary:
        """The school office sends a submitted summary back to its author as a draft (not yet received)."""
        row = self.by_id(summary_id)
        if row.status != SummaryStatus.SUBMITTED or row.received_at is not None:
            raise Conflict("Only a submitted summary not yet received can be returned.")
        row.status = SummaryStatus.DRAFT.value
        row.submitted_at = None
        row.version = (row.version or 0) + 1
        self.session.flush()
        log.info("contact summary %s returned inst=%s actor=%s", row.id, self.institution_id, self.actor_id)
        return row

    def for_year(self, year: str) -> list[ContactSummary]:
        """Every summary of the year (the school office's list)."""
        return list(
            self.session.scalars(
                select(ContactSummary)
                .join(Person, Person.id == ContactSummary.person_id)
                .where(
                    ContactSummary.institution_id == self.institution_id, ContactSummary.academic_year == year
                )
                .order_by(Person.employee_no)
            )
        )


def summary_deadline(contact: ContactSettings, year: str) -> dt.date:
    """C-7b's deadline for ``year``: the first ``[contact] summary_deadline`` (MM-DD) on or after the
    academic year's first day (docs/decisions.md, the policy file's comment on summary_deadline)."""
    first, _ = academic_year_bounds(parse_academic_year(year), contact.academic_year_start)
    month, day = (int(part) for part in contact.summary_deadline.split("-"))
    deadline = dt.date(first.year, month, day)
    return deadline if deadline >= first else dt.date(first.year + 1, month, day)


def _day(at: dt.datetime | None) -> str:
    return at.date().isoformat() if at else ""


__all__ = [
    "FIELDS",
    "KIND_WORDS",
    "summary_deadline",
    "ContactSummary",
    "SummaryService",
    "SummaryStatus",
    "YearProblem",
    "YearRecord",
]
