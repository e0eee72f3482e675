"""The grassroots-contact system's rule kinds (C-1a … C-7b) as pure functions, beside ``rules.py``'s.

Same contract as the observation kinds: (rule, person, windows, period, facts) → ``RuleResult``; the
counting happens in SQL (the compliance service's contact part) and only pre-aggregated facts arrive here.
docs/policy-rules.md ("Grassroots-contact system") and docs/decisions.md P-7 … P-12 settle the conventions:

- ``contact_points`` (C-1a, C-2a), judged for the academic year: each requirement of the rule asks for
  ``min``..``max`` contact points of some kinds. With a ``max`` (C-1a: 1–2 colleges), ``done`` is the number
  held, short when under ``min``, over ``max`` or — with ``rotation`` — when a point repeats the previous
  academic year's; such points are stored and flagged, never refused. Without a ``max`` (C-2a: one teaching
  office or lab, one student class), ``done`` counts each requirement once it is met, and ``missing`` names
  the kind still missing.
- ``contact_count`` (C-1b, C-2b, C-3a, C-3b, C-4, C-5): at least ``count`` counted activities of the rule's
  kinds at the rule's targets inside the windows. ``missing`` names the targets not visited yet (the
  contacted college, the own contact point), else the activity; a rule for party members only is not
  applicable to anybody else (C-3a, C-3b).
- ``summary_submitted`` (C-7b), judged for the academic year: ok once submitted on or before the deadline;
  short when late, or missing once the deadline falls inside the evaluated semester or has passed in the
  break after it (the year's last semester); not applicable before, and not applicable to a leader who
  left office before the deadline and submitted none.
- ``reception_days`` (C-6a): every teaching week the school office scheduled the person for (inside their
  windows) needs its reception record; ``required`` is the weeks scheduled, ``done`` those recorded, short
  as soon as a week has ended unrecorded (``outreach.models.reception_week_state``, the one definition the
  roster page shows too); not applicable to a leader not scheduled in the semester.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lti_tool.compliance.rules import (
    NOT_APPLICABLE,
    OK,
    SHORT,
    Item,
    RuleResult,
    Subject,
    Window,
    _result,
)
from lti_tool.i18n import N_
from lti_tool.outreach.models import WeekState, reception_week_state
from lti_tool.policy.schema import Rule


@dataclass(frozen=True)
class Point:
    """A contact point held inside the windows: ``code`` names its target (``unit:12``, ``class:5``,
    ``label:…``) so two points of the same target count once and rotation can compare years."""

    kind: str
    code: str
    label: str


@dataclass(frozen=True)
class ReceptionWeek:
    """A teaching week a person is scheduled for on the reception roster (C-6a)."""

    week: int
    start: dt.date
    end: dt.date
    recorded: bool

    @property
    def code(self) -> str:
        return f"week:{self.week}"


@dataclass(frozen=True)
class ContactFacts:
    """What the counting found for one person and one contact rule (only the fields its kind reads).

    - ``academic_year``: the year judged (``2026-2027``), shown in explanations;
    - ``points`` / ``previous``: contact points held in the windows, and the previous year's codes
      (contact_points);
    - ``count``: counted activities; ``targets``: where they may count (the contacted colleges, the own
      contact points), ``visited``: the target codes with a counted activity (contact_count);
    - ``party_member``: whether the person is a party member (rules for party members only);
    - ``summary_submitted_on``, ``summary_draft``, ``deadline``: the year-end summary (summary_submitted).
    """

    academic_year: str = ""
    points: tuple[Point, ...] = ()
    previous: frozenset[str] = frozenset()
    count: int = 0
    targets: tuple[Item, ...] = ()
    visited: frozenset[str] = frozenset()
    party_member: bool = True
    summary_submitted_on: dt.date | None = None
    summary_draft: bool = False
    deadline: dt.date | None = None
    semester_end: dt.date | None = None
    """The evaluated semester's last day: an annual rule's ``period`` is the academic year, but whether the
    summary is due yet is decided against the semester at hand (so an old semester reproduces)."""
    deadline_passed_in_break: bool = False
    """summary_submitted: the deadline fell after the evaluated semester, in the break before the next one
    starts, and has passed; the academic year's last semester then answers for a summary never submitted
    (the policy's 07-15 falls in the summer break, so without this a missed summary would never be due)."""
    reception_weeks: tuple[ReceptionWeek, ...] = ()
    """reception_days: the weeks scheduled for the person inside the windows, recorded or not."""
    today: dt.date | None = None
    """reception_days: the college's today, before which an unrecorded week is missing."""


def _na(
    rule: Rule, who: Subject, windows: tuple[Window, ...], period: Window, msg: str, **params: object
) -> RuleResult:
    return _result(
        rule, who, windows, period, required=0, done=0, status=NOT_APPLICABLE, explanation=msg, params=params
    )


def contact_points(
    rule: Rule, who: Subject, windows: tuple[Window, ...], period: Window, facts: ContactFacts
) -> RuleResult:
    """C-1a, C-2a: contact points of the required kinds held for the academic year (``period``)."""
    if not windows:
        return _na(rule, who, windows, period, N_("No tenure in this academic year."))
    required = sum(req.min for req in rule.requires)
    done = 0
    missing: list[Item] = []
    too_many: list[str] = []
    for req in rule.requires:
        held = list({p.code: p for p in facts.points if p.kind in req.kinds}.values())
        done += len(held) if req.max else min(len(held), req.min)
        if len(held) < req.min:
            missing.append(Item("kind:" + "|".join(req.kinds), req.label))
        if req.max and len(held) > req.max:
            too_many.append(f"{req.label} {len(held)} > {req.max}")
    repeated = []
    if rule.rotation:
        kinds = {k for req in rule.requires for k in req.kinds}
        repeated = sorted(
            {p.code: p.label for p in facts.points if p.kind in kinds and p.code in facts.previous}.values()
        )
    params = {
        "year": facts.academic_year,
        "done": done,
        "required": required,
        "missing": "、".join(m.label for m in missing),
        # the same for English pages (the policy's label_en; the explanation macro picks it)
        "missing_en": ", ".join(
            req.label_en or req.label for req in rule.requires if any(m.label == req.label for m in missing)
        ),
        "held": "、".join(dict.fromkeys(p.label for p in facts.points)) or "—",
        "too_many": "；".join(too_many),
        "repeated": "、".join(repeated),
    }
    if missing and not facts.points:
        msg = N_("No contact point in %(year)s yet; missing: %(missing)s.")
    elif missing:
        msg = N_("%(done)s of %(required)s contact points held in %(year)s (%(held)s); missing: %(missing)s.")
    elif too_many:
        msg = N_("More contact points than the policy allows in %(year)s: %(too_many)s (%(held)s).")
    elif repeated:
        msg = N_("Not rotated: %(repeated)s was also contacted in the previous academic year.")
    else:
        msg = N_("Contact points in %(year)s: %(held)s.")
    status = SHORT if missing or too_many or repeated else OK
    return _result(
        rule,
        who,
        windows,
        period,
        required=required,
        done=done,
        status=status,
        missing=missing,
        explanation=msg,
        params=params,
    )


def contact_count(
    rule: Rule, who: Subject, windows: tuple[Window, ...], period: Window, facts: ContactFacts
) -> RuleResult:
    """C-1b, C-2b, C-3a, C-3b, C-4, C-5: at least ``rule.count`` counted activities at the rule's targets."""
    if rule.party_members_only and not facts.party_member:
        return _na(rule, who, windows, period, N_("Applies to party members only."))
    if not windows:
        return _na(rule, who, windows, period, N_("No tenure in this period."))
    done, required = facts.count, rule.count
    activity = rule.activity_label or "、".join(rule.activities)
    params: dict[str, object] = {
        "done": done,
        "required": required,
        "activity": activity,
        "activity_en": rule.activity_label_en,  # English pages (policy views' ``localized``)
        "missing": "",
    }
    missing: list[Item] = []
    needs_target = rule.at in ("contacted_colleges", "own_points")
    if done >= required:
        msg = N_("%(done)s of %(required)s done (%(activity)s).")
    elif needs_target and not facts.targets:
        missing = [Item("activity:" + rule.activities[0], activity)]
        params["no_target"] = True
        msg = (
            N_("%(done)s of %(required)s done (%(activity)s); no contacted college this academic year yet.")
            if rule.at == "contacted_colleges"
            else N_("%(done)s of %(required)s done (%(activity)s); no contact point this academic year yet.")
        )
    else:
        missing = [t for t in facts.targets if t.code not in facts.visited] if needs_target else []
        if not missing:
            missing = [Item("activity:" + rule.activities[0], activity)]
        params["missing"] = "、".join(m.label for m in missing)
        msg = N_("%(done)s of %(required)s done (%(activity)s); not yet: %(missing)s.")
    return _result(
        rule,
        who,
        windows,
        period,
        required=required,
        done=done,
        status=OK if done >= required else SHORT,
        missing=missing,
        explanation=msg,
        params=params,
    )


def summary_submitted(
    rule: Rule, who: Subject, windows: tuple[Window, ...], period: Window, facts: ContactFacts
) -> RuleResult:
    """C-7b: the academic year's summary submitted on or before ``facts.deadline``.

    A deadline after the evaluated semester's end (``facts.semester_end``, else ``period``'s) is not due
    yet (not applicable unless already submitted), so an old semester's result reproduces whatever today is.
    """
    deadline = facts.deadline
    if not windows or deadline is None:
        return _na(rule, who, windows, period, N_("No tenure in this academic year."))
    params = {"year": facts.academic_year, "deadline": deadline.isoformat(), "date": ""}
    label = N_("Year-end contact summary")
    submitted = facts.summary_submitted_on
    if submitted is not None:
        params["date"] = submitted.isoformat()
        on_time = submitted <= deadline
        msg = (
            N_("Year-end summary of %(year)s submitted on %(date)s.")
            if on_time
            else N_("Year-end summary of %(year)s submitted late on %(date)s (due %(deadline)s).")
        )
        return _result(
            rule,
            who,
            windows,
            period,
            required=1,
            done=1 if on_time else 0,
            status=OK if on_time else SHORT,
            missing=() if on_time else (Item("summary_late", label),),
            explanation=msg,
            params=params,
        )
    if deadline > (facts.semester_end or period.end) and not facts.deadline_passed_in_break:
        msg = (
            N_("Year-end summary of %(year)s due by %(deadline)s; a draft is saved.")
            if facts.summary_draft
            else N_("Year-end summary of %(year)s due by %(deadline)s.")
        )
        return _na(rule, who, windows, period, msg, **params)
    if not any(w.contains(deadline) for w in windows):
        # Not in office on the deadline (left before it, or came after it): not one of the leaders who sum
        # up the year (docs/decisions.md P-12), whichever semester they left in (one who left in the autumn
        # is never judged in the spring).
        return _na(
            rule,
            who,
            windows,
            period,
            N_("Not in office on %(deadline)s, when the year-end summary of %(year)s was due."),
            **params,
        )
    return _result(
        rule,
        who,
        windows,
        period,
        required=1,
        done=0,
        status=SHORT,
        missing=(Item("summary", label),),
        explanation=N_("Year-end summary of %(year)s not submitted; it is due by %(deadline)s."),
        params=params,
    )


def reception_days(
    rule: Rule, who: Subject, windows: tuple[Window, ...], period: Window, facts: ContactFacts
) -> RuleResult:
    """C-6a: a reception record for every week the person was scheduled for; a week that ended without one
    is missing."""
    weeks = facts.reception_weeks
    if not windows:
        return _na(rule, who, windows, period, N_("No tenure in this period."))
    if not weeks:
        return _na(rule, who, windows, period, N_("No reception week scheduled in this period."))
    today = facts.today or period.end + dt.timedelta(days=1)
    states = {w.week: reception_week_state(w.start, w.end, w.recorded, today) for w in weeks}
    missing = tuple(Item(w.code, str(w.week)) for w in weeks if states[w.week] == WeekState.MISSING)
    done = sum(1 for s in states.values() if s == WeekState.RECORDED)
    pending = [w for w in weeks if states[w.week] in (WeekState.CURRENT, WeekState.UPCOMING)]
    params: dict[str, object] = {
        "done": done,
        "required": len(weeks),
        "missing": "、".join(m.label for m in missing),
        "next": pending[0].week if pending else "",
    }
    if missing:
        msg = N_("%(done)s of %(required)s reception weeks recorded; not recorded: week %(missing)s.")
    elif pending:
        msg = N_("%(done)s of %(required)s reception weeks recorded; next: week %(next)s.")
    else:
        msg = N_("All %(required)s reception weeks recorded.")
    return _result(
        rule,
        who,
        windows,
        period,
        required=len(weeks),
        done=done,
        status=SHORT if missing else OK,
        missing=missing,
        explanation=msg,
        params=params,
    )


CONTACT_RULE_FUNCTIONS = {
    "contact_points": contact_points,
    "contact_count": contact_count,
    "summary_submitted": summary_submitted,
    "reception_days": reception_days,
}
