"""Issue 15 §4 in Debian's Chromium, inside the LMS's iframe on a 375-px phone: a school leader raises a
problem in the record form with a photo from the camera input (Playwright's ``set_input_files`` stands in for
the camera), sees its thumbnail, submits the record; the asset office's handler opens the problem on their
phone and sees the photo — stored without the phone's GPS.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import ExifTags, Image
from sqlalchemy import select
from sqlalchemy.orm import undefer

from lti_tool.problems.models import Photo, Problem
from tests.browser.conftest import LmsBrowser
from tests.browser.test_observation_flow import (  # noqa: F401 - campus, new_lms and after_the_bell are fixtures
    EDIT,
    NEXT_PAINT,
    PHONE,
    Campus,
    after_the_bell,
    assert_fits_phone,
    campus,
    expect,
    fill_rest,
    fill_some,
    go,
    launch,
    new_lms,
    pick_session,
    snap,
    submit,
)
from tests.support.images import phone_jpeg
from tests.support.worlds import Roster

pytestmark = pytest.mark.browser


def phone_wide(lms: LmsBrowser) -> None:
    """The activity's iframe as wide as the phone (as Moodle's Boost theme shows it)."""
    lms.page.evaluate("""() => {
        document.body.style.margin = '0';
        const f = document.getElementById('tool');
        f.style.width = '100%'; f.style.height = '740px'; f.style.border = '0'; }""")
    lms.frame.wait_for_function("(w) => window.innerWidth === w", arg=PHONE["width"])


def loaded(img) -> bool:  # type: ignore[no-untyped-def]
    """The browser fetched and decoded the image (a refused or broken one has no natural width)."""
    return bool(img.evaluate("(i) => i.complete && i.naturalWidth > 0"))


def test_a_leader_raises_a_problem_with_a_camera_photo_and_the_handler_sees_it_on_a_phone(
    new_lms: Callable[..., LmsBrowser],  # noqa: F811 - the fixture imported above
    campus: Campus,  # noqa: F811 - the fixture imported above
    roster: Roster,
    session_factory,  # type: ignore[no-untyped-def]
    artifact_path: Callable[[str], Path],
) -> None:
    roster.unit("ZC", "资产管理处", kind="department")
    handler_user = roster.person("H001", "资产干事", unit="ZC")

    phone = new_lms(PHONE)
    launch(phone, campus.leader, page="pick")
    phone_wide(phone)
    pick_session(phone, campus.today_session)
    f = phone.frame

    # The record form's problem section: category, unit, description and the camera input.
    camera = f.locator("#p-photos")
    assert camera.get_attribute("accept") == "image/*" and camera.get_attribute("capture") == "environment"
    assert camera.get_attribute("multiple") is not None
    f.locator("#p-category").select_option(index=1)
    f.locator("#p-unit").select_option(label="资产管理处")
    f.locator("#p-description").fill("投影仪灯泡损坏，画面很暗")
    camera.set_input_files(
        files=[{"name": "IMG_2041.JPG", "mimeType": "image/jpeg", "buffer": phone_jpeg(1200, 900)}]
    )
    go(phone, f.locator("#problems form button[type=submit]").last.click, EDIT)

    thumb = f.locator("#problems .problem-thumbs img")
    expect(thumb).to_have_count(1)
    thumb.scroll_into_view_if_needed()
    f.wait_for_function("(i) => i.complete && i.naturalWidth > 0", arg=thumb.element_handle())
    assert_fits_phone(phone, "the record form with a problem photo")
    f.evaluate(NEXT_PAINT)
    phone.page.screenshot(path=str(artifact_path("record-problem-photo-375.png")))

    with session_factory() as s:
        photo = s.scalars(select(Photo).options(undefer(Photo.data))).one()
        problem = s.get(Problem, photo.problem_id)
        assert problem is not None and problem.description == "投影仪灯泡损坏，画面很暗"
        with Image.open(io.BytesIO(photo.data)) as stored:
            assert len(stored.getexif()) == 0 and not stored.getexif().get_ifd(ExifTags.IFD.GPSInfo)
            assert stored.size == (900, 1200)  # the phone held it upright (EXIF orientation 6)
        problem_id, photo_id = problem.id, photo.id

    # The problem reaches the asset office once the record is submitted.
    fill_some(phone)
    fill_rest(phone)
    submit(phone)

    handler = new_lms(PHONE)
    handler.open_course(handler_user, "/home")
    phone_wide(handler)
    path = f"/problems/{problem_id}"
    handler.navigate(lambda: handler.frame.goto(f"{handler.tool_base}{path}"), path)
    h = handler.frame
    expect(h.locator("#photos ul.photos img")).to_have_count(1)
    img = h.locator("#photos ul.photos img")
    img.scroll_into_view_if_needed()
    h.wait_for_function("(i) => i.complete && i.naturalWidth > 0", arg=img.element_handle())
    assert loaded(img)
    link = h.locator("#photos ul.photos a").get_attribute("href") or ""
    assert f"/problems/photos/{photo_id}" in link
    expect(h.locator("#step-photos")).to_have_attribute("capture", "environment")  # resolve with photos
    assert_fits_phone(handler, "the handler's problem page")
    snap(handler, artifact_path("handler-problem-photo-375.png"))
