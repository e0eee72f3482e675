"""The policy file's schema: parsing TOML into frozen dataclasses, naming the bad key and rule ID.

Code knows only a few rule kinds (``RULE_KINDS``); numbers, positions, course kinds and the form are
data. ``load_policy`` never returns a half-valid policy: any problem raises ``PolicyError`` with every
message found, each naming the rule ID and the field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_POLICY_PATH = Path(__file__).with_name("default_policy.toml")

RULE_KINDS = {
    "min_count": "at least N observations per semester",
    "each_course": "at least one observation of each listed course per semester",
    "tenure_coverage": "every teacher of a unit observed within a term of office",
    "per_month": "at least N activities in each month of the semester",
    "in_scope_share": "share of observations in the observer's own scope (informative)",
    "contact_points": "hold contact points of given kinds, min..max each, optionally rotated yearly",
    "contact_count": "at least N contact activities of given kinds at given targets",
    "summary_submitted": "the year-end contact summary submitted by the deadline",
    "reception_days": "a reception record for every teaching week the school office scheduled the person for",
}
COURSE_SETS = {"ideological"}
UNIT_KINDS = {"college", "marxism_school", "department", "teaching_office", "lab", "party_branch"}
"""The values of ``directory.models.UnitKind`` (kept here so loading a policy needs no models)."""
ACTIVITIES = {"observation", "patrol"}
POINT_KINDS = {
    "college",
    "teaching_office",
    "lab",
    "student_class",
    "party_branch",
    "dormitory",
    "club",
    "friend",
}
"""The contact-point kinds of ``contacts.models`` (docs/contacts-design.md), kept here like ``UNIT_KINDS``."""
RECORD_KINDS = {
    "visit",
    "work_report",
    "consultation",
    "branch_activity",
    "meeting",
    "lecture",
    "symposium",
    "talk",
    "friend",
    "retiree_briefing",
    "other",
}
"""The contact-record kinds of ``contacts.models``."""
CONTACT_TARGETS = {
    "any": "any target",
    "contacted_colleges": "a college the person contacts that academic year, or a unit or class under it",
    "own_points": "one of the person's own contact points of ``point_kinds``",
    "own_college": "a unit under the person's own college (their branch excluded with exclude_own_branch)",
}
"""Where a ``contact_count`` rule's activities must take place (``at``)."""
PERIODS = {"semester", "academic_year"}
CONTACT_RULE_KINDS = frozenset({"contact_points", "contact_count", "summary_submitted", "reception_days"})
SYSTEMS = ("observation", "contact")


