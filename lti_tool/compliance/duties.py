"""The next step for each duty still open: what the duty page says under a short rule, and which form opens.

The duty page (issue 9 §5) shows a leader's observation and contact duties together. For each result that
is not met, ``next_steps`` turns what is missing into a sentence and an action:

- a contacted college or own contact point not visited yet → "本学期尚未到汽车工程学院调研" and the contact
  record form (contacts ``new``) prefilled with the kind and the contact point (or the kind of target and
  its name);
- an activity still owed (a lecture, a symposium, a branch activity) → the form prefilled with its kind;
- a contact point the school office has not assigned → a sentence only (the school office assigns them);
- the year-end summary (C-7b) → the summary page;
- observations or patrols still owed (O-*) → the class picker or the patrol form.

Texts are English msgids with parameters (the page translates them); actions are names the view turns into
URLs, so this module needs no Flask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lti_tool.compliance.rules import NOT_APPLICABLE, SHORT, RuleResult
from lti_tool.compliance.services import PersonCompliance
from lti_tool.contacts.models import ContactPoint
from lti_tool.directory.models import StudentClass, Unit
from lti_tool.i18n import N_
from lti_tool.policy.schema import Policy

RECORD, OBSERVE, PATROL, SUMMARY = "record", "observe", "patrol", "summary"


@dataclass(frozen=True)
class NextStep:
    rule_id: str
    text: str
    """An English msgid with ``%(name)s`` parameters."""
    params: dict[str, Any] = field(default_factory=dict)
    action: str = ""
    """``record`` (the contact record form, prefilled with ``query``), ``observe``, ``patrol``,
    ``summary`` — or "" for a sentence without a button."""
    query: dict[str, Any] = field(default_factory=dict)
    button: str = ""
    """The button's msgid."""


def _ids(results: list[RuleResult], prefix: str) -> set[int]:
    out = set()
    for r in results:
        for m in r.missing:
            if m.code.startswith(prefix):
                try:
                    out.add(int(m.code[len(prefix) :]))
                except ValueError:
                    continue
    return out


def next_steps(
    session: Session, policy: Policy, pc: PersonCompliance, academic_year: str
) -> dict[str, list[NextStep]]:
    """Per rule ID, the steps that would close its gap (in the order the duty page shows them)."""
    open_results = [r for r in pc.results if r.status == SHORT and not r.informative]
    unit_ids, class_ids = _ids(open_results, "unit:"), _ids(open_results, "class:")
    units = (
        {uid: kind for uid, kind in session.execute(select(Unit.id, Unit.kind).where(Unit.id.in_(unit_ids)))}
        if unit_ids
        else {}
    )
    classes = (
        set(session.scalars(select(StudentClass.id).where(StudentClass.id.in_(class_ids))))
        if class_ids
        else set()
    )
    points: dict[str, int] = {}
    if unit_ids or class_ids:
        cp = ContactPoint
        for point_id, unit_id, class_id in session.execute(
            select(cp.id, cp.unit_id, cp.student_class_id).where(
                cp.person_id == pc.person_id,
                cp.academic_year == academic_year,
                or_(cp.unit_id.in_(unit_ids), cp.student_class_id.in_(class_ids)),
            )
        ):
            points.setdefault(f"unit:{unit_id}" if unit_id is not None else f"class:{class_id}", point_id)
    out: dict[str, list[NextStep]] = {}
    for r in pc.results:
        steps = _steps(policy, r, units, classes, points)
        if steps:
            out[r.rule_id] = steps
    return out


