"""Where the session lives after a launch (issue 13 §2, docs/decisions.md L-4).

The partitioned session cookie where the browser keeps it (no link carries a session); otherwise a link
token that lives minutes and is renewed on every page; a relaunch or a logout ends the session; download
links never carry the session token (a one-time ticket for that URL where there is no cookie). Each test
here fails when its protection is removed.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from urllib.parse import parse_qs, urlsplit

from lti_tool import clock
from lti_tool.reports.models import ReportRun, RunStatus
from lti_tool.reports.services import ReportKind
from lti_tool.web import SESSION_COOKIE
from tests.support import factories as f
from tests.support.launch import Launcher, LaunchResult, drop_session_cookie
from tests.support.platform import ROLE_INSTRUCTOR, ROLE_LEARNER, LmsUser

TEACHER = LmsUser("u-100", "王老师", "wang@jti.edu", "", [ROLE_INSTRUCTOR])
QC = LmsUser("qc-1", "质控中心", "qc@jti.edu.cn", "Q001", [ROLE_LEARNER])


def _links(page: str) -> list[str]:
    """Every same-site link and form action of a page (hrefs, actions, data-*-url attributes)."""
    urls = re.findall(r'(?:href|action|data-[a-z-]+-url)="([^"]+)"', page)
    return [html.unescape(u) for u in urls if u.startswith("/")]


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


def _qc_with_a_report(session_factory, institution_id: int) -> int:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        qc = f.unit(s, institution_id, "质控中心", kind="department", code="ZK", function="quality_center")
        f.person(s, institution_id, "质控中心", employee_no="Q001", unit=qc)
        run = ReportRun(
            institution_id=institution_id,
            kind=ReportKind.CADRE_FILE,
            status=RunStatus.SUCCEEDED,
            filename="cadres.xlsx",
            content=b"PK-cadres",
        )
        s.add(run)
        s.flush()
        return run.id


# -- the cookie ------------------------------------------------------------------------------------------
def test_launch_sets_a_partitioned_secure_httponly_session_cookie(launcher: Launcher) -> None:
    result = launcher.launch(TEACHER)
    header = next(h for h in result.response.headers.getlist("Set-Cookie") if h.startswith(SESSION_COOKIE))
    attributes = {a.strip().split("=")[0].lower() for a in header.split(";")[1:]}
    assert {"partitioned", "secure", "httponly", "samesite", "path"} <= attributes, header
    assert "SameSite=None" in header and "Path=/" in header


def test_with_the_cookie_no_link_carries_a_session(launcher: Launcher, client) -> None:
    launcher.launch(TEACHER)
    response = client.get("/home")  # no token at all: the cookie alone
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-session=""' in page
    links = _links(page)
    assert links, "the home page has links"
    for url in links:
        assert not _query(url).get("s"), url
    assert "X-Tingke-Session" not in response.headers
    # the launch's first page is addressed with a link token; the cookie came back with it, so the page
    # is served again at an address without the token
    again = launcher.launch(TEACHER)
    first = again.get(client, "/home?view=1", headers={"Sec-Fetch-Mode": "navigate"})
    assert first.status_code == 303 and first.headers["Location"] == "/home?view=1"
    assert all(not _query(u).get("s") for u in _links(client.get("/home").get_data(as_text=True)))


def test_with_the_cookie_a_download_link_carries_nothing(
    launcher: Launcher, client, session_factory, institution_id
) -> None:
    run_id = _qc_with_a_report(session_factory, institution_id)
    launcher.launch(QC)
    page = client.get(f"/reports/runs/{run_id}").get_data(as_text=True)
    link = next(u for u in _links(page) if u.startswith(f"/reports/runs/{run_id}/download"))
    assert urlsplit(link).query == "", link
    assert client.get(link).get_data() == b"PK-cadres"
    assert client.get(link).get_data() == b"PK-cadres"  # the cookie: as often as the person likes


def test_search_forms_carry_a_session_field_only_where_there_is_no_cookie(
    launcher: Launcher, client, session_factory, institution_id
) -> None:  # type: ignore[no-untyped-def]
    """A GET form (the roster search) repeats the link token as a hidden field where there is no cookie;
    with the cookie it has no such field, so a search's address carries no empty ``s=``."""
    _qc_with_a_report(session_factory, institution_id)
    launcher.launch(QC)
    page = client.get("/directory/people").get_data(as_text=True)
    assert 'method="get"' in page.lower() and 'name="s"' not in page
    drop_session_cookie(client)
    result = launcher.launch(QC, keep_cookie=False)
    page = result.get(client, "/directory/people").get_data(as_text=True)
    field = re.search(r'name="s" value="([^"]*)"', page)
    assert field is not None and field.group(1), "the search form must carry the link token"


