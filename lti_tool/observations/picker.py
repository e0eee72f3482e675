"""What the session picker shows of observations: who is already on a session, and which of the
observer's duties a session would count toward (O-3, O-6, O-8, O-10).

Counting follows the one definition beside the models (``COUNTED_MEMBER_STATUSES``, docs/decisions.md K-1),
so the picker, the compliance dashboard, the statistics and the PDF agree. The timetable domain lists the
sessions (``timetable/search.py``) and never reads observations: the observation pages register
``decorate_sessions`` as a decoration of its rows (``register_session_decoration``), and the reminders
call ``ObserverPicker`` directly.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from lti_tool.directory.models import Person, PositionHolding
from lti_tool.observations.models import (
    COUNTED_MEMBER_STATUSES,
    MemberStatus,
    Observation,
    ObservationMember,
    ObservationStatus,
)
from lti_tool.policy.schema import Policy
from lti_tool.timetable.models import ClassSession, Course, CourseSection, SectionTeacher
from lti_tool.timetable.search import SessionFacts, SessionView
from lti_tool.timetable.semesters import SemesterService


@dataclass(frozen=True)
class ObserverProgress:
    """What the observer has already done (submitted) that makes some duties met."""

    unit_id: int | None = None
    observed_course_codes: frozenset[str] = frozenset()
    """Courses observed this semester (O-3: one observation per 思政 course)."""
    observed_teacher_ids: frozenset[int] = frozenset()
    """Teachers observed during the term of office (O-6)."""
    ideological_observations: int = 0
    """Observations of 思政 courses this semester (O-8)."""


def duty_marks(
    policy: Policy,
    position_codes: Iterable[str],
    session: SessionFacts,
    progress: ObserverProgress | None = None,
) -> tuple[str, ...]:
    """Rule IDs this session would count toward for an observer holding ``position_codes``.

    Only rules that single out *some* sessions mark anything (a plain minimum count is met by any
    session, so marking every row would say nothing):

    - a rule with ``courses = "ideological"`` (O-3 each course, O-8 at least N): a 思政 course, unless
      that course (O-3) or that number of 思政 observations (O-8) is already done;
    - ``tenure_coverage`` (O-6): a teacher of the rule's unit kind (the Marxism School) not yet observed;
    - ``in_scope_share`` (O-10): a teacher of the observer's own college (or of a teaching office or lab
      under it), or its students.
    """
    progress = progress or ObserverProgress()
    marks: list[str] = []
    for rule in policy.rules_for(set(position_codes)):
        if rule.activity != "observation":
            continue
        if rule.courses == "ideological":
            if not policy.is_ideological(session.course_kind):
                continue
            if rule.kind == "each_course" and session.course_code in progress.observed_course_codes:
                continue
            if rule.kind == "min_count" and progress.ideological_observations >= rule.count:
                continue
            marks.append(rule.id)
        elif rule.kind == "tenure_coverage":
            if any(
                t.unit_kind == rule.unit_kind and t.person_id not in progress.observed_teacher_ids
                for t in session.teachers
            ):
                marks.append(rule.id)
        elif rule.kind == "in_scope_share":
            unit = progress.unit_id
            if unit is not None and (
                session.student_unit_id == unit
                or any(unit in (t.unit_id, t.unit_parent_id) for t in session.teachers)
            ):
                marks.append(rule.id)
    return tuple(dict.fromkeys(marks))


class ObserverPicker:
    """The observations behind the picker's rows, for one institution under one policy version."""

    def __init__(self, session: Session, institution_id: int, policy: Policy) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy

    def decorate(
        self, views: list[SessionView], viewer_id: int | None, positions: set[str], today: dt.date
    ) -> None:
        """Counts on every row; duty marks too when the viewer is a person of the roster."""
        if viewer_id is not None:
            self.add_duty_marks(views, positions, self.observer_progress(viewer_id, positions, today))
        self.add_observer_counts(views, viewer_id)

    def add_observer_counts(self, views: list[SessionView], viewer_id: int | None = None) -> None:
        """How many people are already on each session: submitted vs. still pending (draft / invited).

        Authors and co-signers of a submitted record count as *submitted*; a draft's author and anybody
        invited or signed on a record not yet submitted count as *pending*, unless they already count as
        submitted. Declined invitations never count.
        """
        if not views:
            return
        ids = [v.id for v in views]
        submitted: dict[int, set[int]] = defaultdict(set)
        pending: dict[int, set[int]] = defaultdict(set)
        for sid, status, author_id in self.session.execute(
            select(Observation.session_id, Observation.status, Observation.author_id).where(
                Observation.institution_id == self.institution_id, Observation.session_id.in_(ids)
            )
        ):
            (submitted if status == ObservationStatus.SUBMITTED else pending)[sid].add(author_id)
        for sid, obs_status, person_id, member_status in self.session.execute(
            select(
                ObservationMember.session_id,
                Observation.status,
                ObservationMember.person_id,
                ObservationMember.status,
            )
            .join(Observation, Observation.id == ObservationMember.observation_id)
            .where(
                ObservationMember.institution_id == self.institution_id, ObservationMember.session_id.in_(ids)
            )
        ):
            if member_status == MemberStatus.DECLINED:
                continue
            if obs_status == ObservationStatus.SUBMITTED and member_status in COUNTED_MEMBER_STATUSES:
                submitted[sid].add(person_id)
            else:
                pending[sid].add(person_id)
        for view in views:
            done = submitted.get(view.id, set())
            waiting = pending.get(view.id, set()) - done
            view.observers_submitted, view.observers_pending = len(done), len(waiting)
            view.mine = viewer_id is not None and viewer_id in (done | waiting)

    def observer_progress(self, person_id: int, position_codes: set[str], today: dt.date) -> ObserverProgress:
        """What the observer has submitted that already meets part of a duty (see ``duty_marks``)."""
        person = self.session.get(Person, person_id)
        mine = person is not None and person.institution_id == self.institution_id
        unit_id = person.unit_id if mine and person is not None else None
        semester = SemesterService(self.session, self.institution_id).of_date(today)
        counted = or_(
            Observation.author_id == person_id,
            exists().where(
                ObservationMember.observation_id == Observation.id,
                ObservationMember.person_id == person_id,
                ObservationMember.status.in_(COUNTED_MEMBER_STATUSES),
            ),
        )
        base = (
            select(Course.code, Course.kind, ClassSession.section_id, ClassSession.date)
            .select_from(Observation)
            .join(ClassSession, ClassSession.id == Observation.session_id)
            .join(CourseSection, CourseSection.id == ClassSession.section_id)
            .join(Course, Course.id == CourseSection.course_id)
            .where(
                Observation.institution_id == self.institution_id,
                Observation.status == ObservationStatus.SUBMITTED.value,
                counted,
            )
        )
        codes: set[str] = set()
        ideological = 0
        if semester is not None:
            for code, kind, _, _ in self.session.execute(base.where(ClassSession.semester_id == semester.id)):
                codes.add(code)
                ideological += self.policy.is_ideological(kind)
        teacher_ids: set[int] = set()
        coverage = [r for r in self.policy.rules_for(position_codes) if r.kind == "tenure_coverage"]
        if coverage:
            coverage_codes = {p for r in coverage for p in r.positions} & position_codes
            starts = [
                h.start_date
                for h in self.session.scalars(
                    select(PositionHolding).where(
                        PositionHolding.person_id == person_id,
                        PositionHolding.position_code.in_(sorted(coverage_codes)),
                    )
                )
                if h.held_during(today, today)
            ]
            since = None if not starts or None in starts else min(s for s in starts if s)
            stmt = (
                select(SectionTeacher.person_id)
                .select_from(Observation)
                .join(ClassSession, ClassSession.id == Observation.session_id)
                .join(SectionTeacher, SectionTeacher.section_id == ClassSession.section_id)
                .where(
                    Observation.institution_id == self.institution_id,
                    Observation.status == ObservationStatus.SUBMITTED.value,
                    counted,
                )
            )
            if since is not None:
                stmt = stmt.where(ClassSession.date >= since)
            teacher_ids = set(self.session.scalars(stmt.distinct()))
        return ObserverProgress(
            unit_id=unit_id,
            observed_course_codes=frozenset(codes),
            observed_teacher_ids=frozenset(teacher_ids),
            ideological_observations=ideological,
        )

    def add_duty_marks(
        self, views: list[SessionView], position_codes: set[str], progress: ObserverProgress
    ) -> None:
        for view in views:
            view.marks = duty_marks(self.policy, position_codes, view.facts(), progress)


def decorate_sessions(
    session: Session,
    institution_id: int,
    policy: Policy,
    views: list[SessionView],
    viewer_id: int | None,
    positions: set[str],
    today: dt.date,
) -> None:
    """The picker's decoration (``timetable.search.register_session_decoration``; observations/views.py
    registers it with the pages)."""
    ObserverPicker(session, institution_id, policy).decorate(views, viewer_id, positions, today)
