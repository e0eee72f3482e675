"""The rule kinds as pure functions: (rule, person, windows, facts) → ``RuleResult``.

The compliance service (``compliance.py``) does the counting in SQL and hands each function only
pre-aggregated facts; nothing here touches a database or Flask, so each rule kind is tested on plain
values (tests/unit/compliance/test_rules.py) and the worker and the pages share one judgement.

How a rule is judged for one person in one semester (docs/decisions.md K-1 … K-3):

- The rule applies when the person holds, at some time during the semester, one of the rule's positions.
  Its *windows* are those tenures intersected with the semester; a position held for part of the semester
  still counts, with the full quota, and the result says so (``partial`` and the windows' dates).
- ``min_count`` (O-1, O-2, O-4, O-5, O-7, O-8): ``count`` observations (or patrols) dated inside the windows.
- ``each_course`` (O-3): every listed course (the 思政 required courses) taught inside the windows observed
  at least once; a course observed twice is covered once.
- ``tenure_coverage`` (O-6): every teacher of the unit observed within one term of office, which may span
  several semesters; progress = teachers observed / teachers teaching.
- ``per_month`` (O-9): ``count`` activities in every calendar month the windows touch on a teaching day
  (Monday to Friday, not a holiday); at a checkpoint inside the semester a month still under way is not
  owed yet.
- ``in_scope_share`` (O-10): the share of observations inside the person's own scope; informative, so it is
  never "short".

Explanations are English msgids with ``%(name)s`` parameters: the pages translate them, the CLI and JSON
print them in English.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lti_tool.i18n import N_
from lti_tool.policy.schema import Rule
from lti_tool.timetable.teaching_days import teaching_months

OK = "ok"
SHORT = "short"
NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True, order=True)
class Window:
    """A closed date interval [start, end]."""

    start: dt.date
    end: dt.date

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def clip(start: dt.date | None, end: dt.date | None, period: Window) -> Window | None:
    """A tenure (open ends allowed) intersected with ``period``; ``None`` when they do not meet."""
    lo = max(start, period.start) if start else period.start
    hi = min(end, period.end) if end else period.end
    return Window(lo, hi) if lo <= hi else None


def merge(windows: Iterable[Window]) -> tuple[Window, ...]:
    """Union of intervals as sorted, disjoint windows (two tenures of one rule's positions may overlap)."""
    out: list[Window] = []
    for w in sorted(windows):
        if out and w.start <= out[-1].end + dt.timedelta(days=1):
            if w.end > out[-1].end:
                out[-1] = Window(out[-1].start, w.end)
        else:
            out.append(w)
    return tuple(out)


def months_of(windows: Iterable[Window], holidays: Collection[dt.date] = ()) -> list[tuple[int, int]]:
    """Calendar months (year, month) holding a teaching day (Monday to Friday, not a holiday) inside any
    window, in order: a month the windows touch only on weekends or holidays is not owed (O-9; the one
    definition, ``timetable.teaching_days``, which the patrol page reads too)."""
    return teaching_months(((w.start, w.end) for w in windows), holidays)


def month_end(month: tuple[int, int]) -> dt.date:
    """The last day of a calendar month (year, month)."""
    y, m = (month[0] + 1, 1) if month[1] == 12 else (month[0], month[1] + 1)
    return dt.date(y, m, 1) - dt.timedelta(days=1)


def month_label(month: tuple[int, int]) -> str:
    return f"{month[0]:04d}-{month[1]:02d}"


@dataclass(frozen=True)
class Item:
    """Something a rule asks for: a course, a teacher or a month, with a code and a label to show."""

    code: str
    label: str


@dataclass(frozen=True)
class Subject:
    """Whom a rule is judged for."""

    person_id: int
    employee_no: str
    name: str


@dataclass(frozen=True)
class Facts:
    """Pre-aggregated counts for one person and one rule, already restricted to the rule's windows.

    The compliance service fills only what the rule's kind reads:

    - ``count``: distinct sessions observed (or patrols) counted for the rule (min_count, in_scope_share);
    - ``in_scope``: of those, sessions in the person's own scope (in_scope_share);
    - ``required_items`` / ``covered``: courses taught or teachers teaching, and the codes observed
      (each_course, tenure_coverage); ``covered`` may hold codes that are not required;
    - ``per_month``: activities per (year, month) (per_month).
    """

    count: int = 0
    in_scope: int = 0
    required_items: tuple[Item, ...] = ()
    covered: frozenset[str] = frozenset()
    per_month: Mapping[tuple[int, int], int] = field(default_factory=dict)
    holidays: frozenset[dt.date] = frozenset()
    """per_month: the semester's holidays (a month with no teaching day in the windows is not owed)."""
    checkpoint: dt.date | None = None
    """per_month: the day a checkpoint inside the semester judges as of (a bulletin's ``as_of``): a month
    that ends after it is still under way, owed only from its last day (like a reception week)."""


@dataclass(frozen=True)
class RuleResult:
    """One person's standing against one rule in one period."""

    person_id: int
    employee_no: str
    name: str
    rule_id: str
    kind: str
    required: int
    done: int
    remaining: int
    status: str
    """``ok`` | ``short`` | ``not_applicable``."""
    missing: tuple[Item, ...] = ()
    explanation: str = ""
    """An English msgid with ``%(name)s`` parameters from ``params``."""
    params: Mapping[str, Any] = field(default_factory=dict)
    windows: tuple[Window, ...] = ()
    """Where the rule applied: tenure ∩ semester (for O-6: the term of office up to the semester's end)."""
    partial: bool = False
    """The position was held for only part of the period: shown next to the result."""
    informative: bool = False
    share: float | None = None
    target: float | None = None
    below_target: bool = False
    source: str = ""
    positions: tuple[str, ...] = ()
    """Codes of the person's positions through which the rule applies."""
    group: str = ""

    @property
    def explanation_text(self) -> str:
        return self.explanation % dict(self.params) if self.params else self.explanation

    @property
    def progress(self) -> float:
        """0..1 for progress bars."""
        if self.informative:
            return self.share or 0.0
        if self.required <= 0:
            return 1.0
        return min(1.0, self.done / self.required)

    @property
    def progress_percent(self) -> int:
        return round(self.progress * 100)

    @property
    def window_start(self) -> dt.date | None:
        return self.windows[0].start if self.windows else None

    @property
    def window_end(self) -> dt.date | None:
        return self.windows[-1].end if self.windows else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "employee_no": self.employee_no,
            "name": self.name,
            "rule": self.rule_id,
            "kind": self.kind,
            "required": self.required,
            "done": self.done,
            "remaining": self.remaining,
            "status": self.status,
            "missing": [m.label for m in self.missing],
            "missing_codes": [m.code for m in self.missing],
            "explanation": self.explanation_text,
            "partial_tenure": self.partial,
            "windows": [w.to_dict() for w in self.windows],
            "informative": self.informative,
            "share": self.share,
            "target": self.target,
            "below_target": self.below_target,
            "positions": list(self.positions),
            "group": self.group,
            "source": self.source,
        }


