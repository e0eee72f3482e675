"""The annual cadre file (三个纳入, C-7c; issue 12 item 6): per cadre, every duty of both systems for a year.

The organization department takes the results into cadre appointment, the 民主生活会 check and the party-work
assessment (七.2); it downloads one Excel (and a PDF summary) per academic year or per calendar year — the
office chooses — with, per cadre:

- every observation (O-) and contact (C-) duty of every semester of the year: required, done, status in
  words, what is missing — the rows of the one duty engine (``ComplianceService.evaluate``), never counted
  a second time here;
- reception weeks scheduled and kept: the sum of the engine's C-6a (``reception_days``) rows of the year's
  semesters (disjoint periods, so nothing is counted twice);
- letters routed to them (C-6b) and how they were answered: on time (the unit's answer on or before the
  deadline), late, overdue (``outreach.models.follow_up_overdue``: the deadline passed while still owed),
  still in handling, or closed without an answer;
- the year-end summary's state (C-7b: the document; its on-time judgement is the engine's C-7b row).

Which semesters a year holds (docs/decisions.md P-20): an academic year holds the semesters whose first
Monday falls in it (as the engine's annual rules already say); a calendar year the semesters whose first
Monday falls between 1 January and 31 December — a semester that runs from September into January is
counted whole in the year it began, never split nor counted in both. Letters count by the day they were
received inside the year; the summary is the one due inside the year.

The file's headers and words are in the requester's language (``ReportRun.language``, zh_CN first); the PDF
summary is a Chinese document like the other PDFs. Cells are written by ``exports.put`` (formula-safe,
docs/decisions.md I-3).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.academic_year import academic_year_bounds, academic_year_of, parse_academic_year
from lti_tool.compliance.rules import NOT_APPLICABLE, OK, SHORT, RuleResult
from lti_tool.compliance.services import ComplianceReport, ComplianceService
from lti_tool.contacts.summaries import ContactSummary, SummaryStatus, summary_deadline
from lti_tool.errors import BadRequest
from lti_tool.i18n import N_
from lti_tool.notifications.events import language_of, translations
from lti_tool.outreach.models import FollowUp, FollowUpKind, FollowUpStatus, Letter, follow_up_overdue
from lti_tool.policy.schema import Policy, Rule
from lti_tool.policy.store import PolicyStore
from lti_tool.reports.exports import HEAD_FILL, SHORT_FONT, put
from lti_tool.reports.models import ReportRun
from lti_tool.reports.pdf import render_pdf, render_template
from lti_tool.reports.runner import register_builder
from lti_tool.reports.services import RunProgress
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import Semester

log = logging.getLogger(__name__)

ACADEMIC, CALENDAR = "academic", "calendar"
_PERIOD = re.compile(r"^(ay):(\d{4}-\d{4})$|^(cy):(\d{4})$")
SYSTEMS = ("observation", "contact")


# -- the year ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CadreYear:
    """The year a cadre file covers: an academic year (``2026-2027``) or a calendar year (``2026``)."""

    kind: str
    year: str

    @property
    def code(self) -> str:
        """As stored on the run (``ReportRun.period``): ``ay:2026-2027`` or ``cy:2026``."""
        return f"{'ay' if self.kind == ACADEMIC else 'cy'}:{self.year}"

    @property
    def label_zh(self) -> str:
        if self.kind == ACADEMIC:
            return f"{self.year.replace('-', '—')}学年"
        return f"{self.year}年度"

    def label(self, gettext: Callable[[str], str]) -> str:
        if self.kind == ACADEMIC:
            return gettext("Academic year %(year)s") % {"year": self.year}
        return gettext("Calendar year %(year)s") % {"year": self.year}

    def bounds(self, academic_year_start: str) -> tuple[dt.date, dt.date]:
        if self.kind == ACADEMIC:
            return academic_year_bounds(self.year, academic_year_start)
        first = int(self.year)
        return dt.date(first, 1, 1), dt.date(first, 12, 31)

    def holds(self, semester: Semester, academic_year_start: str) -> bool:
        """Whether a semester counts in this year: by its first Monday, whole (docs/decisions.md P-20)."""
        if self.kind == ACADEMIC:
            return academic_year_of(semester.week1_monday, academic_year_start) == self.year
        return str(semester.week1_monday.year) == self.year


def parse_period(text: object) -> CadreYear:
    """The office's choice from a form, ``ay:2026-2027`` or ``cy:2026`` (anything else is a 400)."""
    try:
        return year_of_period(str(text or "").strip())
    except ValueError:
        raise BadRequest("Choose an academic year or a calendar year.") from None


