"""The period table (节次 → clock times): an imported file replaces the whole table."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.acting import logged_import
from lti_tool.i18n import N_
from lti_tool.import_runs.services import register_importer
from lti_tool.tabular import read_table
from lti_tool.timetable.models import (
    Period,
)
from lti_tool.timetable.specs import (
    MAX_PERIOD,
    SpecError,
    parse_time,
)

log = logging.getLogger(__name__)

_CHUNK = 500

PERIOD_ALIASES = {
    "period": ["节次", "节", "number"],
    "start": ["开始", "开始时间", "start_time"],
    "end": ["结束", "结束时间", "end_time"],
}


# -- periods -----------------------------------------------------------------------------------------
@dataclass
class PeriodImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0

    def __str__(self) -> str:
        return (
            f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}, "
            f"removed {self.removed}"
        )


class PeriodService:
    """The institution's period table (节次 → clock times). An imported file replaces the whole table."""

    def __init__(self, session: Session, institution_id: int) -> None:
        self.session = session
        self.institution_id = institution_id

    def all(self) -> list[Period]:
        return list(
            self.session.scalars(
                select(Period).where(Period.institution_id == self.institution_id).order_by(Period.number)
            )
        )

    def table(self) -> dict[int, Period]:
        return {p.number: p for p in self.all()}

    @logged_import(log, "periods")
    def import_periods(self, data: bytes, filename: str) -> PeriodImportResult:
        table = read_table(data, filename, PERIOD_ALIASES, ["period", "start", "end"])
        errors = table.errors
        parsed: dict[int, tuple[dt.time, dt.time, int]] = {}
        for row in table.rows:
            number_text = row.get("period")
            number = None
            match = re.match(r"^第?\s*(\d{1,2})\s*节?$", number_text)
            if match is None or not 1 <= int(match.group(1)) <= MAX_PERIOD:
                errors.add(
                    row.number,
                    "period",
                    f"“{number_text}”应为 1–{MAX_PERIOD} 的节次 "
                    f"(expected a period number from 1 to {MAX_PERIOD})",
                )
            else:
                number = int(match.group(1))
                if number in parsed:
                    errors.add(
                        row.number,
                        "period",
                        f"与第 {parsed[number][2]} 行重复 (duplicate of row {parsed[number][2]})",
                    )
                    number = None
            times: list[dt.time | None] = []
            for column in ("start", "end"):
                try:
                    times.append(parse_time(row.get(column)))
                except SpecError as exc:
                    errors.add(row.number, column, str(exc))
                    times.append(None)
            start, end = times
            if start and end and end <= start:
                errors.add(row.number, "end", "结束时间应晚于开始时间 (the end must be after the start)")
            if number is not None and start and end:
                parsed[number] = (start, end, row.number)
        ordered = sorted(parsed.items())
        for (prev_no, (_, prev_end, _)), (no, (start, _, row_no)) in zip(ordered, ordered[1:], strict=False):
            if start < prev_end:
                errors.add(
                    row_no,
                    "start",
                    f"第 {no} 节在第 {prev_no} 节结束（{prev_end:%H:%M}）前开始 "
                    f"(period {no} starts before period {prev_no} ends)",
                )
        if not table.rows:
            errors.add(2, "period", "文件中没有节次 (the file has no periods)")
        errors.raise_if_any("periods")
        result = PeriodImportResult()
        existing = self.table()
        for number, (start, end, _) in ordered:
            period = existing.pop(number, None)
            if period is None:
                self.session.add(
                    Period(institution_id=self.institution_id, number=number, start_time=start, end_time=end)
                )
                result.created += 1
            elif (period.start_time, period.end_time) != (start, end):
                period.start_time, period.end_time = start, end
                result.updated += 1
            else:
                result.unchanged += 1
        for period in existing.values():
            self.session.delete(period)
            result.removed += 1
        self.session.flush()
        return result


@register_importer(
    "periods",
    aliases=PERIOD_ALIASES,
    required=["period", "start", "end"],
    label=N_("Import the period table"),
    personas=("quality_center",),
    back="timetable.periods",
    back_label=N_("Back to the period table"),
)
def import_periods_job(
    session: Session, institution_id: int, data: bytes, filename: str
) -> PeriodImportResult:
    """The period table import as a worker job (``lti_tool/import_runs``): the page's and the CLI's."""
    return PeriodService(session, institution_id).import_periods(data, filename)
