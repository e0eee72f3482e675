"""Units, people and positions: roster imports (CSV/XLSX), listing, and the rules of re-import.

Re-import updates rows by their natural key (unit code, employee number) and never duplicates. For every
person present in a people file, the positions in the file *replace* that person's stored positions: the
roster export is the source of truth for the people it lists. A column the file does not have at all
(say, no 职务 column) leaves that field alone, so a plain staff list cannot wipe everybody's positions.

Any bad row aborts the whole file: every row is parsed and checked first, all problems are reported as
"row N, column C" (``RowErrors``), and only a clean file is written. The caller's transaction (one per
request or CLI command) rolls back if anything still fails while storing.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from lti_tool.acting import logged_import
from lti_tool.db import get_scoped
from lti_tool.directory.models import (
    SUB_UNIT_KINDS,
    BranchKind,
    Person,
    PlatformUser,
    PositionHolding,
    StudentClass,
    Unit,
    UnitFunction,
    UnitKind,
)
from lti_tool.errors import NotFound, ValidationFailed
from lti_tool.i18n import N_
from lti_tool.import_runs.services import register_importer
from lti_tool.lti.models import Platform
from lti_tool.policy.schema import Policy
from lti_tool.tabular import Row, RowErrors, read_table

log = logging.getLogger(__name__)

UNIT_ALIASES = {
    "code": ["代码", "单位代码", "unit_code"],
    "name": ["名称", "单位名称", "unit_name"],
    "kind": ["类型", "单位类型", "type"],
    "function": ["职能", "function_role"],
    "parent": ["上级单位", "所属单位", "所属学院", "parent_unit"],
    "branch_kind": ["支部类型", "branch_type"],
}
UNIT_KINDS = {
    "college": UnitKind.COLLEGE,
    "教学院": UnitKind.COLLEGE,
    "教学院（部）": UnitKind.COLLEGE,
    "二级学院": UnitKind.COLLEGE,
    "学院": UnitKind.COLLEGE,
    "marxism_school": UnitKind.MARXISM_SCHOOL,
    "马克思主义学院": UnitKind.MARXISM_SCHOOL,
    "department": UnitKind.DEPARTMENT,
    "职能部门": UnitKind.DEPARTMENT,
    "部门": UnitKind.DEPARTMENT,
    "机关部（处）": UnitKind.DEPARTMENT,
    "teaching_office": UnitKind.TEACHING_OFFICE,
    "教研室": UnitKind.TEACHING_OFFICE,
    "lab": UnitKind.LAB,
    "实验室": UnitKind.LAB,
    "实训室": UnitKind.LAB,
    "party_branch": UnitKind.PARTY_BRANCH,
    "党支部": UnitKind.PARTY_BRANCH,
}
BRANCH_KINDS = {
    "": BranchKind.NONE,
    "teacher": BranchKind.TEACHER,
    "教工": BranchKind.TEACHER,
    "教师": BranchKind.TEACHER,
    "教工党支部": BranchKind.TEACHER,
    "教师党支部": BranchKind.TEACHER,
    "student": BranchKind.STUDENT,
    "学生": BranchKind.STUDENT,
    "学生党支部": BranchKind.STUDENT,
}
PARENT_KINDS = {
    UnitKind.TEACHING_OFFICE: {UnitKind.COLLEGE, UnitKind.MARXISM_SCHOOL},
    UnitKind.LAB: {UnitKind.COLLEGE, UnitKind.MARXISM_SCHOOL},
    UnitKind.PARTY_BRANCH: {UnitKind.COLLEGE, UnitKind.MARXISM_SCHOOL, UnitKind.DEPARTMENT},
}
"""Which kinds of unit a teaching office, lab or party branch may belong to (教学院（部）; a branch may also
belong to a department: 机关党支部)."""
UNIT_FUNCTIONS = {
    "": UnitFunction.NONE,
    "quality_center": UnitFunction.QUALITY_CENTER,
    "教学质量监控与评价中心": UnitFunction.QUALITY_CENTER,
    "质量中心": UnitFunction.QUALITY_CENTER,
    "organization": UnitFunction.ORGANIZATION,
    "党委组织部": UnitFunction.ORGANIZATION,
    "组织部": UnitFunction.ORGANIZATION,
    "school_office": UnitFunction.SCHOOL_OFFICE,
    "学校办公室": UnitFunction.SCHOOL_OFFICE,
    "党政办公室": UnitFunction.SCHOOL_OFFICE,
    "校长办公室": UnitFunction.SCHOOL_OFFICE,
}
PEOPLE_ALIASES = {
    "employee_no": ["工号", "职工号", "教师工号"],
    "name": ["姓名"],
    "email": ["邮箱", "电子邮箱", "e-mail"],
    "unit": ["单位", "所在单位", "部门"],
    "positions": ["职务", "岗位"],
    "tenure_start": ["任职开始", "任职开始日期"],
    "tenure_end": ["任职结束", "任职结束日期"],
    "party_member": ["政治面貌", "党员", "is_party_member"],
    "branch": ["所在支部", "所在党支部", "党支部", "party_branch"],
    "wecom_userid": ["企业微信账号", "企业微信", "企业微信userid", "wecom"],
    "dingtalk_userid": ["钉钉账号", "钉钉", "钉钉userid", "dingtalk"],
}
MESSAGE_ACCOUNT_RE = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")
"""An account id in 企业微信 (UserID) or 钉钉 (userid): letters, digits, _ . @ -, at most 64."""
ACCOUNT_PROBLEMS = {
    "wecom_userid": N_("WeCom account: letters, digits, _ . @ - only, at most 64"),
    "dingtalk_userid": N_("DingTalk account: letters, digits, _ . @ - only, at most 64"),
}
CLASS_ALIASES = {
    "name": ["班级", "班级名称", "class", "class_name"],
    "unit": ["学院", "所属学院", "学生所属单位", "college"],
}
PARTY_MEMBER_VALUES = {
    "中共党员",
    "中国共产党党员",
    "党员",
    "中共预备党员",
    "预备党员",
    "yes",
    "y",
    "true",
    "1",
    "是",
}
"""政治面貌 values that make a person a party member (C-3 applies to them); probationary members count."""
NOT_MEMBER_VALUES = {"", "no", "n", "false", "0", "否"}
"""English or yes/no spellings of "not a member"; any other Chinese 政治面貌 (群众, 共青团员 …) is not a
member either, but an unknown Latin word is refused (a typo of "yes" must not pass silently)."""
_HAS_CJK = re.compile(r"[\u3400-\u9fff]")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
POSITION_SEPARATOR = re.compile(r"[;；]")
"""Positions in one cell are separated by ";" — also the full-width "；" a Chinese keyboard types."""
_DATE_RE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[T ]\d{1,2}:\d{2}(?::\d{2})?)?$"
)


def parse_date(text: str) -> dt.date:
    """Accepts 2026-09-01, 2026/9/1, 2026.9.1 and 2026年9月1日 (the forms the academic office exports).

    A trailing midnight time (what a spreadsheet date cell sometimes carries) is ignored.
    """
    match = _DATE_RE.match(text.strip())
    if match is None:
        raise ValueError(text)
    year, month, day = (int(g) for g in match.groups())
    return dt.date(year, month, day)  # raises ValueError for 2026-02-30


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    """Rows a replacing import deleted (contact points of the people the file lists)."""

    def __str__(self) -> str:
        text = f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}"
        return f"{text}, removed {self.removed}" if self.removed else text


@dataclass
class _UnitEntry:
    row: int
    code: str
    name: str
    kind: str
    function: str | None
    """``None`` when the file has no function column: the stored function is kept."""
    parent: str | None
    """The parent's code or name; ``None`` when the file has no parent column (the stored parent is kept)."""
    branch_kind: str | None