def test_a_tampered_or_foreign_cookie_authenticates_nobody(launcher: Launcher, client, settings) -> None:
    launcher.launch(TEACHER)
    cookie = client.get_cookie(SESSION_COOKIE)
    assert cookie is not None
    client.set_cookie(
        SESSION_COOKIE, cookie.value[:-3] + ("aaa" if not cookie.value.endswith("aaa") else "bbb")
    )
    assert client.get("/home").status_code == 401
    # a link token is no cookie (another salt), nor is a cookie a link token
    token = launcher.launch(TEACHER, keep_cookie=False).token
    client.set_cookie(SESSION_COOKIE, token)
    assert client.get("/home").status_code == 401


# -- the link token where no cookie comes back -------------------------------------------------------------
def test_without_the_cookie_every_page_issues_fresh_link_tokens(launcher: Launcher, client) -> None:
    result = launcher.launch(TEACHER, keep_cookie=False)
    response = result.get(client, "/home")
    assert response.status_code == 200
    fresh = response.headers["X-Tingke-Session"]
    links = [u for u in _links(response.get_data(as_text=True)) if not u.startswith("/static/")]
    assert links and all(_query(u).get("s") == [fresh] for u in links), links
    renewed = client.get("/lti/session", headers={"X-Tingke-Session": fresh})
    assert renewed.status_code == 200 and renewed.get_json()["session"]
    assert client.get("/home").status_code == 401  # no cookie, no token: nobody


def test_a_copied_url_stops_working_after_minutes(launcher: Launcher, client, settings, time_machine) -> None:
    result = launcher.launch(TEACHER, keep_cookie=False)
    copied = next(u for u in _links(result.get(client, "/home").get_data(as_text=True)) if "s=" in u)
    assert client.get(copied).status_code == 200
    time_machine.move_to(clock.utcnow() + dt.timedelta(seconds=settings.link_token_seconds + 5))
    assert client.get(copied).status_code == 401
    assert result.get(client, "/home").status_code == 401  # the launch's token too
    assert settings.link_token_seconds < settings.session_lifetime_seconds  # the session itself lives on


