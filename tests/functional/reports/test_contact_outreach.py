"""The contact report's sections 十 (reception days), 十一 (letters), 十二 (proposals) of issue 12 item 7 on a
college counted by hand, checked on the numbers and in the PDF's text; an archived semester's report
reproduces them from the frozen statistics snapshot after the live data changed; no letter writer appears
anywhere in the report.

The college (dates relative to the college's today T; the semester began 8 weeks before this Monday):

reception (one leader a week)     letters (received in the semester)      proposals (one session)
w1  王 recorded, 2 visits         L1 王 教学 anonymous, on time            P1 教务处 handling, not due
w2  王 recorded, nobody came      L2 吴 后勤 answered 4 days late          P2 教务处 on time, satisfied
w3  吴 no record (missing)        L3 王 教学 with the unit, due T-3        P3 declined (不予立案)
w4  吴 a draft only (missing)     L4 王 教学 with the leader, due T+10     P4 后勤处 round 2, due T-1,
w5  李 recorded, 1 visit          L5 closed as a duplicate                    unsatisfied
w12 王 ahead (not yet due)        L0 received before the semester (left out)
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import asdict

import pypdf
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lti_tool import clock
from lti_tool.archive.services import ArchiveService
from lti_tool.outreach.models import (
    CongressSession,
    FollowUp,
    Letter,
    Proposal,
    ReceptionDuty,
    ReceptionRecord,
    ReceptionVisit,
)
from lti_tool.outreach.statistics import OutreachStatisticsService
from lti_tool.policy.store import PolicyStore
from lti_tool.reports.contacts import ContactReportService
from lti_tool.reports.models import ReportRun, RunStatus
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import Semester
from tests.support import factories as f
from worker import jobs

WRITERS = ("匿名学生甲", "anon@example.edu", "刘老师", "liu@example.edu")


def _at(day: dt.date, inst: Institution) -> dt.datetime:
    """10:00 on ``day`` in the college's time, as the UTC instant stored."""
    return dt.datetime.combine(day, dt.time(10, 0), tzinfo=clock.zone(inst)).astimezone(dt.UTC)