def _result(
    rule: Rule,
    who: Subject,
    windows: tuple[Window, ...],
    period: Window,
    *,
    required: int,
    done: int,
    status: str,
    missing: Iterable[Item] = (),
    explanation: str = "",
    params: Mapping[str, Any] | None = None,
    **extra: Any,
) -> RuleResult:
    return RuleResult(
        person_id=who.person_id,
        employee_no=who.employee_no,
        name=who.name,
        rule_id=rule.id,
        kind=rule.kind,
        required=required,
        done=done,
        remaining=0 if extra.get("informative") else max(0, required - done),
        status=status,
        missing=tuple(missing),
        explanation=explanation,
        params=dict(params or {}),
        windows=windows,
        partial=extra.pop("partial", is_partial(windows, period)),
        source=rule.source,
        **extra,
    )


def _coverage(
    rule: Rule,
    who: Subject,
    windows: tuple[Window, ...],
    period: Window,
    *,
    required: int,
    missing: list[Item],
    explanation: str,
    params: Mapping[str, Any] | None = None,
    **extra: Any,
) -> RuleResult:
    """A rule met when nothing required is missing (O-3, O-6, O-9): done is what is not missing, and the
    explanation gets ``done``, ``required`` and the missing items' labels."""
    done = required - len(missing)
    labels = "、".join(m.label for m in missing)
    return _result(
        rule,
        who,
        windows,
        period,
        required=required,
        done=done,
        status=SHORT if missing else OK,
        missing=missing,
        explanation=explanation,
        params={**(params or {}), "done": done, "required": required, "missing": labels},
        **extra,
    )


