"""The quality center imports a timetable in the LMS iframe, on a phone and on a desktop (issue 11 §2): the
form's two choices, the preview of an update and of a replace, the confirmation, and a bad file's errors
back on the form. Each page is checked as the walkthroughs check theirs (``Walk.check``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from lti_tool.timetable.models import CourseSection
from tests.browser import test_observation_flow as flow
from tests.browser.conftest import LmsBrowser, Roster
from tests.browser.test_observation_flow import OVERFLOWING, PHONE, go, launch, snap
from tests.browser.test_walkthrough import VIEWPORTS, Walk
from tests.functional.timetable.test_import import HEADER_EN, _observe, csv_bytes, setup_semester
from tests.functional.timetable.test_safe_import import COLLEGE, ONE_ROW
from tests.support.platform import PlatformSimulator

new_lms = flow.new_lms  # the fixture: fresh browser contexts on the LMS course page


def _choose_file(walk: Walk, rows: list[list[str]], name: str) -> None:
    data = csv_bytes([HEADER_EN, *rows])
    walk.frame.locator("#file").set_input_files({"name": name, "mimeType": "text/csv", "buffer": data})


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_quality_center_previews_and_confirms_a_timetable_import(
    new_lms: Callable[..., LmsBrowser],
    roster: Roster,
    session_factory: Any,
    institution_id: int,
    platform: PlatformSimulator,
    device: str,
    artifact_path: Callable[[str], Path],
) -> None:
    roster.unit("CS", "计算机学院")
    roster.unit("QC", "教学质量监控与评价中心", kind="department", function="quality_center")
    qc = roster.person("Q001", "孙主任", unit="QC")
    roster.person("T001", "张老师", unit="CS")
    roster.person("T002", "李老师", unit="CS")
    setup_semester(session_factory, institution_id, COLLEGE[:30])
    _observe(session_factory, institution_id, "G007", dt.date(2026, 9, 16), "记录")

    walk = Walk(new_lms(VIEWPORTS[device]), device, artifact_path)
    launch(walk.lms, qc)
    walk.fit_frame()
    walk.click(
        walk.frame.locator("nav a[href*='/timetable/semesters']").first, r"/timetable/semesters", "semesters"
    )
    walk.click(walk.frame.locator(".tabs a[href*='/timetable/import']"), r"/timetable/import", "form")

    # the whole timetable, replaced by one row: a separate choice, its own confirmation
    _choose_file(walk, ONE_ROW, "one-row.csv")
    walk.frame.locator("input[name=mode][value=replace]").check()
    text = walk.click(
        walk.frame.locator("form[action*='/import'] button[type=submit]"), r"/timetable/import", "replace"
    )
    assert "删除的教学班（28）" in text and "受影响的已听课课次（1）" in text
    expect(walk.frame.locator("input[name=confirm_replace]")).to_be_visible()
    walk.click(walk.frame.locator("a[href*='/timetable/import']").first, r"/timetable/import", "back")

    # an update of the same row: nothing else is touched
    _choose_file(walk, ONE_ROW, "one-row.csv")
    text = walk.click(
        walk.frame.locator("form[action*='/import'] button[type=submit]"), r"/timetable/import", "update"
    )
    assert "文件未列出的课程的 29 个教学班保持不变" in text
    walk.click(walk.frame.locator("#confirm-import button[type=submit]"), r"/timetable/import", "imported")
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(CourseSection)) == 30

    # a bad file: back on the form, its problems by row and column (a 422, so not Walk.check)
    _choose_file(walk, [[*COLLEGE[1][:5], "X999", *COLLEGE[1][6:]]], "bad.csv")
    go(
        walk.lms,
        walk.frame.locator("form[action*='/import'] button[type=submit]").click,
        r"/timetable/import",
    )
    expect(walk.frame.locator("#import-error")).to_contain_text("row 2")
    expect(walk.frame.locator("#file")).to_be_visible()
    if device == "phone":
        width = walk.frame.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], walk.frame.evaluate(OVERFLOWING)
    snap(walk.lms, artifact_path(f"{device}-errors.png"))