def build(s: Session, inst_id: int) -> dict:
    inst = s.get(Institution, inst_id)
    PolicyStore(s, inst_id).ensure_version()
    today = clock.today(inst)
    monday = today - dt.timedelta(days=today.weekday())
    w1 = monday - dt.timedelta(weeks=8)
    sem = f.semester(s, inst_id, "2026-2027-1", week1_monday=w1, weeks=18)
    jwc = f.unit(s, inst_id, "教务处", kind="department", code="JWC")
    hq = f.unit(s, inst_id, "后勤处", kind="department", code="HQ")
    wang = f.person(s, inst_id, "王副校长", employee_no="L001", positions=["vp_teaching"])
    wu = f.person(s, inst_id, "吴副校长", employee_no="L002", positions=["vp_research"])
    li = f.person(s, inst_id, "李校长", employee_no="L003", positions=["president"])
    writer = f.person(s, inst_id, "刘老师", employee_no="T001", email="liu@example.edu")

    def week(n: int, who, status: str | None, visits=(), no_visitors=False):  # type: ignore[no-untyped-def]
        duty = ReceptionDuty(institution_id=inst_id, semester_id=sem.id, week=n, person_id=who.id)
        s.add(duty)
        s.flush()
        if status is None:
            return
        rec = ReceptionRecord(
            institution_id=inst_id,
            duty_id=duty.id,
            recorded_by_id=who.id,
            date=w1 + dt.timedelta(weeks=n - 1, days=2),
            no_visitors=no_visitors,
            status=status,
        )
        s.add(rec)
        s.flush()
        for identity, matter, outcome, unit, category in visits:
            s.add(
                ReceptionVisit(
                    institution_id=inst_id,
                    record_id=rec.id,
                    visitor_name="来访人某",
                    identity=identity,
                    matter=matter,
                    outcome=outcome,
                    follow_up_unit_id=unit.id if unit else None,
                    follow_up_category=category,
                    follow_up="请处理" if unit else "",
                )
            )

    week(
        1,
        wang,
        "submitted",
        [
            ("teacher", "实训设备老化影响教学", "solved", jwc, "facilities"),
            ("student", "食堂饭菜价格偏高", "explained", None, ""),
        ],
    )
    week(2, wang, "submitted", no_visitors=True)
    week(3, wu, None)
    week(4, wu, "draft", [("staff", "草稿里的来访不计", "adopted", None, "")])
    week(5, li, "submitted", [("student", "宿舍热水供应不稳定", "adopted", None, "")])
    week(12, wang, None)

    def letter(days: int, subject: str, **fu_values):  # type: ignore[no-untyped-def]
        anonymous = fu_values.pop("anonymous", False)
        fu = FollowUp(institution_id=inst_id, kind="letter", **fu_values)
        s.add(fu)
        s.flush()
        s.add(
            Letter(
                institution_id=inst_id,
                follow_up_id=fu.id,
                channel="tool",
                subject=subject,
                body="……",
                anonymous=anonymous,
                writer_person_id=None if anonymous else writer.id,
                writer_name="匿名学生甲" if anonymous else "刘老师",
                writer_contact="anon@example.edu" if anonymous else "liu@example.edu",
                received_on=w1 + dt.timedelta(days=days),
            )
        )
        return fu

    d1 = w1 + dt.timedelta(days=3 + 15)
    letter(
        3,
        "图书馆延长开放",
        anonymous=True,
        status="closed",
        outcome="answered",
        area="teaching",
        leader_id=wang.id,
        unit_id=jwc.id,
        deadline=d1,
        answer="考试周开放至22:30",
        answered_at=_at(d1 - dt.timedelta(days=3), inst),
        released_at=_at(d1 - dt.timedelta(days=2), inst),
    )
    d2 = w1 + dt.timedelta(days=8 + 15)
    letter(
        8,
        "澡堂维修",
        status="closed",
        outcome="answered",
        area="logistics",
        leader_id=wu.id,
        unit_id=hq.id,
        deadline=d2,
        answer="已于本月完成维修",
        answered_at=_at(d2 + dt.timedelta(days=4), inst),
        released_at=_at(d2 + dt.timedelta(days=5), inst),
    )
    l3 = letter(
        20,
        "教室投影仪",
        status="with_unit",
        area="teaching",
        leader_id=wang.id,
        unit_id=jwc.id,
        deadline=today - dt.timedelta(days=3),
    )
    letter(
        40,
        "选修课名额",
        status="with_leader",
        area="teaching",
        leader_id=wang.id,
        deadline=today + dt.timedelta(days=10),
    )
    letter(41, "图书馆延长开放（重复）", status="closed", outcome="duplicate", reason="与前信重复")
    letter(-3, "假期来信", status="received")  # before the semester: not in its report

    congress = CongressSession(
        institution_id=inst_id,
        body="staff",
        number=3,
        title="第五届教代会第三次会议",
        held_on=w1 + dt.timedelta(days=14),
    )
    s.add(congress)
    s.flush()

    def proposal(n: int, title: str, satisfaction: str = "", **fu_values):  # type: ignore[no-untyped-def]
        fu = FollowUp(institution_id=inst_id, kind="proposal", **fu_values)
        s.add(fu)
        s.flush()
        s.add(
            Proposal(
                institution_id=inst_id,
                follow_up_id=fu.id,
                session_id=congress.id,
                number=n,
                proposer_name=f"提案人{n}",
                title=title,
                content="……",
                satisfaction=satisfaction,
            )
        )

    proposal(1, "增设自习室", status="with_unit", unit_id=jwc.id, deadline=today + dt.timedelta(days=20))
    dp = w1 + dt.timedelta(days=40)
    proposal(
        2,
        "优化排课",
        "satisfied",
        status="closed",
        outcome="answered",
        unit_id=jwc.id,
        deadline=dp,
        answer="下学期起试行",
        answered_at=_at(dp - dt.timedelta(days=1), inst),
        released_at=_at(dp, inst),
    )
    proposal(3, "提高津贴", status="closed", outcome="declined", reason="不属于提案范围")
    proposal(
        4,
        "增加停车位",
        "unsatisfied",
        status="with_unit",
        round=2,
        unit_id=hq.id,
        deadline=today - dt.timedelta(days=1),
        answer="已规划",
        answered_at=_at(dp, inst),
    )
    s.flush()
    return {"semester": sem.id, "l3": l3.id, "wang": wang.id, "today": today, "w1": w1}


@pytest.fixture
def college(session_factory, worker_db):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        inst = f.institution(s, "OUT")
        return {"institution_id": inst.id, **build(s, inst.id)}


def _figures(session_factory, college):  # type: ignore[no-untyped-def]
    with session_factory() as s:
        sem = s.get(Semester, college["semester"])
        return ContactReportService(s, college["institution_id"]).statistics(sem)


