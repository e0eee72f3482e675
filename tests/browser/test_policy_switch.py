"""The quality center applies a corrected policy to the running semester in the LMS iframe, on a phone and on
a desktop (issue 11 §10): the policy page → the semesters' versions → the preview → the confirmed switch →
the audit. Each page is checked as the walkthroughs check theirs (``Walk.check``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lti_tool.timetable.models import Semester
from tests.browser import test_observation_flow as flow
from tests.browser.conftest import LmsBrowser
from tests.browser.test_observation_flow import launch
from tests.browser.test_walkthrough import VIEWPORTS, Walk
from tests.functional.compliance.test_policy_switch import QC_USER, build_college

new_lms = flow.new_lms  # the fixture: fresh browser contexts on the LMS course page


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_quality_center_switches_the_running_semester_to_a_corrected_policy(
    new_lms: Callable[..., LmsBrowser],
    session_factory: Any,
    institution_id: int,
    device: str,
    artifact_path: Callable[[str], Path],
) -> None:
    semester_id, _, v2 = build_college(session_factory, institution_id)
    walk = Walk(new_lms(VIEWPORTS[device]), device, artifact_path)
    launch(walk.lms, QC_USER)
    walk.fit_frame()
    walk.click(walk.frame.locator("nav a[href*='/policy/rules']").first, r"/policy/rules", "policy")
    walk.click(walk.frame.locator("#switch-link"), r"/policy/switch(\?|$)", "semesters")
    text = walk.click(
        walk.frame.locator(f"a[href*='/policy/switch/{semester_id}']"),
        rf"/policy/switch/{semester_id}",
        "preview",
    )
    assert "王校长" in text and "赵部长" in text
    walk.frame.locator("#reason").fill("教务处更正了O-1和O-7的次数")
    walk.frame.locator("input[name=confirm]").check()
    text = walk.click(
        walk.frame.locator("#switch-form button[type=submit]"), r"/policy/switch(\?|$)", "switched"
    )
    assert "教务处更正了O-1和O-7的次数" in text
    with session_factory() as s:
        assert s.scalar(select(Semester.policy_version_id).where(Semester.id == semester_id)) == v2
