"""Issue 15 §3: the record form survives a dead network (docs/decisions.md S-3), in Debian's Chromium inside
the LMS's iframe with third-party cookies blocked, on a 390-px phone.

Chromium with third-party cookies blocked denies the tool's iframe localStorage and IndexedDB, so here the
local copy lives in partitioned cookies (the script's second place); Playwright's offline mode cuts the
network of the whole browser context, iframe included.

1. Typed offline: the status line says offline, the field is marked "not yet saved on the server",
   submitting is refused; back online the text is saved and the server has it.
2. Typed offline, the tab closed: the next launch on the same phone restores the text from the device and
   saves it.
3. Offline edits meet a newer copy saved from another device: both texts are shown per field, nothing is
   saved until the person chooses, and each choice is honoured.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lti_tool.observations.models import Observation
from tests.browser import test_observation_flow as flow
from tests.browser.conftest import LmsBrowser
from tests.browser.test_contacts_flow import PHONE, assert_fits, phone_sized
from tests.browser.test_observation_flow import EDIT, Campus, autosaved, go, launch, pick_session, snap
from tests.support.platform import PlatformSimulator

pytestmark = pytest.mark.browser
# the fixtures: fresh browser contexts on the LMS course page, the campus, the class already over
new_lms = flow.new_lms
campus = flow.campus
after_the_bell = flow.after_the_bell
expect = pytest.importorskip("playwright.sync_api").expect

BEFORE = "教师以生活实例导入极限概念。"
OFFLINE_MORE = "（断网后继续写）板书清晰，分组讨论充分；学生参与积极。"
OTHER_DEVICE = "另一台设备上写的叙述。"
STRENGTHS_HERE = "本机离线写的优点。"
STRENGTHS_THERE = "另一台设备写的优点。"


def stored(session_factory: Any, obs_id: int) -> Observation:
    with session_factory() as s:
        obs = s.get(Observation, obs_id)
        assert obs is not None
        s.expunge(obs)
        return obs


def state(lms: LmsBrowser) -> Any:
    return lms.frame.locator("#save-status")


def msg(lms: LmsBrowser, key: str) -> str:
    return str(lms.frame.locator("#record").get_attribute(f"data-msg-{key}"))


def saved_again(lms: LmsBrowser, action: Callable[[], Any], field: str) -> None:
    """Run ``action`` (going online, a choice) and wait for the autosave that carries ``field``."""
    with lms.page.expect_response(
        lambda r: "/autosave" in r.url and f'"{field}"' in (r.request.post_data or "")
    ) as info:
        action()
    assert info.value.status == 200, f"{info.value.status}: {info.value.text()}{lms.log}"
    expect(state(lms)).to_have_attribute("data-state", "saved")
    expect(lms.frame.locator(".unsynced-note")).to_have_count(0)


def type_offline(lms: LmsBrowser, selector: str, text: str) -> None:
    """Cut the network, then type: the page says it is offline and marks the field."""
    lms.context.set_offline(True)
    field = lms.frame.locator(selector)
    field.press_sequentially(text, delay=5)
    expect(state(lms)).to_have_attribute("data-state", "offline")
    expect(state(lms)).to_have_text(msg(lms, "offline"))
    name = field.get_attribute("name")
    expect(lms.frame.locator(f".unsynced-note[data-for='{name}']")).to_be_visible()


def test_text_typed_offline_is_saved_when_the_network_returns(
    new_lms: Callable[..., LmsBrowser],
    campus: Campus,
    session_factory: Any,
    artifact_path: Callable[[str], Path],
) -> None:
    lms = new_lms(PHONE)
    launch(lms, campus.leader, page="pick")
    phone_sized(lms)
    obs_id = pick_session(lms, campus.today_session)
    f = lms.frame
    autosaved(lms, lambda: f.locator("#narrative").fill(BEFORE), "narrative")

    f.locator("#narrative").press("End")
    type_offline(lms, "#narrative", OFFLINE_MORE)
    assert_fits(lms, "the form offline")
    snap(lms, artifact_path("offline.png"))

    # Submitting needs the server: refused here, the page stays, the text stays.
    f.locator("button[data-action=submit]").click()
    expect(state(lms)).to_have_text(msg(lms, "submit-offline"))
    assert re.search(EDIT, f.url)
    assert stored(session_factory, obs_id).narrative == BEFORE

    saved_again(lms, lambda: lms.context.set_offline(False), "narrative")
    assert stored(session_factory, obs_id).narrative == BEFORE + OFFLINE_MORE
    snap(lms, artifact_path("online-again.png"))


def test_text_typed_offline_in_a_closed_tab_is_restored_on_the_next_launch(
    new_lms: Callable[..., LmsBrowser],
    campus: Campus,
    session_factory: Any,
    platform: PlatformSimulator,
    live_server: str,
    artifact_path: Callable[[str], Path],
) -> None:
    lms = new_lms(PHONE)
    launch(lms, campus.leader, page="pick")
    phone_sized(lms)
    obs_id = pick_session(lms, campus.today_session)
    autosaved(lms, lambda: lms.frame.locator("#narrative").fill(BEFORE), "narrative")
    lms.frame.locator("#narrative").press("End")
    type_offline(lms, "#narrative", OFFLINE_MORE)
    lms.page.close()  # airplane mode, the tab closed with it
    lms.context.set_offline(False)
    assert stored(session_factory, obs_id).narrative == BEFORE

    # The next day's launch on the same phone: the draft opens with the text kept on the device.
    again = LmsBrowser(lms.context, platform, live_server)
    launch(again, campus.leader)
    phone_sized(again)
    draft = again.frame.locator(f"#panel-observations a[href*='/observations/{obs_id}/edit']")
    with again.page.expect_response(
        lambda r: "/autosave" in r.url and "narrative" in (r.request.post_data or "")
    ) as info:
        go(again, draft.click, EDIT)
        expect(again.frame.locator("#narrative")).to_have_value(BEFORE + OFFLINE_MORE)
    assert info.value.status == 200, f"{info.value.status}{again.log}"
    expect(state(again)).to_have_attribute("data-state", "saved")
    assert stored(session_factory, obs_id).narrative == BEFORE + OFFLINE_MORE
    assert_fits(again, "the restored form")
    snap(again, artifact_path("restored.png"))

    # Saved: the device's copy is gone, so a reload shows the server's text with nothing to restore.
    go(again, lambda: again.frame.evaluate("setTimeout(() => location.reload(), 0)"), EDIT)
    expect(again.frame.locator("#narrative")).to_have_value(BEFORE + OFFLINE_MORE)
    expect(again.frame.locator(".unsynced-note")).to_have_count(0)
    assert state(again).get_attribute("data-state") != "unsaved"  # nothing restored, nothing to send


def test_offline_edits_meeting_a_newer_server_copy_are_shown_beside_it_and_the_choice_is_kept(
    new_lms: Callable[..., LmsBrowser],
    campus: Campus,
    session_factory: Any,
    artifact_path: Callable[[str], Path],
) -> None:
    phone = new_lms(PHONE)
    launch(phone, campus.leader, page="pick")
    phone_sized(phone)
    obs_id = pick_session(phone, campus.today_session)
    autosaved(phone, lambda: phone.frame.locator("#narrative").fill(BEFORE), "narrative")

    laptop = new_lms()
    launch(laptop, campus.leader)
    draft = laptop.frame.locator(f"#panel-observations a[href*='/observations/{obs_id}/edit']")
    go(laptop, draft.click, EDIT)
    expect(laptop.frame.locator("#narrative")).to_have_value(BEFORE)

    # The phone goes offline and goes on writing; meanwhile the laptop saves other text in the same fields.
    phone.frame.locator("#narrative").press("End")
    type_offline(phone, "#narrative", OFFLINE_MORE)
    phone.frame.locator("#strengths").fill(STRENGTHS_HERE)
    laptop.frame.locator("#narrative").fill(OTHER_DEVICE)
    autosaved(laptop, lambda: laptop.frame.locator("#strengths").fill(STRENGTHS_THERE), "strengths")

    # Back online: the server refuses the phone's older version; both texts are shown, nothing is saved.
    with phone.page.expect_response(lambda r: "/autosave" in r.url) as refused:
        phone.context.set_offline(False)
    assert refused.value.status == 409
    panel = phone.frame.locator("#draft-conflict")
    narrative = panel.locator(".conflict-field[data-field=narrative]")
    strengths = panel.locator(".conflict-field[data-field=strengths]")
    expect(narrative.locator(".conflict-server")).to_contain_text(OTHER_DEVICE)
    expect(narrative.locator(".conflict-device")).to_contain_text(BEFORE + OFFLINE_MORE)
    expect(strengths.locator(".conflict-server")).to_contain_text(STRENGTHS_THERE)
    expect(strengths.locator(".conflict-device")).to_contain_text(STRENGTHS_HERE)
    expect(state(phone)).to_have_attribute("data-state", "conflict")
    assert_fits(phone, "the form with both texts")
    snap(phone, artifact_path("conflict.png"))
    obs = stored(session_factory, obs_id)
    assert (obs.narrative, obs.strengths) == (OTHER_DEVICE, STRENGTHS_THERE)

    # Keep the phone's narrative and the laptop's strengths.
    strengths.locator("button[data-keep=server]").click()
    expect(phone.frame.locator("#strengths")).to_have_value(STRENGTHS_THERE)
    assert state(phone).get_attribute("data-state") == "conflict"  # one field still undecided
    saved_again(phone, narrative.locator("button[data-keep=device]").click, "narrative")
    expect(panel).to_have_count(0)
    obs = stored(session_factory, obs_id)
    assert (obs.narrative, obs.strengths) == (BEFORE + OFFLINE_MORE, STRENGTHS_THERE)
    snap(phone, artifact_path("chosen.png"))