def _render(session_factory, college) -> tuple[ReportRun, str]:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        run = ReportRun(
            institution_id=college["institution_id"], kind="contact_report", semester_id=college["semester"]
        )
        s.add(run)
        s.flush()
        run_id = run.id
    jobs.run_report(run_id)
    with session_factory() as s:
        done = s.get(ReportRun, run_id)
        assert done is not None and done.status == RunStatus.SUCCEEDED, done.error if done else None
        text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(done.content or b"")).pages)
        return done, "".join(text.split())


def _sections(text: str) -> str:
    """Sections 十–十二 of the report's text (after the table of contents, before 十三)."""
    start = text.index("十、接待日情况", text.index("十、接待日情况") + 1)
    return text[start : text.index("十三、工作建议", start)]


def test_the_three_sections_counted_by_hand(session_factory, college) -> None:  # type: ignore[no-untyped-def]
    o = _figures(session_factory, college).outreach
    r = o.reception
    assert (r.weeks_scheduled, r.weeks_recorded, r.weeks_missing, r.weeks_not_due) == (6, 3, 2, 1)
    assert (r.weeks_without_visitors, r.visits, r.follow_ups) == (1, 3, 1)  # the draft's visit is not counted
    assert r.recorded_share == pytest.approx(3 / 5)
    assert [(x.name, x.scheduled, x.recorded, x.missing, x.not_due, x.visits) for x in r.by_leader] == [
        ("王副校长", 3, 2, 0, 1, 2),
        ("吴副校长", 2, 0, 2, 0, 0),
        ("李校长", 1, 1, 0, 0, 1),
    ]
    assert [(c.name, c.count) for c in r.by_identity] == [("student", 2), ("teacher", 1)]
    assert [(c.name, c.count) for c in r.by_outcome] == [("adopted", 1), ("explained", 1), ("solved", 1)]
    assert [(c.name, c.count) for c in r.typical] == [("学生来访", 2), ("教学设施", 1)]

    letters = o.letters
    assert (letters.total, letters.answered, letters.anonymous) == (5, 2, 1)
    assert (letters.on_time, letters.late, letters.overdue_open, letters.not_due) == (1, 1, 1, 1)
    assert letters.on_time_share == pytest.approx(1 / 3) and letters.overdue_share == pytest.approx(2 / 3)
    assert {c.name: c.count for c in letters.by_status} == {
        "received": 0,
        "with_leader": 1,
        "with_unit": 1,
        "answered": 0,
        "released": 0,
        "closed": 3,
    }
    assert [(c.name, c.count) for c in letters.by_outcome] == [("answered", 2), ("duplicate", 1)]
    assert [(x.name, x.items, x.answered, x.on_time, x.overdue) for x in letters.by_owner] == [
        ("王副校长", 3, 1, 1, 1),
        ("吴副校长", 1, 1, 0, 1),
    ]
    assert [(c.name, c.count) for c in letters.typical] == [("教学", 3), ("后勤", 1)]
    assert [i.timeliness for i in letters.listed] == ["on_time", "late", "overdue", "", ""]

    p = o.proposals
    assert (p.total, p.answered, p.on_time, p.late, p.overdue_open, p.not_due, p.second_round) == (
        4, 1, 1, 0, 1, 1, 1,
    )  # fmt: skip
    assert p.on_time_share == pytest.approx(0.5)
    assert [(c.name, c.count) for c in p.by_outcome] == [("answered", 1), ("declined", 1)]
    assert [(c.name, c.count) for c in p.satisfaction] == [("satisfied", 1), ("unsatisfied", 1)]
    assert [(x.name, x.items, x.answered, x.on_time, x.overdue) for x in p.by_owner] == [
        ("教务处", 2, 1, 1, 0),
        ("后勤处", 1, 0, 0, 1),
    ]
    assert [(c.name, c.count) for c in p.typical] == [("教务处", 2), ("后勤处", 1)]


def test_the_pdf_shows_the_sections_and_names_no_writer(session_factory, college) -> None:  # type: ignore[no-untyped-def]
    run, text = _render(session_factory, college)
    for needle in (
        "十、接待日情况",
        "十一、校领导信箱来信办理情况",
        "十二、教代会、学代会提案办理情况",
        "十三、工作建议",
        "本学期共安排接待日6周，已记录3周（其中无来访1周），逾期未记录2周，尚未到期1周，按时记录率60.0%",
        "共接待来访3人次（学生2人次，教师1人次）",
        "答复情况：采纳意见1件，解释说明1件，协调解决1件；需后续处理并转责任单位的1件",
        "学生来访2件，教学设施1件",
        "校领导信箱共收到来信5件（其中匿名来信1件",
        "已答复2件，按期答复率33.3%，超期率66.7%",
        "办结情况：已答复2件，重复来信1件",
        "教学3件，后勤1件",
        "王副校长3111",  # 表13: items, answered, on time, overdue
        "吴副校长1101",
        "共提交提案4件，已答复1件，按期答复率50.0%，超期率50.0%",
        "提案人反馈：满意1件，不满意1件，因不满意再次办理1件",
        "教务处2110",
        "第4号增加停车位",
        "吴副校长",  # the suggestion names the leader with unrecorded weeks
        "有2周未按时记录接待情况",
        "来信尚有1件超过办理期限未答复",
    ):
        assert needle in text, needle
    assert "假期来信" not in text  # received before the semester
    for name in WRITERS:
        assert name not in text, name


