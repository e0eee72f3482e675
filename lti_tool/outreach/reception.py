"""Reception days (C-6a, 五.1): the school office's roster of one school leader per teaching week, and the
scheduled leader's record of the week's reception.

The roster lists every teaching week of a semester with the leader scheduled (or nobody yet); the office
assigns a week, swaps two leaders' weeks, or imports the roster (preview first). A week already recorded
keeps its leader. The leader opens the week's record from their phone, adds each visitor (name optional,
identity, unit, the matter, the opinion or request, the answer and how it was answered) or says nobody came,
and submits; each visitor's follow-up goes to its unit as a problem of the problem loop. Which weeks are
recorded or missing is ``counting.scheduled_weeks`` + ``models.reception_week_state``, as for the engine.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.academic_year import academic_year_of
from lti_tool.db import get_scoped, utcnow
from lti_tool.directory.models import Person, Unit
from lti_tool.errors import Conflict, Forbidden, NotFound
from lti_tool.i18n import N_
from lti_tool.import_runs.services import register_importer
from lti_tool.outreach.counting import ScheduledWeek, scheduled_weeks
from lti_tool.outreach.division import DivisionService, StoredCounts
from lti_tool.outreach.followup import clean_text, parse_day, refuse
from lti_tool.outreach.models import (
    ReceptionDuty,
    ReceptionRecord,
    ReceptionStatus,
    ReceptionVisit,
    VisitorIdentity,
    VisitOutcome,
    WeekState,
    reception_week_state,
    week_bounds,
)
from lti_tool.policy.schema import Policy
from lti_tool.problems.services import NewProblem, ProblemService
from lti_tool.tabular import read_table
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import Semester
from lti_tool.timetable.semesters import SemesterService

log = logging.getLogger(__name__)

ROSTER_ALIASES = {
    "week": ["周次", "教学周", "周"],
    "employee_no": ["工号", "职工号"],
    "place": ["地点", "接待地点"],
}
MAX_VISITS = 100


@dataclass
class RosterWeek:
    week: int
    start: dt.date
    end: dt.date
    duty: ReceptionDuty | None
    state: WeekState | None
    """None while nobody is scheduled."""


@dataclass(frozen=True)
class RosterChange:
    """One week the roster form changes: its leader (``None``: nobody), place, and who it had before."""

    week: int
    person_id: str
    place: str
    before: Person | None

    @property
    def removes(self) -> bool:
        """The week loses its leader: the office is asked first."""
        return self.before is not None and not self.person_id


@dataclass
class RosterImport:
    assigned: int
    unchanged: int
    rows: list[tuple[int, str, str]]
    """(week, leader name, place) as they will be stored."""


@dataclass
class VisitInput:
    visitor_name: str = ""
    identity: str = ""
    visitor_unit: str = ""
    matter: str = ""
    opinion: str = ""
    answer: str = ""
    outcome: str = ""
    follow_up_unit_id: str = ""
    follow_up_category: str = ""
    follow_up: str = ""


class ReceptionService:
    def __init__(self, session: Session, institution_id: int, policy: Policy) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy
        self.semesters = SemesterService(session, institution_id)
        self.division = DivisionService(session, institution_id, policy)

    def today(self) -> dt.date:
        return clock.today(self.session.get(Institution, self.institution_id))

    def semester(self, semester_id: object = None) -> Semester | None:
        """The semester a page asks for, else the current or next one, else the latest."""
        if semester_id not in (None, ""):
            return self.semesters.get(semester_id)  # type: ignore[arg-type]
        today = self.today()
        return self.semesters.current_or_next(today) or self.semesters.current_or_latest(today)

    def leaders(self, semester: Semester) -> list[Person]:
        year = academic_year_of(semester.week1_monday, self.policy.contact.academic_year_start)
        return self.division.leaders(year)

    # -- the roster (the school office) ---------------------------------------------------------------------
    def weeks(self, semester: Semester, person_id: int | None = None) -> list[ScheduledWeek]:
        return scheduled_weeks(
            self.session,
            self.institution_id,
            semester.start_date,
            semester.end_date,
            semester_id=semester.id,
            person_ids=[person_id] if person_id is not None else None,
        )

    def roster(self, semester: Semester) -> list[RosterWeek]:
        today = self.today()
        duties = {
            d.week: d
            for d in self.session.scalars(
                select(ReceptionDuty).where(
                    ReceptionDuty.institution_id == self.institution_id,
                    ReceptionDuty.semester_id == semester.id,
                )
            )
        }
        recorded = {w.week: w.recorded for w in self.weeks(semester)}
        out = []
        for week in range(1, semester.weeks + 1):
            start, end = week_bounds(semester.week1_monday, week)
            duty = duties.get(week)
            state = reception_week_state(start, end, recorded.get(week, False), today) if duty else None
            out.append(RosterWeek(week, start, end, duty, state))
        return out

    def roster_changes(
        self, semester: Semester, choices: Mapping[int, tuple[str, str]]
    ) -> list[RosterChange]:
        """The weeks whose chosen leader or place (``choices``: week → (person id or "", place)) differ from
        the roster; weeks not named are left alone."""
        out = []
        for week in self.roster(semester):
            if week.week not in choices:
                continue
            chosen, place = choices[week.week]
            current = str(week.duty.person_id) if week.duty else ""
            if chosen != current or (week.duty is not None and place != week.duty.place):
                out.append(RosterChange(week.week, chosen, place, week.duty.person if week.duty else None))
        return out

    def apply_roster(self, semester: Semester, changes: list[RosterChange]) -> None:
        for change in changes:
            self.assign(semester, change.week, change.person_id, change.place)

    def _week(self, semester: Semester, value: object) -> int:
        try:
            week = int(str(value).strip())
        except ValueError:
            week = 0
        if not 1 <= week <= semester.weeks:
            raise refuse(N_("Week: choose a teaching week between 1 and %(weeks)s."), weeks=semester.weeks)
        return week

    def _duty(self, semester: Semester, week: int) -> ReceptionDuty | None:
        return self.session.scalars(
            select(ReceptionDuty).where(
                ReceptionDuty.institution_id == self.institution_id,
                ReceptionDuty.semester_id == semester.id,
                ReceptionDuty.week == week,
            )
        ).first()

    def assign(self, semester: Semester, week_value: object, person_id: object, place: object = "") -> None:
        """Schedule a leader for a week (an empty choice removes the week's leader)."""
        week = self._week(semester, week_value)
        text = clean_text(place, N_("Place"), required=False, limit=200)
        duty = self._duty(semester, week)
        if duty is not None and duty.record is not None:
            raise Conflict("Week %(week)s is already recorded; its leader cannot change.", week=week)
        if person_id in (None, ""):
            if duty is not None:
                self.session.delete(duty)
                self.session.flush()
            return
        leader = self._leader(semester, person_id)
        if duty is None:
            duty = ReceptionDuty(institution_id=self.institution_id, semester_id=semester.id, week=week)
            self.session.add(duty)
        duty.person_id = leader.id
        duty.person = leader
        duty.place = text
        self.session.flush()

    def _leader(self, semester: Semester, person_id: object) -> Person:
        person = get_scoped(self.session, Person, person_id, self.institution_id) if person_id else None
        if person is None or person.id not in {p.id for p in self.leaders(semester)}:
            raise refuse(N_("Leader: choose a school leader."))
        return person

    def swap(self, semester: Semester, week_a: object, week_b: object) -> tuple[int, int]:
        """Two scheduled weeks exchange their leaders (neither may be recorded yet)."""
        a, b = self._week(semester, week_a), self._week(semester, week_b)
        if a == b:
            raise refuse(N_("Swap: choose two different weeks."))
        duty_a, duty_b = self._duty(semester, a), self._duty(semester, b)
        if duty_a is None or duty_b is None:
            raise refuse(N_("Swap: both weeks need a scheduled leader."))
        for duty in (duty_a, duty_b):
            if duty.record is not None:
                raise Conflict("Week %(week)s is already recorded; its leader cannot change.", week=duty.week)
        duty_a.person_id, duty_b.person_id = duty_b.person_id, duty_a.person_id
        duty_a.place, duty_b.place = duty_b.place, duty_a.place
        self.session.flush()
        self.session.expire(duty_a, ["person"])
        self.session.expire(duty_b, ["person"])
        log.info("reception roster %s: weeks %s and %s swapped", semester.code, a, b)
        return a, b

    def import_roster(self, semester: Semester, data: bytes, filename: str, *, store: bool) -> RosterImport:
        """A CSV/XLSX of 周次, 工号[, 地点] for the chosen semester: each row schedules a leader for a week;
        weeks the file does not name stay as they are. Problems by row and column; nothing stored unless
        the file is clean."""
        table = read_table(data, filename, ROSTER_ALIASES, ["week", "employee_no"])
        errors = table.errors
        leaders = {p.employee_no: p for p in self.leaders(semester)}
        roster = {w.week: w for w in self.roster(semester)}
        parsed: list[tuple[int, Person, str]] = []
        seen: dict[int, int] = {}
        for row in table.rows:
            text = row.get("week")
            week = int(text) if text.isascii() and text.isdigit() else 0
            if not 1 <= week <= semester.weeks:
                errors.add(
                    row.number, "week", f"“{text}”不是第 1–{semester.weeks} 教学周 (not a teaching week)"
                )
                week = 0
            no = row.get("employee_no")
            person = leaders.get(no)
            if person is None:
                errors.add(row.number, "employee_no", f"工号“{no}”不是本学期的校领导 (not a school leader)")
            place = row.get("place")
            if len(place) > 200:
                errors.add(row.number, "place", "超过 200 个字符 (longer than 200 characters)")
            if not week or person is None:
                continue
            if week in seen:
                errors.add(row.number, "week", f"与第 {seen[week]} 行重复 (duplicate of row {seen[week]})")
                continue
            seen[week] = row.number
            current = roster[week].duty
            if current is not None and current.record is not None and current.person_id != person.id:
                errors.add(row.number, "week", f"第 {week} 周已有接待记录，不能改排 (already recorded)")
                continue
            parsed.append((week, person, place))
        errors.raise_if_any("接待日安排 (reception roster)")
        if not parsed:
            raise refuse(N_("The file has no rows."))
        assigned = unchanged = 0
        for week, person, place in parsed:
            current = roster[week].duty
            if current is not None and current.person_id == person.id and current.place == place:
                unchanged += 1
                continue
            assigned += 1
            if store:
                self.assign(semester, week, person.id, place)
        if store:
            log.info("reception roster %s imported from %s: %s weeks set", semester.code, filename, assigned)
        return RosterImport(assigned, unchanged, [(w, p.name, pl) for w, p, pl in sorted(parsed)])

    # -- the leader's weeks and records ---------------------------------------------------------------------
    def duty(self, duty_id: int) -> ReceptionDuty:
        duty = get_scoped(self.session, ReceptionDuty, duty_id, self.institution_id)
        if duty is None:
            raise NotFound("No such reception week.")
        return duty

    def my_duty(self, duty_id: int, person_id: int) -> ReceptionDuty:
        duty = self.duty(duty_id)
        if duty.person_id != person_id:
            raise Forbidden("This reception week is scheduled for another leader.")
        return duty

    def my_weeks(self, person_id: int, semester: Semester | None) -> list[tuple[ScheduledWeek, WeekState]]:
        if semester is None:
            return []
        today = self.today()
        return [
            (w, reception_week_state(w.start, w.end, w.recorded, today))
            for w in self.weeks(semester, person_id)
        ]

    def bounds(self, duty: ReceptionDuty) -> tuple[dt.date, dt.date]:
        semester = self.session.get(Semester, duty.semester_id)
        assert semester is not None
        return week_bounds(semester.week1_monday, duty.week)

    def open_record(self, duty: ReceptionDuty, person_id: int) -> ReceptionRecord:
        """The week's record (a draft is made on first opening; the week must have begun)."""
        if duty.person_id != person_id:
            raise Forbidden("This reception week is scheduled for another leader.")
        if duty.record is not None:
            return duty.record
        start, end = self.bounds(duty)
        today = self.today()
        if start > today:
            raise Conflict(
                "This reception week has not begun yet; record it from %(day)s.", day=start.isoformat()
            )
        record = ReceptionRecord(
            institution_id=self.institution_id,
            duty_id=duty.id,
            recorded_by_id=person_id,
            date=min(today, end),
            place=duty.place,
            status=ReceptionStatus.DRAFT,
        )
        duty.record = record
        self.session.add(record)
        self.session.flush()
        return record

    def _editable(self, record: ReceptionRecord, person_id: int) -> None:
        if record.duty.person_id != person_id:
            raise Forbidden("This reception week is scheduled for another leader.")
        if record.status == ReceptionStatus.SUBMITTED:
            raise Conflict("This reception record is submitted and can no longer be changed.")

    def update(
        self, record: ReceptionRecord, person_id: int, *, date: object, place: object, no_visitors: bool
    ) -> None:
        self._editable(record, person_id)
        day = parse_day(date, N_("Date of the reception"))
        assert day is not None
        start, end = self.bounds(record.duty)
        if not start <= day <= end:
            raise refuse(
                N_("Date of the reception: choose a day of week %(week)s (%(start)s – %(end)s)."),
                week=record.duty.week,
                start=start.isoformat(),
                end=end.isoformat(),
            )
        if day > self.today():
            raise refuse(N_("Date of the reception: the day cannot be in the future."))
        record.date = day
        record.place = clean_text(place, N_("Place"), required=False, limit=200)
        if no_visitors and record.visits:
            raise refuse(N_("No visitors: remove the visitors recorded first, or leave this unticked."))
        record.no_visitors = no_visitors
        self.session.flush()

    def check_visit(self, data: VisitInput) -> ReceptionVisit:
        """A visitor's entry, checked (every problem named); not stored."""
        if data.identity not in {i.value for i in VisitorIdentity}:
            raise refuse(N_("Identity: choose teacher, student, staff, retiree or other."))
        if data.outcome not in {o.value for o in VisitOutcome}:
            raise refuse(N_("Answer given: choose adopted, explained, or coordinated and solved."))
        visit = ReceptionVisit(
            institution_id=self.institution_id,
            visitor_name=clean_text(data.visitor_name, N_("Visitor's name"), required=False, limit=100),
            identity=data.identity,
            visitor_unit=clean_text(data.visitor_unit, N_("Visitor's unit"), required=False, limit=200),
            matter=clean_text(data.matter, N_("Matter")),
            opinion=clean_text(data.opinion, N_("Opinion or request"), required=False),
            answer=clean_text(data.answer, N_("Answer to the visitor")),
            outcome=data.outcome,
        )
        follow_up = clean_text(data.follow_up, N_("Follow-up"), required=False)
        unit_raw = (data.follow_up_unit_id or "").strip()
        if unit_raw or follow_up:
            unit = get_scoped(self.session, Unit, unit_raw, self.institution_id) if unit_raw else None
            if unit is None:
                raise refuse(N_("%(field)s: choose a unit."), field=N_("Responsible unit"))
            if not follow_up:
                raise refuse(N_("%(field)s: please fill this in."), field=N_("Follow-up"))
            categories = {c.code for c in self.policy.problem_categories}
            category = data.follow_up_category or ("other" if "other" in categories else "")
            if category not in categories:
                raise refuse(N_("Category: choose one of the policy's problem categories."))
            visit.follow_up_unit_id = unit.id
            visit.follow_up_unit = unit
            visit.follow_up_category = category
            visit.follow_up = follow_up
        return visit

    def add_visit(self, record: ReceptionRecord, person_id: int, data: VisitInput) -> ReceptionVisit:
        self._editable(record, person_id)
        if len(record.visits) >= MAX_VISITS:
            raise refuse(N_("At most %(n)s visitors in one week's record."), n=MAX_VISITS)
        visit = self.check_visit(data)
        record.visits.append(visit)
        record.no_visitors = False
        self.session.flush()
        return visit

    def remove_visit(self, record: ReceptionRecord, person_id: int, visit_id: int) -> None:
        self._editable(record, person_id)
        visit = next((v for v in record.visits if v.id == visit_id), None)
        if visit is None:
            raise NotFound("No such visitor in this record.")
        record.visits.remove(visit)
        self.session.flush()

    def submit(self, record: ReceptionRecord, person_id: int) -> ReceptionRecord:
        """The week is recorded: with its visitors, or as "no visitors this week". Each visitor's follow-up
        becomes a problem routed to its unit (the problem loop)."""
        self._editable(record, person_id)
        if not record.visits and not record.no_visitors:
            raise refuse(N_("Add the visitors received, or tick “No visitors this week”."))
        if record.date > self.today():
            raise refuse(N_("Date of the reception: the day cannot be in the future."))
        problems = ProblemService(self.session, self.institution_id, self.policy)
        for visit in record.visits:
            if visit.follow_up_unit_id is not None:
                problems.raise_problems(
                    [
                        NewProblem(
                            visit.follow_up_category,
                            visit.follow_up_unit_id,
                            "",
                            f"{visit.matter}\n{visit.follow_up}".strip(),
                        )
                    ],
                    person_id,
                    reception_visit_id=visit.id,
                )
        record.status = ReceptionStatus.SUBMITTED
        record.submitted_at = utcnow()
        self.session.flush()
        log.info("reception week %s of semester %s recorded", record.duty.week, record.duty.semester_id)
        return record

    # -- the school office reads ----------------------------------------------------------------------------
    def records(self, semester: Semester) -> list[ReceptionRecord]:
        return list(
            self.session.scalars(
                select(ReceptionRecord)
                .join(ReceptionDuty, ReceptionDuty.id == ReceptionRecord.duty_id)
                .where(
                    ReceptionRecord.institution_id == self.institution_id,
                    ReceptionDuty.semester_id == semester.id,
                    ReceptionRecord.status == ReceptionStatus.SUBMITTED,
                )
                .order_by(ReceptionDuty.week)
            )
        )

    def record(self, record_id: int) -> ReceptionRecord:
        record = get_scoped(self.session, ReceptionRecord, record_id, self.institution_id)
        if record is None:
            raise NotFound("No such reception record.")
        return record


# -- as an import run (lti_tool/import_runs): the job previews, the office confirms, the job stores -------
def _reception(
    session: Session, institution_id: int, options: dict[str, Any]
) -> tuple[ReceptionService, Semester]:
    from lti_tool.policy.store import PolicyStore

    service = ReceptionService(session, institution_id, PolicyStore(session, institution_id).current())
    semester = service.semester(options.get("semester"))
    if semester is None:
        raise NotFound("No semester has been set up yet.")
    return service, semester


def _preview_roster(
    session: Session, institution_id: int, data: bytes, filename: str, options: dict[str, Any]
) -> dict[str, Any]:
    service, semester = _reception(session, institution_id, options)
    found = asdict(service.import_roster(semester, data, filename, store=False))
    return found | {"semester": {"id": semester.id, "code": semester.code}}


def _apply_roster(
    session: Session,
    institution_id: int,
    data: bytes,
    filename: str,
    options: dict[str, Any],
    preview: dict[str, Any],
) -> StoredCounts:
    service, semester = _reception(session, institution_id, options)
    result = service.import_roster(semester, data, filename, store=True)
    return StoredCounts(result.assigned, result.unchanged)


def _roster_context(preview: dict[str, Any]) -> dict[str, Any]:
    return {"result": preview, "semester": preview.get("semester", {})}


@register_importer(
    "reception_roster",
    aliases=ROSTER_ALIASES,
    required=["week", "employee_no"],
    label=N_("Import the reception roster"),
    personas=("school_office",),
    back="outreach.office_reception",
    back_label=N_("Back to the reception roster"),
    preview=_preview_roster,
    apply=_apply_roster,
    preview_template="outreach/roster_preview.html",
    preview_context=_roster_context,
)
def import_roster_job(session: Session, institution_id: int, data: bytes, filename: str) -> StoredCounts:
    """A run of one step (none is recorded so: a roster's semester comes with its preview's options)."""
    return _apply_roster(session, institution_id, data, filename, {}, {})
