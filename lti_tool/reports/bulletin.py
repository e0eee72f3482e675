"""The numbered bulletin (通报): who is short of which duty at a checkpoint, for both systems (C-7c, O-15).

One bulletin path for both systems. The office that issues bulletins (the quality center for the
observation system, the school office for both — docs/decisions.md P-18) asks for one on the reports
page with a semester and a checkpoint (``as_of``: a day of that semester, by default the college's
today); the worker builds it:

1. the duties of every leader of both systems are judged by the one engine as they stood at the end of
   the checkpoint (``ComplianceService.evaluate(…, as_of=…)``: no counting rule is written here);
2. the run claims the next number of the year's series (〔2026〕3号) by writing it on its own row in a
   transaction of its own; the unique (institution, kind, year, number) makes a second worker that read
   the same "next" fail and take the one after, and a retried run keeps the number it claimed;
3. the PDF (the look of the college's official notices: masthead, number, red rule, sections, signature)
   lists the short duties grouped by system and duty, with required / done / short, in words;
4. the lines are kept (``BulletinEntry``) and each named leader is told (``Event.BULLETIN_ISSUED``) in the
   commit that marks the run succeeded — so a bulletin is archived once, never rebuilt, and a leader's
   page lists the bulletins naming them with the lines about them, never anybody else's.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.compliance.rules import SHORT, RuleResult
from lti_tool.compliance.services import ComplianceReport, ComplianceService
from lti_tool.errors import BadRequest, Forbidden
from lti_tool.notifications.events import Event, translations
from lti_tool.notifications.services import NotificationService
from lti_tool.reports.models import BulletinEntry, ReportRun, RunStatus
from lti_tool.reports.pdf import render_pdf, render_template
from lti_tool.reports.report import policy_title, semester_label
from lti_tool.reports.runner import register_builder
from lti_tool.reports.services import ReportKind, ReportRunService, RunProgress
from lti_tool.reports.statistics import SemesterStatistics, StatisticsService
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import Semester

log = logging.getLogger(__name__)

SYSTEMS = ("observation", "contact")
SYSTEM_NAMES = {
    "observation": ("领导干部听课制度", "the leadership class-observation system"),
    "contact": ("领导干部联系基层制度", "the leadership grassroots-contact system"),
}
ISSUERS = {
    "quality_center": ("教学质量监控与评价中心", "the quality center"),
    "school_office": ("学校办公室", "the school office"),
}
"""Who issues bulletins (docs/decisions.md P-18), and how the masthead and signature name them."""
MISSING_SHOWN = 6
"""Items still missing listed per line (more are counted: 等N项)."""


def number_label(year: int | None, number: int | None) -> str:
    """〔2026〕3号 (empty for a bulletin issued before numbers had years)."""
    return f"〔{year}〕{number}号" if year and number else ""


@dataclass(frozen=True)
class ShortLine:
    person_id: int
    name: str
    unit: str
    required: int
    done: int
    short: int
    missing: tuple[str, ...]

    @property
    def missing_text(self) -> str:
        shown = "、".join(self.missing[:MISSING_SHOWN])
        return shown + (f"等{len(self.missing)}项" if len(self.missing) > MISSING_SHOWN else "")


@dataclass(frozen=True)
class DutyShortfall:
    system: str
    rule_id: str
    duty_zh: str
    duty_en: str
    lines: tuple[ShortLine, ...]


@dataclass(frozen=True)
class SystemShortfall:
    system: str
    name: str
    people: int
    """People with at least one duty of this system at the checkpoint."""
    compliant: int
    duties: tuple[DutyShortfall, ...]

    @property
    def short_people(self) -> int:
        return self.people - self.compliant


@dataclass(frozen=True)
class Shortfalls:
    semester_code: str
    as_of: dt.date
    week: int | None
    systems: tuple[SystemShortfall, ...]

    @property
    def named(self) -> list[int]:
        return sorted({line.person_id for s in self.systems for d in s.duties for line in d.lines})


def _what_is_missing(r: RuleResult) -> tuple[str, ...]:
    """The items still missing; a duty short for another reason (C-1a: enough contact colleges, but one of
    them the same as last year's, so nothing is "missing" and 0 is short) says why, in the engine's words,
    instead of naming the leader with an empty line."""
    if r.missing:
        return tuple(str(m.label) for m in r.missing)
    if r.remaining > 0 or not r.explanation:  # the figures say it
        return ()
    text = translations("zh_CN").gettext(r.explanation)
    try:
        text = text % dict(r.params) if r.params else text
    except (KeyError, TypeError, ValueError):
        text = r.explanation_text
    return (text.rstrip("。."),)


def _short_zh(e: BulletinEntry) -> str:
    """What a notified leader is short of: 差N, or the reason when nothing is short in figures (C-1a)."""
    return f"差{e.short}" if e.short > 0 or not e.missing else e.missing


def shortfalls_of(report: ComplianceReport, as_of: dt.date, week: int | None) -> Shortfalls:
    """Group the engine's short results (never informative ones) by system and duty, in the policy's
    order; the people of a duty in employee-number order."""
    people = {p.person_id: p for p in report.persons}
    systems = []
    for system in SYSTEMS:
        summary = report.system_summary(system)
        duties = []
        for rule in report.policy.rules:
            if rule.system != system or rule.informative:
                continue
            lines = tuple(
                ShortLine(
                    r.person_id,
                    r.name,
                    people[r.person_id].unit_name if r.person_id in people else "",
                    r.required,
                    r.done,
                    r.remaining,
                    _what_is_missing(r),
                )
                for r in report.results
                if r.rule_id == rule.id and r.status == SHORT and not r.informative
            )
            if lines:
                duties.append(DutyShortfall(system, rule.id, rule.plain("zh_CN"), rule.plain("en"), lines))
        systems.append(
            SystemShortfall(
                system, SYSTEM_NAMES[system][0], summary.persons, summary.compliant, tuple(duties)
            )
        )
    return Shortfalls(report.semester_code, as_of, week, tuple(systems))


@dataclass(frozen=True)
class IssuedBulletin:
    """A bulletin naming someone, as their page shows it: its number and dates, and their own lines."""

    run_id: int
    number: str
    issuer: str
    issued_at: dt.datetime | None
    as_of: dt.date | None
    entries: tuple[BulletinEntry, ...]


class BulletinService:
    """Issuing bulletins (the office) and reading the ones that name you (a leader)."""

    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id
        self.compliance = ComplianceService(session, institution_id)

    def today(self) -> dt.date:
        return clock.today(self.session.get(Institution, self.institution_id))

    def checkpoint(self, semester: Semester, as_of: dt.date | None) -> dt.date:
        """The day the bulletin speaks for: a day of the semester up to the college's today (default:
        today, or the semester's last day once it is over)."""
        today = self.today()
        day = as_of or min(today, semester.end_date)
        if day < semester.start_date:
            raise BadRequest(
                "The checkpoint must be a day of the semester %(semester)s (from %(start)s).",
                semester=semester.code,
                start=semester.start_date.isoformat(),
            )
        if day > semester.end_date:
            raise BadRequest(
                "The checkpoint must be a day of the semester %(semester)s (until %(end)s).",
                semester=semester.code,
                end=semester.end_date.isoformat(),
            )
        if day > today:
            raise BadRequest("The checkpoint cannot be after today.")
        return day

    def issue(
        self,
        issuer: str,
        semester_id: int | None,
        as_of: dt.date | None,
        requested_by_id: int | None,
        connection: object,
    ) -> ReportRun:
        """Ask the worker for a bulletin; the same request while one is on its way returns that one."""
        if issuer not in ISSUERS:
            raise Forbidden("You cannot issue bulletins.")
        if semester_id is None:
            raise BadRequest("Choose a semester.")
        semester = self.compliance.semester(semester_id)
        day = self.checkpoint(semester, as_of)
        run, created = ReportRunService(self.session, self.institution_id).start(
            ReportKind.BULLETIN,
            connection,
            semester_id=semester.id,
            requested_by_id=requested_by_id,
            as_of=day,
            issuer=issuer,
        )
        if created:
            log.info(
                "bulletin run %s of institution %s requested by person %s (%s) for %s as of %s",
                run.id, self.institution_id, requested_by_id, issuer, semester.code, day,
            )  # fmt: skip
        return run

    def shortfalls(self, semester: Semester, as_of: dt.date) -> Shortfalls:
        report = self.compliance.evaluate(semester, as_of=as_of)
        week = semester.week_of(as_of) if semester.start_date <= as_of <= semester.end_date else None
        return shortfalls_of(report, as_of, week)

    def claim_number(self, run_id: int, year: int) -> int:
        """The run's number in ``year``'s series: the one it already holds, else the next free one,
        written and committed at once (a run retried after a failure keeps its number)."""
        for _attempt in range(50):
            held = self.session.execute(
                select(ReportRun.number_year, ReportRun.number).where(ReportRun.id == run_id)
            ).one()
            if held.number is not None:
                return int(held.number)
            number = self.next_number(year)
            try:
                self.session.execute(
                    update(ReportRun)
                    .where(ReportRun.id == run_id, ReportRun.number.is_(None))
                    .values(number_year=year, number=number)
                )
                self.session.commit()
            except IntegrityError:  # another worker claimed it first: take the next one
                self.session.rollback()
                continue
            log.info(
                "bulletin run %s of institution %s is 〔%s〕%s号", run_id, self.institution_id, year, number
            )
            return number
        raise RuntimeError("could not claim a bulletin number")

    def next_number(self, year: int) -> int:
        last = self.session.scalar(
            select(func.max(ReportRun.number)).where(
                ReportRun.institution_id == self.institution_id,
                ReportRun.kind == ReportKind.BULLETIN,
                ReportRun.number_year == year,
            )
        )
        return int(last or 0) + 1

    def keep(self, run: ReportRun, found: Shortfalls, issued_on: dt.date) -> list[BulletinEntry]:
        """The bulletin's lines, and a word to each leader it names (both part of the run's commit)."""
        entries: dict[int, list[BulletinEntry]] = defaultdict(list)
        for system in found.systems:
            for duty in system.duties:
                for line in duty.lines:
                    entry = BulletinEntry(
                        institution_id=self.institution_id,
                        run_id=run.id,
                        person_id=line.person_id,
                        system=duty.system,
                        rule_id=duty.rule_id,
                        duty_zh=duty.duty_zh,
                        duty_en=duty.duty_en,
                        required=line.required,
                        done=line.done,
                        short=line.short,
                        missing=line.missing_text,
                    )
                    self.session.add(entry)
                    entries[line.person_id].append(entry)
        self.session.flush()
        notifications = NotificationService(self.session, self.institution_id)
        number = number_label(run.number_year, run.number)
        issuer = ISSUERS.get(run.issuer, ISSUERS["quality_center"])
        for person_id, rows in entries.items():
            # The message is rendered in the person's language; the words passed in follow it too.
            en = notifications.addresses.language(person_id) == "en"
            duties = (
                "; ".join(f"{e.duty_en} ({e.short} short)" if e.short > 0 else e.duty_en for e in rows)
                if en
                else "；".join(f"{e.duty_zh}（{_short_zh(e)}）" for e in rows)
            )
            notifications.notify(
                Event.BULLETIN_ISSUED,
                [person_id],
                {
                    "number": number,
                    "issuer": issuer[1] if en else issuer[0],
                    "date": issued_on.isoformat(),
                    "as_of": found.as_of.isoformat(),
                    "duties": duties,
                },
                ref=f"bulletin:{run.id}",
                once=True,
            )
        return [e for rows in entries.values() for e in rows]

    def naming(self, person_id: int, limit: int = 5) -> list[IssuedBulletin]:
        """The issued bulletins that name ``person_id``, newest first, each with only their own lines."""
        runs = list(
            self.session.execute(
                select(ReportRun.id, ReportRun.number_year, ReportRun.number, ReportRun.issuer,
                       ReportRun.finished_at, ReportRun.as_of)
                .where(
                    ReportRun.institution_id == self.institution_id,
                    ReportRun.kind == ReportKind.BULLETIN,
                    ReportRun.status == RunStatus.SUCCEEDED,
                    ReportRun.id.in_(
                        select(BulletinEntry.run_id).where(
                            BulletinEntry.institution_id == self.institution_id,
                            BulletinEntry.person_id == person_id,
                        )
                    ),
                )
                .order_by(ReportRun.id.desc())
                .limit(limit)
            )
        )  # fmt: skip
        if not runs:
            return []
        lines: dict[int, list[BulletinEntry]] = defaultdict(list)
        for entry in self.session.scalars(
            select(BulletinEntry)
            .where(
                BulletinEntry.institution_id == self.institution_id,
                BulletinEntry.person_id == person_id,
                BulletinEntry.run_id.in_([r.id for r in runs]),
            )
            .order_by(BulletinEntry.id)
        ):
            lines[entry.run_id].append(entry)
        return [
            IssuedBulletin(
                r.id,
                number_label(r.number_year, r.number),
                r.issuer,
                r.finished_at,
                r.as_of,
                tuple(lines[r.id]),
            )
            for r in runs
        ]


def bulletin_html(
    stats: SemesterStatistics,
    found: Shortfalls,
    number: str,
    issued_on: dt.date,
    issuer: str,
) -> str:
    categories = sorted(stats.problems.by_category, key=lambda c: -c.count)[:5]
    typical = sorted(stats.problems.items, key=lambda p: (not p.overdue, -p.days_open))[:12]
    return render_template(
        "reports/bulletin.html",
        s=stats,
        found=found,
        number=number,
        issued_on=issued_on,
        issuer=ISSUERS.get(issuer, ISSUERS["quality_center"])[0],
        semester_label=semester_label(found.semester_code),
        policy_title=policy_title(stats.policy_name, stats.institution_name),
        categories=categories,
        typical=typical,
    )


@register_builder(ReportKind.BULLETIN)
def build_bulletin(session: Session, run: ReportRun, progress: RunProgress) -> tuple[str, bytes | None]:
    if run.semester_id is None:
        raise ValueError("a bulletin needs a semester")
    service = BulletinService(session, run.institution_id)
    semester = service.compliance.semester(run.semester_id)
    issued_on = service.today()
    as_of = run.as_of or min(issued_on, semester.end_date)
    progress(5, "读取统计数据")
    stats = StatisticsService(session, run.institution_id).fresh_statistics(
        semester, lambda p, m: progress(5 + p * 45 // 100, m)
    )
    progress(50, "核对各项任务")
    found = service.shortfalls(semester, as_of)
    number = service.claim_number(run.id, issued_on.year)
    session.refresh(run)
    progress(70, "排版")
    label = number_label(run.number_year, number)
    pdf = render_pdf(bulletin_html(stats, found, label, issued_on, run.issuer))
    service.keep(run, found, issued_on)
    return f"领导干部履职情况通报{label}.pdf", pdf
