"""Pacing reminders: at each checkpoint the policy sets (ends of weeks 6, 12, 16 by default), every person
behind their duties gets a reminder naming what is missing and the next sessions that would close it —
as a banner in the tool and through the notification service (each person's channels and choices).

A checkpoint is claimed by inserting its unique ``ReminderCheckpoint`` row in the same transaction that
stores the reminders and their notifications' outbox rows; a second worker (or the same one after a
restart) fails the insert and sends nothing. Notifications leave only after that transaction committed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.compliance.services import ComplianceService, PersonCompliance
from lti_tool.db import get_scoped, utcnow
from lti_tool.directory.models import Person
from lti_tool.errors import NotFound
from lti_tool.notifications.events import Event
from lti_tool.notifications.models import Notification
from lti_tool.notifications.services import NotificationService
from lti_tool.observations.picker import ObserverPicker
from lti_tool.reminders.models import Reminder, ReminderCheckpoint
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import Semester, SemesterStatus
from lti_tool.timetable.search import SessionFilters, SessionSearchService

STALE_AFTER = dt.timedelta(days=7)
"""A checkpoint found more than a week after it passed (e.g. on a fresh install) is skipped, not sent."""


@dataclass(frozen=True)
class Checkpoint:
    institution_id: int
    semester_id: int
    week: int
    due_at: dt.datetime


def checkpoint_due_at(semester: Semester, week: int, tz: clock.Zone) -> dt.datetime:
    """The end of teaching week ``week``: midnight after its Sunday, in the college's time zone."""
    day = semester.week1_monday + dt.timedelta(days=7 * week)
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=clock.zone(tz)).astimezone(dt.UTC)