def is_partial(windows: tuple[Window, ...], period: Window) -> bool:
    return windows != (period,)


def min_count(
    rule: Rule, who: Subject, windows: tuple[Window, ...], period: Window, facts: Facts
) -> RuleResult:
    """O-1, O-2, O-4, O-5, O-7, O-8: at least ``rule.count`` counted activities inside the windows."""
    done = facts.count
    status = OK if done >= rule.count else SHORT
    if rule.activity == "patrol":
        msg = N_("%(done)s of %(required)s patrols done.")
    elif rule.courses == "ideological":
        msg = N_("%(done)s of %(required)s observations of ideological-political (思政) courses done.")
    else:
        msg = N_("%(done)s of %(required)s observations done.")
    return _result(
        rule,
        who,
        windows,
        period,
        required=rule.count,
        done=done,
        status=status,
        explanation=msg,
        params={"done": done, "required": rule.count},
    )


def each_course(
    rule: Rule, who: Subject, windows: tuple[Window, ...], period: Window, facts: Facts
) -> RuleResult:
    """O-3: each listed course taught in the windows observed at least once (twice still covers it once)."""
    required = facts.required_items
    if not required:
        return _result(
            rule,
            who,
            windows,
            period,
            required=0,
            done=0,
            status=NOT_APPLICABLE,
            explanation=N_("No ideological-political (思政) required course is taught in this period."),
        )
    missing = [c for c in required if c.code not in facts.covered]
    if missing:
        msg = N_(
            "%(done)s of %(required)s ideological-political (思政) required courses observed; "
            "not yet: %(missing)s."
        )
    else:
        msg = N_("All %(required)s ideological-political (思政) required courses observed.")
    return _coverage(rule, who, windows, period, required=len(required), missing=missing, explanation=msg)


def tenure_coverage(
    rule: Rule,
    who: Subject,
    windows: tuple[Window, ...],
    period: Window,
    facts: Facts,
    *,
    term: Window | None = None,
    term_open: bool = False,
    last_semester: bool = False,
) -> RuleResult:
    """O-6: every teacher teaching in the unit during the term of office observed within that term.

    ``windows`` is the term of office up to the end of ``period`` (the evaluated semester); ``term`` is the
    whole term as recorded, ``term_open`` when it has no end date. While the term continues past the
    semester, a gap is still "short" (the duty is not met yet), and the explanation says the term goes on;
    ``last_semester``: the term ends in the break after this semester (no semester starts before its end),
    so this result is the term's final one.
    """
    required = facts.required_items
    term = term or (Window(windows[0].start, windows[-1].end) if windows else period)
    params: dict[str, Any] = {
        "term_start": term.start.isoformat(),
        "term_end": "" if term_open else term.end.isoformat(),
    }
    partial = not (term.start <= period.start and (term_open or term.end >= period.end))
    if not required:
        return _result(
            rule,
            who,
            windows,
            period,
            required=0,
            done=0,
            status=NOT_APPLICABLE,
            explanation=N_("Nobody teaches the unit's courses in this term of office so far."),
            params=params,
            partial=partial,
        )
    missing = [t for t in required if t.code not in facts.covered]
    ongoing = not last_semester and (term_open or term.end > period.end)
    if not missing:
        msg = N_("All %(required)s teachers of this term of office (from %(term_start)s) observed.")
    elif ongoing:
        msg = N_(
            "%(done)s of %(required)s teachers of this term of office (from %(term_start)s) observed; "
            "the term continues. Not yet: %(missing)s."
        )
    else:
        msg = N_(
            "%(done)s of %(required)s teachers of the term of office %(term_start)s–%(term_end)s "
            "observed. Not observed: %(missing)s."
        )
    return _coverage(
        rule,
        who,
        windows,
        period,
        required=len(required),
        missing=missing,
        explanation=msg,
        params=params,
        partial=partial,
    )


