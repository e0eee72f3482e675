"""The quality center's roster pages, driven through real LTI launches (issue 2 §5, §6).

Who may do what: the quality center (and a platform administrator) maintains units and people and links
unmatched LMS users; the organization department reads people; everybody else gets 403. Uploads run the
same importer as the CLI: a bad row answers 422 with the row and column, and nothing is stored.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import openpyxl
import pytest
from sqlalchemy import func, select

from lti_tool.directory.models import Person, PlatformUser, PositionHolding, Unit
from tests.conftest import make_institution, register_platform
from tests.support.launch import Launcher, LaunchResult
from tests.support.platform import ROLE_ADMIN, ROLE_INSTRUCTOR, ROLE_LEARNER, LmsUser, PlatformSimulator

QC_USER = LmsUser("qc-1", "孙主任", "sun@jti.edu.cn", "2001", [ROLE_INSTRUCTOR])
TEACHER = LmsUser("t-1", "周老师", "zhou@jti.edu.cn", "3001", [ROLE_INSTRUCTOR])
ORG_USER = LmsUser("org-1", "吴部长", "wu@jti.edu.cn", "4001", [ROLE_LEARNER])
STRANGER = LmsUser("x-9", "陌生人", "nobody@elsewhere.cn", "", [ROLE_INSTRUCTOR])

PEOPLE_CSV = (
    "工号,姓名,邮箱,单位,职务,任职开始,任职结束\n"
    "1001,王书记,wang@jti.edu.cn,,党委书记;school_leader,2019-03-01,\n"
    "1002,李院长,li@jti.edu.cn,TR,college_dean,2024-09-01,\n"
)


def roster(session_factory, institution_id: int, prefix: str = "") -> dict[str, int]:
    """A quality-center person, an organization-department person, a teacher; returns person ids."""
    with session_factory.begin() as s:
        qc = Unit(
            institution_id=institution_id,
            code="QC",
            name=f"{prefix}教学质量监控与评价中心",
            kind="department",
            function="quality_center",
        )
        org = Unit(
            institution_id=institution_id,
            code="ZZB",
            name=f"{prefix}党委组织部",
            kind="department",
            function="organization",
        )
        tr = Unit(institution_id=institution_id, code="TR", name=f"{prefix}交通运输学院", kind="college")
        s.add_all([qc, org, tr])
        s.flush()
        people = [
            Person(
                institution_id=institution_id,
                employee_no="2001",
                name=f"{prefix}孙主任",
                email="sun@jti.edu.cn",
                unit_id=qc.id,
            ),
            Person(
                institution_id=institution_id,
                employee_no="4001",
                name=f"{prefix}吴部长",
                email="wu@jti.edu.cn",
                unit_id=org.id,
            ),
            Person(
                institution_id=institution_id,
                employee_no="3001",
                name=f"{prefix}周老师",
                email="zhou@jti.edu.cn",
                unit_id=tr.id,
            ),
        ]
        s.add_all(people)
        s.flush()
        return {p.employee_no: p.id for p in people}


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html) or re.search(r'data-csrf="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def upload(client, result: LaunchResult, path: str, filename: str, data: bytes, *, csrf: str | None = None):
    if csrf is None:
        csrf = csrf_of(result.get(client, "/home").get_data(as_text=True))
    return client.post(
        f"{path}?s={result.token}",
        data={"csrf": csrf, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def count(session_factory, model: type, institution_id: int) -> int:
    with session_factory() as s:
        return int(
            s.scalar(select(func.count()).select_from(model).where(model.institution_id == institution_id))
            or 0
        )


def text_of(response) -> str:
    return response.get_data(as_text=True)


# -- quality center ------------------------------------------------------------------------------------
def test_quality_center_uploads_people_through_the_page(
    session_factory, institution_id, launcher, client
) -> None:
    roster(session_factory, institution_id)
    qc = launcher.launch(QC_USER)
    page = qc.get(client, "/directory/people")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in text_of(page)

    response = upload(
        client, qc, "/directory/people/import", "people.csv", PEOPLE_CSV.encode(), csrf=csrf_of(text_of(page))
    )
    assert response.status_code == 303, text_of(response)
    assert "/directory/people" in response.headers["Location"] and "created=2" in response.headers["Location"]
    listing = client.get(response.headers["Location"])
    assert listing.status_code == 200
    assert "王书记" in text_of(listing) and "党委书记" in text_of(listing)
    with session_factory() as s:
        wang = s.scalars(select(Person).where(Person.employee_no == "1001")).one()
        assert sorted(h.position_code for h in wang.positions) == ["party_secretary", "school_leader"]
    assert count(session_factory, Person, institution_id) == 5


def test_quality_center_uploads_units_as_xlsx(session_factory, institution_id, launcher, client) -> None:
    roster(session_factory, institution_id)
    qc = launcher.launch(QC_USER)
    wb = openpyxl.Workbook()
    for row in (
        ["代码", "名称", "类型"],
        ["MX", "马克思主义学院", "马克思主义学院"],
        ["JW", "教务处", "职能部门"],
    ):
        wb.active.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    response = upload(client, qc, "/directory/units/import", "单位.xlsx", buffer.getvalue())
    assert response.status_code == 303, text_of(response)
    listing = client.get(response.headers["Location"])
    assert "马克思主义学院" in text_of(listing) and "教务处" in text_of(listing)
    assert count(session_factory, Unit, institution_id) == 5


def test_bad_upload_lists_rows_and_columns_with_422_and_stores_nothing(
    session_factory, institution_id, launcher, client
) -> None:
    roster(session_factory, institution_id)
    qc = launcher.launch(QC_USER)
    assert upload(client, qc, "/directory/people/import", "a.csv", PEOPLE_CSV.encode()).status_code == 303
    before = (
        count(session_factory, Person, institution_id),
        count(session_factory, PositionHolding, institution_id),
    )
    bad = (
        PEOPLE_CSV.replace("李院长,li@jti.edu.cn,TR", "李院长（改）,li@jti.edu.cn,TR")
        + "".join(f"50{i:02d},教师{i},t{i}@jti.edu.cn,TR,,,\n" for i in range(30))
        + "5999,坏邮箱,not-an-email,物理学院,,,\n"
    )
    response = upload(client, qc, "/directory/people/import", "bad.csv", bad.encode())
    assert response.status_code == 422
    body = text_of(response)
    assert "(row 34, column 邮箱)" in body and "(row 34, column 单位)" in body
    assert 'action="/directory/people/import' in body  # the form again, to send the corrected file
    after = (
        count(session_factory, Person, institution_id),
        count(session_factory, PositionHolding, institution_id),
    )
    assert after == before == (5, 3)
    with session_factory() as s:
        assert s.scalars(select(Person.name).where(Person.employee_no == "1002")).one() == "李院长"


def test_upload_needs_the_csrf_field_and_a_file(session_factory, institution_id, launcher, client) -> None:
    roster(session_factory, institution_id)
    qc = launcher.launch(QC_USER)
    response = upload(client, qc, "/directory/people/import", "a.csv", PEOPLE_CSV.encode(), csrf="forged")
    assert response.status_code == 403
    assert count(session_factory, Person, institution_id) == 3
    csrf = csrf_of(text_of(qc.get(client, "/directory/people")))
    response = client.post(
        f"/directory/people/import?s={qc.token}", data={"csrf": csrf}, content_type="multipart/form-data"
    )
    assert response.status_code == 400


def test_people_search_and_pagination(session_factory, institution_id, launcher, client) -> None:
    roster(session_factory, institution_id)
    with session_factory.begin() as s:
        s.add_all(
            [
                Person(
                    institution_id=institution_id,
                    employee_no=f"8{i:03d}",
                    name=f"教师{i:03d}",
                    email=f"teacher{i}@jti.edu.cn",
                )
                for i in range(120)
            ]
        )
    qc = launcher.launch(QC_USER)
    first = text_of(qc.get(client, "/directory/people"))
    assert "123" in first  # the total
    assert "2001" in first and "8046" in first and "8047" not in re.findall(r">(\d{4})<", first)  # 3 + 47
    second = text_of(qc.get(client, "/directory/people?page=2"))
    assert "8047" in second and "8096" in second and "8097" not in second and "2001" not in second
    found = text_of(qc.get(client, "/directory/people?q=TEACHER11"))  # e-mail, case-insensitive
    assert {"8011", "8110", "8119"} <= set(re.findall(r">(8\d{3})<", found))
    assert "8012" not in re.findall(r">(8\d{3})<", found)
    assert "教师005" in text_of(qc.get(client, "/directory/people?q=%E6%95%99%E5%B8%88005"))
    # "%" is a character to find, not a LIKE wildcard
    assert "8000" not in re.findall(r">(8\d{3})<", text_of(qc.get(client, "/directory/people?q=%25")))


def test_person_page_shows_unit_tenures_and_lms_accounts(
    session_factory, institution_id, launcher, client
) -> None:
    ids = roster(session_factory, institution_id)
    qc = launcher.launch(QC_USER)
    assert upload(client, qc, "/directory/people/import", "a.csv", PEOPLE_CSV.encode()).status_code == 303
    launcher.launch(TEACHER)
    page = qc.get(client, f"/directory/people/{ids['3001']}")
    assert page.status_code == 200
    assert all(s in text_of(page) for s in ("交通运输学院", "周老师", "zhou@jti.edu.cn"))
    with session_factory() as s:
        dean = s.scalars(select(Person).where(Person.employee_no == "1002")).one()
    body = text_of(qc.get(client, f"/directory/people/{dean.id}"))
    assert "教学院（部）行政主要负责人" in body and "2024" in body
    assert "This person has not opened Tingke" in body or "尚未" in body


def test_unmatched_user_is_linked_by_hand_and_lands_matched_next_launch(
    session_factory, institution_id, launcher, client
) -> None:
    ids = roster(session_factory, institution_id)
    first = launcher.launch(STRANGER)
    assert "3001" not in text_of(first.get(client, "/home"))
    with session_factory() as s:
        stranger = s.scalars(select(PlatformUser).where(PlatformUser.lti_user_id == "x-9")).one()
        assert stranger.person_id is None

    qc = launcher.launch(QC_USER)
    home = text_of(qc.get(client, "/home"))
    assert 'data-unmatched-count="1"' in home
    listing = qc.get(client, "/directory/users/unmatched")
    assert listing.status_code == 200
    assert "陌生人" in text_of(listing) and "nobody@elsewhere.cn" in text_of(listing)
    csrf = csrf_of(text_of(listing))

    response = client.post(
        f"/directory/users/{stranger.id}/link?s={qc.token}",
        data={"csrf": csrf, "employee_no": "no-such-number"},
    )
    assert response.status_code == 404
    response = client.post(
        f"/directory/users/{stranger.id}/link?s={qc.token}", data={"csrf": csrf, "employee_no": " 3001 "}
    )
    assert response.status_code == 303
    assert "陌生人" not in text_of(qc.get(client, "/directory/users/unmatched"))
    assert 'data-unmatched-count="0"' in text_of(qc.get(client, "/home"))

    again = launcher.launch(STRANGER)
    home = again.get(client, "/home")
    assert home.status_code == 200 and "周老师" in text_of(home)  # the roster person, as a teacher
    with session_factory() as s:
        user = s.get(PlatformUser, stranger.id)
        assert user is not None and user.person_id == ids["3001"] and user.linked_by_hand
    accounts = text_of(qc.get(client, f"/directory/people/{ids['3001']}"))
    assert "nobody@elsewhere.cn" in accounts


def test_platform_admin_without_roster_entry_can_set_up_units(
    session_factory, institution_id, launcher, client
) -> None:
    admin = launcher.launch(LmsUser("adm", "Admin", "admin@jti.edu.cn", "", [ROLE_ADMIN, ROLE_INSTRUCTOR]))
    assert admin.get(client, "/directory/units").status_code == 200
    response = upload(
        client,
        admin,
        "/directory/units/import",
        "u.csv",
        "code,name,kind\nTR,交通运输学院,college\n".encode(),
    )
    assert response.status_code == 303
    assert count(session_factory, Unit, institution_id) == 1


def test_admin_not_in_roster_loses_set_up_pages_once_the_quality_center_is_staffed(
    session_factory, institution_id, launcher, client
) -> None:
    admin = LmsUser("adm", "Admin", "admin@jti.edu.cn", "", [ROLE_ADMIN, ROLE_INSTRUCTOR])
    assert launcher.launch(admin).get(client, "/directory/units").status_code == 200
    roster(session_factory, institution_id)  # a roster with quality-center staff
    again = launcher.launch(admin)
    assert again.get(client, "/directory/units").status_code == 403


def test_students_do_not_fill_the_unmatched_list(session_factory, institution_id, launcher, client) -> None:
    ids = roster(session_factory, institution_id)
    launcher.launch(LmsUser("stu-1", "学生甲", "s1@students.cn", "", [ROLE_LEARNER]))
    launcher.launch(LmsUser("stu-2", "学生乙", "s2@students.cn", "", [ROLE_LEARNER]))
    launcher.launch(STRANGER)
    qc = launcher.launch(QC_USER)
    page = text_of(qc.get(client, "/directory/users/unmatched"))
    assert STRANGER.name in page and "学生甲" not in page and "学生乙" not in page
    assert "2" in page.split('id="learners"', 1)[1][:300]
    assert "Instructor" not in page  # roles as words
    assert ids


# -- who may not ---------------------------------------------------------------------------------------
def test_teacher_gets_403_everywhere(session_factory, institution_id, launcher, client) -> None:
    ids = roster(session_factory, institution_id)
    launcher.launch(STRANGER)
    with session_factory() as s:
        stranger_id = s.scalars(select(PlatformUser.id).where(PlatformUser.lti_user_id == "x-9")).one()
    teacher = launcher.launch(TEACHER)
    for path in (
        "/directory/units",
        "/directory/people",
        f"/directory/people/{ids['2001']}",
        "/directory/users/unmatched",
    ):
        assert teacher.get(client, path).status_code == 403, path
    csrf = csrf_of(text_of(teacher.get(client, "/home")))
    assert (
        upload(
            client, teacher, "/directory/people/import", "a.csv", PEOPLE_CSV.encode(), csrf=csrf
        ).status_code
        == 403
    )
    assert (
        upload(
            client, teacher, "/directory/units/import", "u.csv", b"code,name,kind\nX,X,college\n", csrf=csrf
        ).status_code
        == 403
    )
    response = client.post(
        f"/directory/users/{stranger_id}/link?s={teacher.token}", data={"csrf": csrf, "employee_no": "3001"}
    )
    assert response.status_code == 403
    assert count(session_factory, Person, institution_id) == 3
    assert count(session_factory, Unit, institution_id) == 3
    with session_factory() as s:
        assert s.get(PlatformUser, stranger_id).person_id is None


def test_pages_need_a_session(client, session_factory) -> None:
    assert client.get("/directory/people").status_code == 401


def test_organization_reads_people_and_sees_cadres_but_changes_nothing(
    session_factory, institution_id, launcher, client
) -> None:
    ids = roster(session_factory, institution_id)
    qc = launcher.launch(QC_USER)
    assert (
        upload(
            client,
            qc,
            "/directory/people/import",
            "a.csv",
            (
                PEOPLE_CSV + "1003,钱处长,qian@jti.edu.cn,,head_academic_affairs,2020-01-01,2021-12-31\n"
            ).encode(),
        ).status_code
        == 303
    )
    org = launcher.launch(ORG_USER)
    home = text_of(org.get(client, "/home"))
    # grouped as the policy groups positions, with the policy's names and the tenure dates
    positions = [home.index(s) for s in ("校领导", "王书记", "教学院（部）负责人", "李院长")]
    assert positions == sorted(positions)
    assert "党委书记" in home and "校领导班子成员" in home and "2019" in home
    assert "钱处长" not in home  # an ended tenure is not a cadre in office

    people = org.get(client, "/directory/people")
    assert people.status_code == 200 and "王书记" in text_of(people)
    assert 'enctype="multipart/form-data"' not in text_of(people)
    assert org.get(client, f"/directory/people/{ids['3001']}").status_code == 200
    assert org.get(client, "/directory/units").status_code == 403
    assert org.get(client, "/directory/users/unmatched").status_code == 403
    response = upload(client, org, "/directory/people/import", "b.csv", "工号,name\n9,x\n".encode())
    assert response.status_code == 403
    assert count(session_factory, Person, institution_id) == 6


# -- tenancy -------------------------------------------------------------------------------------------
@pytest.fixture
def other_launcher(session_factory, settings, client, platform, live_server) -> Iterator[Launcher]:
    """A second LMS registered for a second institution, OTH."""
    make_institution(session_factory, "OTH", "另一所学院")
    sim = PlatformSimulator().start()
    sim.tool_base = settings.base_url
    sim.tool_jwks_url = f"{live_server}/.well-known/jwks.json"
    register_platform(session_factory, settings, sim, "OTH")
    yield Launcher(client, sim)
    sim.stop()


def test_another_institution_sees_none_of_these_rows(
    session_factory, institution_id, launcher, other_launcher, client
) -> None:
    ids = roster(session_factory, institution_id)
    with session_factory() as s:
        from lti_tool.tenancy import Institution

        other_id = s.scalars(select(Institution.id).where(Institution.code == "OTH")).one()
    roster(session_factory, other_id, prefix="别校")
    jti_qc = launcher.launch(QC_USER)
    assert upload(client, jti_qc, "/directory/people/import", "a.csv", PEOPLE_CSV.encode()).status_code == 303
    launcher.launch(STRANGER)
    with session_factory() as s:
        stranger_id = s.scalars(select(PlatformUser.id).where(PlatformUser.lti_user_id == "x-9")).one()

    # the same employee number in the other institution is another person there
    oth_qc = other_launcher.launch(LmsUser("oqc", "别校孙主任", "sun@oth.edu.cn", "2001", [ROLE_INSTRUCTOR]))
    people = text_of(oth_qc.get(client, "/directory/people"))
    assert "别校孙主任" in people and "王书记" not in people and ">孙主任" not in people
    assert "王书记" not in text_of(oth_qc.get(client, "/directory/people?q=1001"))
    assert oth_qc.get(client, f"/directory/people/{ids['2001']}").status_code == 404
    units = text_of(oth_qc.get(client, "/directory/units"))
    assert "别校交通运输学院" in units and ">交通运输学院<" not in units
    unmatched = oth_qc.get(client, "/directory/users/unmatched")
    assert "陌生人" not in text_of(unmatched)
    csrf = csrf_of(text_of(unmatched))
    response = client.post(
        f"/directory/users/{stranger_id}/link?s={oth_qc.token}", data={"csrf": csrf, "employee_no": "3001"}
    )
    assert response.status_code == 404
    with session_factory() as s:
        assert s.get(PlatformUser, stranger_id).person_id is None
    # JTI's session token does not open OTH's data either: it is bound to its institution
    assert "别校" not in text_of(jti_qc.get(client, "/directory/people"))
    # importing into OTH cannot name JTI's units (the unit lookup is per institution)
    with session_factory.begin() as s:
        s.execute(Unit.__table__.delete().where(Unit.institution_id == other_id, Unit.code == "JW"))
    with session_factory.begin() as s:
        s.add(Unit(institution_id=institution_id, code="JW", name="教务处", kind="department"))
    response = upload(
        client, oth_qc, "/directory/people/import", "p.csv", "工号,姓名,单位\n7001,某人,JW\n".encode()
    )
    assert response.status_code == 422 and "(row 2, column 单位)" in text_of(response)
    assert count(session_factory, Person, other_id) == 3