class ReminderService:
    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id
        self.compliance = ComplianceService(session, institution_id)
        self.notifications: list[Notification] = []
        """The outbox rows ``run_checkpoint`` wrote; the worker delivers them after its commit."""

    def due(self, now: dt.datetime | None = None) -> list[Checkpoint]:
        now = now or utcnow()
        inst = self.session.get(Institution, self.institution_id)
        tz = clock.zone(inst)
        claimed = {
            (c.semester_id, c.week)
            for c in self.session.scalars(
                select(ReminderCheckpoint).where(ReminderCheckpoint.institution_id == self.institution_id)
            )
        }
        out = []
        for semester in self.session.scalars(
            select(Semester).where(
                Semester.institution_id == self.institution_id, Semester.status == SemesterStatus.OPEN
            )
        ):
            policy, _ = self.compliance.policy_for(semester)
            for week in policy.reminder_weeks:
                if week > semester.weeks or (semester.id, week) in claimed:
                    continue
                due_at = checkpoint_due_at(semester, week, tz)
                if due_at <= now < due_at + STALE_AFTER:
                    out.append(Checkpoint(self.institution_id, semester.id, week, due_at))
        return out

    def run_checkpoint(
        self, checkpoint: Checkpoint, today: dt.date | None = None, now: dt.datetime | None = None
    ) -> list[Reminder]:
        """Claim the checkpoint and store its reminders; ``[]`` when another worker already claimed it.

        ``now`` is when the reminders are written (the worker's tick; default: the checkpoint's moment):
        a class that has begun by then is never suggested.

        The caller commits, then delivers ``self.notifications`` (the reminders' outbox rows).
        """
        claim = ReminderCheckpoint(
            institution_id=self.institution_id, semester_id=checkpoint.semester_id, week=checkpoint.week
        )
        try:
            with self.session.begin_nested():
                self.session.add(claim)
                self.session.flush()
        except IntegrityError:
            return []
        semester = self.session.get(Semester, checkpoint.semester_id)
        assert semester is not None
        # The checkpoint's day is the college's (its midnight is the previous day in UTC).
        today = (
            today or clock.local(checkpoint.due_at, self.session.get(Institution, self.institution_id)).date()
        )
        # As the duties stand at the checkpoint (a bulletin's as_of): the semester's quotas in full, but a
        # month or a course still to come is not listed as missing in week 6.
        report = self.compliance.evaluate(semester, system="observation", as_of=today)
        search = SessionSearchService(self.session, self.institution_id, report.policy)
        # Suggested classes are those still to come when the reminder is written (never one already past).
        written = max(now, checkpoint.due_at) if now is not None else checkpoint.due_at
        local_now = clock.local(written, self.session.get(Institution, self.institution_id))
        reminders = []
        for person in report.persons:
            if not person.short:
                continue
            subject, body = self._compose(person, semester, checkpoint.week, search, today, local_now)
            row = self.session.get(Person, person.person_id)
            reminder = Reminder(
                institution_id=self.institution_id,
                checkpoint_id=claim.id,
                person_id=person.person_id,
                subject=subject,
                body=body,
                email=(row.email or "") if row else "",
            )
            self.session.add(reminder)
            reminders.append(reminder)
            self.notifications += NotificationService(self.session, self.institution_id).notify(
                Event.REMINDER,
                [person.person_id],
                {"subject": subject, "body": body},
                ref=f"reminder-checkpoint:{claim.id}",
                queue=False,
            )
        claim.recipients = len(reminders)
        self.session.flush()
        return reminders

    def _compose(
        self,
        person: PersonCompliance,
        semester: Semester,
        week: int,
        search: SessionSearchService,
        today: dt.date,
        now: dt.datetime | None = None,
    ) -> tuple[str, str]:
        """The reminder in Chinese only (issue 11 §7): rules with what they ask, classes still to come."""
        rules = {r.id: r for r in search.policy.rules}

        def rule_words(rule_id: str) -> str:
            return rules[rule_id].titled("zh_CN") if rule_id in rules else rule_id

        lines = [
            f"{person.name}（{person.employee_no}）老师：",
            "",
            f"截至 {semester.code} 学期第 {week} 周末，您的听课任务尚未完成：",
            "",
        ]
        for r in person.short:
            missing = "、".join(str(m.label) for m in r.missing[:12]) if r.missing else ""
            lines.append(
                f"  · {rule_words(r.rule_id)}：要求 {r.required}，已完成 {r.done}，还差 {r.remaining}"
                + (f"（未完成：{missing}）" if missing else "")
            )
        upcoming = self._next_sessions(person, search, today, now=now)
        if upcoming:
            lines += ["", "以下近期课程可帮助完成任务："]
            for v in upcoming:
                teachers = "、".join(t.name for t in v.teachers)
                marks = f"（计入 {'、'.join(rule_words(m) for m in v.marks)}）" if v.marks else ""
                lines.append(
                    f"  · {v.date.isoformat()} 第{v.period_start}-{v.period_end}节 {v.course_name} "
                    f"{teachers} {v.room}{marks}"
                )
        lines += [
            "",
            "请登录学校教学平台，打开“听课系统”选择课程听课。",
        ]
        return f"【听课提醒】第 {week} 周：尚有 {len(person.short)} 项听课任务未完成", "\n".join(lines)

    def _next_sessions(
        self,
        person: PersonCompliance,
        search: SessionSearchService,
        today: dt.date,
        limit: int = 3,
        now: dt.datetime | None = None,
    ) -> list:
        codes = {p.code for p in person.positions}
        rules = {r.id: r for r in search.policy.rules}
        ideological = any(
            rules[r.rule_id].courses == "ideological" for r in person.short if r.rule_id in rules
        )
        filters = SessionFilters(
            date_from=today, date_to=today + dt.timedelta(days=14), ideological_only=ideological
        )
        page = search.search(filters, per_page=60)
        picker = ObserverPicker(self.session, self.institution_id, search.policy)
        picker.add_duty_marks(page.items, codes, picker.observer_progress(person.person_id, codes, today))
        items = list(page.items)
        if now is not None:  # only classes that have not started yet: one can still walk in before the start
            start = now.replace(tzinfo=None)
            items = [v for v in items if dt.datetime.combine(v.date, v.starts_at or dt.time(23, 59)) > start]
        marked = [v for v in items if v.marks]
        return (marked or items)[:limit]

    # -- banners ------------------------------------------------------------------------------------
    def active_for(self, person_id: int) -> list[Reminder]:
        return list(
            self.session.scalars(
                select(Reminder)
                .where(
                    Reminder.institution_id == self.institution_id,
                    Reminder.person_id == person_id,
                    Reminder.dismissed_at.is_(None),
                )
                .order_by(Reminder.id.desc())
                .limit(3)
            )
        )

    def dismiss(self, reminder_id: int, person_id: int) -> None:
        reminder = get_scoped(self.session, Reminder, reminder_id, self.institution_id)
        if reminder is None or reminder.person_id != person_id:
            raise NotFound("No such reminder.")
        reminder.dismissed_at = utcnow()