def _steps(
    policy: Policy, r: RuleResult, units: dict[int, str], classes: set[int], points: dict[str, int]
) -> list[NextStep]:
    try:
        rule = policy.rule(r.rule_id)
    except KeyError:
        return []
    if rule.kind == "summary_submitted":
        if r.status == SHORT or (
            r.status == NOT_APPLICABLE and r.params.get("deadline") and not r.params.get("date")
        ):
            return [
                NextStep(
                    r.rule_id,
                    N_("Write and submit the year-end summary of %(year)s by %(deadline)s."),
                    {"year": r.params.get("year", ""), "deadline": r.params.get("deadline", "")},
                    SUMMARY,
                    {"year": r.params.get("year", "")},
                    N_("Open the year-end summary"),
                )
            ]
        return []
    if r.status != SHORT or r.informative:
        return []
    if rule.kind == "contact_points":
        return [
            NextStep(
                r.rule_id,
                N_("Not yet assigned for %(year)s: %(kind)s (the school office assigns contact points)."),
                {
                    "kind": m.label,
                    "kind_en": next((q.label_en for q in rule.requires if q.label == m.label), ""),
                    "year": r.params.get("year", ""),
                },
            )
            for m in r.missing
        ] or [NextStep(r.rule_id, r.explanation, dict(r.params))]
    if rule.kind == "contact_count":
        activity = rule.activities[0]
        steps = []
        for m in r.missing:
            kind, _, raw = m.code.partition(":")
            query: dict[str, Any] = {"kind": activity}
            if activity == "branch_activity":
                query["target_kind"] = "party_branch"
            if kind == "unit" and raw.isdigit():
                uid = int(raw)
                if activity == "branch_activity":
                    text = N_("No confirmed branch activity of %(target)s this semester yet.")
                else:
                    text = N_("Not yet visited %(target)s this semester.")
                    query |= _target(m.code, units.get(uid, "unit"), m.label, points)
                steps.append(NextStep(r.rule_id, text, {"target": m.label}, RECORD, query, _button(activity)))
            elif kind == "class" and raw.isdigit() and int(raw) in classes:
                query |= _target(m.code, "student_class", m.label, points)
                steps.append(
                    NextStep(
                        r.rule_id,
                        N_("Not yet visited %(target)s this semester."),
                        {"target": m.label},
                        RECORD,
                        query,
                        _button(activity),
                    )
                )
            elif r.params.get("no_target"):
                steps.append(
                    NextStep(
                        r.rule_id,
                        N_("No contact point for this academic year yet: the school office assigns them."),
                    )
                )
            else:
                steps.append(
                    NextStep(
                        r.rule_id,
                        N_("%(remaining)s more this semester: %(activity)s."),
                        {
                            "remaining": r.remaining,
                            "activity": m.label,
                            "activity_en": rule.activity_label_en if m.label == rule.activity_label else "",
                        },
                        RECORD,
                        query,
                        _button(activity),
                    )
                )
        return steps
    if rule.kind in ("min_count", "per_month") and rule.activity == "patrol":
        return [
            NextStep(
                r.rule_id,
                N_("%(remaining)s more patrols this semester."),
                {"remaining": r.remaining},
                PATROL,
                {},
                N_("Record a patrol"),
            )
        ]
    if rule.kind in ("min_count", "each_course", "tenure_coverage"):
        return [
            NextStep(
                r.rule_id,
                N_("%(remaining)s more observations this semester."),
                {"remaining": r.remaining},
                OBSERVE,
                {},
                N_("Choose a class to observe"),
            )
        ]
    return []


def _target(code: str, target_kind: str, label: str, points: dict[str, int]) -> dict[str, Any]:
    """The record form's prefill for a target (contacts.views ``new``): the leader's own contact point when
    there is one, else the kind of target and its name."""
    if code in points:  # the point sets the target; kind and name are shown on the form's first page
        return {"contact_point_id": points[code], "target_kind": target_kind, "target": label}
    return {"target_kind": target_kind, "target": label}


def _button(activity: str) -> str:
    return {
        "visit": N_("Record a visit"),
        "branch_activity": N_("Record a branch activity"),
        "lecture": N_("Record a lecture"),
        "symposium": N_("Record a symposium"),
    }.get(activity, N_("Record a contact"))
