"""The contact system's PDFs through the job function (as the worker calls them): the execution report
(联系基层制度执行情况报告) and a leader's contact archive of the year, on the hand-counted college of
tests/support/worlds.py ``contacts_world``; the numbers are checked on the dataclasses, the PDF's text for
what a reader must find."""

from __future__ import annotations

import io

import pypdf
import pytest

from lti_tool.reports.contacts import ContactReportService
from lti_tool.reports.models import ReportRun, RunStatus
from tests.support.worlds import contacts_world
from worker import jobs


@pytest.fixture
def world(session_factory, worker_db):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        return contacts_world(s, "RPT")


def _run(session_factory, world, kind: str, person: str | None = None) -> ReportRun:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        run = ReportRun(
            institution_id=world.institution_id,
            kind=kind,
            semester_id=world.semester.id,
            person_id=world.people[person] if person else None,
        )
        s.add(run)
        s.flush()
        run_id = run.id
    jobs.run_report(run_id)
    with session_factory() as s:
        done = s.get(ReportRun, run_id)
        assert done is not None
        return done


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_contact_report_numbers(session_factory, world):  # type: ignore[no-untyped-def]
    with session_factory() as s:
        stats = ContactReportService(s, world.institution_id).statistics(world.semester)
    f = stats.headline.figures
    # 16 records, 15 submitted (王's visit to 道桥 is a draft); 14 of them count (张's branch activity is
    # not confirmed), the group visit once for each of its two leaders: 15 credits
    assert (f.records, f.credits) == (15, 15)
    assert (f.visits, f.branch_activities, f.branch_confirmed, f.lectures, f.symposia) == (9, 4, 3, 1, 1)
    assert stats.colleges == ["汽车工程学院", "轨道交通学院", "道桥工程学院"]
    wang = next(r for r in stats.coverage if r.name == "王副校长")
    assert wang.held == (True, False, True) and wang.visits == (2, None, 1)
    pending = [a for a in stats.branch_activities if a.status == "待确认"]
    assert [a.leaders for a in pending] == ["张书记"]
    assert any("待支部书记确认" in text for text in stats.suggestions)
    short = {e.name for g in stats.groups for e in g.short_list}
    assert {"李院长", "张书记", "钱书记", "周处长"} <= short and "孙处长" not in short


def test_contact_report_pdf(session_factory, world):  # type: ignore[no-untyped-def]
    run = _run(session_factory, world, "contact_report")
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.filename == "领导干部联系基层制度执行情况报告-2026-2027-1.pdf"
    text = _text(run.content or b"")
    for needle in (
        "领导干部联系基层制度执行情况报告",
        "各条规定执行情况",
        "校领导联系院（部）情况",
        "联系党支部情况",
        "月度趋势",
        "与上一学年同期对比",
        "工作建议",
        "待确认",
        "张书记",
    ):
        assert needle in text, needle


def test_contact_archive_pdf(session_factory, world):  # type: ignore[no-untyped-def]
    run = _run(session_factory, world, "contact_archive", person="赵")
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.filename == "联系基层工作档案-赵院长-2026-2027.pdf"
    text = _text(run.content or b"")
    for needle in (
        "联系基层工作档案",
        "汽车运用教研室",
        "汽修2401",
        "C-2b",
        "年度联系基层工作总结",
        "已提交",
    ):
        assert needle in text, needle
