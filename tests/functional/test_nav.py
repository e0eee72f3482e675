"""Every page reachable (issue 11 §4): a navigation bar per persona, the raiser confirms a resolution from
their own record page, handler lists show the problem's text, detail pages have a way back."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from lti_tool.problems.models import Problem
from tests.functional.observations import test_workflow as flow
from tests.functional.observations.test_workflow import OBSERVER, QC, TEACHER, _submitted
from tests.support import factories
from tests.support.platform import ROLE_INSTRUCTOR, ROLE_LEARNER, LmsUser

world, as_user = flow.world, flow.as_user  # the workflow tests' fixtures

HANDLER = LmsUser("u-h001", "后勤干事", "h001@jti.edu", "H001", [ROLE_INSTRUCTOR])
ORG = LmsUser("u-o001", "吴部长", "o001@jti.edu", "O001", [ROLE_LEARNER])


def _nav(page: str) -> list[str]:
    bar = re.search(r'<nav class="mainnav"[^>]*>(.*?)</nav>', page, re.S)
    assert bar, "no navigation bar"
    return [href.split("?")[0] for href in re.findall(r'href="([^"]+)"', bar.group(1))]


@pytest.fixture
def staff(world, session_factory, institution_id):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        factories.person(s, institution_id, "后勤干事", employee_no="H001", unit=s.merge(world.logistics))
        org = factories.unit(s, institution_id, "党委组织部", kind="department", function="organization")
        factories.person(s, institution_id, "吴部长", employee_no="O001", unit=org)
    return world


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (
            QC,
            [
                "/home",
                "/policy/",
                "/observations/all",
                "/problems/",
                "/reports/",
                "/directory/people",
                "/timetable/semesters",
                "/policy/rules",
                "/archive/",
                "/lti/config",
            ],
        ),
        (ORG, ["/home", "/policy/", "/reports/", "/archive/"]),
        (OBSERVER, ["/home", "/timetable/pick", "/observations/", "/policy/me"]),
        (TEACHER, ["/home", "/observations/feedback"]),
        (HANDLER, ["/home", "/problems/"]),
    ],
    ids=["quality_center", "organization", "observer", "teacher", "handler"],
)
def test_each_persona_has_a_navigation_bar_to_all_its_pages(staff, as_user, user, expected) -> None:  # type: ignore[no-untyped-def]
    person = as_user(user)
    links = _nav(person.get("/home").get_data(as_text=True))
    assert set(expected) <= set(links), links  # other domains (contacts) add their own pages
    for href in links:  # every entry opens, and is marked as the current page there
        page = person.get(href)
        assert page.status_code == 200, href
        assert 'aria-current="page"' in page.get_data(as_text=True).split("</nav>", 2)[1] or href == "/home"


def test_raiser_confirms_the_resolution_from_their_record_page(staff, as_user, session_factory) -> None:  # type: ignore[no-untyped-def]
    observer = as_user(OBSERVER)
    obs_id = _submitted(observer, staff)
    with session_factory.begin() as s:  # a problem raised in the record (the form is tested elsewhere)
        from lti_tool.policy.store import PolicyStore
        from lti_tool.problems.services import NewProblem, ProblemService

        service = ProblemService(s, staff.institution_id, PolicyStore(s, staff.institution_id).current())
        (problem,) = service.raise_problems(
            [NewProblem("facilities", staff.logistics.id, "A101", "投影仪不亮，需要更换灯泡")],
            staff.observer.id,
            observation_id=obs_id,
        )
        problem_id = problem.id
    handler = as_user(HANDLER)
    inbox = handler.get("/problems/").get_data(as_text=True)
    assert "投影仪不亮，需要更换灯泡" in inbox  # the handler's list shows what the problem is
    assert "投影仪不亮" in handler.get("/home").get_data(as_text=True)
    for status, note in (("accepted", ""), ("resolved", "已更换灯泡")):
        assert (
            handler.post(f"/problems/{problem_id}/step", {"status": status, "note": note}).status_code == 303
        )
    detail = handler.get(f"/problems/{problem_id}").get_data(as_text=True)
    assert 'href="/problems/"' in detail or 'href="/problems/?' in detail  # a way back

    record = observer.get(f"/observations/{obs_id}").get_data(as_text=True)
    assert "Resolved" not in record and ">resolved<" not in record  # a word, in Chinese
    assert 'name="status" value="confirmed"' in record
    done = observer.post(
        f"/problems/{problem_id}/step", {"status": "confirmed", "note": "已确认", "return_to": "record"}
    )
    assert done.status_code == 303
    assert done.headers["Location"].split("?")[0].endswith(f"/observations/{obs_id}")
    with session_factory() as s:
        assert s.scalars(select(Problem)).one().status == "confirmed"
    after = observer.get(f"/observations/{obs_id}").get_data(as_text=True)
    assert 'value="confirmed"' not in after


def test_organization_home_has_compliance_per_cadre_and_the_cadre_file(staff, as_user) -> None:  # type: ignore[no-untyped-def]
    home = as_user(ORG).get("/home").get_data(as_text=True)
    panel = home.split('id="panel-cadres"', 1)[1].split("</section>", 1)[0]
    assert (
        ('href="/policy/"' in panel or 'href="/policy/?' in panel)
        and 'value="cadre_file"' in panel
        and 'value="cadre_summary"' in panel
        and "/reports/start" in panel
    )
    assert "cadre_excel" not in home  # the observation-only Excel is gone


def test_every_link_the_bars_and_next_steps_name_is_a_page(app) -> None:  # type: ignore[no-untyped-def]
    """The bar and the duty page's buttons link to endpoints by name, with no check at run time that the
    page exists: every one of them is a page of the app."""
    from lti_tool.compliance.views import ACTION_ENDPOINTS
    from lti_tool.nav import registered_endpoints

    named = registered_endpoints() | set(ACTION_ENDPOINTS.values())
    assert "observations.qc_list" in named and "contacts.new" in named
    assert named - set(app.view_functions) == set()