@dataclass
class _PersonEntry:
    """One person as the file states it, possibly over several rows (one row per tenure)."""

    row: int
    name: str
    email: str
    unit: Unit | None
    party_member: bool = False
    branch: Unit | None = None
    accounts: dict[str, str] = field(default_factory=dict)
    """wecom_userid / dingtalk_userid as the file states them."""
    tenures: dict[tuple[str, dt.date | None], tuple[dt.date | None, int]] = field(default_factory=dict)
    """(position code, start) → (end, the row that said so). (code, start) is the stored natural key."""


@dataclass
class PeoplePage:
    people: list[Person]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass
class LmsAccount:
    """An LMS user linked to a person, for the person page (which platform, how it was linked)."""

    user: PlatformUser
    platform_name: str


@dataclass
class PersonDetail:
    person: Person
    accounts: list[LmsAccount]


@dataclass
class CadreRow:
    person: Person
    position_code: str
    position_name: str
    start: dt.date | None
    end: dt.date | None


@dataclass
class CadreGroup:
    code: str
    name: str | None
    """The policy's group label (Chinese data); ``None`` for positions the policy no longer lists."""
    rows: list[CadreRow]


class DirectoryService:
    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    # -- queries ------------------------------------------------------------------------------------
    def units(self) -> list[Unit]:
        return list(
            self.session.scalars(
                select(Unit).where(Unit.institution_id == self.institution_id).order_by(Unit.kind, Unit.code)
            )
        )

    def unit_people_counts(self) -> dict[int, int]:
        rows = self.session.execute(
            select(Person.unit_id, func.count())
            .where(Person.institution_id == self.institution_id, Person.unit_id.is_not(None))
            .group_by(Person.unit_id)
        )
        return {unit_id: int(n) for unit_id, n in rows if unit_id is not None}

    def unit_lookup(self) -> dict[str, Unit]:
        """Units by code and by name, for imports that name a unit either way."""
        out: dict[str, Unit] = {}
        for unit in self.units():
            out[unit.name] = unit
            out[unit.code] = unit
        return out

    def _people_query(self, search: str):
        stmt = select(Person).where(Person.institution_id == self.institution_id)
        term = search.strip()
        if term:
            stmt = stmt.where(
                or_(
                    Person.name.icontains(term, autoescape=True),
                    Person.employee_no.icontains(term, autoescape=True),
                    Person.email.icontains(term, autoescape=True),
                )
            )
        return stmt

    def find_people(self, query: str, exclude: int | None = None, limit: int = 20) -> list[Person]:
        """The roster's people whose name, employee number or e-mail contains ``query`` (the pickers of
        co-observers and of a contact record's co-leaders); none for an empty query."""
        if not query.strip():
            return []
        stmt = self._people_query(query).order_by(Person.employee_no).limit(limit)
        if exclude is not None:
            stmt = stmt.where(Person.id != exclude)
        return list(self.session.scalars(stmt))

    def people(self, search: str = "", limit: int = 200, offset: int = 0) -> list[Person]:
        stmt = self._people_query(search).order_by(Person.employee_no).limit(limit).offset(offset)
        return list(self.session.scalars(stmt))

    def people_page(self, search: str = "", page: int = 1, per_page: int = 50) -> PeoplePage:
        """One page of the roster, searched by name, employee number or e-mail (case-insensitive)."""
        stmt = self._people_query(search)
        total = int(self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
        pages = max(1, -(-total // per_page))
        page = min(max(1, page), pages)
        people = list(
            self.session.scalars(
                stmt.options(joinedload(Person.positions))
                .order_by(Person.employee_no)
                .limit(per_page)
                .offset((page - 1) * per_page)
            ).unique()
        )
        return PeoplePage(people, total, page, per_page)

    def person(self, person_id: int) -> Person:
        """A person of this institution; another institution's id is "not found", never shown."""
        person = get_scoped(self.session, Person, person_id, self.institution_id)
        if person is None:
            raise NotFound("No such person.")
        return person

    def person_by_no(self, employee_no: str) -> Person | None:
        return self.session.scalars(
            select(Person).where(
                Person.institution_id == self.institution_id, Person.employee_no == employee_no
            )
        ).first()

    def people_by_no(self) -> dict[str, Person]:
        return {
            p.employee_no: p
            for p in self.session.scalars(select(Person).where(Person.institution_id == self.institution_id))
        }

    def person_detail(self, person_id: int) -> PersonDetail:
        """The person page: the person (unit, tenures) and the LMS accounts linked to them."""
        person = self.person(person_id)
        return PersonDetail(person, self.lms_accounts(person.id))

    def set_message_accounts(self, person_id: int, wecom_userid: str, dingtalk_userid: str) -> Person:
        """The person's account ids in 企业微信 and 钉钉 (where notifications reach them); empty clears."""
        person = self.person(person_id)
        values = {
            "wecom_userid": (wecom_userid or "").strip(),
            "dingtalk_userid": (dingtalk_userid or "").strip(),
        }
        bad = [ACCOUNT_PROBLEMS[k] for k, v in values.items() if v and not MESSAGE_ACCOUNT_RE.match(v)]
        if bad:
            raise ValidationFailed("The account ids were not saved.", details=bad)
        person.wecom_userid, person.dingtalk_userid = values["wecom_userid"], values["dingtalk_userid"]
        self.session.flush()
        log.info("message accounts of person %s set in institution %s", person.id, self.institution_id)
        return person

    def lms_accounts(self, person_id: int) -> list[LmsAccount]:
        rows = self.session.execute(
            select(PlatformUser, Platform.name, Platform.issuer)
            .join(Platform, Platform.id == PlatformUser.platform_id)
            .where(PlatformUser.institution_id == self.institution_id, PlatformUser.person_id == person_id)
            .order_by(PlatformUser.last_launch_at.desc())
        )
        return [LmsAccount(user, name or issuer) for user, name, issuer in rows]

    def cadres(self, policy: Policy, today: dt.date) -> list[CadreGroup]:
        """People holding positions now or from a later date, grouped as the policy groups positions.

        Ended tenures are left out: this is the organization department's list of cadres in office.
        """
        holdings = self.session.scalars(
            select(PositionHolding)
            .join(Person, Person.id == PositionHolding.person_id)
            .where(
                PositionHolding.institution_id == self.institution_id,
                or_(PositionHolding.end_date.is_(None), PositionHolding.end_date >= today),
            )
            .options(joinedload(PositionHolding.person))
            .order_by(Person.employee_no, PositionHolding.start_date)
        )
        order = {code: i for i, code in enumerate(policy.positions)}
        groups: dict[str, CadreGroup] = {
            code: CadreGroup(code, name, []) for code, name in policy.groups.items()
        }
        for h in holdings:
            definition = policy.positions.get(h.position_code)
            group_code = definition.group if definition else ""
            group = groups.setdefault(group_code, CadreGroup(group_code, policy.groups.get(group_code), []))
            name = definition.name if definition else h.position_code
            group.rows.append(CadreRow(h.person, h.position_code, name, h.start_date, h.end_date))
        for group in groups.values():
            group.rows.sort(key=lambda r: (order.get(r.position_code, len(order)), r.person.employee_no))
        return [g for g in groups.values() if g.rows]

    def student_classes(self) -> list[StudentClass]:
        return list(
            self.session.scalars(
                select(StudentClass)
                .where(StudentClass.institution_id == self.institution_id)
                .order_by(StudentClass.name)
            )
        )

    def record_classes(self, seen: dict[str, int | None]) -> int:
        """Class names a timetable import saw (name → 学生所属单位 id): new names are added; a known class
        without a college gets the timetable's. Returns how many classes were added."""
        if not seen:
            return 0
        known = {
            c.name: c
            for c in self.session.scalars(
                select(StudentClass).where(
                    StudentClass.institution_id == self.institution_id, StudentClass.name.in_(list(seen))
                )
            )
        }
        added = 0
        for name, unit_id in sorted(seen.items()):
            existing = known.get(name)
            if existing is None:
                self.session.add(
                    StudentClass(
                        institution_id=self.institution_id, name=name, unit_id=unit_id, source="timetable"
                    )
                )
                added += 1
            elif existing.unit_id is None and unit_id is not None:
                existing.unit_id = unit_id
        self.session.flush()
        return added

    # -- imports ------------------------------------------------------------------------------------
    @logged_import(log, "student classes")
    def import_classes(self, data: bytes, filename: str) -> ImportResult:
        """Student classes: 班级/name (as the timetable writes it), 学院/unit (a college's code or name)."""
        table = read_table(data, filename, CLASS_ALIASES, ["name"])
        errors = table.errors
        units = self.unit_lookup()
        has_unit = "unit" in errors.headers
        seen: dict[str, int] = {}
        parsed: list[tuple[str, Unit | None]] = []
        for row in table.rows:
            name, unit_text = row.get("name"), row.get("unit")
            if not name:
                errors.add(row.number, "name", "不能为空 (must not be empty)")
            elif len(name) > 200:
                errors.add(row.number, "name", "超过 200 个字符 (longer than 200 characters)")
            elif name in seen:
                errors.add(row.number, "name", f"与第 {seen[name]} 行重复 (duplicate of row {seen[name]})")
            unit = units.get(unit_text) if unit_text else None
            if unit_text and unit is None:
                errors.add(row.number, "unit", f"单位“{unit_text}”不存在，请先导入单位 (unknown unit)")
            elif unit is not None and unit.kind not in (UnitKind.COLLEGE, UnitKind.MARXISM_SCHOOL):
                errors.add(row.number, "unit", f"“{unit_text}”不是教学院（部） (not a college)")
            seen.setdefault(name, row.number)
            parsed.append((name, unit))
        errors.raise_if_any("classes")
        known = {c.name: c for c in self.student_classes()}
        result = ImportResult()
        for name, unit in parsed:
            existing = known.get(name)
            if existing is None:
                self.session.add(
                    StudentClass(
                        institution_id=self.institution_id,
                        name=name,
                        unit_id=unit.id if unit else None,
                        source="import",
                    )
                )
                result.created += 1
            elif has_unit and existing.unit_id != (unit.id if unit else None):
                existing.unit_id = unit.id if unit else None
                result.updated += 1
            else:
                result.unchanged += 1
        self.session.flush()
        return result

    @logged_import(log, "units")
    def import_units(self, data: bytes, filename: str) -> ImportResult:
        """Units by code; a teaching office, lab or party branch names its college in 上级单位/parent (a unit
        code or name, in the file or already stored), and a branch may say 支部类型 (teacher | student)."""
        table = read_table(data, filename, UNIT_ALIASES, ["code", "name", "kind"])
        errors = table.errors
        has_function = "function" in errors.headers
        has_parent = "parent" in errors.headers
        has_branch_kind = "branch_kind" in errors.headers
        seen: dict[str, int] = {}
        parsed: list[_UnitEntry] = []
        for row in table.rows:
            code, name = row.get("code"), row.get("name")
            kind_text, function_text = row.get("kind"), row.get("function")
            kind = UNIT_KINDS.get(kind_text.lower()) or UNIT_KINDS.get(kind_text)
            function = UNIT_FUNCTIONS.get(function_text.lower(), UNIT_FUNCTIONS.get(function_text))
            branch_text = row.get("branch_kind")
            branch_kind = BRANCH_KINDS.get(branch_text.lower(), BRANCH_KINDS.get(branch_text))
            if not code:
                errors.add(row.number, "code", "不能为空 (must not be empty)")
            elif len(code) > 64:
                errors.add(row.number, "code", "超过 64 个字符 (longer than 64 characters)")
            elif code in seen:
                errors.add(row.number, "code", f"与第 {seen[code]} 行重复 (duplicate of row {seen[code]})")
            if not name:
                errors.add(row.number, "name", "不能为空 (must not be empty)")
            if kind is None:
                errors.add(
                    row.number,
                    "kind",
                    f"“{kind_text}”不是 college / marxism_school / department / teaching_office / lab / "
                    "party_branch (not a known unit type)",
                )
            if function is None:
                errors.add(
                    row.number,
                    "function",
                    f"“{function_text}”不是 quality_center / organization / school_office "
                    "(not a known function)",
                )
            if branch_kind is None:
                errors.add(
                    row.number, "branch_kind", f"“{branch_text}”不是 teacher / student (not a branch type)"
                )
            elif branch_kind and kind is not None and kind != UnitKind.PARTY_BRANCH:
                errors.add(
                    row.number,
                    "branch_kind",
                    "只有党支部有支部类型 (only a party branch has a branch type)",
                )
            seen.setdefault(code, row.number)
            parsed.append(
                _UnitEntry(
                    row.number,
                    code,
                    name[:200],
                    str(kind or ""),
                    str(function or "") if has_function else None,
                    row.get("parent") if has_parent else None,
                    str(branch_kind or "") if has_branch_kind else None,
                )
            )
        existing = {u.code: u for u in self.units()}
        self._check_parents(parsed, existing, errors)
        errors.raise_if_any("units")
        stored: dict[str, Unit] = dict(existing)
        changed: set[str] = set()
        for entry in parsed:
            unit = existing.get(entry.code)
            if unit is None:
                stored[entry.code] = Unit(
                    institution_id=self.institution_id,
                    code=entry.code,
                    name=entry.name,
                    kind=entry.kind,
                    function=entry.function or "",
                    branch_kind=entry.branch_kind or "",
                )
                self.session.add(stored[entry.code])
                continue
            wanted = (
                entry.name,
                entry.kind,
                unit.function if entry.function is None else entry.function,
                unit.branch_kind if entry.branch_kind is None else entry.branch_kind,
            )
            if (unit.name, unit.kind, unit.function, unit.branch_kind) != wanted:
                unit.name, unit.kind, unit.function, unit.branch_kind = wanted
                changed.add(entry.code)
        self.session.flush()  # ids for new units, then their parents
        by_name = {u.name: u for u in stored.values()}
        for entry in parsed:
            if entry.parent is None:
                continue
            unit = stored[entry.code]
            parent = (stored.get(entry.parent) or by_name.get(entry.parent)) if entry.parent else None
            parent_id = parent.id if parent is not None else None
            if unit.parent_id != parent_id:
                unit.parent_id = parent_id
                changed.add(entry.code)
        self.session.flush()
        created = sum(1 for e in parsed if e.code not in existing)
        updated = len(changed - {e.code for e in parsed if e.code not in existing})
        return ImportResult(created=created, updated=updated, unchanged=len(parsed) - created - updated)

    def _check_parents(self, parsed: list[_UnitEntry], existing: dict[str, Unit], errors: RowErrors) -> None:
        """A sub-unit needs a parent of a fitting kind; a top-level unit has none (by row and column)."""
        kinds = {u.code: u.kind for u in existing.values()} | {u.name: u.kind for u in existing.values()}
        for entry in parsed:
            kinds[entry.code] = entry.kind
            kinds[entry.name] = entry.kind
        for entry in parsed:
            if entry.kind not in UNIT_KINDS.values():
                continue
            kind = UnitKind(entry.kind)
            if entry.parent is None:
                stored = existing.get(entry.code)
                if kind in SUB_UNIT_KINDS and (stored is None or stored.parent_id is None):
                    errors.add(
                        entry.row,
                        "kind",
                        "教研室、实验室和党支部需要“上级单位”列 "
                        "(a teaching office, lab or party branch needs a parent column)",
                    )
                continue
            if kind not in SUB_UNIT_KINDS:
                if entry.parent:
                    errors.add(
                        entry.row,
                        "parent",
                        "只有教研室、实验室和党支部有上级单位 (only a teaching office, lab or party branch "
                        "has a parent unit)",
                    )
                continue
            if not entry.parent:
                errors.add(entry.row, "parent", "不能为空：请填写所属学院的代码 (must name the college)")
                continue
            parent_kind = kinds.get(entry.parent)
            if parent_kind is None:
                errors.add(
                    entry.row,
                    "parent",
                    f"单位“{entry.parent}”不存在 (unknown unit: add it to the file or import it first)",
                )
            elif parent_kind not in PARENT_KINDS[kind]:
                errors.add(
                    entry.row,
                    "parent",
                    f"“{entry.parent}”不是教学院（部），不能作为上级单位 "
                    "(not a college: cannot be the parent)",
                )

    @logged_import(log, "people")
    def import_people(self, data: bytes, filename: str, policy: Policy) -> ImportResult:
        table = read_table(data, filename, PEOPLE_ALIASES, ["employee_no", "name"])
        errors = table.errors
        units = self.unit_lookup()
        position_names = {p.name: p.code for p in policy.positions.values()}
        people: dict[str, _PersonEntry] = {}
        for row in table.rows:
            self._parse_person_row(row, errors, units, policy, position_names, people)
        errors.raise_if_any("people")
        return self._store_people(people, set(errors.headers))

    def _parse_person_row(
        self,
        row: Row,
        errors: RowErrors,
        units: dict[str, Unit],
        policy: Policy,
        position_names: dict[str, str],
        people: dict[str, _PersonEntry],
    ) -> None:
        no, name, email = row.get("employee_no"), row.get("name"), row.get("email").lower()
        if not no:
            errors.add(row.number, "employee_no", "不能为空 (must not be empty)")
        elif len(no) > 64:
            errors.add(row.number, "employee_no", "超过 64 个字符 (longer than 64 characters)")
        if not name:
            errors.add(row.number, "name", "不能为空 (must not be empty)")
        if email and (not EMAIL_RE.match(email) or len(email) > 254):
            errors.add(row.number, "email", f"“{email}”不是有效的邮箱地址 (not an e-mail address)")
        unit_text = row.get("unit")
        unit = units.get(unit_text) if unit_text else None
        if unit_text and unit is None:
            errors.add(
                row.number,
                "unit",
                f"单位“{unit_text}”不存在，请先导入单位 (unknown unit: import units first)",
            )
        codes: list[str] = []
        for token in (t.strip() for t in POSITION_SEPARATOR.split(row.get("positions")) if t.strip()):
            code = token if token in policy.positions else position_names.get(token)
            if code is None:
                errors.add(row.number, "positions", f"职务“{token}”不在政策文件的职务表中 (unknown position)")
            elif code not in codes:
                codes.append(code)
        start, end = (self._date(row, errors, column) for column in ("tenure_start", "tenure_end"))
        if start and end and end < start:
            errors.add(row.number, "tenure_end", "早于任职开始日期 (before the tenure start)")
        if (start or end) and not codes:
            errors.add(row.number, "positions", "填写了任职日期但没有职务 (tenure dates without a position)")
        member = self._party_member(row, errors)
        branch = self._branch(row, errors, units, member)
        accounts = {}
        for column in ("wecom_userid", "dingtalk_userid"):
            value = (row.get(column) or "").strip()
            if value and not MESSAGE_ACCOUNT_RE.match(value):
                errors.add(row.number, column, f"“{value[:70]}”不是有效的账号 (not an account id)")
            accounts[column] = value
        if not no:
            return
        entry = people.get(no)
        if entry is None:
            entry = people[no] = _PersonEntry(row.number, name, email, unit, member, branch, accounts)
        else:
            for column, value in accounts.items():
                entry.accounts[column] = entry.accounts.get(column) or value
            self._check_same_person(row, errors, entry, name, email, unit)
            if member != entry.party_member and "party_member" in errors.headers:
                errors.add(
                    row.number, "party_member", f"与第 {entry.row} 行不一致 (conflicts with row {entry.row})"
                )
            if branch is not None and entry.branch is not None and branch.id != entry.branch.id:
                errors.add(
                    row.number, "branch", f"与第 {entry.row} 行不一致 (conflicts with row {entry.row})"
                )
            entry.branch = entry.branch or branch
        for code in codes:
            key = (code, start)
            if key in entry.tenures and entry.tenures[key][0] != end:
                other = entry.tenures[key][1]
                errors.add(
                    row.number,
                    "tenure_end",
                    f"与第 {other} 行同一职务、同一开始日期的结束日期不一致 (conflicts with row {other})",
                )
            entry.tenures.setdefault(key, (end, row.number))

    @staticmethod
    def _party_member(row: Row, errors: RowErrors) -> bool:
        """政治面貌: 中共党员 / 中共预备党员 / yes → a member; other statuses (群众, 共青团员 …) are not."""
        text = row.get("party_member")
        if text in PARTY_MEMBER_VALUES or text.lower() in PARTY_MEMBER_VALUES:
            return True
        if text.lower() in NOT_MEMBER_VALUES or _HAS_CJK.search(text):
            return False
        errors.add(
            row.number,
            "party_member",
            f"“{text}”不是政治面貌，应为 中共党员 / 中共预备党员 / 群众 … 或 yes / no "
            "(not a political status)",
        )
        return False

    @staticmethod
    def _branch(row: Row, errors: RowErrors, units: dict[str, Unit], member: bool) -> Unit | None:
        """所在支部: a party branch's code or name; only party members belong to a branch."""
        text = row.get("branch")
        if not text:
            return None
        branch = units.get(text)
        if branch is None:
            errors.add(
                row.number, "branch", f"支部“{text}”不存在，请先导入单位 (unknown branch: import units first)"
            )
            return None
        if branch.kind != UnitKind.PARTY_BRANCH:
            errors.add(row.number, "branch", f"“{text}”不是党支部 (not a party branch)")
            return None
        if not member and "party_member" in errors.headers:
            errors.add(
                row.number, "branch", "不是党员，不能有所在支部 (only a party member belongs to a branch)"
            )
            return None
        return branch

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

    @staticmethod
    def _check_same_person(
        row: Row, errors: RowErrors, entry: _PersonEntry, name: str, email: str, unit: Unit | None
    ) -> None:
        """Several rows may list one person (one row per tenure) but must agree on who that is."""
        conflict = (
            f"与第 {entry.row} 行同一工号的信息不一致 "
            f"(conflicts with row {entry.row} for the same employee_no)"
        )
        if name and entry.name and name != entry.name:
            errors.add(row.number, "name", conflict)
        if email and entry.email and email != entry.email:
            errors.add(row.number, "email", conflict)
        if unit is not None and entry.unit is not None and unit.id != entry.unit.id:
            errors.add(row.number, "unit", conflict)
        entry.email = entry.email or email
        entry.unit = entry.unit or unit

    def _store_people(self, people: dict[str, _PersonEntry], columns: set[str]) -> ImportResult:
        existing = self.people_by_no()
        result = ImportResult()
        for no, entry in people.items():
            person = existing.get(no)
            if person is None:
                person = Person(
                    institution_id=self.institution_id,
                    employee_no=no,
                    name=entry.name[:100],
                    email=entry.email or None,
                    unit=entry.unit,
                    party_member=entry.party_member,
                    branch=entry.branch,
                    wecom_userid=entry.accounts.get("wecom_userid", ""),
                    dingtalk_userid=entry.accounts.get("dingtalk_userid", ""),
                )
                self.session.add(person)
                self._sync_positions(person, entry)
                result.created += 1
                continue
            changed = False
            wanted: dict[str, object] = {"name": entry.name[:100]}
            if "email" in columns:
                wanted["email"] = entry.email or None
            if "unit" in columns:
                wanted["unit"] = entry.unit
            if "party_member" in columns:
                wanted["party_member"] = entry.party_member
                if "branch" not in columns and not entry.party_member:
                    wanted["branch"] = None  # somebody who left the party leaves their branch too
            if "branch" in columns:
                wanted["branch"] = entry.branch
            for column in ("wecom_userid", "dingtalk_userid"):
                if column in columns:
                    wanted[column] = entry.accounts.get(column, "")
            for attr, value in wanted.items():
                if getattr(person, attr) is not value and getattr(person, attr) != value:
                    setattr(person, attr, value)
                    changed = True
            if "positions" in columns:
                changed = self._sync_positions(person, entry) or changed
            if changed:
                result.updated += 1
            else:
                result.unchanged += 1
        self.session.flush()
        return result

    def _sync_positions(self, person: Person, entry: _PersonEntry) -> bool:
        """Make the person's tenures exactly the file's; a tenure is the same when code and start match.

        Matching on (code, start) — the table's unique key — and updating the end date in place matters:
        deleting and re-inserting the same key in one flush would hit the unique constraint, because the
        unit of work inserts before it deletes.
        """
        changed = False
        kept: set[tuple[str, dt.date | None]] = set()
        for holding in list(person.positions):
            key = (holding.position_code, holding.start_date)
            if key in entry.tenures and key not in kept:
                kept.add(key)
                end = entry.tenures[key][0]
                if holding.end_date != end:
                    holding.end_date = end
                    changed = True
            else:
                person.positions.remove(holding)
                changed = True
        for (code, start), (end, _row) in sorted(
            entry.tenures.items(), key=lambda item: (item[0][0], item[0][1] or dt.date.min)
        ):
            if (code, start) not in kept:
                person.positions.append(
                    PositionHolding(
                        institution_id=self.institution_id, position_code=code, start_date=start, end_date=end
                    )
                )
                changed = True
        return changed


@register_importer(
    "people",
    aliases=PEOPLE_ALIASES,
    required=["employee_no", "name"],
    label=N_("Import people"),
    personas=("quality_center",),
    back="directory.people",
    back_label=N_("Back to people"),
)
def import_people_job(session: Session, institution_id: int, data: bytes, filename: str) -> ImportResult:
    """The people import as a worker job (``lti_tool/import_runs``): the same importer as the page and the
    CLI, under the institution's current policy."""
    from lti_tool.policy.store import PolicyStore

    policy = PolicyStore(session, institution_id).current()
    return DirectoryService(session, institution_id).import_people(data, filename, policy)


@register_importer(
    "units",
    aliases=UNIT_ALIASES,
    required=["code", "name", "kind"],
    label=N_("Import units"),
    personas=("quality_center",),
    back="directory.units",
    back_label=N_("Back to units"),
)
def import_units_job(session: Session, institution_id: int, data: bytes, filename: str) -> ImportResult:
    """The units import as a worker job (``lti_tool/import_runs``): the page's and the CLI's importer."""
    return DirectoryService(session, institution_id).import_units(data, filename)
