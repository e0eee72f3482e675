"""What a real Moodle 5.0 sends, replayed through the real OIDC login and launch (issue 11 §11).

The id_token bodies in tests/fixtures/moodle-5.0/ were captured from Moodle 5.0.6+ launching Tingke from a
course whose ID number is ``QC005``. Each body is sent as Moodle sent it: only what ties it to that
capture is replaced (issuer, audience, nonce, times, the tool's own address), and it is signed by the
simulated platform's key after a real login initiation. Nothing Tingke reads is rewritten: the course ID
number arrives as ``lis.course_section_sourcedid`` (no ``course_offering_sourcedid``), the context label is
the course's short name, names come "given family", the language is Moodle's (``en``).
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from lti_tool.directory.models import UnitFunction
from tests.support import factories
from tests.support.launch import Launcher, LaunchResult
from tests.support.platform import LmsUser, PlatformSimulator

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "moodle-5.0"
LTI = "https://purl.imsglobal.org/spec/lti/claim/"


def _load(name: str) -> dict[str, dict]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def moodle_claims() -> dict[str, dict]:
    return _load("launch_claims.json")


@pytest.fixture
def college(session_factory, institution_id: int) -> None:  # type: ignore[no-untyped-def]
    """The roster behind the capture: the ID numbers and the e-mail Moodle sent, and course QC005."""
    with session_factory.begin() as s:
        auto = factories.unit(s, institution_id, "汽车工程学院", code="QC")
        qc = factories.unit(
            s,
            institution_id,
            "教学质量监控与评价中心",
            kind="department",
            function=UnitFunction.QUALITY_CENTER,
        )
        org = factories.unit(
            s, institution_id, "党委组织部", kind="department", function=UnitFunction.ORGANIZATION
        )
        factories.person(s, institution_id, "董慧立", employee_no="100004", positions=["school_leader"])
        factories.person(
            s, institution_id, "李强华", employee_no="110001", unit=auto, positions=["college_dean"]
        )
        teacher = factories.person(s, institution_id, "高东华", employee_no="110004", unit=auto)
        factories.person(s, institution_id, "范明婷", employee_no="370002", unit=qc)
        factories.person(
            s,
            institution_id,
            "廖佳阳",
            employee_no="390001",
            unit=org,
            email="liaojiayang@demo.jljtxy.edu.cn",
        )
        sem = factories.semester(s, institution_id)
        course = factories.course(s, institution_id, "汽车故障诊断技术", code="QC005", offering_unit=auto)
        factories.section(s, sem, course, [teacher], student_unit=auto, classes="汽修2401")


def replay(client, platform: PlatformSimulator, body: dict) -> LaunchResult:  # type: ignore[no-untyped-def]
    """One Moodle launch: login initiation as Moodle does it, then its id_token, re-addressed and signed."""
    launcher = Launcher(client, platform)
    auth = launcher.login(LmsUser(str(body["sub"])))
    sent = copy.deepcopy(body)
    now = int(time.time())
    sent.update(iss=platform.issuer, aud=platform.client_id, nonce=auth["nonce"], iat=now, exp=now + 60)
    sent[LTI + "target_link_uri"] = f"{platform.tool_base}/lti/launch"
    assert sent[LTI + "deployment_id"] == platform.deployment_id == "1"
    response = launcher.post_launch(platform.sign(sent), auth["state"])
    assert response.status_code == 303, response.get_data(as_text=True)
    token = parse_qs(urlsplit(response.headers["Location"]).query)["s"][0]
    return LaunchResult(response, token)


def _page(client, result: LaunchResult) -> str:  # type: ignore[no-untyped-def]
    location = result.response.headers["Location"]
    page = client.get(location)
    assert page.status_code == 200, (location, page.status_code)
    return page.get_data(as_text=True)


def test_the_fixture_is_what_the_readme_says(moodle_claims: dict[str, dict]) -> None:
    for who, body in moodle_claims.items():
        lis = body[LTI + "lis"]
        assert lis["course_section_sourcedid"] == "QC005" and "course_offering_sourcedid" not in lis, who
        assert body[LTI + "context"]["label"] == "QC005-2026-1", who


def test_leader_from_the_qc005_course_opens_the_picker_on_that_course(
    client, platform, college, moodle_claims
) -> None:  # type: ignore[no-untyped-def]
    result = replay(client, platform, moodle_claims["leader"])
    assert urlsplit(result.response.headers["Location"]).path.startswith(
        "/timetable"
    )  # custom tingke_page=pick
    page = _page(client, result)
    assert "汽车故障诊断技术" in page  # the picker's scope: the course matched by its ID number (QC005)
    assert 'lang="en"' in page  # Moodle's locale "en"


@pytest.mark.parametrize(
    ("who", "expect"),
    [
        ("dean", "My observation duties"),
        ("dean-newwindow", "My observation duties"),
        ("teacher", "/observations/feedback"),
        ("quality", "/observations/export.csv"),
        ("orgdept", "Organization department"),
        ("student1", "writing to the school leaders"),
    ],
)
def test_each_moodle_person_lands_on_their_own_page(
    client, platform, college, moodle_claims, who: str, expect: str
) -> None:  # type: ignore[no-untyped-def]
    page = _page(client, replay(client, platform, moodle_claims[who]))
    assert expect in page, page[:3000]


def test_site_administrator_not_in_the_roster_is_who_the_roster_says(
    client, platform, college, moodle_claims
) -> None:  # type: ignore[no-untyped-def]
    """The quality center is staffed (范明婷), so Moodle's site administrator gets no set-up pages: they are
    an unlinked LMS user the quality center sees in its list (issue 11 §9)."""
    page = _page(client, replay(client, platform, moodle_claims["admin"]))
    assert "/lti/config" not in page and "/directory" not in page
    quality = _page(client, replay(client, platform, moodle_claims["quality"]))
    assert "/directory/users/unmatched" in quality


def test_a_moodle_course_matched_by_its_id_number_is_not_listed_as_unmapped(
    client, platform, college, moodle_claims
) -> None:  # type: ignore[no-untyped-def]
    replay(client, platform, moodle_claims["leader"])
    quality = replay(client, platform, moodle_claims["quality"])
    page = quality.get(client, "/timetable/mappings").get_data(as_text=True)
    assert page.count("QC005-2026-1") == 0  # matched automatically: nothing for the quality center to map