class PolicyError(ValueError):
    """A policy file that cannot be used; ``problems`` names each bad key with its rule ID."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class PositionDef:
    code: str
    name: str
    group: str
    name_en: str = ""

    def display(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") and self.name_en else self.name


@dataclass(frozen=True)
class PointRequirement:
    """contact_points: hold between ``min`` and ``max`` (0 = no upper bound) contact points of ``kinds``."""

    kinds: tuple[str, ...]
    label: str
    min: int = 1
    max: int = 0
    label_en: str = ""


@dataclass(frozen=True)
class ContactSettings:
    """The ``[contact]`` table: settings of the grassroots-contact system (Attachment 1)."""

    academic_year_start: str = "08-01"
    """MM-DD on which an academic year begins (lti_tool/academic_year.py)."""
    branch_secretary_positions: frozenset[str] = frozenset()
    """Positions whose holders are the secretary of their own party branch (C-3c): they confirm the contact
    leaders' attendance of its activities."""
    summary_deadline: str = "07-15"
    """MM-DD of C-7b's deadline: the first such day on or after the academic year's start."""
    switches: Mapping[str, bool] = field(default_factory=dict)
    """Named yes/no decisions a rule can depend on (``switch`` / ``switch_positions``)."""
    work_areas: tuple[Choice, ...] = ()
    """The areas of the school leaders' division of work (分工: teaching, student affairs, logistics …):
    the school office says each year who is in charge of each, and a letter goes to that leader (C-6b)."""
    letter_answer_days: int = 15
    """C-6b: the deadline the school office suggests when it routes a letter (days after routing)."""
    proposal_answer_days: int = 30
    """C-6c: the deadline suggested for a proposal's handling unit (days after assignment)."""

    def area_label(self, code: str, locale: str = "zh_CN") -> str:
        for area in self.work_areas:
            if area.code == code:
                return area.display(locale)
        return code


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    positions: tuple[str, ...]
    source: str
    count: int = 1
    courses: str | None = None
    """``ideological``: only observations of 思政 required courses count (O-3, O-8)."""
    include_supervision: bool = False
    """Whether records done as teaching supervision (教学督导) count. Only where the policy says observing
    "可与开展教学督导一并进行" (O-4, 二.2) does a supervision visit double as an observation."""
    activity: str = "observation"
    unit_kind: str | None = None
    target: float | None = None
    period: str = "semester"
    """``academic_year``: judged for the academic year the semester belongs to (C-1a, C-2a, C-7b)."""
    requires: tuple[PointRequirement, ...] = ()
    """contact_points: the kinds of contact point to hold, each with min..max (C-1a, C-2a)."""
    rotation: bool = False
    """contact_points: none of the points may repeat the previous academic year's (C-1a 轮换)."""
    activities: tuple[str, ...] = ()
    """contact_count: the record kinds that count (e.g. only ``visit`` for C-1b)."""
    at: str = "any"
    """contact_count: where the activity must be (``CONTACT_TARGETS``)."""
    point_kinds: tuple[str, ...] = ()
    """contact_count with ``at = "own_points"``: which of the person's contact points count."""
    confirmed_only: bool = False
    """contact_count: branch activities count only once the branch confirmed attendance (C-3c)."""
    party_members_only: bool = False
    """contact_count: people who are not party members have no such duty (C-3a, C-3b)."""
    party_member_positions: tuple[str, ...] = ()
    """contact_count with ``party_members_only``: the rule's positions that bind only a party member; holding
    any other of its positions binds whatever the roster's 政治面貌 says (C-3b: 「党组织负责人和党员院长」 —
    the party head always, the dean as a party member). Empty: every position binds party members only."""
    exclude_own_branch: bool = False
    """contact_count: the person's own party branch never counts (C-3b 交叉联系)."""
    activity_label: str = ""
    activity_label_en: str = ""
    """contact_count: the counted activity in words (shown as what is missing), e.g. 调研指导."""

    @property
    def system(self) -> str:
        """``contact`` for the grassroots-contact system's rules (C-*, 附件1), else ``observation``: the
        engine counts both; each system's report shows its own."""
        return "contact" if self.kind in CONTACT_RULE_KINDS else "observation"

    @property
    def informative(self) -> bool:
        """Informative rules (O-10) report a share and never make anybody "short"."""
        return self.kind == "in_scope_share"

    def plain(self, locale: str = "zh_CN") -> str:
        """What the rule asks, in a few words a person understands ("O-3 每门思政必修课至少听1次").

        Built from the rule's kind and numbers, so a policy change changes it too; a kind this function does
        not know falls back to the policy's own clause (``source``).
        """
        en = locale.startswith("en")
        patrol = self.activity == "patrol"
        ideological = self.courses == "ideological"
        n = self.count
        if self.kind == "min_count":
            if en:
                what = (
                    "patrol"
                    if patrol
                    else ("ideological-course observation" if ideological else "observation")
                )
                return f"at least {n} {what}{'s' if n != 1 else ''} per semester"
            if patrol:
                return f"每学期至少巡查{n}次"
            return f"每学期至少听{n}次{'思政课' if ideological else '课'}"
        if self.kind == "each_course":
            return (
                "each required ideological course observed at least once" if en else "每门思政必修课至少听1次"
            )
        if self.kind == "tenure_coverage":
            return "every teacher observed within the term of office" if en else "任期内听课覆盖全部授课教师"
        if self.kind == "per_month":
            if en:
                return f"at least {n} {'patrol' if patrol else 'observation'}{'s' if n != 1 else ''} a month"
            return f"每月至少{'巡查' if patrol else '听课'}{n}次"
        if self.kind == "in_scope_share":
            target = f"{self.target * 100:.0f}%" if self.target is not None else ""
            if en:
                return (
                    "mainly own college's courses"
                    + (f" (target {target})" if target else "")
                    + ", informative"
                )
            return "主要听本院（部）的课" + (f"（目标 {target}）" if target else "") + "，参考指标"
        if self.kind == "contact_points":
            # a label may already say 联系 ("联系教学院（部）"): said once, not "每学年联系联系…"
            held = "、".join(
                f"{q.label.removeprefix('联系')}{q.min}–{q.max}个"
                if q.max
                else f"{q.label.removeprefix('联系')}至少{q.min}个"
                for q in self.requires
            )
            if en:
                held_en = ", ".join(
                    f"{q.label_en or q.label} {q.min}–{q.max}"
                    if q.max
                    else f"{q.label_en or q.label} {q.min}+"
                    for q in self.requires
                )
                return f"contact points each academic year: {held_en}" + (
                    ", rotated yearly" if self.rotation else ""
                )
            return f"每学年联系{held}" + ("，每年轮换" if self.rotation else "")
        if self.kind == "contact_count":
            what = self.activity_label or "、".join(self.activities)
            if en:
                return f"at least {n} a semester: {self.activity_label_en or what}"
            return f"每学期至少{n}次：{what}"
        if self.kind == "summary_submitted":
            return "the year-end contact summary, on time" if en else "按时提交年度联系基层工作总结"
        if self.kind == "reception_days":
            return "a reception record for every week scheduled" if en else "每个排定的接待周都有接待记录"
        return self.source

    def titled(self, locale: str = "zh_CN") -> str:
        """``O-3 每门思政必修课至少听1次``: the ID with what it means, never the ID alone."""
        return f"{self.id} {self.plain(locale)}"


