"""Applying a corrected policy to a running semester (issue 11 §10; docs/decisions.md K-4).

A semester is evaluated under the policy version stored on it (``Semester.policy_version_id``), so an
uploaded correction changes nothing for a semester already under way. The quality center may move an open
semester to another stored version: ``preview`` says which rules were added, removed or changed and what
the semester's compliance is under each version (who changes standing on which rule); ``apply`` makes the
switch with a reason, refuses if the semester's version changed since the preview, and records who, when,
from which version to which and the compliance before and after (``PolicySwitch``). Both versions stay
stored: the statistics snapshots and reports made before keep the version they name, and an archived
semester is never switched (its reports are issued).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool import acting
from lti_tool.compliance.models import PolicySwitch
from lti_tool.compliance.rules import NOT_APPLICABLE, SHORT
from lti_tool.compliance.services import ComplianceReport, ComplianceService
from lti_tool.db import get_scoped
from lti_tool.errors import BadRequest, Conflict, NotFound, ValidationFailed
from lti_tool.policy.models import PolicyVersion
from lti_tool.policy.schema import SYSTEMS, Rule
from lti_tool.policy.store import PolicyStore
from lti_tool.timetable.models import Semester, SemesterStatus

log = logging.getLogger(__name__)

ABSENT = "absent"
"""A person-rule pair one version has and the other has not (the rule or the person's duty is gone/new)."""


@dataclass(frozen=True)
class RuleChange:
    rule_id: str
    change: str
    """``added`` | ``removed`` | ``changed``."""
    before: Rule | None
    after: Rule | None
    fields: tuple[str, ...] = ()
    """For ``changed``: which of the rule's settings differ (count, positions, courses …)."""


@dataclass(frozen=True)
class StandingChange:
    """One person's standing on one rule, before and after the switch (``ok``, ``short``,
    ``not_applicable`` or ``absent``)."""

    person_id: int
    employee_no: str
    name: str
    rule_id: str
    before: str
    after: str
    before_done: int | None = None
    before_required: int | None = None
    after_done: int | None = None
    after_required: int | None = None


@dataclass(frozen=True)
class Standing:
    """The semester's compliance under one version: people with a duty, and how many meet all of theirs."""

    persons: int
    compliant: int

    @property
    def percent(self) -> int | None:
        return None if not self.persons else round(100 * self.compliant / self.persons)


@dataclass
class SwitchPreview:
    semester: Semester
    current: PolicyVersion
    target: PolicyVersion
    rules: list[RuleChange]
    before: Standing
    after: Standing
    standings: list[StandingChange] = field(default_factory=list)
    rule_texts: dict[str, Rule] = field(default_factory=dict)
    by_system: list[tuple[str, Standing, Standing]] = field(default_factory=list)
    """Per duty system (``observation``, ``contact``) that has people with duties: before, after."""
    """Every rule of either version by ID (the newer one's where both have it)."""

    @property
    def same(self) -> bool:
        return self.current.id == self.target.id

    def rule_title(self, rule_id: str, locale: str = "zh_CN") -> str:
        rule = self.rule_texts.get(rule_id)
        return rule.titled(locale) if rule is not None else rule_id


def _standing(report: ComplianceReport, system: str | None = None) -> Standing:
    """People with a duty (of ``system``'s rules, or any), and how many meet every one of them."""
    ids = {r.id for r in report.policy.rules if system is None or r.system == system}
    rows = [[r for r in p.results if r.rule_id in ids and not r.informative] for p in report.persons]
    judged = [rs for rs in rows if rs]
    return Standing(len(judged), sum(1 for rs in judged if not any(r.status == SHORT for r in rs)))


def rule_changes(before: Sequence[Rule], after: Sequence[Rule]) -> list[RuleChange]:
    """Rules added, removed and changed between two policy versions, in the newer version's order."""
    old = {r.id: r for r in before}
    new = {r.id: r for r in after}
    out: list[RuleChange] = []
    for rule in after:
        previous = old.get(rule.id)
        if previous is None:
            out.append(RuleChange(rule.id, "added", None, rule))
        elif previous != rule:
            differ = tuple(
                f.name for f in dataclasses.fields(Rule) if getattr(previous, f.name) != getattr(rule, f.name)
            )
            out.append(RuleChange(rule.id, "changed", previous, rule, differ))
    out += [RuleChange(r.id, "removed", r, None) for r in before if r.id not in new]
    return out


class PolicySwitchService:
    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id
        self.compliance = ComplianceService(session, institution_id)
        self.store = PolicyStore(session, institution_id)

    def _semester(self, semester_id: int) -> Semester:
        semester = get_scoped(self.session, Semester, semester_id, self.institution_id)
        if semester is None:
            raise NotFound("No semester %(id)s.", id=semester_id)
        return semester

    def _version(self, version_id: int | None) -> PolicyVersion:
        version = (
            self.store.ensure_version()
            if version_id is None
            else get_scoped(self.session, PolicyVersion, version_id, self.institution_id)
        )
        if version is None:
            raise NotFound("No policy version %(id)s.", id=version_id)
        return version

    def preview(self, semester_id: int, to_version_id: int | None = None) -> SwitchPreview:
        """What moving the semester to ``to_version_id`` (default: the newest stored version) changes."""
        semester = self._semester(semester_id)
        before = self.compliance.evaluate(semester)  # snapshots the current version if it had none
        current = self._version(before.policy_version_id)
        target = self._version(to_version_id)
        after = self.compliance.evaluate(semester, under_version=target.id)
        return SwitchPreview(
            semester,
            current,
            target,
            rule_changes(before.policy.rules, after.policy.rules),
            _standing(before),
            _standing(after),
            _standings(before, after),
            {r.id: r for r in before.policy.rules} | {r.id: r for r in after.policy.rules},
            [
                (system, _standing(before, system), _standing(after, system))
                for system in SYSTEMS
                if _standing(before, system).persons or _standing(after, system).persons
            ],
        )

    def apply(
        self,
        semester_id: int,
        to_version_id: int,
        from_version_id: int,
        reason: str,
        person_id: int | None,
    ) -> PolicySwitch:
        """Move the semester to ``to_version_id``; refuses an archived semester, a switch to the version it
        already has, a missing reason, and a semester whose version is no longer ``from_version_id`` (the
        preview the person saw is out of date)."""
        semester = self._semester(semester_id)
        if semester.status == SemesterStatus.ARCHIVED:
            raise Conflict(
                "Semester %(code)s is archived: its reports were issued under its policy version, which "
                "it keeps. Reopen it first if its compliance must be judged again.",
                code=semester.code,
            )
        reason = (reason or "").strip()
        if not reason:
            raise ValidationFailed("Say why the semester moves to this policy version.")
        if len(reason) > 2000:
            raise ValidationFailed("The reason is longer than 2000 characters.")
        preview = self.preview(semester_id, to_version_id)
        if preview.current.id != from_version_id:
            raise Conflict(
                "The semester's policy version changed since the preview; look at the preview again."
            )
        if preview.same:
            raise BadRequest("The semester already uses this policy version.")
        row = PolicySwitch(
            institution_id=self.institution_id,
            semester_id=semester.id,
            from_version_id=preview.current.id,
            to_version_id=preview.target.id,
            person_id=person_id,
            reason=reason,
            standings=[
                [system, before.compliant, before.persons, after.compliant, after.persons]
                for system, before, after in [*preview.by_system, ("all", preview.before, preview.after)]
            ],
        )
        semester.policy_version_id = preview.target.id
        self.session.add(row)
        self.session.flush()
        log.info(
            "semester %s of institution %s moved from policy version %s to %s by %s: %s",
            semester.code, self.institution_id, preview.current.number, preview.target.number,
            acting.who(), reason,
        )  # fmt: skip
        return row

    def version_numbers(self) -> dict[int, int]:
        """Stored version id → its number (the pages show numbers)."""
        rows = self.session.execute(
            select(PolicyVersion.id, PolicyVersion.number).where(
                PolicyVersion.institution_id == self.institution_id
            )
        )
        return {version_id: number for version_id, number in rows}

    def history(self, semester_id: int | None = None) -> list[PolicySwitch]:
        stmt = select(PolicySwitch).where(PolicySwitch.institution_id == self.institution_id)
        if semester_id is not None:
            stmt = stmt.where(PolicySwitch.semester_id == semester_id)
        return list(self.session.scalars(stmt.order_by(PolicySwitch.at.desc(), PolicySwitch.id.desc())))


def _standings(before: ComplianceReport, after: ComplianceReport) -> list[StandingChange]:
    """Every person-rule pair whose standing differs between the two reports."""
    cells: dict[tuple[int, str], list] = {}
    people: dict[int, tuple[str, str]] = {}
    for index, report in enumerate((before, after)):
        for person in report.persons:
            people[person.person_id] = (person.employee_no, person.name)
            for r in person.results:
                cells.setdefault((person.person_id, r.rule_id), [None, None])[index] = r
    out = []
    for (person_id, rule_id), (old, new) in cells.items():
        old_status = old.status if old else ABSENT
        new_status = new.status if new else ABSENT
        if (old_status, old.done if old else None, old.required if old else None) == (
            new_status,
            new.done if new else None,
            new.required if new else None,
        ):
            continue
        if old_status == new_status == NOT_APPLICABLE:
            continue
        employee_no, name = people[person_id]
        out.append(
            StandingChange(
                person_id,
                employee_no,
                name,
                rule_id,
                old_status,
                new_status,
                old.done if old else None,
                old.required if old else None,
                new.done if new else None,
                new.required if new else None,
            )
        )
    return sorted(out, key=lambda c: (c.employee_no, c.rule_id))
