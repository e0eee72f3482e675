"""A semester of plausible activity: observation records, group observations, replies, problems, patrols.

Each observer gets a *profile* (done, on track, behind, idle; for a finished semester: done, just short,
far short) and from it a list of *wishes* derived from the policy's rules for their positions: each
required 思政 course for O-3, 思政 observations for O-8, Marxism-School teachers for O-6, own-college
classes for deans and party heads (O-10's in-scope preference), and enough further observations for the
minimum counts (O-1, O-2, O-4, O-5, O-7). Wishes are then met with class sessions that ended before
``now``, inside the observer's tenure, never a class the observer teaches, never two classes at once.

The rows follow the invariants the observation service keeps (``ObservationService.submit``,
``cosign``, ``raise_problem``): a submitted record has ``submitted_at`` and a signed author member; every
member carries the session id; ratings use the policy's dimension and scale codes; ``arrived_late`` is
set when arrival is after the start; each problem starts with a ``new`` event. They are inserted
directly (with past timestamps, which the services rightly never write) in a few bulk flushes.

Patrols (O-9): every person with patrol duty patrols in most months of their tenure, but some months are
missing, so the compliance page has something to show.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.demo import texts
from lti_tool.demo.timetable import class_size
from lti_tool.directory.models import Person, PositionHolding, Unit, UnitKind
from lti_tool.observations.models import (
    MemberRole,
    MemberStatus,
    Observation,
    ObservationAudit,
    ObservationMember,
    ObservationRating,
    ObservationStatus,
)
from lti_tool.patrols.models import Patrol
from lti_tool.policy.schema import Policy, Rule
from lti_tool.problems.models import Problem, ProblemEvent, ProblemStatus
from lti_tool.timetable.models import (
    ClassSession,
    Course,
    CourseSection,
    SectionTeacher,
    Semester,
)


@dataclass(frozen=True)
class Meeting:
    """What the generator needs to know about one class session."""

    id: int
    date: dt.date
    period_start: int
    starts_at: dt.time
    ends_at: dt.time
    room: str
    classes: str
    student_unit_id: int | None
    offering_unit_id: int | None
    course_code: str
    course_name: str
    ideological: bool
    teacher_ids: tuple[int, ...]


@dataclass
class Wish:
    """One observation an observer means to do: which kind of class would satisfy it."""

    kind: str
    """course | ideological | teacher | scope | any"""
    key: object = None
    done: bool = False

    def accepts(self, m: Meeting) -> bool:
        if self.kind == "course":
            return m.course_code == self.key
        if self.kind == "ideological":
            return m.ideological
        if self.kind == "teacher":
            return self.key in m.teacher_ids
        if self.kind == "scope":
            return self.key in (m.offering_unit_id, m.student_unit_id)
        return True


@dataclass
class Observer:
    person_id: int
    employee_no: str
    name: str
    unit_id: int | None
    windows: dict[str, tuple[dt.date, dt.date]]
    """position code → (first, last) day it is held within the generated span."""
    profile: str = "on_track"
    wishes: list[Wish] = field(default_factory=list)

    @property
    def span(self) -> tuple[dt.date, dt.date]:
        return min(w[0] for w in self.windows.values()), max(w[1] for w in self.windows.values())

    def window_for(self, positions: tuple[str, ...]) -> tuple[dt.date, dt.date] | None:
        held = [self.windows[p] for p in positions if p in self.windows]
        if not held:
            return None
        return min(w[0] for w in held), max(w[1] for w in held)


@dataclass
class GeneratedCounts:
    observations: int = 0
    submitted: int = 0
    drafts: int = 0
    group: int = 0
    replies: int = 0
    problems: int = 0
    patrols: int = 0


class RecordGenerator:
    """Generates one semester's records for one institution (call ``run``)."""

    def __init__(
        self,
        session: Session,
        institution_id: int,
        policy: Policy,
        semester: Semester,
        rng: random.Random,
        now: dt.datetime,
        tz: ZoneInfo,
    ) -> None:
        self.session = session
        self.institution_id = institution_id
        self.policy = policy
        self.semester = semester
        self.rng = rng
        self.now = now.astimezone(tz)
        self.tz = tz
        self.last_day = min(semester.end_date, self.now.date())
        self.finished = semester.end_date < self.now.date()
        self.busy: set[tuple[int, dt.date, int]] = set()
        self.observed_sessions: dict[int, int] = defaultdict(int)
        self.counts = GeneratedCounts()
        self.units: dict[str, Unit] = {
            u.code: u for u in session.scalars(select(Unit).where(Unit.institution_id == institution_id))
        }
        self.unit_people: dict[int, list[int]] = defaultdict(list)
        """Who works in each unit: the handlers of problems routed to it."""
        self.with_college_heads: set[int] = set()
        """School leaders who invite the heads of the college whose class they observe."""

    # -- loading ------------------------------------------------------------------------------------
    def _meetings(self) -> list[Meeting]:
        """Observable sessions of the semester that ended before now (full-time only: O-10)."""
        by_section: dict[int, list[int]] = defaultdict(list)
        for section_id, person_id in self.session.execute(
            select(SectionTeacher.section_id, SectionTeacher.person_id)
            .join(CourseSection, CourseSection.id == SectionTeacher.section_id)
            .where(CourseSection.semester_id == self.semester.id)
        ):
            by_section[section_id].append(person_id)
        teachers = {section_id: tuple(ids) for section_id, ids in by_section.items()}
        rows = self.session.execute(
            select(
                ClassSession.id,
                ClassSession.date,
                ClassSession.period_start,
                ClassSession.starts_at,
                ClassSession.ends_at,
                ClassSession.room,
                ClassSession.section_id,
                CourseSection.classes,
                CourseSection.student_unit_id,
                Course.offering_unit_id,
                Course.code,
                Course.name,
                Course.kind,
            )
            .join(CourseSection, CourseSection.id == ClassSession.section_id)
            .join(Course, Course.id == CourseSection.course_id)
            .where(
                ClassSession.institution_id == self.institution_id,
                ClassSession.semester_id == self.semester.id,
                ClassSession.in_timetable(),
                CourseSection.full_time.is_(True),
                ClassSession.date <= self.last_day,
            )
            .order_by(ClassSession.date, ClassSession.period_start, ClassSession.id)
        )
        out = []
        cutoff = self.now - dt.timedelta(minutes=30)
        cutoff_day, cutoff_time = cutoff.date(), cutoff.time().replace(tzinfo=None)
        ideological: dict[str, bool] = {}
        no_teachers: tuple[int, ...] = ()
        for (
            sid,
            day,
            period_start,
            starts_at,
            ends_at,
            room,
            section_id,
            classes,
            student_unit_id,
            offering_unit_id,
            code,
            name,
            kind,
        ) in rows:
            if starts_at is None or ends_at is None:
                continue
            if day > cutoff_day or (day == cutoff_day and ends_at > cutoff_time):
                continue  # not over yet: nobody can have observed it
            if kind not in ideological:
                ideological[kind] = self.policy.is_ideological(kind)
            out.append(
                Meeting(
                    sid,
                    day,
                    period_start,
                    starts_at,
                    ends_at,
                    room,
                    classes,
                    student_unit_id,
                    offering_unit_id,
                    code,
                    name,
                    ideological[kind],
                    teachers.get(section_id, no_teachers),
                )
            )
        return out

    def _observers(self) -> dict[int, Observer]:
        duties = self.policy.observing_positions()
        start, end = self.semester.start_date, self.last_day
        people: dict[int, Observer] = {}
        rows = self.session.execute(
            select(PositionHolding, Person)
            .join(Person, Person.id == PositionHolding.person_id)
            .where(PositionHolding.institution_id == self.institution_id)
            .order_by(Person.employee_no, PositionHolding.position_code)
        )
        for holding, person in rows:
            if holding.position_code not in duties or not holding.held_during(start, end):
                continue
            first = max(start, holding.start_date or start)
            last = min(end, holding.end_date or end)
            obs = people.setdefault(
                person.id, Observer(person.id, person.employee_no, person.name, person.unit_id, {})
            )
            old = obs.windows.get(holding.position_code)
            if old:
                first, last = min(first, old[0]), max(last, old[1])
            obs.windows[holding.position_code] = (first, last)
        return people

    # -- planning -----------------------------------------------------------------------------------
    def _profiles(self, n: int) -> list[str]:
        """Profiles for ``n`` observers in fixed proportions (shuffled), so every seed shows the same mix."""
        weights = (
            {"done": 70, "short": 20, "far": 10}
            if self.finished
            else {"done": 40, "on_track": 30, "behind": 20, "idle": 10}
        )
        out: list[str] = []
        for profile, weight in weights.items():
            out += [profile] * round(n * weight / 100)
        out = (out + ["done"] * n)[:n]
        self.rng.shuffle(out)
        return out

    def _share(self, observer: Observer, window: tuple[dt.date, dt.date]) -> float:
        """How much of its duty an observer means to have done by now, from profile and elapsed time."""
        semester_days = (self.semester.end_date - self.semester.start_date).days + 1
        held_days = (window[1] - window[0]).days + 1
        elapsed = min(1.0, held_days / semester_days) if not self.finished else 1.0
        return {
            "done": 1.0,
            "on_track": max(elapsed, 0.2),
            "behind": 0.45 * elapsed,
            "idle": 0.08,
            "short": 0.75,
            "far": 0.35,
        }[observer.profile]

    def _plan(
        self, observer: Observer, rules: list[Rule], ideological_codes: list[str], marxism_teachers: list[int]
    ) -> None:
        wishes: list[Wish] = []
        general = 0
        scope_unit: int | None = None
        for rule in rules:
            window = observer.window_for(rule.positions)
            if window is None or rule.activity != "observation":
                continue
            share = self._share(observer, window)
            if rule.kind == "each_course":
                n = round(len(ideological_codes) * share)
                for code in self.rng.sample(ideological_codes, min(n, len(ideological_codes))):
                    if not any(w.kind == "course" and w.key == code for w in wishes):
                        wishes.append(Wish("course", code))
            elif rule.kind == "min_count" and rule.courses == "ideological":
                have = sum(1 for w in wishes if w.kind in ("course", "ideological"))
                wishes += [Wish("ideological") for _ in range(max(0, round(rule.count * share + 0.3) - have))]
            elif rule.kind == "min_count":
                target = rule.count * share
                if observer.profile == "done" and self.rng.random() < 0.4:
                    target += 1
                if observer.profile == "short":
                    target = rule.count - self.rng.choice((1, 1, 2))
                general = max(general, max(0, round(target)))
            elif rule.kind == "tenure_coverage" and marxism_teachers:
                n = max(1, round(len(marxism_teachers) / 5 * share * 1.2))
                wishes += [
                    Wish("teacher", t)
                    for t in self.rng.sample(marxism_teachers, min(n, len(marxism_teachers)))
                ]
            elif rule.kind == "in_scope_share":
                scope_unit = observer.unit_id
        for _ in range(max(0, general - len(wishes))):
            if scope_unit is not None and self.rng.random() < 0.8:
                wishes.append(Wish("scope", scope_unit))
            else:
                wishes.append(Wish("any"))
        observer.wishes = wishes

    # -- picking sessions ---------------------------------------------------------------------------
    def _index(self, meetings: list[Meeting]) -> None:
        self.meetings = meetings
        self._dates: dict[int, list[dt.date]] = {}
        """Each pool's dates (pools are sorted by date), for bisecting an observer's tenure window."""
        self.by_course: dict[str, list[Meeting]] = defaultdict(list)
        self.by_teacher: dict[int, list[Meeting]] = defaultdict(list)
        self.by_unit: dict[int, list[Meeting]] = defaultdict(list)
        self.ideological: list[Meeting] = []
        self._none: list[Meeting] = []
        for m in meetings:
            self.by_course[m.course_code].append(m)
            for t in m.teacher_ids:
                self.by_teacher[t].append(m)
            for u in {m.offering_unit_id, m.student_unit_id} - {None}:
                self.by_unit[u].append(m)  # type: ignore[index]
            if m.ideological:
                self.ideological.append(m)

    def _pool(self, wish: Wish) -> list[Meeting]:
        """The date-sorted sessions that could satisfy a wish (the same list object every time)."""
        if wish.kind == "course":
            return self.by_course.get(str(wish.key), self._none)
        if wish.kind == "ideological":
            return self.ideological
        if wish.kind == "teacher":
            return self.by_teacher.get(int(wish.key), self._none)  # type: ignore[call-overload]
        if wish.kind == "scope":
            return self.by_unit.get(int(wish.key), self._none)  # type: ignore[call-overload]
        return self.meetings

    def _free(self, person_id: int, m: Meeting) -> bool:
        return person_id not in m.teacher_ids and (person_id, m.date, m.period_start) not in self.busy

    def _pick(self, observer: Observer, wish: Wish) -> Meeting | None:
        pool = self._pool(wish)
        first, last = observer.span
        dates = self._dates.get(id(pool))
        if dates is None:
            dates = self._dates[id(pool)] = [m.date for m in pool]
        lo, hi = bisect.bisect_left(dates, first), bisect.bisect_right(dates, last)
        if lo >= hi:
            return None
        for _ in range(40):
            m = pool[self.rng.randrange(lo, hi)]
            if self._free(observer.person_id, m) and self.observed_sessions[m.id] == 0:
                return m
        for _ in range(20):
            m = pool[self.rng.randrange(lo, hi)]
            if self._free(observer.person_id, m):
                return m
        return None

    # -- writing records ----------------------------------------------------------------------------
    def _local(self, day: dt.date, t: dt.time) -> dt.datetime:
        return dt.datetime.combine(day, t, self.tz)

    def _cap(self, moment: dt.datetime) -> dt.datetime:
        return min(moment, self.now - dt.timedelta(minutes=5))

    def _rating(self, quality: float) -> str:
        scale = list(self.policy.scale)
        if not scale:
            return ""
        ordered = sorted(scale, key=lambda c: -c.score)
        x = quality + self.rng.gauss(0, 0.6)
        index = 0 if x > 1.1 else 1 if x > 0 else 2 if x > -1.4 else 3
        return ordered[min(index, len(ordered) - 1)].code

    def _comment(self, dimension: str, rating: str) -> str:
        top = {c.code for c in sorted(self.policy.scale, key=lambda c: -c.score)[:2]}
        tier = "high" if rating in top else "low"
        bank = texts.DIMENSION_COMMENTS.get(dimension, texts.GENERIC_COMMENTS)[tier]
        return self.rng.choice(bank) if self.rng.random() < 0.8 else ""

    def _observation(
        self, author_id: int, m: Meeting, *, submitted: bool, supervision: bool, teacher_names: dict[int, str]
    ) -> Observation:
        rng = self.rng
        teacher = teacher_names.get(m.teacher_ids[0], "") if m.teacher_ids else ""
        fmt = {
            "teacher": teacher,
            "course": m.course_name,
            "classes": m.classes.replace(";", "、"),
            "n": rng.randint(6, 28),
        }
        start = self._local(m.date, m.starts_at)
        end = self._local(m.date, m.ends_at)
        late = rng.random() < 0.06
        arrival = (start + dt.timedelta(minutes=rng.randint(3, 12) if late else -rng.randint(2, 10))).time()
        expected = sum(class_size(c) for c in m.classes.split(";") if c)
        quality = rng.gauss(0.6, 0.8)
        absent = max(0, round(rng.expovariate(0.6) + (2 if quality < 0 else 0)))
        obs = Observation(
            institution_id=self.institution_id,
            session_id=m.id,
            semester_id=self.semester.id,
            author_id=author_id,
            is_supervision=supervision,
            arrival_time=arrival,
            arrived_late=arrival > m.starts_at,
            expected_count=expected or None,
            present_count=max(0, expected - absent) if expected else None,
            created_at=(start - dt.timedelta(minutes=rng.randint(5, 30))).astimezone(dt.UTC),
            draft_version=rng.randint(3, 25),
            extra={},
            imported=False,
        )
        full = submitted or rng.random() < 0.5
        obs.narrative = "".join(
            [
                rng.choice(texts.NARRATIVE_OPENINGS),
                rng.choice(texts.NARRATIVE_MIDDLES),
                rng.choice(texts.NARRATIVE_MIDDLES) if full else "",
                rng.choice(texts.NARRATIVE_CLOSINGS) if full else "",
            ]
        ).format(**fmt)
        obs.narrative = obs.narrative.replace("。。", "。")
        if full:
            obs.strengths = "".join(rng.sample(texts.STRENGTHS, 2))
            obs.problems_text = rng.choice(texts.PROBLEMS_TEXT) if quality < 1.2 else ""
            obs.suggestions = rng.choice(texts.SUGGESTIONS)
            if rng.random() < 0.85:
                obs.exchange_teacher_done = True
                obs.exchange_teacher_at = (end + dt.timedelta(minutes=rng.randint(2, 20))).astimezone(dt.UTC)
                obs.exchange_teacher_text = rng.choice(texts.EXCHANGE_TEACHER).format(**fmt)
            else:
                obs.exchange_teacher_done = False
            if rng.random() < 0.6:
                obs.exchange_students_done = True
                obs.exchange_students_at = (end + dt.timedelta(minutes=rng.randint(5, 30))).astimezone(dt.UTC)
                obs.exchange_students_text = rng.choice(texts.EXCHANGE_STUDENTS)
            else:
                obs.exchange_students_done = False
        for position, dim in enumerate(self.policy.dimensions):
            if not full and rng.random() < 0.4:
                continue
            rating = self._rating(quality)
            obs.ratings.append(
                ObservationRating(
                    dimension=dim.code,
                    position=position,
                    rating=rating,
                    comment=self._comment(dim.code, rating),
                )
            )
        if submitted:
            at = self._cap(end + dt.timedelta(minutes=rng.randint(20, 60 * 48)))
            obs.status, obs.submitted_at, obs.updated_at = ObservationStatus.SUBMITTED.value, at, at
            obs.members.append(
                ObservationMember(
                    institution_id=self.institution_id,
                    person_id=author_id,
                    session_id=m.id,
                    role=MemberRole.AUTHOR.value,
                    status=MemberStatus.SIGNED.value,
                    signed_at=at,
                )
            )
        else:
            obs.status = ObservationStatus.DRAFT.value
            obs.updated_at = self._cap(end + dt.timedelta(minutes=rng.randint(10, 600)))
        return obs

    def _feedback(self, obs: Observation, m: Meeting) -> None:
        """The teacher's acknowledgement and reply, some days after submission (O-12)."""
        assert obs.submitted_at is not None
        if not m.teacher_ids:
            return
        age = self.now - obs.submitted_at
        if self.rng.random() > (0.75 if age > dt.timedelta(days=3) else 0.3):
            return
        ack = obs.submitted_at + dt.timedelta(minutes=self.rng.randint(30, 60 * 72))
        if ack >= self.now:
            return
        obs.teacher_ack_at = obs.updated_at = ack  # set explicitly: ``onupdate`` would stamp "now"
        if self.rng.random() < 0.45:
            obs.teacher_reply = self.rng.choice(texts.TEACHER_REPLIES)
            reply_at = self._cap(ack + dt.timedelta(minutes=self.rng.randint(1, 30)))
            obs.teacher_reply_at = obs.updated_at = reply_at
            obs.teacher_reply_by_id = m.teacher_ids[0]
            self.counts.replies += 1

    def _correction(self, obs: Observation) -> None:
        """A correction inside the policy's window, kept in the audit trail (O-13)."""
        assert obs.submitted_at is not None
        window = dt.timedelta(days=max(1, self.policy.correction_window_days))
        at = obs.submitted_at + dt.timedelta(seconds=self.rng.randint(3600, int(window.total_seconds()) - 60))
        if at >= self.now:
            return
        name, before, after = self.rng.choice(texts.CORRECTIONS)
        setattr(obs, name, after)
        obs.updated_at = max(at, obs.updated_at or at)
        self.session.add(
            ObservationAudit(
                observation_id=obs.id, person_id=obs.author_id, at=at, field=name, before=before, after=after
            )
        )

    def _problem(
        self,
        bank: list[tuple[str, str, str]],
        raised_by: int,
        at: dt.datetime,
        room: str,
        classes: str,
        *,
        observation: Observation | None = None,
        patrol: Patrol | None = None,
    ) -> None:
        categories = {c.code for c in self.policy.problem_categories}
        choices = [p for p in bank if p[0] in categories and p[1] in self.units]
        if not choices:
            return
        category, unit_code, description = self.rng.choice(choices)
        unit = self.units[unit_code]
        description = description.format(room=room or "该", classes=classes.replace(";", "、"))
        problem = Problem(
            institution_id=self.institution_id,
            raised_by_id=raised_by,
            unit_id=unit.id,
            category=category,
            room=room,
            description=description,
            created_at=at,
            observation_id=observation.id if observation else None,
            patrol_id=patrol.id if patrol else None,
        )
        problem.events.append(
            ProblemEvent(person_id=raised_by, status=ProblemStatus.NEW.value, note=description, at=at)
        )
        handlers = self.unit_people.get(unit.id) or [raised_by]
        handler = self.rng.choice(handlers)
        age_days = (self.now - at).days
        status = ProblemStatus.NEW.value
        moment = at
        roll = self.rng.random()
        steps: list[tuple[str, str, int]] = []
        if age_days >= 14:
            if roll < 0.55:
                steps = [
                    ("accepted", "accept", handler),
                    ("resolved", "resolve", handler),
                    ("confirmed", "confirm", raised_by),
                ]
            elif roll < 0.75:
                steps = [("accepted", "accept", handler), ("resolved", "resolve", handler)]
            elif roll < 0.85:
                steps = [("rejected", "reject", handler)]
            elif roll < 0.95:
                steps = [("accepted", "accept", handler)]
        elif age_days >= 3:
            if roll < 0.4:
                steps = [("accepted", "accept", handler), ("resolved", "resolve", handler)]
            elif roll < 0.8:
                steps = [("accepted", "accept", handler)]
        notes = {
            "accept": texts.HANDLING_ACCEPTED,
            "resolve": texts.HANDLING_RESOLVED,
            "reject": texts.HANDLING_REJECTED,
            "confirm": texts.CONFIRMATIONS,
        }
        for new_status, kind, person_id in steps:
            moment = moment + dt.timedelta(hours=self.rng.randint(4, 72))
            if moment >= self.now:
                break
            status = new_status
            problem.events.append(
                ProblemEvent(
                    person_id=person_id, status=new_status, at=moment, note=self.rng.choice(notes[kind])
                )
            )
            if new_status == ProblemStatus.RESOLVED.value:
                problem.resolved_at = moment
        problem.status = status
        self.session.add(problem)
        self.counts.problems += 1

    # -- the run ------------------------------------------------------------------------------------
    def run(self) -> GeneratedCounts:
        meetings = self._meetings()
        self._index(meetings)
        observers = self._observers()
        marxism_unit_ids = {u.id for u in self.units.values() if u.kind == UnitKind.MARXISM_SCHOOL}
        people = {
            p.id: p
            for p in self.session.scalars(select(Person).where(Person.institution_id == self.institution_id))
        }
        teacher_names = {pid: p.name for pid, p in people.items()}
        for p in people.values():
            if p.unit_id is not None:
                self.unit_people[p.unit_id].append(p.id)
        ideological_codes = sorted({m.course_code for m in self.ideological})
        marxism_teachers = sorted(
            {t for m in meetings for t in m.teacher_ids if people[t].unit_id in marxism_unit_ids}
        )
        for observer, profile in zip(observers.values(), self._profiles(len(observers)), strict=True):
            observer.profile = profile
            rules = self.policy.rules_for(set(observer.windows))
            self._plan(observer, rules, ideological_codes, marxism_teachers)

        partners = self._partners(observers)
        queue = [(o, w) for o in observers.values() for w in o.wishes]
        self.rng.shuffle(queue)
        recent = self.now - dt.timedelta(days=6)
        made: list[tuple[Observation, Meeting]] = []
        for observer, wish in queue:
            if wish.done:
                continue
            m = self._pick(observer, wish)
            if m is None:
                continue
            wish.done = True
            submitted = not (self._local(m.date, m.ends_at) > recent and self.rng.random() < 0.35)
            supervision = "college_dean" in observer.windows and self.rng.random() < 0.4
            obs = self._observation(
                observer.person_id,
                m,
                submitted=submitted,
                supervision=supervision,
                teacher_names=teacher_names,
            )
            self.busy.add((observer.person_id, m.date, m.period_start))
            self.observed_sessions[m.id] += 1
            if submitted and self.rng.random() < 0.3:
                self._group(obs, m, observer, partners, observers, teacher_names, made)
            self.session.add(obs)
            made.append((obs, m))
        if not self.finished:
            made += self._drafts(observers, teacher_names)
        self.session.flush()
        for obs, m in made:
            self.counts.observations += 1
            if obs.status == ObservationStatus.SUBMITTED.value:
                self.counts.submitted += 1
                self._feedback(obs, m)
                if self.rng.random() < 0.06:
                    self._correction(obs)
                if self.rng.random() < 0.12 and obs.submitted_at is not None:
                    self._problem(
                        texts.RECORD_PROBLEMS,
                        obs.author_id,
                        obs.submitted_at,
                        m.room,
                        m.classes,
                        observation=obs,
                    )
            else:
                self.counts.drafts += 1
        self._patrols()
        self.session.flush()
        return self.counts

    def _drafts(
        self, observers: dict[int, Observer], teacher_names: dict[int, str]
    ) -> list[tuple[Observation, Meeting]]:
        """Records started this week and not yet submitted: drafts that survive reloads (and do not count)."""
        since = self.now - dt.timedelta(days=7)
        recent = [m for m in self.meetings if self._local(m.date, m.ends_at) > since]
        out: list[tuple[Observation, Meeting]] = []
        if not recent:
            return out
        for observer in observers.values():
            if self.rng.random() > 0.3:
                continue
            first, last = observer.span
            for _ in range(20):
                m = self.rng.choice(recent)
                if first <= m.date <= last and self._free(observer.person_id, m):
                    obs = self._observation(
                        observer.person_id, m, submitted=False, supervision=False, teacher_names=teacher_names
                    )
                    self.session.add(obs)
                    self.busy.add((observer.person_id, m.date, m.period_start))
                    out.append((obs, m))
                    break
        return out

    def _partners(self, observers: dict[int, Observer]) -> dict[int, list[int]]:
        """Who observes together: a college's dean and party head, the quality center with academic affairs,
        school leaders with the head of the college whose class it is, the Marxism School's leaders."""
        by_position: dict[str, list[int]] = defaultdict(list)
        for o in observers.values():
            for code in o.windows:
                by_position[code].append(o.person_id)
        out: dict[int, list[int]] = defaultdict(list)
        heads = set(by_position["college_dean"]) | set(by_position["college_party_head"])
        for o in observers.values():
            codes = set(o.windows)
            if codes & {"college_dean", "college_party_head"}:
                out[o.person_id] += [
                    p for p in heads if p != o.person_id and observers[p].unit_id == o.unit_id
                ]
            if "marxism_school_leader" in codes:
                out[o.person_id] += [p for p in by_position["marxism_school_leader"] if p != o.person_id]
            if codes & {"head_quality_center", "head_academic_affairs"}:
                out[o.person_id] += [
                    p
                    for p in by_position["head_quality_center"]
                    + by_position["head_academic_affairs"]
                    + by_position["vp_teaching"]
                    if p != o.person_id
                ]
            if "school_leader" in codes:
                self.with_college_heads.add(o.person_id)
                out[o.person_id] += by_position["head_quality_center"]
        return out

    def _group(
        self,
        obs: Observation,
        m: Meeting,
        author: Observer,
        partners: dict[int, list[int]],
        observers: dict[int, Observer],
        teacher_names: dict[int, str],
        made: list[tuple[Observation, Meeting]],
    ) -> None:
        """Add co-observers to a submitted record: most co-sign, a few write their own record (O-12)."""
        candidates = list(partners.get(author.person_id, []))
        if author.person_id in self.with_college_heads:
            candidates += [
                o.person_id
                for o in observers.values()
                if o.unit_id in (m.offering_unit_id, m.student_unit_id)
                and set(o.windows) & {"college_dean", "college_party_head"}
            ]
        self.rng.shuffle(candidates)
        added = 0
        assert obs.submitted_at is not None
        for pid in dict.fromkeys(candidates):
            other = observers.get(pid)
            if other is None or added >= self.rng.choice((1, 1, 2)) or not self._free(pid, m):
                continue
            first, last = other.span
            if not first <= m.date <= last:
                continue
            wish = next((w for w in other.wishes if not w.done and w.accepts(m)), None)
            if wish is None and self.rng.random() > 0.25:
                continue  # people mostly join when the class helps their own duty, sometimes just to come
            roll = self.rng.random()
            pending = self.now - obs.submitted_at < dt.timedelta(days=2)
            status = (
                MemberStatus.INVITED
                if pending and roll < 0.5
                else MemberStatus.SIGNED
                if roll < 0.88
                else MemberStatus.OWN_RECORD
                if roll < 0.96
                else MemberStatus.DECLINED
            )
            member = ObservationMember(
                institution_id=self.institution_id,
                person_id=pid,
                session_id=m.id,
                role=MemberRole.CO_OBSERVER.value,
                status=status.value,
            )
            if status == MemberStatus.SIGNED:
                delay = dt.timedelta(minutes=self.rng.randint(10, 900))
                member.signed_at = self._cap(obs.submitted_at + delay)
            obs.members.append(member)
            self.busy.add((pid, m.date, m.period_start))
            added += 1
            if wish is not None and status in (MemberStatus.SIGNED, MemberStatus.OWN_RECORD):
                wish.done = True
            if status == MemberStatus.OWN_RECORD:
                own = self._observation(
                    pid, m, submitted=True, supervision=False, teacher_names=teacher_names
                )
                self.session.add(own)
                made.append((own, m))
        if added:
            self.counts.group += 1

    def _patrols(self) -> None:
        """O-9: a patrol in most months of each patrol-duty tenure; some months are missed."""
        duty = self.policy.patrol_positions()
        if not duty:
            return
        start, end = self.semester.start_date, self.last_day
        holidays = set(self.semester.holidays or [])
        tenures: dict[int, list[tuple[dt.date, dt.date]]] = defaultdict(list)
        for h in self.session.scalars(
            select(PositionHolding).where(
                PositionHolding.institution_id == self.institution_id,
                PositionHolding.position_code.in_(sorted(duty)),
            )
        ):
            if h.held_during(start, end):
                tenures[h.person_id].append((max(start, h.start_date or start), min(end, h.end_date or end)))
        months = []
        day = start.replace(day=1)
        while day <= end:
            months.append(day)
            day = (day + dt.timedelta(days=32)).replace(day=1)
        rooms = [f"{b}{f}{n:02d}" for b in "ABCDE" for f in range(1, 5) for n in (1, 3, 5, 8)]
        checklist = [c.code for c in self.policy.patrol_checklist]
        for person_id in sorted(tenures):
            habit = self.rng.choices(["steady", "misses_one", "misses_two"], [55, 30, 15])[0]
            skip: set[int] = set()
            if habit != "steady" and len(months) > 1:
                skip = set(
                    self.rng.sample(
                        range(len(months)), min(len(months) - 1, 1 if habit == "misses_one" else 2)
                    )
                )
            for index, first in enumerate(months):
                if index in skip:
                    continue
                last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
                days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
                days = [
                    d
                    for d in days
                    if d.weekday() < 5
                    and d.isoformat() not in holidays
                    and any(a <= d <= b for a, b in tenures[person_id])
                    and start <= d <= end
                ]
                if not days:
                    continue
                is_current_month = first.year == self.now.year and first.month == self.now.month
                if is_current_month and self.rng.random() < 0.4:
                    continue  # not yet this month
                for _ in range(self.rng.choice((1, 1, 1, 2))):
                    d = self.rng.choice(days)
                    walked = self.rng.sample(rooms, self.rng.randint(4, 10))
                    patrol = Patrol(
                        institution_id=self.institution_id,
                        person_id=person_id,
                        date=d,
                        rooms="、".join(sorted(walked)),
                        checked=sorted(
                            self.rng.sample(checklist, min(len(checklist), self.rng.randint(2, 5)))
                        ),
                        notes=self.rng.choice(texts.PATROL_NOTES),
                        created_at=self._cap(self._local(d, dt.time(17, self.rng.randint(0, 59)))).astimezone(
                            dt.UTC
                        ),
                    )
                    self.session.add(patrol)
                    self.counts.patrols += 1
                    if self.rng.random() < 0.3:
                        self.session.flush()
                        self._problem(
                            texts.PATROL_PROBLEMS,
                            person_id,
                            patrol.created_at,
                            self.rng.choice(walked),
                            "",
                            patrol=patrol,
                        )
