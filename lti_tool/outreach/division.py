"""The school leaders' division of work (分工) per academic year, kept by the school office (五.2): who is in
charge of each area of the policy's ``[contact] work_areas``. Routing a letter asks ``leader_for``."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from lti_tool import clock
from lti_tool.academic_year import academic_year_bounds, academic_year_of, parse_academic_year
from lti_tool.db import get_scoped
from lti_tool.directory.models import Person, PositionHolding
from lti_tool.errors import BadRequest
from lti_tool.i18n import N_
from lti_tool.import_runs.services import register_importer
from lti_tool.notifications.events import Audience, register_audience
from lti_tool.outreach.followup import clean_text, refuse
from lti_tool.outreach.models import Portfolio
from lti_tool.policy.schema import Policy
from lti_tool.policy.store import PolicyStore
from lti_tool.tabular import read_table
from lti_tool.tenancy import Institution

log = logging.getLogger(__name__)

LEADER_GROUP = "school_leaders"
"""The policy's group of positions whose holders are school leaders (校领导): they hold portfolios, are
scheduled for reception days and receive letters."""
ALIASES = {
    "academic_year": ["学年", "year"],
    "area": ["分管领域", "分工", "领域", "work_area"],
    "employee_no": ["工号", "职工号"],
    "note": ["说明", "备注", "分管工作", "remarks"],
}


@dataclass
class DivisionImport:
    year: str
    set: int
    unchanged: int
    rows: list[tuple[str, str, str]]
    """(area label, leader name, note) as they will be stored."""


class DivisionService:
    def __init__(self, session: Session, institution_id: int, policy: Policy) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy

    # -- years and people -----------------------------------------------------------------------------------
    def today(self) -> dt.date:
        return clock.today(self.session.get(Institution, self.institution_id))

    def current_year(self) -> str:
        return academic_year_of(self.today(), self.policy.contact.academic_year_start)

    def year(self, text: str | None) -> str:
        """The academic year a page asks for (``2026-2027``), else the current one; a bad one is a 400."""
        if not text:
            return self.current_year()
        try:
            return parse_academic_year(text)
        except ValueError:
            raise BadRequest(
                "“%(value)s” is not an academic year such as 2026-2027.", value=text[:20]
            ) from None

    def leader_positions(self) -> set[str]:
        return {code for code, p in self.policy.positions.items() if p.group == LEADER_GROUP}

    def _holds_leader_position(self, year: str | None) -> ColumnElement[bool]:
        """A position holding of a leader position at some time in the academic year (default: today)."""
        if year is None:
            start = end = self.today()
        else:
            start, end = academic_year_bounds(year, self.policy.contact.academic_year_start)
        ph = PositionHolding
        return and_(
            ph.institution_id == self.institution_id,
            ph.position_code.in_(sorted(self.leader_positions())),
            or_(ph.start_date.is_(None), ph.start_date <= end),
            or_(ph.end_date.is_(None), ph.end_date >= start),
        )

    def leaders(self, year: str | None = None) -> list[Person]:
        """School leaders holding a leader position at some time in the academic year (default: today)."""
        ids = select(PositionHolding.person_id).where(self._holds_leader_position(year))
        return list(
            self.session.scalars(
                select(Person)
                .where(Person.institution_id == self.institution_id, Person.id.in_(ids))
                .order_by(Person.employee_no)
            )
        )

    def is_leader(self, person_id: int, year: str | None = None) -> bool:
        """Whether the person is one of ``leaders(year)`` (one EXISTS: the nav asks on every page)."""
        return bool(
            self.session.scalar(
                select(
                    exists().where(PositionHolding.person_id == person_id, self._holds_leader_position(year))
                )
            )
        )

    def leader(self, person_id: object, year: str | None = None) -> Person:
        """A school leader of the year by id, else a 422 (a form's choice that is not a leader)."""
        person = get_scoped(self.session, Person, person_id, self.institution_id) if person_id else None
        if person is None or not self.is_leader(person.id, year):
            raise refuse(N_("Leader in charge: choose a school leader."))
        return person

    # -- the division ---------------------------------------------------------------------------------------
    def area_codes(self) -> list[str]:
        return [a.code for a in self.policy.contact.work_areas]

    def portfolios(self, year: str) -> dict[str, Portfolio]:
        """Area code → its portfolio row in ``year``."""
        rows = self.session.scalars(
            select(Portfolio).where(
                Portfolio.institution_id == self.institution_id, Portfolio.academic_year == year
            )
        )
        return {p.area: p for p in rows}

    def areas_of(self, year: str) -> dict[int, list[str]]:
        """Leader id → the codes of the areas they are in charge of in ``year``."""
        out: dict[int, list[str]] = {}
        for p in self.portfolios(year).values():
            out.setdefault(p.person_id, []).append(p.area)
        return out

    def leader_for(self, area: str, year: str) -> Person | None:
        """The leader in charge of ``area`` in ``year`` (None when the office has named nobody)."""
        row = self.portfolios(year).get(area)
        return row.person if row is not None else None

    def set(self, year: str, area: str, person_id: object, note: object = "") -> Portfolio | None:
        """Name the leader in charge of an area (an empty choice clears it)."""
        if area not in self.area_codes():
            raise refuse(N_("Area: choose one of the areas of the division of work."))
        text = clean_text(note, N_("Note"), required=False, limit=200)
        current = self.portfolios(year).get(area)
        if person_id in (None, ""):
            if current is not None:
                self.session.delete(current)
                self.session.flush()
            return None
        person = self.leader(person_id, year)
        if current is None:
            current = Portfolio(institution_id=self.institution_id, academic_year=year, area=area)
            self.session.add(current)
        current.person_id = person.id
        current.person = person
        current.note = text
        self.session.flush()
        return current

    def save_year(self, year: str, choices: Mapping[str, tuple[object, object]]) -> int:
        """The division page's form: every area's leader and note at once; returns how many areas are held."""
        held = 0
        for area in self.area_codes():
            person_id, note = choices.get(area, (None, ""))
            if self.set(year, area, person_id, note) is not None:
                held += 1
        log.info("division of work %s saved: %s areas held", year, held)
        return held

    # -- import ---------------------------------------------------------------------------------------------
    def import_file(self, data: bytes, filename: str, *, store: bool) -> DivisionImport:
        """A CSV/XLSX of 学年, 分管领域, 工号[, 说明]: each row names the leader in charge of one area in one
        year; the areas a file names for a year replace those of that year (others stay). Every problem is
        reported by row and column and nothing is stored unless the whole file is clean."""
        table = read_table(data, filename, ALIASES, ["academic_year", "area", "employee_no"])
        errors = table.errors
        by_label = {}
        for a in self.policy.contact.work_areas:
            by_label[a.code.lower()] = a.code
            by_label[a.label] = a.code
            if a.label_en:
                by_label[a.label_en.lower()] = a.code
        people = {
            p.employee_no: p
            for p in self.session.scalars(select(Person).where(Person.institution_id == self.institution_id))
        }
        parsed: list[tuple[str, str, Person, str]] = []
        seen: dict[tuple[str, str], int] = {}
        years: set[str] = set()
        for row in table.rows:
            year_text = row.get("academic_year")
            try:
                year = parse_academic_year(year_text)
            except ValueError:
                errors.add(
                    row.number,
                    "academic_year",
                    f"“{year_text}”不是学年，应为 2026-2027 (not an academic year)",
                )
                year = ""
            area_text = row.get("area")
            area = by_label.get(area_text) or by_label.get(area_text.lower())
            if area is None:
                names = "、".join(a.label for a in self.policy.contact.work_areas)
                errors.add(row.number, "area", f"“{area_text}”不是分管领域（{names}） (not a work area)")
            no = row.get("employee_no")
            person = people.get(no)
            if person is None:
                errors.add(row.number, "employee_no", f"工号“{no}”不在人员名单中 (not on the roster)")
            elif year and person.id not in {p.id for p in self.leaders(year)}:
                errors.add(
                    row.number,
                    "employee_no",
                    f"{person.name}（{no}）在{year}学年不是校领导 (not a school leader)",
                )
                person = None
            note = row.get("note")
            if len(note) > 200:
                errors.add(row.number, "note", "超过 200 个字符 (longer than 200 characters)")
            if not year or area is None or person is None:
                continue
            if (year, area) in seen:
                errors.add(
                    row.number,
                    "area",
                    f"与第 {seen[(year, area)]} 行重复 (duplicate of row {seen[(year, area)]})",
                )
                continue
            seen[(year, area)] = row.number
            years.add(year)
            parsed.append((year, area, person, note))
        errors.raise_if_any("分工 (division of work)")
        if not parsed:
            raise refuse(N_("The file has no rows."))
        changed = unchanged = 0
        for year, area, person, note in parsed:
            current = self.portfolios(year).get(area)
            if current is not None and current.person_id == person.id and current.note == note:
                unchanged += 1
            else:
                changed += 1
                if store:
                    self.set(year, area, person.id, note)
        if store:
            log.info("division of work imported from %s: %s set, %s unchanged", filename, changed, unchanged)
        labels = {a.code: a.label for a in self.policy.contact.work_areas}
        return DivisionImport(
            ", ".join(sorted(years)),
            changed,
            unchanged,
            [(f"{y} {labels.get(a, a)}", p.name, n) for y, a, p, n in parsed],
        )


@register_audience(Audience.SCHOOL_LEADER)
def holds_a_leader_position(session: Session, institution_id: int, person_id: int, today: dt.date) -> bool:
    """Letters are routed to the school leaders of the division of work: whoever holds, today, a position
    of the policy's school-leaders group (``DivisionService.leaders``' rule) can hear of one."""
    codes = DivisionService(session, institution_id, PolicyStore(session, institution_id).current())
    ph = PositionHolding
    found = session.scalar(
        select(ph.id)
        .where(
            ph.institution_id == institution_id,
            ph.person_id == person_id,
            ph.position_code.in_(sorted(codes.leader_positions())),
            or_(ph.start_date.is_(None), ph.start_date <= today),
            or_(ph.end_date.is_(None), ph.end_date >= today),
        )
        .limit(1)
    )
    return found is not None


# -- as an import run (lti_tool/import_runs): the job previews, the office confirms, the job stores -------
@dataclass(frozen=True)
class StoredCounts:
    """What a confirmed import run stored, as the run's page counts it."""

    created: int
    unchanged: int


def division_service(session: Session, institution_id: int) -> DivisionService:
    return DivisionService(session, institution_id, PolicyStore(session, institution_id).current())


def _preview_division(
    session: Session, institution_id: int, data: bytes, filename: str, options: dict[str, Any]
) -> dict[str, Any]:
    return asdict(division_service(session, institution_id).import_file(data, filename, store=False))


def _apply_division(
    session: Session,
    institution_id: int,
    data: bytes,
    filename: str,
    options: dict[str, Any],
    preview: dict[str, Any],
) -> StoredCounts:
    return import_division_job(session, institution_id, data, filename)


def _division_context(preview: dict[str, Any]) -> dict[str, Any]:
    return {"result": preview}


@register_importer(
    "division",
    aliases=ALIASES,
    required=["academic_year", "area", "employee_no"],
    label=N_("Import the division of work"),
    personas=("school_office",),
    back="outreach.office_division",
    back_label=N_("Back to the division of work"),
    preview=_preview_division,
    apply=_apply_division,
    preview_template="outreach/division_preview.html",
    preview_context=_division_context,
)
def import_division_job(session: Session, institution_id: int, data: bytes, filename: str) -> StoredCounts:
    """The division of work stored from a file (a confirmed preview, or a run of one step)."""
    result = division_service(session, institution_id).import_file(data, filename, store=True)
    return StoredCounts(result.set, result.unchanged)
