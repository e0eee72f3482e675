"""Recording and importing classroom patrols; the months of a semester done or missing (O-9).

O-9 (四.3): heads of student affairs, security, assets, logistics and the IT center patrol classrooms at
least once a month; problems with the teaching environment, facilities, 教风 or 学风 are routed to the
responsible unit. Who has the duty comes from the policy's ``per_month`` patrol rules; the compliance
engine counts patrols the same way this page shows them (one month = one calendar month).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.acting import logged_import
from lti_tool.directory.models import Person, PositionHolding, Unit
from lti_tool.directory.services import parse_date
from lti_tool.errors import Detail, Forbidden, ValidationFailed
from lti_tool.i18n import N_
from lti_tool.patrols.models import Patrol
from lti_tool.policy.schema import Policy
from lti_tool.problems.services import NewProblem, ProblemService
from lti_tool.tabular import read_table
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import Semester
from lti_tool.timetable.semesters import SemesterService
from lti_tool.timetable.teaching_days import teaching_months

log = logging.getLogger(__name__)

PATROL_ALIASES = {
    "employee_no": ["工号", "巡查人工号"],
    "date": ["日期", "巡查日期"],
    "rooms": ["教室", "巡查教室", "楼宇教室"],
    "checked": ["检查项目", "巡查内容"],
    "notes": ["情况记录", "备注"],
    "problem_category": ["问题类别"],
    "problem_unit": ["责任单位"],
    "problem_room": ["问题教室"],
    "problem_description": ["问题描述"],
}


@dataclass
class MonthStatus:
    year: int
    month: int
    patrols: int
    required: bool
    """False for a month the duty was not held (before the tenure started, after it ended)."""

    @property
    def done(self) -> bool:
        return self.patrols > 0

    @property
    def label(self) -> str:
        return f"{self.year}-{self.month:02d}"


def semester_months(semester: Semester) -> list[tuple[int, int]]:
    """The semester's months with a teaching day, as the engine owes them (``timetable.teaching_days``)."""
    holidays = {dt.date.fromisoformat(d) for d in semester.holidays or []}
    return teaching_months([(semester.start_date, semester.end_date)], holidays)


