"""The newcomer's way in (issue 11 §12): ``/`` says what Tingke is; the demo LMS is a real LTI 1.3 platform
whose course page embeds Tingke and launches any demo person through the real OIDC flow."""

from __future__ import annotations

import dataclasses
import html
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from lti_tool.demo.lms import DemoLms
from lti_tool.directory.models import UnitFunction
from lti_tool.errors import Conflict
from tests.support import factories


@pytest.fixture
def college(session_factory, institution_id: int) -> None:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        qc = factories.unit(
            s,
            institution_id,
            "教学质量监控与评价中心",
            kind="department",
            function=UnitFunction.QUALITY_CENTER,
        )
        factories.person(
            s, institution_id, "王校长", employee_no="L001", positions=["vp_teaching"], email="l@x.edu"
        )
        factories.person(s, institution_id, "孙主任", employee_no="Q001", unit=qc, email="q@x.edu")


@pytest.fixture
def demo_lms(settings, session_factory, college, tool_key: str, live_server: str) -> Iterator[DemoLms]:  # type: ignore[no-untyped-def]
    server = make_server("127.0.0.1", 0, lambda e, r: lms(e, r), threaded=True)
    lms = DemoLms(settings, session_factory, "JTI", f"http://127.0.0.1:{server.server_port}")
    lms.register()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield lms
    server.shutdown()


def _form(page: str) -> tuple[str, dict[str, str]]:
    action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    fields = {
        html.unescape(k): html.unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', page)
    }
    return action, fields


def _launch(lms: DemoLms, sub: str) -> requests.Response:
    """What the browser does inside the course page's iframe: every auto-posting form, followed."""
    http = requests.Session()
    page = http.get(f"{lms.base}/launch", params={"user": sub}, timeout=10)
    action, fields = _form(page.text)  # login initiation → Tingke
    login = http.post(action, data=fields, allow_redirects=False, timeout=10)
    assert login.status_code == 302, login.text
    # Tingke's state cookie is Secure; a browser sends it to http://localhost, requests needs telling.
    state_cookies = login.cookies.get_dict()
    auth = http.get(login.headers["Location"], timeout=10)  # → the LMS's /auth
    assert auth.status_code == 200, auth.text
    action, fields = _form(auth.text)  # the signed id_token → Tingke's launch
    return http.post(action, data=fields, cookies=state_cookies, allow_redirects=True, timeout=10)


def test_root_page_says_what_tingke_is_and_links_to_the_setup(client, app) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/", headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "leadership class-observation system" in text
    assert 'href="/lti/config' in text and 'id="demo-lms"' not in text


def test_root_page_links_to_the_demo_lms_when_it_runs(app, client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    t = app.extensions["tingke"]
    monkeypatch.setattr(t, "settings", dataclasses.replace(t.settings, demo_lms_url="http://127.0.0.1:5001/"))
    assert 'href="http://127.0.0.1:5001/"' in client.get("/").get_data(as_text=True)
    monkeypatch.setattr(t, "settings", dataclasses.replace(t.settings, environment="production"))
    assert "127.0.0.1:5001" not in client.get("/").get_data(as_text=True)


def test_demo_lms_course_page_embeds_tingke_and_launches_each_person(demo_lms: DemoLms) -> None:
    course = requests.get(f"{demo_lms.base}/", timeout=10)
    assert course.status_code == 200
    assert '<iframe id="tool"' in course.text and "王校长" in course.text and "孙主任" in course.text
    subs = {u.name: u.sub for u in demo_lms.users()}
    assert set(subs) >= {"王校长", "孙主任", "学生甲", "LMS 管理员"}

    leader = _launch(demo_lms, subs["王校长"])
    assert leader.status_code == 200 and "/home" in leader.url, leader.text[:500]
    assert "王校长" in leader.text
    quality = _launch(demo_lms, subs["孙主任"])
    assert "/observations/export.csv" in quality.text
    student = _launch(demo_lms, subs["学生甲"])
    assert student.status_code == 200 and "/home" in student.url
    # Tingke lets the demo LMS frame it (its origin is a registered platform's).
    assert demo_lms.base in leader.headers["Content-Security-Policy"]


def test_demo_lms_refuses_strangers_and_production(demo_lms: DemoLms, settings, session_factory) -> None:  # type: ignore[no-untyped-def]
    wrong = requests.get(
        f"{demo_lms.base}/auth",
        params={
            "client_id": "someone-else",
            "redirect_uri": f"{demo_lms.tool}/lti/launch",
            "login_hint": "x",
        },
        timeout=10,
    )
    assert wrong.status_code == 400
    elsewhere: dict[str, Any] = {
        "client_id": "tingke-demo-lms",
        "redirect_uri": "http://evil.example/steal",
        "login_hint": demo_lms.users()[0].sub,
    }
    assert requests.get(f"{demo_lms.base}/auth", params=elsewhere, timeout=10).status_code == 400
    with pytest.raises(Conflict):
        DemoLms(
            dataclasses.replace(settings, environment="production"),
            session_factory,
            "JTI",
            "http://127.0.0.1:1",
        )


def test_the_leader_receiving_visitors_this_week_is_one_of_the_demo_people(  # type: ignore[no-untyped-def]
    settings, session_factory, college, institution_id: int
):
    """The reception roster's leader of the current teaching week can be launched, so a newcomer can record
    this week's reception day from the demo LMS."""
    import datetime as dt

    from lti_tool import clock
    from lti_tool.outreach.models import ReceptionDuty

    today = clock.today()
    with session_factory.begin() as s:
        sem = factories.semester(
            s, institution_id, "S-NOW", week1_monday=today - dt.timedelta(days=14), weeks=18
        )
        li = factories.person(s, institution_id, "李副校长", employee_no="L009", positions=["school_leader"])
        s.add(
            ReceptionDuty(
                institution_id=institution_id, semester_id=sem.id, week=sem.week_of(today), person_id=li.id
            )
        )
    lms = DemoLms(settings, session_factory, "JTI", "http://127.0.0.1:1")
    by_no = {u.employee_no: u for u in lms.users()}
    assert "L009" in by_no and "接待" in by_no["L009"].who
