"""A large people file in the LMS iframe and on a phone (issue 13 §5): the upload becomes an import run,
its page shows the progress bar while the worker imports, then what was stored — without the person
reloading anything and with no horizontal scrolling at 390 px."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lti_tool import tabular
from lti_tool.tabular import Limits
from tests.browser.conftest import LmsBrowser
from tests.support.redis import finish, redis_for, start_burst_worker
from tests.support.worlds import Roster

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def small_inline_limit() -> Iterator[None]:
    before = tabular.limits()
    tabular.configure(Limits(inline_bytes=4096))  # the live server runs in this process
    yield
    tabular.configure(before)


def test_a_large_people_file_is_imported_by_the_worker_while_its_page_follows(
    third_party_cookies_blocked,
    lms: LmsBrowser,
    roster: Roster,
    settings,
    small_inline_limit,
    tmp_path,
    artifact_path,
) -> None:  # type: ignore[no-untyped-def]
    redis_for(settings)
    roster.unit("QC", "教学质量监控与评价中心", kind="department", function="quality_center")
    roster.unit("TR", "交通运输学院")
    qc = roster.person("2001", "孙主任", unit="QC")
    frame = lms.open_course(qc, "/home")
    people_url = frame.url.replace("/home", "/directory/people", 1)

    rows = "\n".join(f"{100000 + i},教师{i},t{i}@jti.edu.cn,TR" for i in range(3000))
    csv_file = tmp_path / "人员.csv"
    csv_file.write_text("工号,姓名,邮箱,单位\n" + rows + "\n", encoding="utf-8")

    # a phone-wide LMS page framing the tool (the session cookie is partitioned under the LMS's site)
    screen: Any = lms.context.new_page()
    screen.set_viewport_size(PHONE)
    screen.goto(f"{lms.platform.base}/embed?src={people_url}")
    screen.evaluate("""() => { document.body.style.margin = '0';
        const f = document.getElementById('embedded');
        f.style.width = '100%'; f.style.height = '2400px'; f.style.border = '0'; }""")
    screen.frame_locator("iframe#embedded").locator("#import-file").wait_for(state="attached")
    phone: Any = screen.frames[1]
    phone.wait_for_function("(w) => window.innerWidth === w", arg=PHONE["width"])
    phone.set_input_files("#import-file", str(csv_file))
    with phone.expect_navigation(url=lambda u: "/imports/" in u, wait_until="load"):
        phone.click("form.upload button[type=submit]")
    body = phone.inner_text("body")
    assert "正在后台导入" in body and "3000 行" in body
    screen.screenshot(path=str(artifact_path("import-run-waiting-390.png")), full_page=True)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    output = finish(start_burst_worker(settings, tmp_path, "default"))
    assert "Job OK (import-run-1)" in output, output[-2000:]
    phone.wait_for_selector("text=导入完成", timeout=20_000)  # the page polls, then shows the outcome
    assert "新增 3000" in phone.inner_text("body")
    screen.screenshot(path=str(artifact_path("import-run-done-390.png")), full_page=True)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    with phone.expect_navigation(url=lambda u: "/directory/people" in u):
        phone.click("text=返回人员列表")
    assert "t2999@jti.edu.cn" in phone.inner_text("body") or "教师1" in phone.inner_text("body")
