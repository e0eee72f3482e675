"""The grassroots-contact pages through real launches (issue 9 §2, §3, §9): the leader's record form with
autosave, 409 on a stale tab and group credit; a problem routed from a contact; the branch secretary's
confirmation and the school office's paper confirmation; the unit side of C-1c; the school office's contact
points (add, remove, import with preview); another institution sees nothing."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from lti_tool import clock
from lti_tool.contacts.counting import counted_contacts
from lti_tool.contacts.models import ContactMember, ContactPoint, ContactRecord
from lti_tool.directory.models import Person, PositionHolding, Unit
from lti_tool.problems.models import Problem
from tests.conftest import make_institution
from tests.support.platform import ROLE_INSTRUCTOR, LmsUser

LONG_AGO = dt.date(2020, 9, 1)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def _today() -> dt.date:
    return clock.today()


def _year(day: dt.date) -> str:
    first = day.year if (day.month, day.day) >= (8, 1) else day.year - 1
    return f"{first}-{first + 1}"


@pytest.fixture
def college(session_factory, institution_id):  # type: ignore[no-untyped-def]
    """A college with a teaching office and two branches, a school office, two school leaders (both party
    members), the college's dean, a branch secretary, and the leaders' contact points this year."""
    iid = institution_id
    with session_factory.begin() as s:
        qc = Unit(institution_id=iid, code="QC", name="汽车工程学院", kind="college")
        office = Unit(
            institution_id=iid, code="XB", name="学校办公室", kind="department", function="school_office"
        )
        hq = Unit(institution_id=iid, code="HQ", name="后勤管理处", kind="department")
        s.add_all([qc, office, hq])
        s.flush()
        jy = Unit(
            institution_id=iid, code="QC-JY1", name="汽车检测教研室", kind="teaching_office", parent_id=qc.id
        )
        dzb = Unit(institution_id=iid, code="QC-DZB1", name="汽车工程学院教工党支部", kind="party_branch",
                   parent_id=qc.id, branch_kind="teacher")  # fmt: skip
        s.add_all([jy, dzb])
        s.flush()

        def person(
            no: str, name: str, unit: Unit | None, positions: list[str], member: bool = True
        ) -> Person:
            p = Person(institution_id=iid, employee_no=no, name=name, unit=unit, party_member=member,
                       branch_id=dzb.id if member and unit is qc else None)  # fmt: skip
            for code in positions:
                p.positions.append(
                    PositionHolding(institution_id=iid, position_code=code, start_date=LONG_AGO)
                )
            s.add(p)
            return p

        leader = person("100001", "王书记", None, ["school_leader", "party_secretary"])
        other = person("100002", "李院长", None, ["school_leader", "president"])
        dean = person("110001", "赵院长", qc, ["college_dean"])
        secretary = person("110010", "钱支书", qc, ["branch_secretary"])
        clerk = person("300002", "孙干事", office, [], member=False)
        s.flush()
        year = _year(_today())
        for p in (leader, other):
            s.add(
                ContactPoint(
                    institution_id=iid, person_id=p.id, academic_year=year, kind="college", unit_id=qc.id
                )
            )
        s.add(ContactPoint(institution_id=iid, person_id=leader.id, academic_year=year, kind="party_branch",
                           unit_id=dzb.id))  # fmt: skip
        return {
            "qc": qc.id,
            "dzb": dzb.id,
            "hq": hq.id,
            "leader": leader.id,
            "other": other.id,
            "dean": dean.id,
            "secretary": secretary.id,
            "clerk": clerk.id,
            "year": year,
        }


def _launch(launcher, no: str, name: str):  # type: ignore[no-untyped-def]
    return launcher.launch(LmsUser(f"u{no}", name, "", no, [ROLE_INSTRUCTOR]))


def _start(client, session, **prefill: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    home = session.get(client, "/home").get_data(as_text=True)
    assert "联系基层" in home  # the leader's panel is on the home page
    response = client.post(f"/contacts/start?s={session.token}", data={"csrf": _csrf(home), **prefill})
    assert response.status_code == 303, response.get_data(as_text=True)
    record_id = int(re.search(r"/contacts/(\d+)/edit", response.headers["Location"]).group(1))  # type: ignore[union-attr]
    return record_id, _csrf(home)


def _autosave(client, session, record_id: int, csrf: str, version: int, fields: dict):  # type: ignore[no-untyped-def]
    return client.post(
        f"/contacts/{record_id}/autosave",
        json={"draft_version": version, "fields": fields},
        headers={"X-Tingke-Session": session.token, "X-CSRF-Token": csrf},
    )


def test_record_form_names_whose_device_copy_it_is(college, launcher, client, session_factory) -> None:  # type: ignore[no-untyped-def]
    """The shared draft script keeps unsaved text on the device under the institution and the person
    (docs/decisions.md S-3): the form names both, and says offline, conflict and refusal in Chinese."""
    leader = _launch(launcher, "100001", "王书记")
    record_id, _ = _start(client, leader)
    form = leader.get(client, f"/contacts/{record_id}/edit").get_data(as_text=True)
    with session_factory() as s:
        who = select(Person).where(Person.employee_no == "100001", Person.name == "王书记")
        person = s.scalars(who).one()
        owner = f"{person.institution_id}:{person.id}"
    assert f'data-draft-owner="{owner}"' in form
    for key in ("offline", "offline-not-kept", "conflict", "keep-server", "keep-device", "submit-offline"):
        assert re.search(rf'data-msg-{key}="[^"]*[\u4e00-\u9fff][^"]*"', form), key


def test_leader_records_a_group_visit_with_autosave(college, launcher, client, session_factory) -> None:  # type: ignore[no-untyped-def]
    leader = _launch(launcher, "100001", "王书记")
    record_id, csrf = _start(client, leader)
    form = leader.get(client, f"/contacts/{record_id}/edit").get_data(as_text=True)
    assert 'data-autosave-url="/contacts/' in form and "汽车工程学院" in form
    today = _today().isoformat()
    fields = {
        "date": today,
        "kind": "visit",
        "target_kind": "college",
        "target": "QC",
        "place": "汽车工程学院会议室",
        "participants": "12",
        "content": "调研新能源实训基地建设进度",
        "opinions": "实训设备不足",
    }
    saved = _autosave(client, leader, record_id, csrf, 0, fields)
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert saved.get_json()["draft_version"] == 1 and saved.get_json()["invalid"] == {}
    # A stale tab (still at version 0) is refused with 409 and overwrites nothing.
    stale = _autosave(client, leader, record_id, csrf, 0, {"content": "旧页面的内容"})
    assert stale.status_code == 409
    # An unknown target is reported next to its field, the rest is kept.
    bad = _autosave(client, leader, record_id, csrf, 1, {"target": "不存在的学院", "place": "实训楼A"})
    assert bad.get_json()["invalid"] == {"target": "没有这个单位。"} or "target" in bad.get_json()["invalid"]
    fixed = _autosave(client, leader, record_id, csrf, 2, {"target": "汽车工程学院"})
    assert fixed.status_code == 200 and fixed.get_json()["invalid"] == {}
    # Another leader took part: the group record counts once for each of them.
    found = leader.get(client, f"/contacts/{record_id}/edit?find=李院长").get_data(as_text=True)
    assert "李院长" in found
    response = client.post(
        f"/contacts/{record_id}/members?s={leader.token}",
        data={"csrf": csrf, "person": str(college["other"])},
    )
    assert response.status_code == 303
    submitted = client.post(
        f"/contacts/{record_id}/submit",
        json={"draft_version": 3},
        headers={"X-Tingke-Session": leader.token, "X-CSRF-Token": csrf},
    )
    assert submitted.status_code == 200, submitted.get_data(as_text=True)
    with session_factory() as s:
        record = s.get(ContactRecord, record_id)
        assert (record.status, record.content, record.place, record.contact_point_id is not None) == (
            "submitted", "调研新能源实训基地建设进度", "实训楼A", True,
        )  # fmt: skip
        rows = counted_contacts(s, record.institution_id, _today(), _today())
        assert sorted(r.person_id for r in rows) == sorted([college["leader"], college["other"]])
    view = leader.get(client, f"/contacts/{record_id}").get_data(as_text=True)
    assert "李院长" in view and "调研指导" in view
    # The other leader sees it among their records too.
    other = _launch(launcher, "100002", "李院长")
    assert "汽车工程学院" in other.get(client, "/contacts/").get_data(as_text=True)


def test_submit_names_what_is_missing_and_refuses_a_branch_activity_elsewhere(
    college, launcher, client, session_factory
) -> None:  # type: ignore[no-untyped-def]
    leader = _launch(launcher, "100001", "王书记")
    record_id, csrf = _start(client, leader, kind="branch_activity")
    _autosave(client, leader, record_id, csrf, 0, {"target_kind": "college", "target": "QC"})
    refused = client.post(
        f"/contacts/{record_id}/submit",
        json={"draft_version": 1},
        headers={"X-Tingke-Session": leader.token, "X-CSRF-Token": csrf},
    )
    assert refused.status_code == 422
    fields = refused.get_json()["fields"]
    assert set(fields) == {"target_kind", "content"}
    future = (_today() + dt.timedelta(days=2)).isoformat()
    fields = {"date": future, "target_kind": "party_branch", "target": "QC-DZB1", "content": "参加主题党日"}
    _autosave(client, leader, record_id, csrf, 1, fields)
    refused = client.post(
        f"/contacts/{record_id}/submit",
        json={},
        headers={"X-Tingke-Session": leader.token, "X-CSRF-Token": csrf},
    )
    assert refused.status_code == 422 and set(refused.get_json()["fields"]) == {"date"}
    with session_factory() as s:
        assert s.get(ContactRecord, record_id).status == "draft"


def test_branch_secretary_confirms_and_school_office_confirms_on_paper(
    college, launcher, client, session_factory
) -> None:  # type: ignore[no-untyped-def]
    leader = _launch(launcher, "100001", "王书记")
    ids = []
    for content in ("参加教工党支部主题党日活动", "参加支部组织生活会"):
        record_id, csrf = _start(
            client, leader, kind="branch_activity", target_kind="party_branch", target="QC-DZB1"
        )
        _autosave(client, leader, record_id, csrf, 0, {"content": content})
        response = client.post(
            f"/contacts/{record_id}/submit",
            json={"draft_version": 1},
            headers={"X-Tingke-Session": leader.token, "X-CSRF-Token": csrf},
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        ids.append(record_id)
    with session_factory() as s:
        iid = s.get(ContactRecord, ids[0]).institution_id
        assert counted_contacts(s, iid, _today(), _today()) == []  # unconfirmed: not counted (C-3c)
    assert "等待支部确认" in leader.get(client, "/contacts/").get_data(as_text=True)

    secretary = _launch(launcher, "110010", "钱支书")
    home = secretary.get(client, "/home").get_data(as_text=True)
    assert "待确认的支部活动" in home
    page = secretary.get(client, "/contacts/branch").get_data(as_text=True)
    assert "参加教工党支部主题党日活动" in page and "王书记" in page
    csrf = _csrf(page)
    assert (
        client.post(f"/contacts/branch/{ids[0]}/confirm?s={secretary.token}", data={"csrf": csrf}).status_code
        == 303
    )
    again = client.post(f"/contacts/branch/{ids[0]}/decline?s={secretary.token}", data={"csrf": csrf})
    assert again.status_code == 409
    # The leader cannot confirm their own activity: the page is the secretary's.
    assert (
        client.post(f"/contacts/branch/{ids[1]}/confirm?s={leader.token}", data={"csrf": csrf}).status_code
        == 403
    )

    office = _launch(launcher, "300002", "孙干事")
    page = office.get(client, "/contacts/office/branch").get_data(as_text=True)
    assert "参加支部组织生活会" in page and "王书记" in page  # what to look for in the branch's handbook
    response = client.post(
        f"/contacts/office/branch/{ids[1]}/paper?s={office.token}", data={"csrf": _csrf(page)}
    )
    assert response.status_code == 303
    with session_factory() as s:
        rows = counted_contacts(s, iid, _today(), _today())
        assert sorted(r.record_id for r in rows) == sorted(ids)
        paper = s.get(ContactRecord, ids[1])
        assert paper.confirmed_on_paper and paper.branch_confirmed_by_id == college["clerk"]


def test_a_problem_heard_reaches_the_responsible_unit_once_submitted(
    college, launcher, client, session_factory
) -> None:  # type: ignore[no-untyped-def]
    leader = _launch(launcher, "100001", "王书记")
    record_id, csrf = _start(client, leader, target_kind="college", target="QC")
    response = client.post(
        f"/contacts/{record_id}/problems?s={leader.token}",
        data={
            "csrf": csrf,
            "category": "facilities",
            "unit_id": str(college["hq"]),
            "description": "实训楼暖气不热",
        },
    )
    assert response.status_code == 303
    with session_factory() as s:
        problem = s.scalars(select(Problem)).one()
        assert (problem.contact_record_id, problem.unit_id, problem.status) == (
            record_id,
            college["hq"],
            "new",
        )
        iid = problem.institution_id
    from lti_tool.policy.store import PolicyStore
    from lti_tool.problems.services import ProblemService

    with session_factory() as s:
        service = ProblemService(s, iid, PolicyStore(s, iid).current())
        assert service.listing(unit_id=college["hq"]) == []  # the record is a draft: not routed yet
    _autosave(client, leader, record_id, csrf, 0, {"content": "座谈了解实训条件"})
    client.post(
        f"/contacts/{record_id}/submit",
        json={},
        headers={"X-Tingke-Session": leader.token, "X-CSRF-Token": csrf},
    )
    with session_factory() as s:
        service = ProblemService(s, iid, PolicyStore(s, iid).current())
        assert [v.problem.id for v in service.listing(unit_id=college["hq"])] == [problem.id]


def test_unit_side_work_report_and_the_leaders_opinion(college, launcher, client, session_factory) -> None:  # type: ignore[no-untyped-def]
    dean = _launch(launcher, "110001", "赵院长")
    home = dean.get(client, "/home").get_data(as_text=True)
    assert "/contacts/unit" in home
    page = dean.get(client, "/contacts/unit").get_data(as_text=True)
    assert "王书记" in page and "李院长" in page
    response = client.post(
        f"/contacts/unit?s={dean.token}",
        data={"csrf": _csrf(page), "leader_id": str(college["leader"]), "kind": "consultation",
              "date": _today().isoformat(), "place": "院办", "content": "新能源专业群调整方案征求意见"},
    )  # fmt: skip
    assert response.status_code == 303
    refused = client.post(
        f"/contacts/unit?s={dean.token}",
        data={
            "csrf": _csrf(page),
            "leader_id": str(college["dean"]),
            "kind": "visit",
            "date": "明天",
            "content": "",
        },
    )
    assert refused.status_code == 422
    leader = _launch(launcher, "100001", "王书记")
    mine = leader.get(client, "/contacts/").get_data(as_text=True)
    assert "等待您给出意见" in mine
    with session_factory() as s:
        record = s.scalars(select(ContactRecord)).one()
        assert (record.author_id, record.reported_by_id, record.kind) == (
            college["leader"],
            college["dean"],
            "consultation",
        )
    response = client.post(
        f"/contacts/{record.id}/opinion?s={leader.token}",
        data={"csrf": _csrf(mine), "leader_opinion": "同意，注意师资"},
    )
    assert response.status_code == 303
    assert "同意，注意师资" in dean.get(client, "/contacts/unit").get_data(as_text=True)


def test_school_office_keeps_contact_points(college, launcher, client, session_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    office = _launch(launcher, "300002", "孙干事")
    home = office.get(client, "/home").get_data(as_text=True)
    assert "/contacts/office/points" in home
    page = office.get(client, f"/contacts/office/points?year={college['year']}").get_data(as_text=True)
    assert "王书记" in page and "汽车工程学院教工党支部" in page
    csrf = _csrf(page)
    # A branch of a college the dean neither contacts nor … the dean belongs to QC: accepted.
    added = client.post(
        f"/contacts/office/points?s={office.token}",
        data={"csrf": csrf, "year": college["year"], "employee_no": "110001", "kind": "teaching_office",
              "target": "汽车检测教研室"},
    )  # fmt: skip
    assert added.status_code == 303
    wrong = client.post(
        f"/contacts/office/points?s={office.token}",
        data={
            "csrf": csrf,
            "year": college["year"],
            "employee_no": "110001",
            "kind": "college",
            "target": "XB",
        },
    )
    assert wrong.status_code == 422 and "不是教学院" in wrong.get_data(as_text=True)
    # Import: preview first (nothing stored), then confirm.
    csv = f"工号,学年,类型,对象\n110001,{college['year']},班级,汽车2301\n"
    refused = client.post(
        f"/contacts/office/points/import?s={office.token}",
        data={"csrf": csrf, "file": (__import__("io").BytesIO(csv.encode()), "points.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422 and "(row 2, column 对象)" in refused.get_data(as_text=True)
    year = college["year"]
    csv = f"工号,学年,类型,对象\n110001,{year},教研室,QC-JY1\n110001,{year},党支部,QC-DZB1\n"
    preview = client.post(
        f"/contacts/office/points/import?s={office.token}",
        data={"csrf": csrf, "file": (__import__("io").BytesIO(csv.encode()), "points.csv")},
        content_type="multipart/form-data",
    )
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "预览" in html
    with session_factory() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(ContactPoint)
                .where(ContactPoint.person_id == college["dean"])
            )
            == 1
        )
    data = re.search(r'name="data" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    done = client.post(
        f"/contacts/office/points/import?s={office.token}",
        data={"csrf": csrf, "data": data, "filename": "points.csv", "confirm": "yes"},
    )
    assert done.status_code == 303
    with session_factory() as s:
        kinds = sorted(s.scalars(select(ContactPoint.kind).where(ContactPoint.person_id == college["dean"])))
        assert kinds == ["party_branch", "teaching_office"]
        point_id = s.scalars(
            select(ContactPoint.id).where(
                ContactPoint.kind == "party_branch", ContactPoint.person_id == college["dean"]
            )
        ).one()
    removed = client.post(f"/contacts/office/points/{point_id}/remove?s={office.token}", data={"csrf": csrf})
    assert removed.status_code == 303
    # Pages of the other personas are closed to the office, and the office's to a leader.
    leader = _launch(launcher, "100001", "王书记")
    assert leader.get(client, "/contacts/office/points").status_code == 403
    assert office.get(client, "/contacts/").status_code == 403


def test_another_institution_sees_nothing(college, launcher, client, session_factory) -> None:  # type: ignore[no-untyped-def]
    other_iid = make_institution(session_factory, "OTHER", "另一所学院")
    with session_factory.begin() as s:
        stranger = Person(institution_id=other_iid, employee_no="100001", name="外校领导")
        s.add(stranger)
        s.flush()
        foreign = ContactRecord(
            institution_id=other_iid,
            author_id=stranger.id,
            kind="visit",
            date=_today(),
            target_kind="friend",
            target_label="某人",
            content="外校记录",
            status="submitted",
        )
        foreign.members.append(ContactMember(institution_id=other_iid, person_id=stranger.id, role="author"))
        s.add(foreign)
        s.flush()
        foreign_id = foreign.id
    leader = _launch(launcher, "100001", "王书记")
    assert leader.get(client, f"/contacts/{foreign_id}").status_code == 404
    assert leader.get(client, f"/contacts/{foreign_id}/edit").status_code == 404
    office = _launch(launcher, "300002", "孙干事")
    assert office.get(client, f"/contacts/office/records/{foreign_id}").status_code == 404
    year = college["year"]
    assert "外校记录" not in office.get(client, f"/contacts/office/records?year={year}").get_data(
        as_text=True
    )
    assert "外校领导" not in office.get(client, "/contacts/office/branch").get_data(as_text=True)


def test_contact_records_save_autosave_and_submit_without_redis(
    college, launcher, client, session_factory, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Issue 13 §6: nothing on the record path touches Redis — every connection to it is refused here."""
    import redis.connection

    def refused(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise redis.exceptions.ConnectionError("Redis is down (test)")

    monkeypatch.setattr(redis.connection.AbstractConnection, "connect", refused)
    leader = _launch(launcher, "100001", "王书记")
    record_id, csrf = _start(client, leader)
    fields = {
        "date": _today().isoformat(),
        "kind": "visit",
        "target_kind": "college",
        "target": "QC",
        "place": "汽车工程学院会议室",
        "participants": "12",
        "content": "Redis 停了也要保存的内容",
        "opinions": "实训设备不足",
    }
    saved = _autosave(client, leader, record_id, csrf, 0, fields)
    assert saved.status_code == 200, saved.get_data(as_text=True)
    submitted = client.post(
        f"/contacts/{record_id}/submit",
        json={"draft_version": saved.get_json()["draft_version"]},
        headers={"X-Tingke-Session": leader.token, "X-CSRF-Token": csrf},
    )
    assert submitted.status_code == 200, submitted.get_data(as_text=True)
    with session_factory() as s:
        record = s.get(ContactRecord, record_id)
        assert (record.status, record.content) == ("submitted", "Redis 停了也要保存的内容")