def test_an_open_page_keeps_working_by_renewing_its_token(
    launcher: Launcher, client, settings, time_machine
) -> None:
    """Control for the expiry above: a page that renews before expiry (app.js) goes on working."""
    result = launcher.launch(TEACHER, keep_cookie=False)
    token = result.token
    for _ in range(3):
        time_machine.move_to(clock.utcnow() + dt.timedelta(seconds=settings.link_token_seconds // 2))
        token = client.get("/lti/session", headers={"X-Tingke-Session": token}).get_json()["session"]
    assert client.get(f"/home?s={token}").status_code == 200


# -- relaunch and logout end the session ---------------------------------------------------------------------
def test_relaunching_retires_earlier_link_tokens(launcher: Launcher, client) -> None:
    first = launcher.launch(TEACHER)
    old_cookie = client.get_cookie(SESSION_COOKIE)
    assert old_cookie is not None
    drop_session_cookie(client)
    copied = next(u for u in _links(first.get(client, "/home").get_data(as_text=True)) if "s=" in u)
    assert client.get(copied).status_code == 200
    second = launcher.launch(TEACHER, keep_cookie=False)
    assert client.get(copied).status_code == 401
    assert first.get(client, "/home").status_code == 401
    assert second.get(client, "/home").status_code == 200
    # the first session's cookie is no token: that browser (another device) goes on, with no link token
    client.set_cookie(SESSION_COOKIE, old_cookie.value, path="/")
    assert client.get("/home").status_code == 200
    assert client.get(copied).status_code == 200  # a retired token gives way to the working cookie
    drop_session_cookie(client)
    other = launcher.launch(LmsUser("u-200", roles=[ROLE_INSTRUCTOR]), keep_cookie=False)
    assert second.get(client, "/home").status_code == 200  # someone else's launch retires nothing of mine
    assert other.get(client, "/home").status_code == 200


def test_logout_is_visible_and_ends_the_session(launcher: Launcher, client) -> None:
    result = launcher.launch(TEACHER)
    page = client.get("/home").get_data(as_text=True)
    assert 'id="logout"' in page
    drop_session_cookie(client)
    copied = next(u for u in _links(result.get(client, "/home").get_data(as_text=True)) if "s=" in u)
    client.set_cookie(SESSION_COOKIE, launcher_cookie(launcher, result), path="/")
    out = client.post("/lti/logout", data={"csrf": _csrf(page)})
    assert out.status_code == 200
    assert any(
        h.startswith(SESSION_COOKIE + "=;") or "Max-Age=0" in h
        for h in out.headers.getlist("Set-Cookie")
        if h.startswith(SESSION_COOKIE)
    )
    assert client.get("/home").status_code == 401
    assert client.get(copied).status_code == 401
    assert result.get(client, "/home").status_code == 401


def launcher_cookie(launcher: Launcher, result: LaunchResult) -> str:
    header = next(h for h in result.response.headers.getlist("Set-Cookie") if h.startswith(SESSION_COOKIE))
    return header.split(";")[0].split("=", 1)[1]


def test_logout_needs_the_csrf_field(launcher: Launcher, client) -> None:
    launcher.launch(TEACHER)
    assert client.post("/lti/logout").status_code == 403
    assert client.get("/home").status_code == 200


# -- downloads without the cookie --------------------------------------------------------------------------
def test_without_the_cookie_a_download_link_has_a_one_time_ticket_not_the_token(
    launcher: Launcher, client, session_factory, institution_id
) -> None:
    run_id = _qc_with_a_report(session_factory, institution_id)
    result = launcher.launch(QC, keep_cookie=False)
    page = result.get(client, f"/reports/runs/{run_id}").get_data(as_text=True)
    link = next(u for u in _links(page) if u.startswith(f"/reports/runs/{run_id}/download"))
    query = _query(link)
    assert "s" not in query and set(query) == {"t"}, link
    assert query["t"][0] != result.token
    # the ticket is no session: it opens no page
    assert client.get(f"/home?s={query['t'][0]}").status_code == 401
    assert client.get(f"/reports/runs/{run_id}?t={query['t'][0]}").status_code == 401
    # nor another download
    assert client.get(f"/reports/runs/{run_id + 1}/download?t={query['t'][0]}").status_code == 401
    first = client.get(link)
    assert first.status_code == 200 and first.get_data() == b"PK-cadres"
    assert client.get(link).status_code == 401  # once only


def test_a_download_ticket_expires(
    launcher: Launcher, client, session_factory, institution_id, settings, time_machine
) -> None:
    run_id = _qc_with_a_report(session_factory, institution_id)
    result = launcher.launch(QC, keep_cookie=False)
    page = result.get(client, f"/reports/runs/{run_id}").get_data(as_text=True)
    link = next(u for u in _links(page) if u.startswith(f"/reports/runs/{run_id}/download"))
    time_machine.move_to(clock.utcnow() + dt.timedelta(seconds=settings.link_token_seconds + 5))
    assert client.get(link).status_code == 401


def test_every_view_that_answers_a_file_is_marked_a_download(app) -> None:  # type: ignore[no-untyped-def]
    """A view answering an attachment must be ``@serves_download``, or its links would carry the session
    token where no cookie comes back: a guard for download views added later."""
    import inspect

    from lti_tool.web import is_download

    unmarked = []
    with app.test_request_context():
        for endpoint, view in app.view_functions.items():
            source = inspect.getsource(inspect.unwrap(view))
            if "attachment" in source and not is_download(endpoint):
                unmarked.append(endpoint)
    assert not unmarked
    with app.test_request_context():
        assert is_download("reports.download") and not is_download("home.index")