def per_month(
    rule: Rule, who: Subject, windows: tuple[Window, ...], period: Window, facts: Facts
) -> RuleResult:
    """O-9: at least ``rule.count`` activities in every calendar month touched by the windows.

    At a checkpoint inside the semester (``facts.checkpoint``), a month still under way is owed only once it
    has ended: until then it is left out, unless its activity is already done (then it counts as done).
    """
    cut = facts.checkpoint
    months = [
        m
        for m in months_of(windows, facts.holidays)
        if cut is None or month_end(m) <= cut or facts.per_month.get(m, 0) >= rule.count
    ]
    if not months:
        return _result(rule, who, windows, period, required=0, done=0, status=NOT_APPLICABLE)
    missing = [Item(month_label(m), month_label(m)) for m in months if facts.per_month.get(m, 0) < rule.count]
    noun = "patrol" if rule.activity == "patrol" else "observation"
    if missing:
        msg = (
            N_("%(done)s of %(required)s months with a patrol; missing: %(missing)s.")
            if noun == "patrol"
            else N_("%(done)s of %(required)s months with an observation; missing: %(missing)s.")
        )
    else:
        msg = (
            N_("A patrol in each of the %(required)s months.")
            if noun == "patrol"
            else N_("An observation in each of the %(required)s months.")
        )
    return _coverage(rule, who, windows, period, required=len(months), missing=missing, explanation=msg)


def in_scope_share(
    rule: Rule, who: Subject, windows: tuple[Window, ...], period: Window, facts: Facts
) -> RuleResult:
    """O-10: share of observations of the person's own college's teachers or students (三.2).

    Informative: "主要选择" is guidance, not a quota, so the status is never "short"; ``required`` is the
    number of observations, ``done`` those in scope, and ``below_target`` flags a share under the target.
    """
    total, inside = facts.count, min(facts.in_scope, facts.count)
    target = rule.target
    if total == 0:
        return _result(
            rule,
            who,
            windows,
            period,
            required=0,
            done=0,
            status=NOT_APPLICABLE,
            explanation=N_("No observations yet, so no in-scope share."),
            informative=True,
            target=target,
        )
    share = inside / total
    below = target is not None and share < target
    msg = (
        N_(
            "%(done)s of %(required)s observations in the own college's scope (%(percent)s%%), "
            "below the target of %(target)s%%."
        )
        if below
        else N_("%(done)s of %(required)s observations in the own college's scope (%(percent)s%%).")
    )
    return _result(
        rule,
        who,
        windows,
        period,
        required=total,
        done=inside,
        status=OK,
        explanation=msg,
        params={
            "done": inside,
            "required": total,
            "percent": round(share * 100),
            "target": round((target or 0) * 100),
        },
        informative=True,
        share=share,
        target=target,
        below_target=below,
    )


RuleFunction = Callable[..., RuleResult]

RULE_FUNCTIONS: dict[str, RuleFunction] = {
    "min_count": min_count,
    "each_course": each_course,
    "tenure_coverage": tenure_coverage,
    "per_month": per_month,
    "in_scope_share": in_scope_share,
}


def evaluate(
    rule: Rule, who: Subject, windows: tuple[Window, ...], period: Window, facts: Facts, **kwargs: Any
) -> RuleResult:
    """Judge ``rule`` with the function of its kind (the schema guarantees the kind is known)."""
    return RULE_FUNCTIONS[rule.kind](rule, who, windows, period, facts, **kwargs)