def year_of_period(period: str) -> CadreYear:
    """The year stored on a run (``ay:2026-2027`` | ``cy:2026``)."""
    m = _PERIOD.match(period or "")
    if m is None:
        raise ValueError(f"not a cadre-file period: {period!r}")
    first = int((m[2] or m[4])[:4])
    if not 1900 < first < 3000:
        raise ValueError(f"year out of range: {period!r}")
    if m[1]:
        return CadreYear(ACADEMIC, parse_academic_year(m[2]))
    return CadreYear(CALENDAR, m[4])


def period_label(period: str, gettext: Callable[[str], str]) -> str:
    """``ay:2026-2027`` → "2026-2027学年" / "Academic year 2026-2027" (run lists); other text as is."""
    try:
        return year_of_period(period).label(gettext)
    except ValueError:
        return period


# -- what the file holds ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Duty:
    """One engine row: one rule for one cadre in one semester."""

    semester_code: str
    system: str
    rule_id: str
    kind: str
    """The rule kind (``reception_days``, ``summary_submitted`` …)."""
    label: str
    """What the rule asks, in the policy's words (``Rule.plain``)."""
    label_en: str
    required: int
    done: int
    status: str
    """``ok`` | ``short`` | ``not_applicable`` (the engine's)."""
    informative: bool
    below_target: bool
    partial: bool
    missing: tuple[tuple[str, str], ...]
    """What is missing, as the engine's items (code, label); a reception week's code is ``week:N``."""
    explanation: str
    """The engine's explanation, an English msgid with its parameters (translated when written)."""
    params: dict[str, object]
    source: str

    @property
    def counts(self) -> bool:
        """A duty that is owed: neither informative nor not applicable."""
        return not self.informative and self.status != NOT_APPLICABLE


@dataclass(frozen=True)
class SystemTally:
    """A cadre's duties of one system over the year's semesters."""

    owed: int
    met: int
    short: int


@dataclass(frozen=True)
class LetterTally:
    """Letters routed to a leader that were received inside the year (C-6b)."""

    routed: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    in_handling: int = 0
    closed_unanswered: int = 0


@dataclass(frozen=True)
class SummaryState:
    """The year-end contact summary (C-7b) of the academic year due inside the file's year."""

    academic_year: str
    deadline: dt.date
    state: str
    """``none`` | ``draft`` | ``submitted`` | ``received``."""
    submitted_on: dt.date | None
    received_on: dt.date | None


@dataclass
class CadreRow:
    person_id: int
    employee_no: str
    name: str
    unit: str
    positions: list[str]
    duties: list[Duty] = field(default_factory=list)
    reception_scheduled: int | None = None
    """Weeks on the reception roster (the engine's C-6a ``required``), ``None`` without such a duty."""
    reception_kept: int | None = None
    letters: LetterTally = LetterTally()
    summary: SummaryState | None = None
    """``None``: the cadre has no year-end summary duty in the year."""

    def tally(self, system: str) -> SystemTally:
        owed = [d for d in self.duties if d.system == system and d.counts]
        met = sum(1 for d in owed if d.status == OK)
        return SystemTally(len(owed), met, len(owed) - met)

    @property
    def short(self) -> list[Duty]:
        return [d for d in self.duties if d.counts and d.status == SHORT]


@dataclass
class CadreFile:
    year: CadreYear
    institution_name: str
    start: dt.date
    end: dt.date
    semesters: list[str]
    generated_on: dt.date
    rows: list[CadreRow]