class PatrolService:
    def __init__(self, session: Session, institution_id: int, policy: Policy) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy

    def duty_tenures(self, person_id: int) -> list[PositionHolding]:
        return list(
            self.session.scalars(
                select(PositionHolding).where(
                    PositionHolding.person_id == person_id,
                    PositionHolding.institution_id == self.institution_id,
                    PositionHolding.position_code.in_(self.policy.patrol_positions()),
                )
            )
        )

    def today(self) -> dt.date:
        """The college's date (a patrol dated today is never "in the future", docs/decisions.md T-1)."""
        return clock.today(self.session.get(Institution, self.institution_id))

    def has_duty(self, person_id: int, on: dt.date) -> bool:
        return any(t.held_during(on, on) for t in self.duty_tenures(person_id))

    def record(
        self,
        person: Person,
        *,
        date: dt.date,
        rooms: str,
        checked: list[str],
        notes: str,
        problems: list[NewProblem],
        today: dt.date | None = None,
    ) -> Patrol:
        today = today or self.today()
        errors: list[Detail] = []
        if date > today:
            errors.append(N_("Date: a patrol cannot be in the future."))
        if not rooms.strip():
            errors.append(N_("Rooms: say which buildings and rooms were patrolled."))
        codes = {c.code for c in self.policy.patrol_checklist}
        unknown = [c for c in checked if c not in codes]
        if unknown:
            errors.append(
                (N_("Checked: unknown checklist item(s) %(items)s."), {"items": ", ".join(unknown)})
            )
        if not checked:
            errors.append(N_("Checked: tick what was checked."))
        problem_service = ProblemService(self.session, self.institution_id, self.policy)
        errors += problem_service.validate_new(problems)
        if errors:
            raise ValidationFailed("The patrol cannot be saved.", details=errors)
        if not self.has_duty(person.id, date):
            raise Forbidden("You hold no position with patrol duty on that date.")
        patrol = Patrol(
            institution_id=self.institution_id,
            person_id=person.id,
            date=date,
            rooms=rooms.strip()[:1000],
            checked=list(dict.fromkeys(checked)),
            notes=notes.strip(),
        )
        self.session.add(patrol)
        self.session.flush()
        if problems:
            problem_service.raise_problems(problems, person.id, patrol_id=patrol.id)
        return patrol

    def recent(self, person_id: int, limit: int = 20) -> list[Patrol]:
        return list(
            self.session.scalars(
                select(Patrol)
                .where(Patrol.institution_id == self.institution_id, Patrol.person_id == person_id)
                .order_by(Patrol.date.desc())
                .limit(limit)
            )
        )

    def current_semester(self, on: dt.date) -> Semester | None:
        return SemesterService(self.session, self.institution_id).of_date(on)

    def months(self, person_id: int, semester: Semester) -> list[MonthStatus]:
        """Each calendar month of the semester: patrols done, and whether the duty was held that month."""
        counts: dict[str, int] = {}
        for day, n in self.session.execute(
            select(Patrol.date, func.count())
            .where(
                Patrol.institution_id == self.institution_id,
                Patrol.person_id == person_id,
                Patrol.date >= semester.start_date,
                Patrol.date <= semester.end_date,
            )
            .group_by(Patrol.date)
        ):
            counts[f"{day.year}-{day.month:02d}"] = counts.get(f"{day.year}-{day.month:02d}", 0) + int(n)
        tenures = self.duty_tenures(person_id)
        out = []
        for year, month in semester_months(semester):
            first = dt.date(year, month, 1)
            last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
            held = any(t.held_during(first, last) for t in tenures)
            out.append(MonthStatus(year, month, int(counts.get(f"{year}-{month:02d}", 0)), held))
        return out

    # -- import ---------------------------------------------------------------------------------------
    @logged_import(log, "patrols")
    def import_file(self, data: bytes, filename: str) -> int:
        """Past paper patrols; one row per problem (rows of the same person/date/rooms form one patrol)."""
        table = read_table(data, filename, PATROL_ALIASES, ["employee_no", "date", "rooms"])
        errors = table.errors
        people = {
            p.employee_no: p
            for p in self.session.scalars(select(Person).where(Person.institution_id == self.institution_id))
        }
        units: dict[str, Unit] = {}
        for u in self.session.scalars(select(Unit).where(Unit.institution_id == self.institution_id)):
            units[u.code], units[u.name] = u, u
        today = self.today()
        categories = {c.code: c.code for c in self.policy.problem_categories}
        categories.update({c.label: c.code for c in self.policy.problem_categories})
        checklist = {c.code: c.code for c in self.policy.patrol_checklist}
        checklist.update({c.label: c.code for c in self.policy.patrol_checklist})
        patrols: dict[tuple[str, dt.date, str], dict] = {}
        for row in table.rows:
            person = people.get(row.get("employee_no"))
            if person is None:
                errors.add(
                    row.number,
                    "employee_no",
                    f"工号“{row.get('employee_no')}”不在名册中 (unknown employee number)",
                )
            try:
                date = parse_date(row.get("date"))
            except ValueError:
                errors.add(row.number, "date", f"“{row.get('date')}”不是日期，应为 YYYY-MM-DD (not a date)")
                continue
            if date > today:
                errors.add(row.number, "date", "巡查日期在未来 (in the future)")
            if person is not None and not self.has_duty(person.id, date):
                errors.add(
                    row.number,
                    "employee_no",
                    "该日期此人不担任有巡查职责的职务 (no patrol duty on that date)",
                )
            checked = []
            for token in (t.strip() for t in re.split(r"[;；]", row.get("checked")) if t.strip()):
                if token not in checklist:
                    errors.add(row.number, "checked", f"“{token}”不是检查项目 (not a checklist item)")
                else:
                    checked.append(checklist[token])
            key = (row.get("employee_no"), date, row.get("rooms"))
            entry = patrols.setdefault(
                key, {"person": person, "checked": [], "notes": row.get("notes"), "problems": []}
            )
            entry["checked"] = list(dict.fromkeys(entry["checked"] + checked))
            description = row.get("problem_description")
            if description or row.get("problem_category"):
                category = categories.get(row.get("problem_category"))
                if category is None:
                    errors.add(
                        row.number,
                        "problem_category",
                        f"“{row.get('problem_category')}”不是问题类别 (unknown category)",
                    )
                unit_text = row.get("problem_unit")
                unit = units.get(unit_text) if unit_text else None
                if unit_text and unit is None:
                    errors.add(row.number, "problem_unit", f"单位“{unit_text}”不存在 (unknown unit)")
                if not description:
                    errors.add(row.number, "problem_description", "不能为空 (must not be empty)")
                entry["problems"].append(
                    NewProblem(
                        category or "",
                        unit.id if unit else None,
                        row.get("problem_room") or row.get("rooms")[:100],
                        description,
                    )
                )
        errors.raise_if_any("patrols")
        problem_service = ProblemService(self.session, self.institution_id, self.policy)
        created = 0
        for (_no, date, rooms), entry in patrols.items():
            exists = self.session.scalar(
                select(func.count())
                .select_from(Patrol)
                .where(
                    Patrol.institution_id == self.institution_id,
                    Patrol.person_id == entry["person"].id,
                    Patrol.date == date,
                    Patrol.rooms == rooms[:1000],
                )
            )
            if exists:  # re-import of the same paper patrol: never duplicated
                continue
            patrol = Patrol(
                institution_id=self.institution_id,
                person_id=entry["person"].id,
                date=date,
                rooms=rooms[:1000],
                checked=entry["checked"],
                notes=entry["notes"],
                imported=True,
            )
            self.session.add(patrol)
            self.session.flush()
            if entry["problems"]:
                problem_service.raise_problems(entry["problems"], entry["person"].id, patrol_id=patrol.id)
            created += 1
        return created