@dataclass(frozen=True)
class Choice:
    code: str
    label: str
    label_en: str
    score: int = 0
    source: str = ""

    def display(self, locale: str) -> str:
        return self.label_en if locale.startswith("en") and self.label_en else self.label


@dataclass(frozen=True)
class Policy:
    version: int
    name: str
    positions: dict[str, PositionDef]
    groups: dict[str, str]
    rules: tuple[Rule, ...]
    ideological_course_kinds: frozenset[str]
    scale: tuple[Choice, ...]
    dimensions: tuple[Choice, ...]
    patrol_checklist: tuple[Choice, ...]
    problem_categories: tuple[Choice, ...]
    correction_window_days: int
    teachers_see_observer_names: bool
    problem_overdue_days: int
    reminder_weeks: tuple[int, ...]
    contact: ContactSettings = field(default_factory=ContactSettings)
    text: str = field(repr=False, default="")
    groups_en: dict[str, str] = field(default_factory=dict)
    """English names of the groups (``[groups]`` entries written as ``{ name = …, name_en = … }``)."""
    organization_reads_personal_files: bool = False
    """Whether the organization department opens other people's personal archives (observation and
    contact) and the problems raised in records with their handling notes. Its job needs compliance, the
    reports and the cadre file, so the default is no (issue 13 §7)."""

    def group_name(self, code: str, locale: str = "zh_CN") -> str:
        if locale.startswith("en") and self.groups_en.get(code):
            return self.groups_en[code]
        return self.groups.get(code, code)

    def position_name(self, code: str, locale: str = "zh_CN") -> str:
        definition = self.positions.get(code)
        return definition.display(locale) if definition else code

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def reads_personal_files(self, persona: str) -> bool:
        """Whether ``persona`` may open other people's personal archives and problems with their handling
        notes where its pages reach them: the organization department only when the policy grants it
        (``organization_reads_personal_files``); other personas as their pages decide."""
        return persona != "organization" or self.organization_reads_personal_files

    def rules_for(self, position_codes: set[str]) -> list[Rule]:
        return [r for r in self.rules if position_codes & set(r.positions)]

    def observing_positions(self) -> set[str]:
        """Positions with a duty to observe classes or to patrol: these people get the observer persona."""
        return {p for r in self.rules for p in r.positions}

    def patrol_positions(self) -> set[str]:
        return {p for r in self.rules if r.activity == "patrol" for p in r.positions}

    def is_ideological(self, course_kind: str | None) -> bool:
        return course_kind is not None and course_kind.strip() in self.ideological_course_kinds

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