class CadreFileService:
    """Assembles the cadre file of one institution for one year, from the engine and the outreach records."""

    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id
        self.compliance = ComplianceService(session, institution_id)

    def _start(self) -> str:
        return PolicyStore(self.session, self.institution_id).current().contact.academic_year_start

    def choices(self) -> dict[str, list[str]]:
        """The years the office may choose, newest first: those holding at least one semester."""
        start = self._start()
        semesters = self.compliance.semesters()
        academic = {academic_year_of(s.week1_monday, start) for s in semesters}
        calendar = {str(s.week1_monday.year) for s in semesters}
        return {ACADEMIC: sorted(academic, reverse=True), CALENDAR: sorted(calendar, reverse=True)}

    def semesters(self, year: CadreYear) -> list[Semester]:
        start = self._start()
        return [
            s
            for s in sorted(self.compliance.semesters(), key=lambda s: s.week1_monday)
            if year.holds(s, start)
        ]

    def build(self, year: CadreYear, progress: Callable[[int, str], None] | None = None) -> CadreFile:
        inst = self.session.get(Institution, self.institution_id)
        today = clock.today(inst)
        policy = PolicyStore(self.session, self.institution_id).current()
        start, end = year.bounds(policy.contact.academic_year_start)
        semesters = self.semesters(year)
        reports: list[ComplianceReport] = []
        for i, sem in enumerate(semesters):
            if progress:
                progress(10 + 50 * i // max(len(semesters), 1), f"核算 {sem.code}")
            reports.append(self.compliance.evaluate(sem))
        rows = self._rows(reports)
        if progress:
            progress(65, "来信与年度总结")
        letters = self._letters(list(rows), start, end, today)
        summary_year = self._summary_year(year, policy)
        summaries = self._summaries(list(rows), summary_year)
        deadline = summary_deadline(policy.contact, summary_year)
        for pid, row in rows.items():
            row.letters = letters.get(pid, LetterTally())
            if any(d.kind == "summary_submitted" for d in row.duties):
                row.summary = _summary_state(summaries.get(pid), summary_year, deadline, inst)
        ordered = sorted(rows.values(), key=lambda r: r.employee_no)
        log.info(
            "cadre file %s of institution %s: %d cadres, %d semesters",
            year.code, self.institution_id, len(ordered), len(semesters),
        )  # fmt: skip
        return CadreFile(
            year,
            inst.name if inst else "",
            start,
            end,
            [s.code for s in semesters],
            today,
            ordered,
        )

    def _rows(self, reports: Sequence[ComplianceReport]) -> dict[int, CadreRow]:
        rows: dict[int, CadreRow] = {}
        for report in reports:
            rules = {r.id: r for r in report.policy.rules}
            for p in report.persons:
                row = rows.get(p.person_id)
                if row is None:
                    row = rows[p.person_id] = CadreRow(p.person_id, p.employee_no, p.name, p.unit_name, [])
                for pos in p.positions:
                    if pos.name not in row.positions:
                        row.positions.append(pos.name)
                for result in p.results:
                    rule = rules.get(result.rule_id)
                    row.duties.append(_duty(report.semester_code, rule, result))
                    if result.kind == "reception_days" and result.status != NOT_APPLICABLE:
                        row.reception_scheduled = (row.reception_scheduled or 0) + result.required
                        row.reception_kept = (row.reception_kept or 0) + result.done
        return rows

    def _letters(
        self, person_ids: list[int], start: dt.date, end: dt.date, today: dt.date
    ) -> dict[int, LetterTally]:
        if not person_ids:
            return {}
        inst = self.session.get(Institution, self.institution_id)
        rows = self.session.execute(
            select(FollowUp.leader_id, FollowUp.status, FollowUp.deadline, FollowUp.answered_at)
            .join(Letter, Letter.follow_up_id == FollowUp.id)
            .where(
                FollowUp.institution_id == self.institution_id,
                FollowUp.kind == FollowUpKind.LETTER,
                FollowUp.leader_id.in_(person_ids),
                Letter.received_on >= start,
                Letter.received_on <= end,
            )
        ).all()
        tallies: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for leader_id, status, deadline, answered_at in rows:
            t = tallies[int(leader_id or 0)]
            t["routed"] += 1
            if answered_at is not None:
                answered = clock.local(answered_at, inst).date()
                t["on_time" if deadline is None or answered <= deadline else "late"] += 1
            elif follow_up_overdue(status, deadline, today):
                t["overdue"] += 1
            elif status == FollowUpStatus.CLOSED:
                t["closed_unanswered"] += 1
            else:
                t["in_handling"] += 1
        return {pid: LetterTally(**dict(t)) for pid, t in tallies.items()}

    @staticmethod
    def _summary_year(year: CadreYear, policy: Policy) -> str:
        """The academic year whose summary the file reports: the year itself, or for a calendar year the
        academic year whose summary is due inside it."""
        if year.kind == ACADEMIC:
            return year.year
        first = int(year.year)
        for candidate in (f"{first - 1}-{first}", f"{first}-{first + 1}"):
            if summary_deadline(policy.contact, candidate).year == first:
                return candidate
        return academic_year_of(dt.date(first, 12, 31), policy.contact.academic_year_start)

    def _summaries(self, person_ids: list[int], academic_year: str) -> dict[int, ContactSummary]:
        if not person_ids:
            return {}
        found = self.session.scalars(
            select(ContactSummary).where(
                ContactSummary.institution_id == self.institution_id,
                ContactSummary.academic_year == academic_year,
                ContactSummary.person_id.in_(person_ids),
            )
        )
        return {s.person_id: s for s in found}


def _duty(semester_code: str, rule: Rule | None, result: RuleResult) -> Duty:
    return Duty(
        semester_code,
        rule.system if rule is not None else "observation",
        result.rule_id,
        result.kind,
        rule.plain("zh_CN") if rule is not None else result.rule_id,
        rule.plain("en") if rule is not None else result.rule_id,
        result.required,
        result.done,
        result.status,
        result.informative,
        result.below_target,
        result.partial,
        tuple((m.code, m.label) for m in result.missing),
        result.explanation,
        dict(result.params),
        result.source,
    )


def _summary_state(
    s: ContactSummary | None, year: str, deadline: dt.date, inst: Institution | None
) -> SummaryState:
    if s is None:
        return SummaryState(year, deadline, "none", None, None)
    submitted = clock.local(s.submitted_at, inst).date() if s.submitted_at else None
    received = clock.local(s.received_at, inst).date() if s.received_at else None
    state = "draft"
    if s.status == SummaryStatus.SUBMITTED:
        state = "received" if received else "submitted"
    return SummaryState(year, deadline, state, submitted, received)


# -- words ---------------------------------------------------------------------------------------------------
STATUS_WORDS = {OK: N_("Met"), SHORT: N_("Not met"), NOT_APPLICABLE: N_("Not applicable")}
SUMMARY_WORDS = {
    "none": N_("Not written"),
    "draft": N_("Draft"),
    "submitted": N_("Submitted %(date)s"),
    "received": N_("Received by the school office %(date)s"),
}


class Words:
    """The file's words in one language (``zh_CN`` | ``en``)."""

    def __init__(self, language: str) -> None:
        self.language = language_of(language)
        self.gettext = translations(self.language).gettext

    def label(self, d: Duty) -> str:
        return d.label_en if self.language == "en" else d.label

    def __call__(self, msgid: str, **params: object) -> str:
        text = self.gettext(msgid)
        return text % params if params else text

    def status(self, d: Duty) -> str:
        if d.informative:
            if d.status == NOT_APPLICABLE:
                return self(STATUS_WORDS[NOT_APPLICABLE])
            return self(N_("Below target")) if d.below_target else self(N_("For reference"))
        return self(STATUS_WORDS.get(d.status, d.status))

    def system(self, t: SystemTally) -> str:
        if t.owed == 0:
            return self(N_("No duty"))
        if t.short:
            return self(N_("%(n)s not met"), n=t.short)
        return self(N_("All met"))

    def overall(self, row: CadreRow) -> str:
        return self(N_("Not all duties met")) if row.short else self(N_("All duties met"))

    def summary(self, s: SummaryState | None) -> str:
        if s is None:
            return "—"
        day = s.received_on if s.state == "received" else s.submitted_on
        return self(SUMMARY_WORDS[s.state], date=day.isoformat() if day else "")

    def missing(self, d: Duty) -> str:
        """The missing items in words (a reception week as "第 5 周", not a bare number)."""
        words = [
            self(N_("week %(n)s"), n=label) if code.startswith("week:") else label
            for code, label in d.missing
        ]
        return "、".join(words)

    def explanation(self, d: Duty) -> str:
        text = self.gettext(d.explanation) if d.explanation else ""
        try:
            return text % d.params if d.params else text
        except (KeyError, TypeError, ValueError):
            return d.explanation % d.params if d.params else d.explanation


# -- the Excel -----------------------------------------------------------------------------------------------
def summary_heads(w: Words) -> list[str]:
    return [
        w(N_("Employee no.")),
        w(N_("Name")),
        w(N_("Unit")),
        w(N_("Positions")),
        w(N_("Observation duties owed")),
        w(N_("Observation duties met")),
        w(N_("Observation duties")),
        w(N_("Contact duties owed")),
        w(N_("Contact duties met")),
        w(N_("Contact duties")),
        w(N_("Reception weeks scheduled")),
        w(N_("Reception weeks kept")),
        w(N_("Letters routed")),
        w(N_("Letters answered on time")),
        w(N_("Letters answered late")),
        w(N_("Letters overdue")),
        w(N_("Letters in handling")),
        w(N_("Year-end summary")),
        w(N_("Overall")),
    ]


def detail_heads(w: Words) -> list[str]:
    return [
        w(N_("Semester")),
        w(N_("Employee no.")),
        w(N_("Name")),
        w(N_("Unit")),
        w(N_("Rule")),
        w(N_("Requirement")),
        w(N_("Required")),
        w(N_("Done")),
        w(N_("Status")),
        w(N_("Partial tenure")),
        w(N_("Missing")),
        w(N_("Explanation")),
        w(N_("Source")),
    ]


def _head(ws: Worksheet, heads: list[str]) -> None:
    for c, title in enumerate(heads, start=1):
        cell = put(ws, 1, c, title)
        cell.font = Font(bold=True)
        cell.fill = HEAD_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.freeze_panes = "C2"


def _dash(value: int | None) -> int | str:
    return "—" if value is None else value


def workbook(cf: CadreFile, language: str) -> bytes:
    """汇总 (one row per cadre), one duty-detail sheet per system, and a sheet saying what the file covers."""
    w = Words(language)
    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = w(N_("Summary"))
    heads = summary_heads(w)
    _head(summary, heads)
    fine = (w(N_("All met")), w(N_("No duty")), w(N_("All duties met")))
    for r, row in enumerate(cf.rows, start=2):
        obs, con = row.tally("observation"), row.tally("contact")
        values: list[object] = [
            row.employee_no,
            row.name,
            row.unit,
            "、".join(row.positions),
            obs.owed,
            obs.met,
            w.system(obs),
            con.owed,
            con.met,
            w.system(con),
            _dash(row.reception_scheduled),
            _dash(row.reception_kept),
            row.letters.routed,
            row.letters.on_time,
            row.letters.late,
            row.letters.overdue,
            row.letters.in_handling,
            w.summary(row.summary),
            w.overall(row),
        ]
        for c, value in enumerate(values, start=1):
            cell = put(summary, r, c, value)
            if c in (7, 10, 19) and value not in fine:
                cell.font = SHORT_FONT
    last = len(cf.rows) + 1
    summary.auto_filter.ref = f"A1:{get_column_letter(len(heads))}{max(last, 1)}"
    for c in range(1, len(heads) + 1):
        summary.column_dimensions[get_column_letter(c)].width = 16 if c <= 4 else 11
    summary.row_dimensions[1].height = 44

    titles = {"observation": w(N_("Observation duties")), "contact": w(N_("Contact duties"))}
    for system in SYSTEMS:
        ws = wb.create_sheet(titles[system])
        dheads = detail_heads(w)
        _head(ws, dheads)
        r = 2
        for row in cf.rows:
            for d in row.duties:
                if d.system != system:
                    continue
                values = [
                    d.semester_code,
                    row.employee_no,
                    row.name,
                    row.unit,
                    d.rule_id,
                    w.label(d),
                    d.required,
                    d.done,
                    w.status(d),
                    w(N_("Yes")) if d.partial else "",
                    w.missing(d),
                    w.explanation(d),
                    d.source,
                ]
                for c, value in enumerate(values, start=1):
                    cell = put(ws, r, c, value)
                    if c == 9 and d.counts and d.status == SHORT:
                        cell.font = SHORT_FONT
                r += 1
        ws.auto_filter.ref = f"A1:{get_column_letter(len(dheads))}{max(r - 1, 1)}"
        for c, width in enumerate((12, 10, 10, 18, 7, 22, 8, 8, 10, 8, 30, 40, 30), start=1):
            ws.column_dimensions[get_column_letter(c)].width = width
        for cells in ws.iter_rows(min_row=2, min_col=11, max_col=13):
            for cell in cells:
                cell.alignment = Alignment(wrap_text=True, vertical="top")

    about = wb.create_sheet(w(N_("About this file")))
    lines: list[tuple[str, object]] = [
        (w(N_("Institution")), cf.institution_name),
        (w(N_("Year")), cf.year.label(w.gettext)),
        (w(N_("From")), cf.start.isoformat()),
        (w(N_("To")), cf.end.isoformat()),
        (w(N_("Semesters")), "、".join(cf.semesters) or "—"),
        (w(N_("Made on")), cf.generated_on.isoformat()),
        (
            w(N_("Counting")),
            w(
                N_(
                    "A semester counts whole in the year of its first Monday. Duties are judged per semester "
                    "by the compliance engine; letters count by the day they were received; the year-end "
                    "summary is the one due in this year."
                )
            ),
        ),
    ]
    for r, (key, value) in enumerate(lines, start=1):
        put(about, r, 1, key).font = Font(bold=True)
        put(about, r, 2, value).alignment = Alignment(wrap_text=True, vertical="top")
    about.column_dimensions["A"].width = 14
    about.column_dimensions["B"].width = 80

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def filename(cf: CadreFile, suffix: str, language: str = "zh_CN") -> str:
    """The file's name in the file's language (the PDF summary is Chinese)."""
    if language_of(language) == "en":
        return f"cadre-file-{cf.year.year}.{suffix}"
    return f"干部考核档案-{cf.year.label_zh}.{suffix}"


# -- the PDF summary -----------------------------------------------------------------------------------------
def pdf_html(cf: CadreFile) -> str:
    w = Words("zh_CN")
    return render_template("reports/cadre_file.html", cf=cf, w=w)


def _run_year(run: ReportRun) -> CadreYear:
    if not run.period:
        raise ValueError("a cadre file needs a year")
    return year_of_period(run.period)


@register_builder("cadre_file")
def build_cadre_file(session: Session, run: ReportRun, progress: RunProgress) -> tuple[str, bytes | None]:
    """The annual cadre file (Excel) of the run's year, in the requester's language."""
    cf = CadreFileService(session, run.institution_id).build(_run_year(run), progress)
    progress(80, "生成 Excel")
    return filename(cf, "xlsx", run.language), workbook(cf, run.language or "zh_CN")


@register_builder("cadre_summary")
def build_cadre_summary(session: Session, run: ReportRun, progress: RunProgress) -> tuple[str, bytes | None]:
    """The annual cadre file's PDF summary (a Chinese document, like the other PDFs)."""
    cf = CadreFileService(session, run.institution_id).build(_run_year(run), progress)
    progress(75, "排版")
    pdf = render_pdf(pdf_html(cf), on_step=lambda _s: progress(90, "写入 PDF"))
    return filename(cf, "pdf"), pdf


__all__ = [
    "ACADEMIC",
    "CALENDAR",
    "CadreFile",
    "CadreFileService",
    "CadreRow",
    "CadreYear",
    "LetterTally",
    "SummaryState",
    "parse_period",
    "period_label",
    "workbook",
    "year_of_period",
]
