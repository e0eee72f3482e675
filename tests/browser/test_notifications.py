"""The notification pages in the LMS iframe (issue 15 §1): a teacher reaches their preferences from the
navigation bar and changes them on a phone and on a desktop; the pages fit a phone's width."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from lti_tool.notifications.models import Preference
from tests.browser import test_walkthrough as walkthrough
from tests.browser.conftest import LmsBrowser
from tests.browser.test_observation_flow import launch
from tests.browser.test_walkthrough import VIEWPORTS, Walk

new_lms, college, device = walkthrough.new_lms, walkthrough.college, walkthrough.device  # fixtures


def test_teacher_sets_notification_preferences(  # type: ignore[no-untyped-def]
    new_lms: Callable[..., LmsBrowser],
    college: dict[str, Any],
    device: str,
    artifact_path: Callable[[str], Path],
    session_factory,
) -> None:
    walk = Walk(new_lms(VIEWPORTS[device]), device, artifact_path)
    launch(walk.lms, college["teacher"])
    walk.fit_frame()
    walk.check("home")
    text = walk.click(walk.frame.locator(".mainnav a", has_text="消息通知"), r"/notifications/(\?|$)", "mine")
    assert "高等数学" in text  # the record of their class, told at the class end (already over)
    text = walk.click(
        walk.frame.get_by_role("link", name="选择接收哪些消息"), r"/notifications/preferences", "preferences"
    )
    # only what can concern a teacher (events.AUDIENCES): not the units' problems
    assert "有我所授课程的听课记录" in text and "有问题转交本单位处理" not in text
    box = walk.frame.locator('input[value="record_available:email"]')
    expect(box).to_be_checked()
    box.uncheck()
    walk.click(walk.frame.get_by_role("button", name="保存"), r"/notifications/preferences\?", "saved")
    expect(walk.frame.locator('input[value="record_available:email"]')).not_to_be_checked()
    expect(walk.frame.get_by_text("您的选择已保存")).to_be_visible()
    with session_factory() as s:
        off = s.scalars(select(Preference).where(Preference.enabled.is_(False))).all()
        assert [(p.event, p.channel) for p in off] == [("record_available", "email")]
