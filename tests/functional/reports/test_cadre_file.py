"""The annual cadre file (三个纳入, issue 12 item 6): its run, the year it covers, the Excel and the PDF."""

from __future__ import annotations

from lti_tool.reports.services import ReportRunService
from tests.support import factories as f


def test_a_run_for_a_year_is_keyed_by_the_year_and_the_language(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        inst = f.institution(s, "RUNKEY").id
        service = ReportRunService(s, inst)
        first, created = service.request(
            "cadre_excel", semester_id=None, period="ay:2026-2027", language="zh_CN"
        )
        again, created_again = service.request(
            "cadre_excel", semester_id=None, period="ay:2026-2027", language="zh_CN"
        )
        calendar, created_calendar = service.request(
            "cadre_excel", semester_id=None, period="cy:2026", language="zh_CN"
        )
        english, created_english = service.request(
            "cadre_excel", semester_id=None, period="ay:2026-2027", language="en"
        )
        assert created and not created_again and again.id == first.id
        assert created_calendar and calendar.id != first.id and calendar.period == "cy:2026"
        assert created_english and english.id not in (first.id, calendar.id) and english.language == "en"
