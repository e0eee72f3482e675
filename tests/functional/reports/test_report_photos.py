"""The execution report's problem list shows each problem's photos as thumbnails (issue 15 §4), embedded
as data: URIs so the PDF's fetcher still fetches nothing (docs/decisions.md W-5)."""

from __future__ import annotations

import io

import pypdf
import pytest
from sqlalchemy import select

from lti_tool.demo.photos import projector_picture
from lti_tool.problems.models import PhotoStage, Problem
from lti_tool.problems.photos import PhotoService, PhotoUpload
from lti_tool.reports.models import RunStatus
from tests.browser.conftest import ARTIFACTS
from tests.functional.reports.test_report import _run, pdf_text
from tests.support import worlds


@pytest.fixture
def college(session_factory, worker_db):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        return worlds.statistics_world(s)


def _images(content: bytes) -> list[tuple[int, int]]:
    """(width, height) of every image XObject in the PDF (WeasyPrint shares one resource dictionary
    between pages, so each object is counted once)."""
    reader = pypdf.PdfReader(io.BytesIO(content))
    found: dict[int, tuple[int, int]] = {}
    for page in reader.pages:
        xobjects = page.get("/Resources", {}).get("/XObject", {})
        for ref in xobjects.values():
            obj = ref.get_object()
            if obj.get("/Subtype") == "/Image":
                found[ref.idnum] = (int(obj["/Width"]), int(obj["/Height"]))
    return list(found.values())


def test_a_problem_photo_is_a_thumbnail_in_the_report_problem_list(session_factory, college, time_machine):  # type: ignore[no-untyped-def]
    time_machine.move_to(worlds.STATISTICS_NOW, tick=True)
    before = _run(session_factory, college, "execution_report")
    assert before.status == RunStatus.SUCCEEDED, before.error
    assert _images(before.content or b"") == []  # charts are vector: any image is a photo

    with session_factory.begin() as s:
        problem = s.scalars(
            select(Problem)
            .where(Problem.institution_id == college.institution_id, Problem.status.in_(["new", "accepted"]))
            .order_by(Problem.id)
        ).first()
        assert problem is not None
        PhotoService(s, college.institution_id).add(
            problem,
            [PhotoUpload("projector.jpg", io.BytesIO(projector_picture()))],
            stage=PhotoStage.RAISED,
            person_id=problem.raised_by_id,
        )
    run = _run(session_factory, college, "execution_report")
    assert run.status == RunStatus.SUCCEEDED, run.error
    content = run.content or b""
    images = _images(content)
    assert images == [(320, 240)]  # the thumbnail, not the stored 1280 × 960 picture
    assert "表8问题清单" in pdf_text(content)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "report-with-problem-photo.pdf").write_bytes(content)  # for pdftoppm: look at the page
