"""The numbered shortfall bulletin of both systems (C-7c, issue 12 §5), through the real pages.

The college (hand count, checkpoint 2026-09-30 = teaching week 4 of a semester starting Monday 2026-09-07):

- 王保卫 (B001, head of security since 2026-09-01): no patrol in September (his patrol of 2026-10-10 falls
  after the checkpoint) → short of O-9 "at least 1 patrol a month": required 1 (September), done 0, short 1;
  no symposium → short of C-5: required 1, done 0, short 1.
- 李资产 (B002, head of assets): a patrol on 2026-09-15 and a symposium on 2026-09-20 → short of nothing.
- 赵后勤 (B003, head of logistics): a patrol on 2026-09-16, no symposium → short of C-5 only.

So the observation system has 3 people with duties, 2 done, 1 short; the contact system 3, 1 done, 2 short.
The school office (X001) and the quality center (Q001) issue bulletins; the organization department (G001)
and the leaders do not. Each of 王 and 赵 sees the bulletin on their home page with their own lines only.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from lti_tool import clock
from lti_tool.compliance.services import ComplianceService
from lti_tool.contacts.models import ContactMember, ContactRecord
from lti_tool.errors import NotFound
from lti_tool.notifications.models import Notification
from lti_tool.reports.bulletin import BulletinService
from lti_tool.reports.models import BulletinEntry, ReportRun, RunStatus
from lti_tool.reports.services import ReportRunService
from lti_tool.tenancy import Institution
from tests.functional.reports.test_report import pdf_text
from tests.support import factories as f
from tests.support.platform import ROLE_LEARNER, LmsUser
from tests.support.redis import redis_for
from worker import jobs

D = dt.date
CHECKPOINT = D(2026, 9, 30)
OFFICE = LmsUser("xb-1", "办公室干事", "", "X001", [ROLE_LEARNER])
QC = LmsUser("qc-1", "质控中心刘老师", "", "Q001", [ROLE_LEARNER])
ORG = LmsUser("zz-1", "组织部干事", "", "G001", [ROLE_LEARNER])
WANG = LmsUser("b-1", "王保卫", "", "B001", [ROLE_LEARNER])
LI = LmsUser("b-2", "李资产", "", "B002", [ROLE_LEARNER])
ZHAO = LmsUser("b-3", "赵后勤", "", "B003", [ROLE_LEARNER])


def _symposium(s, inst: int, who, day: dt.date) -> None:  # type: ignore[no-untyped-def]
    rec = ContactRecord(
        institution_id=inst,
        author_id=who.id,
        kind="symposium",
        date=day,
        target_kind="unit",
        unit_id=who.unit_id,
        status="submitted",
        content="师生座谈会",
        submitted_at=dt.datetime.combine(day, dt.time(10), dt.UTC),
    )
    s.add(rec)
    s.flush()
    s.add(ContactMember(institution_id=inst, record_id=rec.id, person_id=who.id, role="author"))
    s.flush()


def _college(s, inst: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    semester = f.semester(s, inst, week1_monday=D(2026, 9, 7), weeks=18)
    since = D(2026, 9, 1)
    security = f.unit(s, inst, "保卫处", kind="department")
    assets = f.unit(s, inst, "资产处", kind="department")
    logistics = f.unit(s, inst, "后勤处", kind="department")
    office = f.unit(s, inst, "学校办公室", kind="department", function="school_office")
    qc = f.unit(s, inst, "教学质量监控与评价中心", kind="department", function="quality_center")
    org = f.unit(s, inst, "党委组织部", kind="department", function="organization")
    wang = f.person(s, inst, "王保卫", employee_no="B001", unit=security, email="wang@example.edu",
                    positions=[("head_security", since, None)])  # fmt: skip
    li = f.person(s, inst, "李资产", employee_no="B002", unit=assets, email="li@example.edu",
                  positions=[("head_assets", since, None)])  # fmt: skip
    zhao = f.person(s, inst, "赵后勤", employee_no="B003", unit=logistics, email="zhao@example.edu",
                    positions=[("head_logistics", since, None)])  # fmt: skip
    f.person(s, inst, "办公室干事", employee_no="X001", unit=office)
    f.person(s, inst, "质控中心刘老师", employee_no="Q001", unit=qc)
    f.person(s, inst, "组织部干事", employee_no="G001", unit=org)
    f.patrol(s, wang, D(2026, 10, 10))  # after the checkpoint: not counted on 2026-09-30
    f.patrol(s, li, D(2026, 9, 15))
    f.patrol(s, zhao, D(2026, 9, 16))
    _symposium(s, inst, li, D(2026, 9, 20))
    return {"semester": semester.id, "wang": wang.id, "li": li.id, "zhao": zhao.id}


@pytest.fixture
def college(session_factory, institution_id, worker_db, settings):  # type: ignore[no-untyped-def]
    redis_for(settings)
    with session_factory.begin() as s:
        return _college(s, institution_id)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def _issue(client, launched, semester_id: int, as_of: str = CHECKPOINT.isoformat()):  # type: ignore[no-untyped-def]
    page = launched.get(client, "/reports/")
    assert page.status_code == 200
    return client.post(
        f"/reports/start?s={launched.token}",
        data={
            "kind": "bulletin",
            "semester_id": str(semester_id),
            "as_of": as_of,
            "csrf": _csrf(page.get_data(as_text=True)),
        },
    )


def _issued(client, launched, semester_id: int) -> int:  # type: ignore[no-untyped-def]
    response = _issue(client, launched, semester_id)
    assert response.status_code == 303, response.get_data(as_text=True)
    run_id = int(re.search(r"/reports/runs/(\d+)", response.headers["Location"]).group(1))  # type: ignore[union-attr]
    jobs.run_report(run_id)  # what the worker does with the queued job
    return run_id


def _pdf(client, launched, run_id: int) -> str:  # type: ignore[no-untyped-def]
    page = launched.get(client, f"/reports/runs/{run_id}").get_data(as_text=True)
    link = re.search(r'href="([^"]*/reports/runs/\d+/download[^"]*)"', page)
    assert link, page
    response = client.get(link.group(1).replace("&amp;", "&"))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    return pdf_text(response.data)


def test_the_school_office_issues_a_numbered_bulletin_of_both_systems(
    session_factory, college, launcher, client
):  # type: ignore[no-untyped-def]
    office = launcher.launch(OFFICE)
    page = office.get(client, "/reports/").get_data(as_text=True)
    assert 'id="issue-bulletin"' in page
    run_id = _issued(client, office, college["semester"])
    year = clock.today().year
    with session_factory() as s:
        run = s.get(ReportRun, run_id)
        assert run is not None and run.status == RunStatus.SUCCEEDED, run and run.error
        assert (run.number_year, run.number, run.as_of, run.issuer) == (year, 1, CHECKPOINT, "school_office")
        assert run.filename == f"领导干部履职情况通报〔{year}〕1号.pdf"
    text = _pdf(client, office, run_id)
    for needle in [
        "关于领导干部履职情况的通报",
        f"〔{year}〕1号",
        "学校办公室",
        "截至2026年9月30日（第4周）",
        # 一、总体情况: system, with duties, done, short
        "领导干部听课制度321",
        "领导干部联系基层制度312",
        # 二、听课任务未完成情况: 王 only (his October patrol is after the checkpoint)
        "二、听课任务未完成情况",
        "（一）每月至少巡查1次",
        "王保卫保卫处101",
        # 三、联系基层任务未完成情况: 王 and 赵
        "三、联系基层任务未完成情况",
        "（一）每学期至少1次：召开师生员工座谈会",
        "王保卫保卫处101",
        "赵后勤后勤处101",
    ]:
        assert needle in text, needle
    assert "李资产" not in text  # short of nothing
    assert "O-9" not in text and "C-5" not in text  # words, not rule codes
    assert text.index("（一）每月至少巡查1次") < text.index("三、联系基层任务未完成情况")
    assert text.count("王保卫") == 2 and text.count("赵后勤") == 1

    # The lines are kept, and each named leader (only they) was told.
    with session_factory() as s:
        entries = s.scalars(select(BulletinEntry).where(BulletinEntry.run_id == run_id)).all()
        assert sorted((e.person_id, e.rule_id, e.required, e.done, e.short) for e in entries) == sorted(
            [
                (college["wang"], "O-9", 1, 0, 1),
                (college["wang"], "C-5", 1, 0, 1),
                (college["zhao"], "C-5", 1, 0, 1),
            ]
        )
        told = s.scalars(select(Notification).where(Notification.event == "bulletin_issued")).all()
        assert {n.person_id for n in told} == {college["wang"], college["zhao"]}
        wang_told = next(n for n in told if n.person_id == college["wang"])
        assert f"〔{year}〕1号" in wang_told.subject and "召开师生员工座谈会" in wang_told.body


def test_numbers_follow_in_the_year_and_an_issued_bulletin_stays_as_it_was(
    session_factory, college, launcher, client
):  # type: ignore[no-untyped-def]
    office = launcher.launch(OFFICE)
    first = _issued(client, office, college["semester"])
    qc = launcher.launch(QC)
    second = _issued(client, qc, college["semester"])
    year = clock.today().year
    with session_factory() as s:
        runs = [s.get(ReportRun, first), s.get(ReportRun, second)]
        assert [(r.number_year, r.number, r.issuer) for r in runs if r] == [
            (year, 1, "school_office"),
            (year, 2, "quality_center"),
        ]
        kept = runs[0].content if runs[0] else None
    assert "教学质量监控与评价中心" in _pdf(client, qc, second)
    jobs.run_report(first)  # the job again (queued twice): a finished bulletin is never rebuilt
    with session_factory() as s:
        again = s.get(ReportRun, first)
        assert again is not None and again.number == 1 and again.content == kept
        assert len(s.scalars(select(BulletinEntry).where(BulletinEntry.run_id == first)).all()) == 3


def test_a_number_is_claimed_once_even_when_two_workers_read_the_same_next_one(
    session_factory, college, institution_id, monkeypatch
):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        runs = [ReportRun(institution_id=institution_id, kind="bulletin", semester_id=college["semester"])
                for _ in range(2)]  # fmt: skip
        s.add_all(runs)
        s.flush()
        a, b = (r.id for r in runs)
    with session_factory() as s:
        assert BulletinService(s, institution_id).claim_number(a, 2026) == 1
        assert BulletinService(s, institution_id).claim_number(a, 2026) == 1  # a retried run keeps its own
        service = BulletinService(s, institution_id)
        stale = iter([1])  # the other worker read "next = 1" before the first committed
        real = service.next_number
        monkeypatch.setattr(service, "next_number", lambda year: next(stale, None) or real(year))
        assert service.claim_number(b, 2026) == 2
        assert BulletinService(s, institution_id).claim_number(b, 2027) == 2  # held: not renumbered
    with session_factory() as s:
        assert sorted(s.scalars(select(ReportRun.number).where(ReportRun.kind == "bulletin"))) == [1, 2]


def test_who_may_issue(session_factory, college, launcher, client):  # type: ignore[no-untyped-def]
    for user in (ORG, WANG):
        launched = launcher.launch(user)
        page = launched.get(client, "/reports/")
        assert 'id="issue-bulletin"' not in page.get_data(as_text=True)
        assert _issue(client, launched, college["semester"]).status_code == 403
    office = launcher.launch(OFFICE)
    assert _issue(client, office, college["semester"], as_of="2030-01-01").status_code == 400  # after today
    assert _issue(client, office, college["semester"], as_of="2026-08-01").status_code == 400  # before start
    assert _issue(client, office, college["semester"], as_of="30/09/2026").status_code == 400  # not a date
    with session_factory() as s:
        assert not s.scalars(select(ReportRun).where(ReportRun.kind == "bulletin")).all()


def test_each_named_leader_sees_only_their_own_lines(session_factory, college, launcher, client):  # type: ignore[no-untyped-def]
    run_id = _issued(client, launcher.launch(OFFICE), college["semester"])
    year = clock.today().year

    wang = launcher.launch(WANG)
    home = wang.get(client, "/home").get_data(as_text=True)
    panel = home[home.index('id="my-bulletins"') :]
    assert f"〔{year}〕1号" in panel
    assert "每月至少巡查1次" in panel and "召开师生员工座谈会" in panel
    assert "赵后勤" not in home and "李资产" not in home
    # The PDF names others: a leader reads their lines, never the whole bulletin.
    assert wang.get(client, f"/reports/runs/{run_id}/download").status_code == 403
    assert wang.get(client, f"/reports/runs/{run_id}").status_code == 403

    zhao = launcher.launch(ZHAO)
    home = zhao.get(client, "/home").get_data(as_text=True)
    panel = home[home.index('id="my-bulletins"') :]
    assert "召开师生员工座谈会" in panel and "每月至少巡查1次" not in panel
    assert "王保卫" not in home

    li = launcher.launch(LI)
    assert 'id="my-bulletins"' not in li.get(client, "/home").get_data(as_text=True)

    with session_factory() as s:  # in English the duty reads in English
        assert {
            e.duty_en
            for e in s.scalars(select(BulletinEntry).where(BulletinEntry.person_id == college["zhao"]))
        } == {"at least 1 a semester: a symposium with teachers, students and staff"}


def test_a_line_short_by_nothing_countable_reads_as_its_reason(session_factory, college, launcher, client):  # type: ignore[no-untyped-def]
    """C-1a not rotated (2 colleges held, 1 required, 0 short): the leader's panel gives the reason as it is,
    not "still missing: not rotated: …"."""
    run_id = _issued(client, launcher.launch(OFFICE), college["semester"])
    with session_factory.begin() as s:
        run = s.get(ReportRun, run_id)
        s.add(
            BulletinEntry(
                institution_id=run.institution_id,
                run_id=run_id,
                person_id=college["wang"],
                system="contact",
                rule_id="C-1a",
                duty_zh="每学年联系教学院（部）1–2个，每年轮换",
                duty_en="1–2 teaching colleges a year, changed every year",
                required=1,
                done=2,
                short=0,
                missing="未轮换：轨道交通学院上一学年已联系",
            )
        )
    home = launcher.launch(WANG).get(client, "/home").get_data(as_text=True)
    panel = home[home.index('id="my-bulletins"') :]
    assert "未轮换：轨道交通学院上一学年已联系" in panel
    assert "尚未完成：未轮换" not in panel


def test_another_institution_sees_nothing(session_factory, college, institution_id, launcher, client):  # type: ignore[no-untyped-def]
    run_id = _issued(client, launcher.launch(OFFICE), college["semester"])
    with session_factory.begin() as s:
        other = f.institution(s, "OTHER").id
    with session_factory() as s:
        with pytest.raises(NotFound):
            ReportRunService(s, other).get(run_id)
        assert BulletinService(s, other).naming(college["wang"]) == []
        assert len(BulletinService(s, institution_id).naming(college["wang"])) == 1
        # The other college's numbers start on their own.
        assert BulletinService(s, other).next_number(clock.today(s.get(Institution, other)).year) == 1


def test_the_engine_judges_as_of_the_checkpoint(session_factory, college, institution_id):  # type: ignore[no-untyped-def]
    """ComplianceService.evaluate(as_of=…): records after the day neither count nor are owed."""
    with session_factory() as s:
        service = ComplianceService(s, institution_id)
        semester = service.semester(college["semester"])
        then = service.evaluate(semester, [college["wang"]], as_of=CHECKPOINT).person(college["wang"])
        assert then is not None
        o9 = then.result("O-9")
        assert o9 is not None and (o9.required, o9.done, o9.remaining) == (1, 0, 1)
        later = service.evaluate(semester, [college["wang"]], as_of=D(2026, 10, 31)).person(college["wang"])
        assert later is not None
        o9 = later.result("O-9")
        assert o9 is not None and (o9.required, o9.done, o9.remaining) == (2, 1, 1)  # Sep missing, Oct done


def test_a_leader_who_reads_english_is_told_in_english(session_factory, college, launcher, client):  # type: ignore[no-untyped-def]
    wang = launcher.launch(WANG)
    home = wang.get(client, "/home").get_data(as_text=True)
    switched = client.post(f"/home/locale?s={wang.token}", data={"locale": "en", "csrf": _csrf(home)})
    assert switched.status_code == 303
    _issued(client, launcher.launch(OFFICE), college["semester"])
    year = clock.today().year
    with session_factory() as s:
        told = {
            n.person_id: n
            for n in s.scalars(select(Notification).where(Notification.event == "bulletin_issued"))
        }
    english, chinese = told[college["wang"]], told[college["zhao"]]
    assert english.subject == f"Bulletin 〔{year}〕1号 names you"
    assert "the school office" in english.body and "at least 1 patrol a month (1 short)" in english.body
    assert "学校办公室" in chinese.body and "召开师生员工座谈会（差1）" in chinese.body
