"""The demo college's roster: units and people, with every position of the policy held by somebody.

The roster is generated as rows of the real import formats (``units.csv``, ``people.csv``) so the demo
goes through ``DirectoryService`` exactly like a college's own export would. Employee numbers read like
a staff register: the first two digits are the unit (10 = school leadership, 11–23 teaching colleges,
24 = Marxism School, 30–41 functional departments), the last four the person's number in the unit.

Tenures are dated so that the interesting cases exist: a college whose dean changed in the middle of
the current semester, a Marxism-School leader whose term of office began mid-semester (O-6), and a
functional head appointed during the previous semester (partial tenure in the report).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from lti_tool.demo.catalog import (
    DEPARTMENTS,
    EMAIL_DOMAIN,
    LEADERSHIP_NUMBER,
    SCHOOL_LEADERS,
    TEACHING_UNITS,
)
from lti_tool.demo.names import NameMaker

UNIT_KIND_LABELS = {
    "college": "教学院",
    "marxism_school": "马克思主义学院",
    "department": "职能部门",
    "teaching_office": "教研室",
    "lab": "实验室",
    "party_branch": "党支部",
}
UNIT_FUNCTION_LABELS = {
    "": "",
    "quality_center": "质量中心",
    "organization": "组织部",
    "school_office": "学校办公室",
}
NON_PARTY_LEADER = "副院长（分管后勤）"
"""The school leader who is not a party member: no C-3 duty (docs/policy-rules.md, C-3a)."""
PARTY_SHARE = 0.55
"""Share of teachers who are party members (a college's teaching staff, roughly)."""


@dataclass
class Tenure:
    position: str
    start: dt.date | None
    end: dt.date | None = None


@dataclass
class DemoPerson:
    employee_no: str
    name: str
    email: str
    unit_code: str | None
    title: str
    """教师, 院长, 处长 …: what the demo's summary calls them."""
    tenures: list[Tenure] = field(default_factory=list)
    teaching_load: int = 0
    """How many timetable rows this person may be given (0 = does not teach)."""
    party_member: bool = False
    branch_code: str | None = None


@dataclass
class Roster:
    units: list[dict[str, str]]
    """Rows of units.csv (canonical keys: code, name, kind, function, parent, branch_kind)."""
    people: list[DemoPerson]

    def by_unit(self, unit_code: str) -> list[DemoPerson]:
        return [p for p in self.people if p.unit_code == unit_code]

    def teachers(self, unit_code: str) -> list[DemoPerson]:
        return [p for p in self.people if p.unit_code == unit_code and p.teaching_load > 0]

    def holders(self, position: str) -> list[DemoPerson]:
        return [p for p in self.people if any(t.position == position for t in p.tenures)]

    def sub_units(self, parent: str, kind: str) -> list[dict[str, str]]:
        """Teaching offices, labs or party branches (``kind`` as in units.csv's 类型) of a college."""
        return [u for u in self.units if u.get("parent") == parent and u["kind"] == UNIT_KIND_LABELS[kind]]


def unit_name(code: str) -> str:
    for spec in TEACHING_UNITS:
        if spec.code == code:
            return spec.name
    for dep in DEPARTMENTS:
        if dep.code == code:
            return dep.name
    raise KeyError(code)


def build_roster(rng: random.Random, current_start: dt.date, previous_start: dt.date) -> Roster:
    """Every unit and person of the demo college.

    ``current_start`` and ``previous_start`` are the Mondays of week 1 of the current and previous
    semesters: the mid-semester changes of tenure are placed relative to them.
    """
    names = NameMaker(rng, EMAIL_DOMAIN)
    units = [
        {"code": u.code, "name": u.name, "kind": UNIT_KIND_LABELS[u.kind], "function": ""}
        for u in TEACHING_UNITS
    ]
    units += [
        {
            "code": d.code,
            "name": d.name,
            "kind": UNIT_KIND_LABELS["department"],
            "function": UNIT_FUNCTION_LABELS[d.function],
        }
        for d in DEPARTMENTS
    ]
    people: list[DemoPerson] = []
    long_ago = dt.date(current_start.year - 4, 7, 1)

    def person(number: int, seq: int, unit: str | None, title: str, load: int = 0) -> DemoPerson:
        name, pinyin = names.name()
        p = DemoPerson(f"{number:02d}{seq:04d}", name, names.email(pinyin), unit, title, teaching_load=load)
        people.append(p)
        return p

    for seq, (title, positions) in enumerate(SCHOOL_LEADERS, start=1):
        leader = person(LEADERSHIP_NUMBER, seq, None, title)
        start = long_ago if seq % 3 else dt.date(current_start.year - 2, 1, 15)
        leader.tenures = [Tenure(code, start) for code in positions]

    mid_current = current_start + dt.timedelta(weeks=6)  # a Monday: week 7 starts
    mid_previous = previous_start + dt.timedelta(weeks=8)  # week 9 of the previous semester
    term_start = dt.date(current_start.year - 2, 9, 1)
    term_end = dt.date(current_start.year + 1, 8, 31)
    for index, spec in enumerate(TEACHING_UNITS):
        dean_title = "院长" if spec.name.endswith("学院") else "主任"
        party_title = "党总支书记"
        dean = person(spec.number, 1, spec.code, dean_title, load=1)
        party = person(spec.number, 2, spec.code, party_title, load=1)
        if spec.kind == "marxism_school":
            dean.tenures = [
                Tenure("college_dean", long_ago),
                Tenure("marxism_school_leader", term_start, term_end),
            ]
            party.tenures = [
                Tenure("college_party_head", long_ago),
                Tenure("marxism_school_leader", term_start, term_end),
            ]
            vice1 = person(spec.number, 3, spec.code, "副院长", load=3)
            vice1.tenures = [Tenure("marxism_school_leader", mid_previous, term_end)]
            vice2 = person(spec.number, 4, spec.code, "副院长", load=3)
            vice2.tenures = [Tenure("marxism_school_leader", mid_current, term_end)]
            first_teacher = 5
        elif index == 2:
            # This college's dean changed in week 7 of the current semester: both tenures are partial.
            former = dean
            former.title = "教师（原院长）"
            former.teaching_load = 4
            former.tenures = [Tenure("college_dean", long_ago, mid_current - dt.timedelta(days=1))]
            party.tenures = [Tenure("college_party_head", long_ago)]
            dean = person(spec.number, 3, spec.code, dean_title, load=1)
            dean.tenures = [Tenure("college_dean", mid_current)]
            first_teacher = 4
        else:
            dean.tenures = [Tenure("college_dean", long_ago)]
            party.tenures = [Tenure("college_party_head", long_ago)]
            first_teacher = 3
        for seq in range(first_teacher, first_teacher + spec.teachers):
            person(spec.number, seq, spec.code, "教师", load=rng.choice((5, 6, 6, 7, 8)))

    _party(random.Random(f"party:{len(people)}"), units, people, long_ago)

    for dep in DEPARTMENTS:
        head = person(dep.number, 1, dep.code, dep.head_title)
        if dep.head_position:
            # The HR head was appointed in the middle of the previous semester (a partial tenure).
            head.tenures = [Tenure(dep.head_position, mid_previous if dep.code == "HR" else long_ago)]
        for seq in range(2, 2 + dep.staff):
            title = "副" + dep.head_title if seq == 2 else "科员"
            person(dep.number, seq, dep.code, title)
    return Roster(units, people)


def _sub_units(spec_code: str) -> list[dict[str, str]]:
    """A college's teaching offices (one per major), its lab and its two party branches (教工, 学生)."""
    spec = next(s for s in TEACHING_UNITS if s.code == spec_code)
    rows = [
        {"code": f"{spec.code}-JY{i}", "name": f"{major}教研室", "kind": UNIT_KIND_LABELS["teaching_office"]}
        for i, (_abbr, major) in enumerate(spec.majors, start=1)
    ] or [
        {
            "code": f"{spec.code}-JY1",
            "name": f"{spec.name}教研室",
            "kind": UNIT_KIND_LABELS["teaching_office"],
        }
    ]
    if spec.majors:
        rows.append(
            {
                "code": f"{spec.code}-SY1",
                "name": f"{spec.majors[0][1]}实训室",
                "kind": UNIT_KIND_LABELS["lab"],
            }
        )
    rows += [
        {
            "code": f"{spec.code}-DZB1",
            "name": f"{spec.name}教工党支部",
            "kind": UNIT_KIND_LABELS["party_branch"],
            "branch_kind": "教工",
        },
        {
            "code": f"{spec.code}-DZB2",
            "name": f"{spec.name}学生党支部",
            "kind": UNIT_KIND_LABELS["party_branch"],
            "branch_kind": "学生",
        },
    ]
    return [{"function": "", "branch_kind": "", **row, "parent": spec.code} for row in rows]


def _party(rng: random.Random, units: list[dict[str, str]], people: list[DemoPerson], since: dt.date) -> None:
    """Party membership, branches and branch secretaries of the school leaders and the colleges' staff.

    Runs on its own random stream so the rest of the roster (names, loads) is the same as before the
    grassroots-contact system existed. Every college gets its sub-units; every party member of a college
    belongs to its teachers' branch; the first two members among its teachers are the secretaries of the
    teachers' and the students' branch (the students' branch secretary is a counsellor, 辅导员, in reality).
    """
    for spec in TEACHING_UNITS:
        units += _sub_units(spec.code)
    for p in people:
        if p.unit_code is None:  # the school leadership
            p.party_member = p.title != NON_PARTY_LEADER
            continue
        college_head = any(t.position in ("college_dean", "college_party_head") for t in p.tenures)
        p.party_member = college_head or rng.random() < PARTY_SHARE
        if college_head and p.title.endswith(("院长", "主任")) and p.unit_code == "ART":
            p.party_member = False  # one dean who is not a member: no C-3b duty for them
        if p.party_member:
            p.branch_code = f"{p.unit_code}-DZB1"
    for spec in TEACHING_UNITS:
        members = [p for p in people if p.unit_code == spec.code and p.party_member and not p.tenures]
        for member, branch in zip(members[:2], ("DZB1", "DZB2"), strict=False):
            member.tenures.append(Tenure("branch_secretary", since))
            member.branch_code = f"{spec.code}-{branch}"
            member.title = "教师（党支部书记）"


def people_rows(roster: Roster) -> list[dict[str, str]]:
    """Rows of people.csv: one row per tenure date range, as a roster export lists them."""
    rows: list[dict[str, str]] = []
    for p in roster.people:
        base = {
            "employee_no": p.employee_no,
            "name": p.name,
            "email": p.email,
            "unit": unit_name(p.unit_code) if p.unit_code else "",
            "party_member": "中共党员" if p.party_member else "群众",
            "branch": p.branch_code or "",
        }
        spans: dict[tuple[dt.date | None, dt.date | None], list[str]] = {}
        for t in p.tenures:
            spans.setdefault((t.start, t.end), []).append(t.position)
        if not spans:
            rows.append({**base, "positions": "", "tenure_start": "", "tenure_end": ""})
        for (start, end), codes in spans.items():
            rows.append(
                {
                    **base,
                    "positions": ";".join(codes),
                    "tenure_start": start.isoformat() if start else "",
                    "tenure_end": end.isoformat() if end else "",
                }
            )
    return rows