def test_an_archived_semester_reproduces_its_sections_after_the_live_data_changed(
    session_factory, college
) -> None:  # type: ignore[no-untyped-def]
    iid = college["institution_id"]
    with session_factory.begin() as s:
        runs = ArchiveService(s, iid).close(college["semester"], None, confirm="2026-2027-1")
        stats_run = next(r.id for r in runs if r.kind == "statistics")
    jobs.run_report(stats_run)
    frozen = _figures(session_factory, college)
    assert frozen.outreach_frozen
    _, before = _render(session_factory, college)

    # the live data changes after the archive: L3 is answered, a week is recorded late, a letter is added
    inst_today = college["today"]
    with session_factory.begin() as s:
        s.execute(
            update(FollowUp)
            .where(FollowUp.id == college["l3"])
            .values(status="closed", outcome="answered", answer="已更换", answered_at=dt.datetime.now(dt.UTC))
        )
        duty = s.scalars(select(ReceptionDuty).where(ReceptionDuty.week == 3)).one()
        s.add(
            ReceptionRecord(
                institution_id=iid, duty_id=duty.id, recorded_by_id=duty.person_id, date=inst_today,
                no_visitors=True, status="submitted",
            )
        )  # fmt: skip
        fu = FollowUp(institution_id=iid, kind="letter", status="received")
        s.add(fu)
        s.flush()
        s.add(
            Letter(
                institution_id=iid, follow_up_id=fu.id, subject="归档后的来信", body="…",
                received_on=college["w1"] + dt.timedelta(days=30),
            )
        )  # fmt: skip
    with session_factory() as s:  # the live numbers did change …
        sem = s.get(Semester, college["semester"])
        live = OutreachStatisticsService(s, iid, PolicyStore(s, iid).current()).compute(sem)
    assert (live.letters.total, live.reception.weeks_recorded) == (6, 4)
    again = _figures(session_factory, college)  # … the archived report's do not
    assert asdict(again.outreach) == asdict(frozen.outreach)
    assert (again.outreach.letters.total, again.outreach.reception.weeks_recorded) == (5, 3)
    _, after = _render(session_factory, college)
    assert _sections(after) == _sections(before) and "归档后的来信" not in after
    assert "第十至十二部分数据取自本学期归档时的统计快照" in after


def test_the_school_office_gets_the_sections_through_the_pages(  # type: ignore[no-untyped-def]
    session_factory, worker_db, institution_id, launcher, client
) -> None:
    from tests.support.platform import ROLE_INSTRUCTOR, LmsUser

    with session_factory.begin() as s:
        built = build(s, institution_id)
        office = f.unit(
            s, institution_id, "学校办公室", kind="department", code="XB", function="school_office"
        )
        f.person(s, institution_id, "办公室干事", employee_no="X001", unit=office)
    launched = launcher.launch(LmsUser("xb-1", "办公室干事", "", "X001", [ROLE_INSTRUCTOR]))
    page = launched.get(client, "/reports/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'value="contact_report"' in html
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    assert csrf
    response = client.post(
        f"/reports/start?s={launched.token}",
        data={"kind": "contact_report", "semester_id": str(built["semester"]), "csrf": csrf.group(1)},
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    found = re.search(r"/reports/runs/(\d+)", response.headers["Location"])
    assert found
    run_id = int(found.group(1))
    jobs.run_report(run_id)  # what the worker does with the queued run
    status = launched.get(client, f"/reports/runs/{run_id}/status").get_json()
    assert status["status"] == "succeeded", status
    download = launched.get(client, status["download"].split("?")[0])
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    text = "".join(
        "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(download.data)).pages).split()
    )
    assert "本学期共安排接待日6周，已记录3周" in text and "已答复2件，按期答复率33.3%，超期率66.7%" in text
    for name in WRITERS:
        assert name not in text, name
