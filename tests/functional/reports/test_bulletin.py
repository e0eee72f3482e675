"""The periodic bulletin (通报, O-15, issue 5 §4; both systems since C-7c, test_shortfall_bulletin.py): a
worker-built PDF, numbered in the year's series, kept with its date."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lti_tool import clock
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
    year = clock.today().year
    assert first.filename == f"领导干部履职情况通报〔{year}〕1号.pdf"
    text = pdf_text(first.content)
    for needle in [
        "关于领导干部履职情况的通报",
        f"〔{year}〕1号",
        "听课任务未完成情况",
        "张副校长",
        "共反馈问题3个",
    ]:
        assert needle in text, needle
    second = _run(session_factory, college, "bulletin")
    assert second.filename.endswith(f"〔{year}〕2号.pdf")
    with session_factory() as s:
        kept = s.scalars(select(ReportRun).where(ReportRun.kind == "bulletin").order_by(ReportRun.id)).all()
        assert [r.number for r in kept] == [1, 2]
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
