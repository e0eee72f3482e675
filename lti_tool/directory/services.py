"""Units, people and positions: roster imports (CSV/XLSX), listing, and the rules of re-import.

Re-import updates rows by their natural key (unit code, employee number) and never duplicates. For every
person present in a people file, the positions in the file *replace* that person's stored positions: the
roster export is the source of truth for the people it lists. Any bad row aborts the whole file.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.directory.models import Person, PositionHolding, Unit, UnitFunction, UnitKind
from lti_tool.policy.schema import Policy
from lti_tool.tabular import RowErrors, read_table

UNIT_ALIASES = {
    "code": ["代码", "单位代码", "unit_code"],
    "name": ["名称", "单位名称", "unit_name"],
    "kind": ["类型", "单位类型", "type"],
    "function": ["职能", "function_role"],
}
UNIT_KINDS = {
    "college": UnitKind.COLLEGE, "教学院": UnitKind.COLLEGE, "教学院（部）": UnitKind.COLLEGE,
    "二级学院": UnitKind.COLLEGE, "学院": UnitKind.COLLEGE,
    "marxism_school": UnitKind.MARXISM_SCHOOL, "马克思主义学院": UnitKind.MARXISM_SCHOOL,
    "department": UnitKind.DEPARTMENT, "职能部门": UnitKind.DEPARTMENT, "部门": UnitKind.DEPARTMENT,
}
UNIT_FUNCTIONS = {
    "": UnitFunction.NONE, "quality_center": UnitFunction.QUALITY_CENTER,
    "教学质量监控与评价中心": UnitFunction.QUALITY_CENTER, "质量中心": UnitFunction.QUALITY_CENTER,
    "organization": UnitFunction.ORGANIZATION, "党委组织部": UnitFunction.ORGANIZATION,
    "组织部": UnitFunction.ORGANIZATION,
}
PEOPLE_ALIASES = {
    "employee_no": ["工号", "职工号", "教师工号"],
    "name": ["姓名"],
    "email": ["邮箱", "电子邮箱", "e-mail"],
    "unit": ["单位", "所在单位", "部门"],
    "positions": ["职务", "岗位"],
    "tenure_start": ["任职开始", "任职开始日期"],
    "tenure_end": ["任职结束", "任职结束日期"],
}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def parse_date(text: str) -> dt.date:
    """Accepts 2026-09-01, 2026/9/1 and 2026.9.1 (the forms the academic office exports)."""
    parts = re.split(r"[-/.]", text.strip())
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(text)
    return dt.date(int(parts[0]), int(parts[1]), int(parts[2][:2]))


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}"


class DirectoryService:
    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    # -- queries ------------------------------------------------------------------------------------
    def units(self) -> list[Unit]:
        return list(self.session.scalars(
            select(Unit).where(Unit.institution_id == self.institution_id).order_by(Unit.kind, Unit.code)))

    def unit_lookup(self) -> dict[str, Unit]:
        """Units by code and by name, for imports that name a unit either way."""
        out: dict[str, Unit] = {}
        for unit in self.units():
            out[unit.name] = unit
            out[unit.code] = unit
        return out

    def people(self, search: str = "", limit: int = 200, offset: int = 0) -> list[Person]:
        stmt = select(Person).where(Person.institution_id == self.institution_id)
        if search:
            like = f"%{search.strip()}%"
            stmt = stmt.where(Person.name.like(like) | Person.employee_no.like(like) | Person.email.like(like))
        return list(self.session.scalars(stmt.order_by(Person.employee_no).limit(limit).offset(offset)))

    def person_by_no(self, employee_no: str) -> Person | None:
        return self.session.scalars(select(Person).where(Person.institution_id == self.institution_id,
                                                         Person.employee_no == employee_no)).first()

    def people_by_no(self) -> dict[str, Person]:
        return {p.employee_no: p for p in self.session.scalars(
            select(Person).where(Person.institution_id == self.institution_id))}

    # -- imports ------------------------------------------------------------------------------------
    def import_units(self, data: bytes, filename: str) -> ImportResult:
        table = read_table(data, filename, UNIT_ALIASES, ["code", "name", "kind"])
        errors = table.errors
        seen: dict[str, int] = {}
        parsed: list[tuple[str, str, str, str]] = []
        for row in table.rows:
            code, name = row.get("code"), row.get("name")
            kind = UNIT_KINDS.get(row.get("kind").lower()) or UNIT_KINDS.get(row.get("kind"))
            function = UNIT_FUNCTIONS.get(row.get("function").lower(), UNIT_FUNCTIONS.get(row.get("function")))
            if not code:
                errors.add(row.number, "code", "不能为空 (must not be empty)")
            elif len(code) > 64:
                errors.add(row.number, "code", "超过 64 个字符 (longer than 64 characters)")
            elif code in seen:
                errors.add(row.number, "code", f"与第 {seen[code]} 行重复 (duplicate of row {seen[code]})")
            if not name:
                errors.add(row.number, "name", "不能为空 (must not be empty)")
            if kind is None:
                errors.add(row.number, "kind", f"“{row.get('kind')}”不是 college / marxism_school / department "
                           f"(not a known unit type)")
            if function is None:
                errors.add(row.number, "function", f"“{row.get('function')}”不是 quality_center / organization")
            seen.setdefault(code, row.number)
            parsed.append((code, name[:200], str(kind or ""), str(function or "")))
        errors.raise_if_any("units")
        existing = {u.code: u for u in self.units()}
        result = ImportResult()
        for code, name, kind, function in parsed:
            unit = existing.get(code)
            if unit is None:
                self.session.add(Unit(institution_id=self.institution_id, code=code, name=name, kind=kind,
                                      function=function))
                result.created += 1
            elif (unit.name, unit.kind, unit.function) != (name, kind, function):
                unit.name, unit.kind, unit.function = name, kind, function
                result.updated += 1
            else:
                result.unchanged += 1
        self.session.flush()
        return result

    def import_people(self, data: bytes, filename: str, policy: Policy) -> ImportResult:
        table = read_table(data, filename, PEOPLE_ALIASES, ["employee_no", "name"])
        errors = table.errors
        units = self.unit_lookup()
        position_names = {p.name: p.code for p in policy.positions.values()}
        people: dict[str, dict] = {}
        for row in table.rows:
            self._parse_person_row(row, errors, units, policy, position_names, people)
        errors.raise_if_any("people")
        return self._store_people(people)

    def _parse_person_row(self, row, errors: RowErrors, units: dict[str, Unit], policy: Policy,  # type: ignore[no-untyped-def]
                          position_names: dict[str, str], people: dict[str, dict]) -> None:
        no, name, email = row.get("employee_no"), row.get("name"), row.get("email").lower()
        if not no:
            errors.add(row.number, "employee_no", "不能为空 (must not be empty)")
        elif len(no) > 64:
            errors.add(row.number, "employee_no", "超过 64 个字符 (longer than 64 characters)")
        if not name:
            errors.add(row.number, "name", "不能为空 (must not be empty)")
        if email and not EMAIL_RE.match(email):
            errors.add(row.number, "email", f"“{email}”不是有效的邮箱地址 (not an e-mail address)")
        unit_text = row.get("unit")
        unit = units.get(unit_text) if unit_text else None
        if unit_text and unit is None:
            errors.add(row.number, "unit", f"单位“{unit_text}”不存在，请先导入单位 (unknown unit: import units first)")
        codes = []
        for token in (t.strip() for t in re.split(r"[;；]", row.get("positions")) if t.strip()):
            code = token if token in policy.positions else position_names.get(token)
            if code is None:
                errors.add(row.number, "positions", f"职务“{token}”不在政策文件的职务表中 (unknown position)")
            else:
                codes.append(code)
        dates: list[dt.date | None] = []
        for column in ("tenure_start", "tenure_end"):
            text = row.get(column)
            try:
                dates.append(parse_date(text) if text else None)
            except ValueError:
                errors.add(row.number, column, f"“{text}”不是日期，应为 YYYY-MM-DD (not a date)")
                dates.append(None)
        if dates[0] and dates[1] and dates[1] < dates[0]:
            errors.add(row.number, "tenure_end", "早于任职开始日期 (before the tenure start)")
        if (dates[0] or dates[1]) and not codes:
            errors.add(row.number, "positions", "填写了任职日期但没有职务 (tenure dates without a position)")
        entry = people.setdefault(no, {"row": row.number, "name": name, "email": email or None,
                                       "unit": unit, "positions": set()})
        if entry["row"] != row.number and (entry["name"] != name or (entry["unit"] and unit and entry["unit"] != unit)):
            errors.add(row.number, "name", f"与第 {entry['row']} 行的同一工号信息不一致 (conflicts with row {entry['row']})")
        entry["unit"] = entry["unit"] or unit
        entry["email"] = entry["email"] or email or None
        for code in codes:
            entry["positions"].add((code, dates[0], dates[1]))

    def _store_people(self, people: dict[str, dict]) -> ImportResult:
        existing = self.people_by_no()
        result = ImportResult()
        for no, entry in people.items():
            person = existing.get(no)
            changed = False
            is_new = person is None
            if person is None:
                person = Person(institution_id=self.institution_id, employee_no=no, name=entry["name"][:100],
                                email=entry["email"], unit_id=entry["unit"].id if entry["unit"] else None)
                self.session.add(person)
                self.session.flush()
                result.created += 1
            else:
                new = (entry["name"][:100], entry["email"], entry["unit"].id if entry["unit"] else None)
                if (person.name, person.email, person.unit_id) != new:
                    person.name, person.email, person.unit_id = new
                    changed = True
            stored = {(h.position_code, h.start_date, h.end_date): h for h in person.positions}
            wanted = entry["positions"]
            for key, holding in stored.items():
                if key not in wanted:
                    person.positions.remove(holding)
                    changed = True
            for code, start, end in sorted(wanted, key=lambda k: (k[0], k[1] or dt.date.min)):
                if (code, start, end) not in stored:
                    person.positions.append(PositionHolding(institution_id=self.institution_id,
                                                            position_code=code, start_date=start, end_date=end))
                    changed = True
            if is_new:
                continue
            if changed:
                result.updated += 1
            else:
                result.unchanged += 1
        self.session.flush()
        return result
