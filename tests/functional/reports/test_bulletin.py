"""The periodic bulletin (通报, O-15, issue 5 §4): a worker-built PDF, numbered, kept with its date."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lti_tool.reports.models import ReportRun, RunStatus
from tests.functional.reports.test_report import _run, pdf_text
from tests.support import worlds


@pytest.fixture
def college(session_factory, worker_db):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        return worlds.statistics_world(s)


def test_bulletin_pdf_numbers_short_people_and_problems(session_factory, college):  # type: ignore[no-untyped-def]
    first = _run(session_factory, college, "bulletin")
    assert first.status == RunStatus.SUCCEEDED, first.error
    assert first.filename == "领导干部听课情况通报-2026-2027-1-第1期.pdf"
    text = pdf_text(first.content)
    for needle in [
        "关于领导干部听课制度执行情况的通报",
        "第1期",
        "2人已全部完成任务，3人尚未完成，完成率40.0%",
        "尚未完成听课任务的人员",
        "张副校长",
        "共反馈问题3个",
    ]:
        assert needle in text, needle
    second = _run(session_factory, college, "bulletin")
    assert second.filename.endswith("第2期.pdf")
    with session_factory() as s:
        kept = s.scalars(select(ReportRun).where(ReportRun.kind == "bulletin").order_by(ReportRun.id)).all()
        assert [r.filename[-8:] for r in kept] == ["-第1期.pdf", "-第2期.pdf"]
        assert all(r.finished_at is not None for r in kept)


def test_the_bulletins_last_page_holds_more_than_the_signature(session_factory, college):  # type: ignore[no-untyped-def]
    """The closing words travel with the signature (the demo's bulletin once ended on a page of its own)."""
    import io
    import re

    import pypdf

    run = _run(session_factory, college, "bulletin")
    pages = pypdf.PdfReader(io.BytesIO(run.content or b"")).pages
    last = re.sub(r"\s+", "", pages[-1].extract_text())
    assert "教学质量监控与评价中心" in last
    signature_only = re.sub(r"教学质量监控与评价中心\d{4}年\d{1,2}月\d{1,2}日", "", last)
    assert len(signature_only) > 20, last