def _choices(raw: Any, where: str, problems: list[str], *, need_score: bool = False) -> tuple[Choice, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append(f"{where}: must be a non-empty list")
        return ()
    out: list[Choice] = []
    seen: set[str] = set()
    for i, item in enumerate(raw, start=1):
        if not isinstance(item, dict) or not item.get("code") or not item.get("label"):
            problems.append(f"{where}[{i}]: needs 'code' and 'label'")
            continue
        code = str(item["code"])
        if code in seen:
            problems.append(f"{where}[{i}]: duplicate code '{code}'")
        seen.add(code)
        score = item.get("score", 0)
        if need_score and not isinstance(score, int):
            problems.append(f"{where}[{i}].score: must be an integer")
            score = 0
        out.append(
            Choice(
                code, str(item["label"]), str(item.get("label_en", "")), score, str(item.get("source", ""))
            )
        )
    return tuple(out)


def _one_of(value: Any, options: Iterable[str]) -> bool:
    """``value in options`` that tolerates any TOML type (a list or table is simply not one of them)."""
    return isinstance(value, str) and value in options


RULE_KEYS = {
    "id",
    "kind",
    "positions",
    "source",
    "count",
    "courses",
    "include_supervision",
    "activity",
    "unit_kind",
    "target",
    "period",
    "requires",
    "rotation",
    "activities",
    "at",
    "point_kinds",
    "confirmed_only",
    "party_members_only",
    "party_member_positions",
    "exclude_own_branch",
    "activity_label",
    "activity_label_en",
    "switch",
    "switch_positions",
}
KIND_KEYS = {
    "min_count": {"count", "courses", "include_supervision", "activity"},
    "each_course": {"courses", "include_supervision"},
    "tenure_coverage": {"unit_kind"},
    "per_month": {"count", "courses", "include_supervision", "activity"},
    "in_scope_share": {"target", "include_supervision"},
    "contact_points": {"period", "requires", "rotation"},
    "contact_count": {
        "count",
        "period",
        "activities",
        "at",
        "point_kinds",
        "confirmed_only",
        "party_members_only",
        "party_member_positions",
        "exclude_own_branch",
        "activity_label",
        "activity_label_en",
    },
    "summary_submitted": {"period"},
    "reception_days": set(),
}
ANY_KIND_KEYS = {"id", "kind", "positions", "source", "switch", "switch_positions"}
DEFAULT_PERIOD = {"contact_points": "academic_year", "summary_submitted": "academic_year"}
"""Parameters each kind reads: a parameter its kind ignores is an error, not a silent no-op."""


def _rule(
    raw: Any,
    index: int,
    positions: dict[str, PositionDef],
    problems: list[str],
    switches: Mapping[str, bool] | None = None,
) -> Rule | None:
    rid = raw.get("id") if isinstance(raw, dict) else None
    where = f"rule {rid}" if isinstance(rid, str) and rid else f"rules[{index}]"
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a table")
        return None
    if not isinstance(rid, str) or not rid.strip():
        problems.append(f"{where}: missing 'id' (a text such as \"O-1\")")
        rid = None
    kind = raw.get("kind")
    if not _one_of(kind, RULE_KINDS):
        problems.append(f"{where}: 'kind' must be one of {', '.join(RULE_KINDS)} (got {kind!r})")
        kind = None
    pos = raw.get("positions")
    if not isinstance(pos, list) or not pos:
        problems.append(f"{where}: 'positions' must be a non-empty list")
        pos = []
    for p in pos:
        if not _one_of(p, positions):
            problems.append(f"{where}: 'positions' names unknown position {p!r}")
    count = raw.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        problems.append(f"{where}: 'count' must be a positive integer (got {count!r})")
        count = 1
    courses = raw.get("courses")
    if courses is not None and not _one_of(courses, COURSE_SETS):
        problems.append(f"{where}: 'courses' must be one of {sorted(COURSE_SETS)} (got {courses!r})")
        courses = None
    if kind == "each_course" and "courses" not in raw:
        problems.append(f"{where}: kind each_course needs 'courses'")
    activity = raw.get("activity", "observation")
    if not _one_of(activity, ACTIVITIES):
        problems.append(f"{where}: 'activity' must be one of {sorted(ACTIVITIES)} (got {activity!r})")
        activity = "observation"
    if activity == "patrol" and courses is not None:
        problems.append(f"{where}: 'courses' cannot be combined with activity = \"patrol\"")
    unit_kind = raw.get("unit_kind")
    if kind == "tenure_coverage" and "unit_kind" not in raw:
        problems.append(f"{where}: kind tenure_coverage needs 'unit_kind'")
    if unit_kind is not None and not _one_of(unit_kind, UNIT_KINDS):
        problems.append(f"{where}: 'unit_kind' must be one of {sorted(UNIT_KINDS)} (got {unit_kind!r})")
        unit_kind = None
    target = raw.get("target")
    if target is not None and (
        isinstance(target, bool) or not isinstance(target, int | float) or not 0 <= target <= 1
    ):
        problems.append(f"{where}: 'target' must be a number between 0 and 1 (got {target!r})")
        target = None
    include_sup = raw.get("include_supervision", False)
    if not isinstance(include_sup, bool):
        problems.append(f"{where}: 'include_supervision' must be true or false")
        include_sup = False
    source = raw.get("source", "")
    if not isinstance(source, str):
        problems.append(f"{where}: 'source' must be a text (the clause of the policy it implements)")
        source = ""
    for key in raw:
        if key not in RULE_KEYS:
            problems.append(f"{where}: unknown key {key!r}")
        elif kind and key not in ANY_KIND_KEYS | KIND_KEYS[kind]:
            problems.append(f"{where}: key {key!r} does not apply to kind {kind}")
    contact = _contact_params(raw, where, kind, positions, switches or {}, problems)
    pos = [*pos, *(p for p in contact.pop("extra_positions") if p not in pos)]
    if not rid or not kind:
        return None
    return Rule(
        id=rid.strip(),
        kind=kind,
        positions=tuple(pos),
        source=source,
        count=count,
        courses=courses,
        include_supervision=include_sup,
        activity=str(activity),
        unit_kind=unit_kind,
        target=float(target) if target is not None else None,
        **contact,
    )


def _str_list(
    value: Any, options: Iterable[str], where: str, key: str, problems: list[str]
) -> tuple[str, ...]:
    allowed = set(options)
    if not isinstance(value, list) or not value or not all(_one_of(v, allowed) for v in value):
        problems.append(f"{where}: '{key}' must be a non-empty list of {sorted(allowed)} (got {value!r})")
        return ()
    return tuple(value)


def _flag(raw: dict[str, Any], key: str, where: str, problems: list[str]) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        problems.append(f"{where}: '{key}' must be true or false")
        return False
    return value


def _contact_params(
    raw: dict[str, Any],
    where: str,
    kind: str | None,
    positions: dict[str, PositionDef],
    switches: Mapping[str, bool],
    problems: list[str],
) -> dict[str, Any]:
    """The contact system's rule parameters (C-*), checked; ``extra_positions`` are those a policy switch
    turned on (``switch = "name"`` in ``[contact.switches]`` adds ``switch_positions`` when true)."""
    out: dict[str, Any] = {"extra_positions": []}
    period = raw.get("period", DEFAULT_PERIOD.get(kind or "", "semester"))
    if not _one_of(period, PERIODS):
        problems.append(f"{where}: 'period' must be one of {sorted(PERIODS)} (got {period!r})")
        period = "semester"
    out["period"] = period
    if kind == "contact_points":
        reqs: list[PointRequirement] = []
        raw_reqs = raw.get("requires")
        if not isinstance(raw_reqs, list) or not raw_reqs:
            problems.append(
                f"{where}: kind contact_points needs 'requires' (a list of {{kinds, label, min, max}})"
            )
            raw_reqs = []
        for i, item in enumerate(raw_reqs, start=1):
            at = f"{where}: requires[{i}]"
            if not isinstance(item, dict):
                problems.append(f"{at}: must be a table")
                continue
            unknown = set(item) - {"kinds", "label", "label_en", "min", "max"}
            if unknown:
                problems.append(f"{at}: unknown key {sorted(unknown)[0]!r}")
            kinds = _str_list(item.get("kinds"), POINT_KINDS, at, "kinds", problems)
            label = item.get("label")
            if not isinstance(label, str) or not label.strip():
                problems.append(f"{at}: needs 'label' (the kind of contact point in words)")
                label = ""
            lo, hi = item.get("min", 1), item.get("max", 0)
            if not isinstance(lo, int) or isinstance(lo, bool) or lo < 1:
                problems.append(f"{at}: 'min' must be a positive integer (got {lo!r})")
                lo = 1
            if not isinstance(hi, int) or isinstance(hi, bool) or hi < 0 or (hi and hi < lo):
                problems.append(f"{at}: 'max' must be 0 (no limit) or at least 'min' (got {hi!r})")
                hi = 0
            reqs.append(
                PointRequirement(kinds, str(label).strip(), lo, hi, str(item.get("label_en", "")).strip())
            )
        out["requires"] = tuple(reqs)
        out["rotation"] = _flag(raw, "rotation", where, problems)
    if kind == "contact_count":
        out["activities"] = _str_list(raw.get("activities"), RECORD_KINDS, where, "activities", problems)
        at = raw.get("at", "any")
        if not _one_of(at, CONTACT_TARGETS):
            problems.append(f"{where}: 'at' must be one of {sorted(CONTACT_TARGETS)} (got {at!r})")
            at = "any"
        out["at"] = at
        if at == "own_points":
            out["point_kinds"] = _str_list(
                raw.get("point_kinds"), POINT_KINDS, where, "point_kinds", problems
            )
        elif "point_kinds" in raw:
            problems.append(f"{where}: 'point_kinds' applies only with at = \"own_points\"")
        for key in ("confirmed_only", "party_members_only", "exclude_own_branch"):
            out[key] = _flag(raw, key, where, problems)
        if "party_member_positions" in raw:
            conditional = raw["party_member_positions"]
            raw_positions = raw.get("positions")
            listed: list[Any] = raw_positions if isinstance(raw_positions, list) else []
            if not out["party_members_only"]:
                problems.append(
                    f"{where}: 'party_member_positions' applies only with party_members_only = true"
                )
            elif not isinstance(conditional, list) or not all(
                isinstance(p, str) and p in listed for p in conditional
            ):
                problems.append(
                    f"{where}: 'party_member_positions' must be a list of the rule's positions "
                    f"(got {conditional!r})"
                )
            else:
                out["party_member_positions"] = tuple(conditional)
        label = raw.get("activity_label", "")
        if not isinstance(label, str):
            problems.append(f"{where}: 'activity_label' must be a text")
            label = ""
        out["activity_label"] = label.strip()
        label_en = raw.get("activity_label_en", "")
        if not isinstance(label_en, str):
            problems.append(f"{where}: 'activity_label_en' must be a text")
            label_en = ""
        out["activity_label_en"] = label_en.strip()
    switch = raw.get("switch")
    if switch is not None or "switch_positions" in raw:
        if not _one_of(switch, switches):
            problems.append(
                f"{where}: 'switch' must name one of [contact.switches] {sorted(switches)} (got {switch!r})"
            )
        extra = raw.get("switch_positions")
        if not isinstance(extra, list) or not extra:
            problems.append(f"{where}: 'switch' needs 'switch_positions' (positions added when it is on)")
            extra = []
        for p in extra:
            if not _one_of(p, positions):
                problems.append(f"{where}: 'switch_positions' names unknown position {p!r}")
        if isinstance(switch, str) and switches.get(switch):
            out["extra_positions"] = [p for p in extra if isinstance(p, str)]
    return out


def _month_day(value: Any, key: str, default: str, problems: list[str]) -> str:
    """``"08-01"`` stays ``"08-01"``; 29 February is refused (it would not exist every year)."""
    if value is None:
        return default
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        month, day = (int(part) for part in value.split("-"))
        return dt.date(2001, month, day).strftime("%m-%d")  # a non-leap year: the day exists every year
    except ValueError:
        problems.append(f"contact.{key}: must be MM-DD, e.g. 08-01 (got {value!r})")
        return default


def _contact_settings(
    raw: dict[str, Any], positions: dict[str, PositionDef], problems: list[str]
) -> ContactSettings:
    table = _table(raw, "contact", problems)
    known = {
        "academic_year_start",
        "summary_deadline",
        "branch_secretary_positions",
        "switches",
        "work_areas",
        "letter_answer_days",
        "proposal_answer_days",
    }
    for key in sorted(set(table) - known):
        problems.append(f"contact: unknown key {key!r}")
    secretaries = table.get("branch_secretary_positions", [])
    if not isinstance(secretaries, list) or not all(isinstance(p, str) for p in secretaries):
        problems.append("contact.branch_secretary_positions: must be a list of position codes")
        secretaries = []
    for code in secretaries:
        if code not in positions:
            problems.append(f"contact.branch_secretary_positions: unknown position {code!r}")
    switches = table.get("switches", {})
    if not isinstance(switches, dict) or not all(isinstance(v, bool) for v in switches.values()):
        problems.append("contact.switches: must be a table of true/false values")
        switches = {}
    areas = (
        _choices(table["work_areas"], "contact.work_areas", problems)
        if "work_areas" in table
        else DEFAULT_WORK_AREAS
    )
    days = {}
    for key, default in (("letter_answer_days", 15), ("proposal_answer_days", 30)):
        value = table.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 366:
            problems.append(f"contact.{key}: must be a number of days between 1 and 366 (got {value!r})")
            value = default
        days[key] = value
    return ContactSettings(
        work_areas=areas,
        **days,
        academic_year_start=_month_day(
            table.get("academic_year_start"), "academic_year_start", "08-01", problems
        ),
        branch_secretary_positions=frozenset(secretaries),
        summary_deadline=_month_day(table.get("summary_deadline"), "summary_deadline", "07-15", problems),
        switches=dict(switches),
    )


DEFAULT_WORK_AREAS = (
    Choice("teaching", "教学", "Teaching"),
    Choice("student_affairs", "学生工作", "Student affairs"),
    Choice("research", "科研", "Research"),
    Choice("personnel", "人事", "Personnel"),
    Choice("finance", "财务", "Finance"),
    Choice("logistics", "后勤", "Logistics"),
    Choice("security", "安全稳定", "Safety and security"),
    Choice("party_building", "党建与思政", "Party building and ideology"),
    Choice("other", "其他", "Other"),
)
"""Areas of the division of work when a policy file (an older version) has no ``[contact] work_areas``."""


def _table(raw: dict[str, Any], key: str, problems: list[str]) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        problems.append(f"{key}: must be a table ([{key}])")
        return {}
    return value


def parse_policy(text: str) -> Policy:
    """Parse and validate a policy file's text; raise ``PolicyError`` naming every problem."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError([f"not valid TOML: {exc}"]) from exc
    except RecursionError:  # tomllib recurses into nested arrays and tables
        raise PolicyError(["not valid TOML: nested too deeply"]) from None
    problems: list[str] = []
    version = raw.get("version")
    if not isinstance(version, int):
        problems.append("version: must be an integer")
    raw_groups = raw.get("groups", {})
    if not isinstance(raw_groups, dict):
        problems.append("groups: must be a table")
        raw_groups = {}
    groups: dict[str, str] = {}
    groups_en: dict[str, str] = {}
    for code, spec in raw_groups.items():  # "校领导" or { name = "校领导", name_en = "School leaders" }
        if isinstance(spec, dict):
            if not spec.get("name"):
                problems.append(f"groups.{code}: needs 'name'")
                continue
            groups[str(code)] = str(spec["name"])
            groups_en[str(code)] = str(spec.get("name_en", ""))
        else:
            groups[str(code)] = str(spec)
    positions: dict[str, PositionDef] = {}
    raw_positions = raw.get("positions")
    if not isinstance(raw_positions, dict) or not raw_positions:
        problems.append("positions: must be a non-empty table")
        raw_positions = {}
    for code, spec in raw_positions.items():
        if not isinstance(spec, dict) or not spec.get("name"):
            problems.append(f"positions.{code}: needs 'name'")
            continue
        group = str(spec.get("group", ""))
        if group and group not in groups:
            problems.append(f"positions.{code}.group: unknown group {group!r}")
        positions[code] = PositionDef(code, str(spec["name"]), group, str(spec.get("name_en", "")))
    rules: list[Rule] = []
    raw_rules = raw.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        problems.append("rules: must be a non-empty list of [[rules]] tables")
        raw_rules = []
    seen_ids: set[str] = set()
    contact = _contact_settings(raw, positions, problems)
    for i, item in enumerate(raw_rules, start=1):
        rule = _rule(item, i, positions, problems, contact.switches)
        if rule:
            if rule.id in seen_ids:
                problems.append(f"rule {rule.id}: duplicate id")
            seen_ids.add(rule.id)
            rules.append(rule)
    ideo = _table(raw, "ideological", problems).get("course_kinds")
    if not isinstance(ideo, list) or not all(isinstance(k, str) for k in ideo):
        problems.append("ideological.course_kinds: must be a list of course kind names")
        ideo = []
    form = _table(raw, "form", problems)
    scale = _choices(form.get("scale"), "form.scale", problems, need_score=True)
    dimensions = _choices(form.get("dimensions"), "form.dimensions", problems)
    checklist = _choices(_table(raw, "patrol", problems).get("checklist"), "patrol.checklist", problems)
    categories = _choices(
        _table(raw, "problems", problems).get("categories"), "problems.categories", problems
    )

    def _int(key: str, default: int) -> int:
        value = raw.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            problems.append(f"{key}: must be a non-negative integer (got {value!r})")
            return default
        return value

    window = _int("correction_window_days", 7)
    overdue = _int("problem_overdue_days", 7)
    see_names = raw.get("teachers_see_observer_names", True)
    if not isinstance(see_names, bool):
        problems.append("teachers_see_observer_names: must be true or false")
        see_names = True
    org_files = raw.get("organization_reads_personal_files", False)
    if not isinstance(org_files, bool):
        problems.append("organization_reads_personal_files: must be true or false")
        org_files = False
    weeks = raw.get("reminder_weeks", [])
    if not isinstance(weeks, list) or not all(isinstance(w, int) and w > 0 for w in weeks):
        problems.append("reminder_weeks: must be a list of positive week numbers")
        weeks = []
    if problems:
        raise PolicyError(problems)
    return Policy(
        version=int(version or 0),
        name=str(raw.get("name", "")),
        positions=positions,
        groups=groups,
        groups_en=groups_en,
        rules=tuple(rules),
        ideological_course_kinds=frozenset(k.strip() for k in ideo),
        scale=scale,
        dimensions=dimensions,
        patrol_checklist=checklist,
        problem_categories=categories,
        correction_window_days=window,
        teachers_see_observer_names=see_names,
        problem_overdue_days=overdue,
        reminder_weeks=tuple(weeks),
        contact=contact,
        text=text,
        organization_reads_personal_files=org_files,
    )


def default_policy_text() -> str:
    return DEFAULT_POLICY_PATH.read_text(encoding="utf-8")


_DEFAULT: Policy | None = None


def default_policy() -> Policy:
    """The shipped policy of this college, parsed once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = parse_policy(default_policy_text())
    return _DEFAULT
