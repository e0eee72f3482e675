"""Benchmark: the compliance engine (``ComplianceService.evaluate``) on 1,000,000 observations, beside the
same computation done the naive way, on SQLite and PostgreSQL, in one run.

Data (``--scale 1``, the default): 100 institutions, each with 25 units (12 colleges, the Marxism School,
12 departments), 400 teachers and 54 cadres holding every position of the default policy (school
leaders, college deans and party heads, Marxism-School leaders with terms of office, functional and
patrol heads, with partial tenures and successors; deans and Marxism-School leaders also teach), one
16-week semester of ~815 course sections and ~10,400 class sessions (4 taught 思政 required courses, one
思政 course not taught, a 思政 kind written with stray spaces, co-taught sections, changed and vanished
sessions), and exactly 10,000 observation records: ~700 by cadres (deans doing supervision, 思政 visits,
Marxism-School coverage, records dated outside a partial tenure), the rest by 110 peer observers and
supervisors (督导) with no position. About 10 % are group records (co-observers signed, invited, declined,
or with a record of their own for the same session), ~7 % are drafts (some with a signed author: the
record status alone must exclude them), a third are supervision records. The patrol heads have 0–3
patrols a month, with missing months and patrols outside the tenure. In all: 1,000,000 observations,
~1.19 M memberships, ~1.02 M sessions. Rows are loaded with Core ``insert()`` executemany batches of
20,000 (SQLite) or ``COPY`` (PostgreSQL), ids assigned here; PostgreSQL is then ``VACUUM ANALYZE``d (as
autovacuum would after a bulk load); SQLite gets no ``ANALYZE`` (the app never runs it) unless
``--sqlite-analyze``.

What is timed (each evaluation in its own ORM session ended with COMMIT, as the app's request and the
worker's job end; on PostgreSQL this matters: psycopg prepares a statement after 5 executions on a
connection and drops its prepared statements on every ROLLBACK, and prepared statements get generic plans):

- engine, one institution: ``ComplianceService(s, id).evaluate(semester)``, median of ``--runs`` warm runs;
- engine, all institutions: one evaluate per institution in a loop (the service has no batch API),
  median of ``--runs`` passes after a warm-up pass;
- naive, one institution: load the institution's ``Observation`` ORM rows with their members, session,
  section, course and teachers (relationship loading, eager so there is no N+1), its ``ClassSession``
  rows (for the 思政 courses taught and the Marxism-School teachers teaching), its patrols and position
  holdings, then count in Python per person per rule: every rule kind of the policy (min_count,
  each_course, tenure_coverage, per_month, in_scope_share) — i.e. O-1…O-10, the same facts the engine
  reports. Median of ``--runs`` runs;
- naive, all institutions: by default measured on a sample of ``--naive-sample`` institutions and
  extrapolated (the output says so); ``--naive-sample 0`` runs all of them.

The naive and the engine results are compared for the timed institution and every sampled one: per
(employee number, rule) the required, done, status and missing codes must be equal, else the bench
stops with the differences (so it fails loudly if the engine is wrong).

Each database runs in its own child process so its peak RSS is its own.

Usage::

    .venv/bin/python bench/compliance.py                  # SQLite and PostgreSQL, 1,000,000 observations
    .venv/bin/python bench/compliance.py --scale 0.1      # 10 institutions, 100,000 observations
    .venv/bin/python bench/compliance.py --sqlite --keep bench-data   # keep the SQLite file there
    .venv/bin/python bench/compliance.py --database-url sqlite:///bench-data/bench.db  # reuse, no load
    .venv/bin/python bench/compliance.py --keep bench-data   # keep both; then time them again with
        --database-url sqlite:///bench-data/bench.db --database-url postgresql+psycopg://…/tingke_bench_…
    .venv/bin/python bench/compliance.py --sqlite --profile   # + per-query times, plans, cProfile
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import hashlib
import io
import json
import os
import pstats
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, insert, select, text
from sqlalchemy.orm import Session, joinedload, selectinload, sessionmaker

import lti_tool.models  # noqa: F401 - every model registered on Base.metadata
from lti_tool.compliance.services import ComplianceReport, ComplianceService
from lti_tool.db import Base, make_engine
from lti_tool.directory.models import PositionHolding
from lti_tool.migrate import upgrade
from lti_tool.observations.models import Observation, ObservationMember
from lti_tool.patrols.models import Patrol
from lti_tool.policy.schema import Policy, default_policy, default_policy_text
from lti_tool.timetable.models import ClassSession, Course, CourseSection, Semester

ROOT = Path(__file__).resolve().parent.parent  # Tingke is installed in .venv (scripts/setup.sh)
PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432"
TARGET_ONE = 0.5
TARGET_ALL = 5.0
TARGET_RATIO = 20.0

SEM_CODE = "2025-2026-2"
P_START = dt.date(2026, 3, 2)
WEEKS = 16
P_END = P_START + dt.timedelta(days=7 * WEEKS - 1)
HOLIDAYS = {
    dt.date(2026, 4, 6),
    dt.date(2026, 5, 1),
    dt.date(2026, 5, 4),
    dt.date(2026, 5, 5),
    dt.date(2026, 6, 19),
}
NOW = dt.datetime(2026, 7, 1, 2, 0, tzinfo=dt.UTC)
PERIODS = {
    1: (dt.time(8, 0), dt.time(9, 35)),
    3: (dt.time(9, 55), dt.time(11, 30)),
    5: (dt.time(13, 30), dt.time(15, 5)),
    7: (dt.time(15, 25), dt.time(17, 0)),
}


def log(msg: str) -> None:
    print(msg, flush=True)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ====================================================================================================
# Data generation
# ====================================================================================================
COLLEGES = [
    "交通工程学院",
    "汽车工程学院",
    "机电工程学院",
    "信息工程学院",
    "经济管理学院",
    "建筑工程学院",
    "航海学院",
    "物流学院",
    "艺术设计学院",
    "外国语学院",
    "基础部",
    "体育部",
]
DEPARTMENTS = [
    ("XB", "校长办公室", ""),
    ("JWC", "教务处", ""),
    ("KYC", "科研处", ""),
    ("RSC", "人事处", ""),
    ("ZLZX", "教学质量监控与评价中心", "quality_center"),
    ("ZZB", "党委组织部", "organization"),
    ("XCB", "党委宣传部", ""),
    ("XGB", "学生工作部", ""),
    ("BWC", "保卫处", ""),
    ("ZCC", "资产管理处", ""),
    ("HQC", "后勤管理处", ""),
    ("XXZX", "信息中心", ""),
]
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞宇浩然文博志新建国海燕晓东"
COURSE_KINDS = ["专业必修", "专业选修", "公共基础必修", "实践教学"]
SZ_COURSES = [
    ("SZ01", "思想道德与法治", "思政必修", True),
    ("SZ02", "毛泽东思想和中国特色社会主义理论体系概论", "思政必修", True),
    ("SZ03", "习近平新时代中国特色社会主义思想概论", " 思想政治理论课必修课 ", True),
    ("SZ04", "形势与政策", "思政课必修", True),
    ("SZ05", "中国近现代史纲要", "思政必修", False),
    ("SZ06", "马克思主义哲学选讲", "公共选修", True),
]
"""(code, name, kind, taught this semester): SZ03's kind has stray spaces (the engine trims), SZ05 is
not taught (not required), SZ06 is a Marxism-School elective (its teachers count for O-6, not O-3)."""
NARRATIVE = (
    "教师按时上课，教学准备充分，能够结合专业实际将思想政治教育有机融入课堂。"
    "讲授条理清晰，重点突出，运用案例和提问引导学生思考，课堂互动较好；"
    "板书与多媒体结合得当。部分学生注意力不够集中，后排有学生使用手机，"
    "教师提醒后有所改善。课后与教师就教学进度和作业布置进行了交流。"
)
STRENGTHS = "教学内容充实，课堂组织有序，师生互动积极。"
PROBLEMS = "部分学生课堂纪律有待加强，投影仪亮度不足。"
SUGGESTIONS = "建议增加课堂练习环节，加强对后排学生的关注。"


class Ids:
    """Primary keys assigned here, so rows need no RETURNING and the load is one pass."""

    def __init__(self) -> None:
        self.next: dict[str, int] = defaultdict(lambda: 1)

    def __call__(self, table: str) -> int:
        n = self.next[table]
        self.next[table] = n + 1
        return n


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _weeks(spec: str) -> range:
    a, b = spec.split("-")
    return range(int(a), int(b) + 1)


@dataclass
class Cadre:
    pid: int
    unit_id: int
    college: int | None
    """Index of the college (or -1 for the Marxism School) for deans and party heads."""
    holdings: list[tuple[str, dt.date | None, dt.date | None]]

    def window(self) -> tuple[dt.date, dt.date]:
        """Union of the tenures within the semester as one span (good enough to place records)."""
        lo = min((s or P_START) for _, s, _ in self.holdings)
        hi = max((e or P_END) for _, _, e in self.holdings)
        return max(lo, P_START), min(hi, P_END)

    def codes(self) -> set[str]:
        return {c for c, _, _ in self.holdings}


def generate_institution(
    idx: int,
    ids: Ids,
    n_obs: int,
    policy_text: str,
    policy_sha: str,
) -> dict[str, list[dict[str, Any]]]:
    """All rows of one institution, as {table: [row dict, …]} with every column given."""
    rng = random.Random(7919 * (idx + 1))
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    inst_id = ids("institution")
    rows["institution"].append(
        dict(
            id=inst_id,
            code=f"B{idx + 1:03d}",
            name=f"基准学院{idx + 1:03d}",
            timezone="Asia/Shanghai",
            created_at=NOW,
        )
    )
    pv_id = ids("policy_version")
    rows["policy_version"].append(
        dict(
            id=pv_id,
            institution_id=inst_id,
            number=1,
            text=policy_text,
            sha256=policy_sha,
            uploaded_by_id=None,
            created_at=NOW,
        )
    )
    sem_id = ids("semester")
    rows["semester"].append(
        dict(
            id=sem_id,
            institution_id=inst_id,
            code=SEM_CODE,
            week1_monday=P_START,
            weeks=WEEKS,
            holidays=sorted(d.isoformat() for d in HOLIDAYS),
            status="open",
            policy_version_id=pv_id,
            created_at=NOW,
        )
    )

    def unit(code: str, name: str, kind: str, function: str = "") -> int:
        uid = ids("unit")
        rows["unit"].append(
            dict(id=uid, institution_id=inst_id, code=code, name=name, kind=kind, function=function)
        )
        return uid

    college_units = [unit(f"C{i + 1:02d}", n, "college") for i, n in enumerate(COLLEGES)]
    mx_unit = unit("MKS", "马克思主义学院", "marxism_school")
    dept = {code: unit(code, name, "department", fn) for code, name, fn in DEPARTMENTS}

    def person(no: str, unit_id: int) -> int:
        pid = ids("person")
        rows["person"].append(
            dict(
                id=pid,
                institution_id=inst_id,
                employee_no=no,
                name=_name(rng),
                email=f"{no.lower()}@b{idx + 1:03d}.edu.cn",
                unit_id=unit_id,
            )
        )
        return pid

    # -- teachers -------------------------------------------------------------------------------------
    mx_teachers = [person(f"T{n + 1:04d}", mx_unit) for n in range(26)]
    college_teachers: list[list[int]] = [[] for _ in COLLEGES]
    for n in range(26, 400):
        c = (n - 26) % len(COLLEGES)
        college_teachers[c].append(person(f"T{n + 1:04d}", college_units[c]))
    teachers = mx_teachers + [t for ts in college_teachers for t in ts]
    teacher_unit = {t: mx_unit for t in mx_teachers} | {
        t: college_units[c] for c, ts in enumerate(college_teachers) for t in ts
    }

    # -- cadres and their positions ---------------------------------------------------------------------
    cadres: list[Cadre] = []
    cno = iter(range(1, 1000))

    def cadre(
        unit_id: int, holdings: list[tuple[str, dt.date | None, dt.date | None]], college: int | None = None
    ) -> Cadre:
        c = Cadre(person(f"C{next(cno):03d}", unit_id), unit_id, college, holdings)
        cadres.append(c)
        for code, start, end in holdings:
            rows["position_holding"].append(
                dict(
                    id=ids("position_holding"),
                    institution_id=inst_id,
                    person_id=c.pid,
                    position_code=code,
                    start_date=start,
                    end_date=end,
                )
            )
        return c

    d = dt.date
    xb = dept["XB"]
    cadre(xb, [("party_secretary", d(2021, 7, 1), None)])
    cadre(xb, [("president", d(2020, 1, 1), None)])
    cadre(xb, [("vp_teaching", d(2022, 9, 1), None), ("school_leader", d(2022, 9, 1), None)])
    cadre(xb, [("vp_ideology", None, None)])
    cadre(xb, [("vp_research", d(2019, 9, 1), d(2026, 3, 31))])  # left during the semester
    cadre(xb, [("vp_research", d(2026, 4, 1), None)])  # successor
    for k in range(7):
        cadre(xb, [("school_leader", d(2026, 5, 15) if k == 6 else d(2021, 1, 1), None)])
    for c in range(len(COLLEGES)):
        u = college_units[c]
        if c == 2:
            cadre(u, [("college_dean", d(2020, 9, 1), d(2026, 4, 15))], c)
            cadre(u, [("college_dean", d(2026, 4, 16), None)], c)
        else:
            cadre(u, [("college_dean", d(2021, 9, 1), None)], c)
        cadre(u, [("college_party_head", d(2026, 3, 20) if c == 6 else d(2022, 3, 1), None)], c)
    mx_dean = cadre(
        mx_unit, [("college_dean", d(2024, 9, 1), None), ("marxism_school_leader", d(2024, 9, 1), None)], -1
    )
    cadre(
        mx_unit,
        [
            ("college_party_head", d(2023, 3, 1), None),
            ("marxism_school_leader", d(2023, 3, 1), d(2027, 2, 28)),
        ],
        -1,
    )
    mx_deputy = cadre(mx_unit, [("marxism_school_leader", d(2025, 9, 1), None)], -1)
    cadre(mx_unit, [("marxism_school_leader", d(2022, 9, 1), d(2026, 4, 30))], -1)
    cadre(mx_unit, [("marxism_school_leader", d(2026, 5, 1), None)], -1)
    for code, pos in [
        ("JWC", "head_academic_affairs"),
        ("KYC", "head_research"),
        ("RSC", "head_hr"),
        ("ZLZX", "head_quality_center"),
        ("XCB", "head_propaganda"),
        ("XGB", "head_student_affairs"),
        ("ZCC", "head_assets"),
        ("HQC", "head_logistics"),
        ("XXZX", "head_it_center"),
    ]:
        cadre(dept[code], [(pos, d(2021, 9, 1), None)])
    cadre(dept["BWC"], [("head_security", d(2018, 9, 1), d(2026, 5, 10))])
    cadre(dept["BWC"], [("head_security", d(2026, 5, 11), None)])

    # -- courses, sections, sessions ------------------------------------------------------------------
    course_ids: dict[str, int] = {}
    college_courses: list[list[str]] = []
    for c, u in enumerate(college_units):
        codes: list[str] = []
        for k in range(16):
            code = f"C{c + 1:02d}{k + 1:02d}"
            cid = ids("course")
            rows["course"].append(
                dict(
                    id=cid,
                    institution_id=inst_id,
                    code=code,
                    name=f"{COLLEGES[c]}课程{k + 1}",
                    kind=rng.choice(COURSE_KINDS),
                    offering_unit_id=u,
                )
            )
            course_ids[code] = cid
            codes.append(code)
        college_courses.append(codes)
    for code, name, kind, _taught in SZ_COURSES:
        cid = ids("course")
        rows["course"].append(
            dict(id=cid, institution_id=inst_id, code=code, name=name, kind=kind, offering_unit_id=mx_unit)
        )
        course_ids[code] = cid
    taught_sz = [c for c, _, _, taught in SZ_COURSES if taught]

    sessions: list[tuple[int, dt.date, int, str]] = []
    """(session id, date, section id, course code) of every session, to place records on."""
    section_meta: dict[int, tuple[str, int, list[int]]] = {}
    """section id → (course code, student unit id, teacher ids)."""
    sessions_by_section: dict[int, list[int]] = defaultdict(list)
    session_date: dict[int, dt.date] = {}

    def section(course_code: str, teacher_ids: list[int], student_unit: int) -> None:
        sid = ids("course_section")
        weekday = rng.randint(1, 5)
        p = rng.choice(list(PERIODS))
        spec = rng.choices(["1-16", "1-8", "9-16"], weights=(70, 15, 15))[0]
        room = f"{rng.choice('ABCDE')}{rng.randint(1, 5)}{rng.randint(1, 20):02d}"
        classes = f"{course_code[:3]}{rng.randint(2023, 2025)}-{rng.randint(1, 6)}班"
        rows["course_section"].append(
            dict(
                id=sid,
                institution_id=inst_id,
                semester_id=sem_id,
                course_id=course_ids[course_code],
                natural_key=f"{course_code}|{classes}|{weekday}|{p}-{p + 1}|{spec}|{sid}",
                classes=classes,
                student_unit_id=student_unit,
                weekday=weekday,
                period_start=p,
                period_end=p + 1,
                weeks_spec=spec,
                room=room,
                full_time=rng.random() > 0.03,
                content_hash=hashlib.md5(str(sid).encode()).hexdigest(),
            )
        )
        for t in dict.fromkeys(teacher_ids):
            rows["section_teacher"].append(dict(section_id=sid, person_id=t))
        section_meta[sid] = (course_code, student_unit, list(dict.fromkeys(teacher_ids)))
        for w in _weeks(spec):
            day = P_START + dt.timedelta(days=7 * (w - 1) + weekday - 1)
            if day in HOLIDAYS:
                continue
            r = rng.random()
            status = "vanished" if r < 0.003 else "changed" if r < 0.013 else "active"
            cs_id = ids("class_session")
            starts, ends = PERIODS[p]
            rows["class_session"].append(
                dict(
                    id=cs_id,
                    institution_id=inst_id,
                    semester_id=sem_id,
                    section_id=sid,
                    date=day,
                    week=w,
                    period_start=p,
                    period_end=p + 1,
                    starts_at=starts,
                    ends_at=ends,
                    room=room,
                    status=status,
                )
            )
            sessions.append((cs_id, day, sid, course_code))
            sessions_by_section[sid].append(cs_id)
            session_date[cs_id] = day

    for t in mx_teachers:
        for _ in range(rng.choices((1, 2, 3), weights=(30, 45, 25))[0]):
            code = rng.choice(taught_sz[:4] * 3 + ["SZ06"])
            section(code, [t], rng.choice(college_units))
    for c, ts in enumerate(college_teachers):
        for t in ts:
            for _ in range(rng.choices((1, 2, 3), weights=(30, 45, 25))[0]):
                others = [t] + ([rng.choice(teachers)] if rng.random() < 0.05 else [])
                su = college_units[c] if rng.random() < 0.8 else rng.choice(college_units)
                section(rng.choice(college_courses[c]), others, su)
    # deans and Marxism-School leaders teach too (O-6 does not ask a leader to observe themself)
    for cd in cadres:
        if "college_dean" in cd.codes() and cd.college is not None and cd.college >= 0:
            section(rng.choice(college_courses[cd.college]), [cd.pid], college_units[cd.college])
    section("SZ01", [mx_dean.pid], rng.choice(college_units))
    section("SZ02", [mx_deputy.pid, rng.choice(mx_teachers)], rng.choice(college_units))

    sz_sessions = [s for s in sessions if s[3] in taught_sz[:4]]
    mx_sessions_by_teacher: dict[int, list[tuple[int, dt.date, int, str]]] = defaultdict(list)
    for s in sessions:
        if s[3].startswith("SZ"):
            for t in section_meta[s[2]][2]:
                mx_sessions_by_teacher[t].append(s)
    own_scope: dict[int, list[tuple[int, dt.date, int, str]]] = defaultdict(list)
    for s in sessions:
        code, su, ts = section_meta[s[2]]
        for u in {su, *(teacher_unit[t] for t in ts if t in teacher_unit)}:
            own_scope[u].append(s)

    # -- observations -----------------------------------------------------------------------------------
    counter = {"obs": 0}
    peer_observers = rng.sample([t for ts in college_teachers for t in ts], 110)
    peer_set = set(peer_observers)
    cadre_ids = [c.pid for c in cadres]

    def pick(
        pool: list[tuple[int, dt.date, int, str]], lo: dt.date, hi: dt.date, outside: float = 0.0
    ) -> tuple[int, dt.date, int, str]:
        """A session of ``pool`` dated in [lo, hi] (with probability ``outside`` anywhere)."""
        if rng.random() >= outside:
            for _ in range(30):
                s = rng.choice(pool)
                if lo <= s[1] <= hi:
                    return s
        return rng.choice(pool)

    def record(
        author: int,
        s: tuple[int, dt.date, int, str],
        *,
        supervision: bool = False,
        group: bool | None = None,
        draft: bool | None = None,
        co_status: str | None = None,
    ) -> None:
        if counter["obs"] >= n_obs:
            return
        cs_id, day, _sec, _code = s
        draft = rng.random() < 0.07 if draft is None else draft
        oid = ids("observation")
        counter["obs"] += 1
        submitted_at = None if draft else dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC)
        late = rng.random() < 0.04
        rows["observation"].append(
            dict(
                id=oid,
                institution_id=inst_id,
                session_id=cs_id,
                semester_id=sem_id,
                author_id=author,
                status="draft" if draft else "submitted",
                is_supervision=supervision,
                narrative=NARRATIVE,
                strengths=STRENGTHS,
                problems_text=PROBLEMS if rng.random() < 0.3 else "",
                suggestions=SUGGESTIONS,
                exchange_teacher_done=not draft,
                exchange_teacher_at=submitted_at,
                exchange_teacher_text="与教师交流了课堂互动设计。" if not draft else "",
                exchange_students_done=not draft,
                exchange_students_at=submitted_at,
                exchange_students_text="学生反映课程难度适中。" if not draft else "",
                arrival_time=dt.time(7, 55),
                arrived_late=late,
                expected_count=45,
                present_count=rng.randint(38, 45),
                extra={},
                created_at=submitted_at or NOW,
                updated_at=submitted_at or NOW,
                submitted_at=submitted_at,
                draft_version=rng.randint(1, 6),
                teacher_ack_at=None,
                teacher_reply="",
                teacher_reply_at=None,
                teacher_reply_by_id=None,
                imported=rng.random() < 0.02,
            )
        )
        author_status = ("signed" if rng.random() < 0.2 else "invited") if draft else "signed"
        member(oid, author, cs_id, "author", author_status, submitted_at)
        if group if group is not None else rng.random() < 0.10:
            pool = peer_observers if author in peer_set or rng.random() < 0.7 else cadre_ids
            others = rng.sample(pool, rng.randint(1, 3))
            for other in others:
                if other == author:
                    continue
                st = (
                    co_status
                    or rng.choices(["signed", "invited", "declined", "own_record"], weights=(70, 10, 10, 10))[
                        0
                    ]
                )
                if draft:
                    st = "invited"
                member(oid, other, cs_id, "co_observer", st, submitted_at if st == "signed" else None)
                if st == "own_record":
                    record(other, s, group=False, draft=False)

    def member(oid: int, pid: int, cs_id: int, role: str, status: str, at: dt.datetime | None) -> None:
        rows["observation_member"].append(
            dict(
                id=ids("observation_member"),
                institution_id=inst_id,
                observation_id=oid,
                person_id=pid,
                session_id=cs_id,
                role=role,
                status=status,
                signed_at=at,
            )
        )

    for cd in cadres:
        held = cd.codes()
        lo, hi = cd.window()
        partial = (lo, hi) != (P_START, P_END)
        out = 0.15 if partial else 0.0
        n = 0
        sup = 0.0
        scope_share = 0.0
        if held & {"party_secretary", "president", "vp_ideology", "vp_research", "vp_teaching"}:
            # O-3: each taught 思政 course; about half cover them all, some twice
            wanted = taught_sz[:4] if rng.random() < 0.5 else rng.sample(taught_sz[:4], rng.randint(0, 3))
            for code in wanted:
                pool = [s for s in sz_sessions if s[3] == code]
                for _ in range(rng.choice((1, 1, 2))):
                    record(cd.pid, pick(pool, lo, hi, out))
            n = rng.randint(0, 6) if "vp_teaching" not in held else rng.randint(1, 10)
        elif "school_leader" in held:
            n = rng.randint(0, 5)
        elif "marxism_school_leader" in held:
            # O-6: most of the school's teachers, one leader all of them
            full = cd is mx_dean
            for t in list(mx_sessions_by_teacher):
                if t == cd.pid or (not full and rng.random() < 0.3):
                    continue
                pool = mx_sessions_by_teacher[t]
                record(
                    cd.pid, pick(pool, lo, hi), supervision=rng.random() < 0.2, draft=False if full else None
                )
            n = rng.randint(0, 4)
            sup, scope_share = 0.3, 0.5
        elif "college_dean" in held:
            n, sup, scope_share = rng.randint(1, 14), 0.5, 0.65
        elif "college_party_head" in held:
            n, scope_share = rng.randint(0, 8), 0.55
        elif "head_quality_center" in held:
            n, sup = rng.randint(150, 300), 0.7
        elif "head_academic_affairs" in held:
            n, sup = rng.randint(80, 160), 0.3
        elif held & {"head_research", "head_hr"}:
            n = rng.randint(1, 8)
        elif held & {"head_propaganda", "head_student_affairs"}:
            for _ in range(rng.choice((0, 1, 1, 2))):
                record(cd.pid, pick(sz_sessions, lo, hi, out))
            n = rng.randint(0, 3)
        else:
            n = rng.randint(0, 2)
        for _ in range(n):
            if scope_share and rng.random() < scope_share:
                pool = own_scope[cd.unit_id] or sessions
            else:
                pool = sessions
            record(cd.pid, pick(pool, lo, hi, out), supervision=rng.random() < sup)

    k = 0
    while counter["obs"] < n_obs:
        author = peer_observers[k % len(peer_observers)]
        k += 1
        record(author, rng.choice(sessions), supervision=rng.random() < 0.35)

    # -- patrols (O-9) ----------------------------------------------------------------------------------
    patrol_codes = {
        "head_student_affairs",
        "head_security",
        "head_assets",
        "head_logistics",
        "head_it_center",
    }
    patrollers = [c for c in cadres if c.codes() & patrol_codes] + [cadres[2]]  # + vp_teaching (no duty)
    for cd in patrollers:
        lo, hi = cd.window()
        for month in (3, 4, 5, 6):
            first = dt.date(2026, month, 1)
            last = first.replace(month=month + 1) - dt.timedelta(days=1)
            for _ in range(rng.choices((0, 1, 2, 3), weights=(20, 40, 30, 10))[0]):
                day = first + dt.timedelta(days=rng.randint(0, (last - first).days))
                if not (P_START <= day <= P_END) or (not (lo <= day <= hi) and rng.random() < 0.85):
                    continue
                rows["patrol"].append(
                    dict(
                        id=ids("patrol"),
                        institution_id=inst_id,
                        person_id=cd.pid,
                        date=day,
                        rooms="A101;B203",
                        checked=["environment", "facilities"],
                        notes="",
                        created_at=NOW,
                        imported=False,
                    )
                )
    return rows


# ====================================================================================================
# Loading
# ====================================================================================================
TABLE_ORDER = [
    "institution",
    "policy_version",
    "unit",
    "person",
    "position_holding",
    "semester",
    "course",
    "course_section",
    "section_teacher",
    "class_session",
    "observation",
    "observation_member",
    "patrol",
]
BATCH = 20_000


class Loader:
    """Buffers rows per table; flushes with Core executemany (SQLite) or COPY (PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"
        self.tables = {name: Base.metadata.tables[name] for name in TABLE_ORDER}
        self.buffers: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.counts: dict[str, int] = defaultdict(int)

    def add(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        for name in TABLE_ORDER:
            self.buffers[name].extend(rows.get(name, ()))

    def flush(self) -> None:
        with self.engine.begin() as conn:
            if self.pg:
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            for name in TABLE_ORDER:
                buf = self.buffers[name]
                if not buf:
                    continue
                for i in range(0, len(buf), BATCH):
                    batch = buf[i : i + BATCH]
                    if self.pg:
                        self._copy(conn, name, batch)
                    else:
                        conn.execute(insert(self.tables[name]), batch)
                self.counts[name] += len(buf)
                buf.clear()

    def _copy(self, conn: Any, name: str, batch: list[dict[str, Any]]) -> None:
        cols = list(batch[0])
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {name} ({', '.join(cols)}) FROM STDIN") as cp:
            for row in batch:
                values = (row[c] for c in cols)
                cp.write_row([json.dumps(v) if isinstance(v, dict | list) else v for v in values])

    def finish(self) -> None:
        self.flush()
        if self.pg:
            with self.engine.begin() as conn:
                for name in TABLE_ORDER:
                    if "id" in self.tables[name].c:
                        conn.exec_driver_sql(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f"(SELECT coalesce(max(id), 1) FROM {name}))"
                        )


def load(url: str, n_inst: int, n_obs: int) -> dict[str, Any]:
    """Generate and load every institution; the loading engine skips SQLite's fsyncs (a bench file)."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _no_sync(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA synchronous=OFF")

    try:
        return _load(engine, n_inst, n_obs)
    finally:
        engine.dispose()


def _load(engine: Engine, n_inst: int, n_obs: int) -> dict[str, Any]:
    policy_text = default_policy_text()
    sha = hashlib.sha256(policy_text.encode()).hexdigest()
    loader = Loader(engine)
    ids = Ids()
    started = time.perf_counter()
    gen_s = 0.0
    for idx in range(n_inst):
        t0 = time.perf_counter()
        rows = generate_institution(idx, ids, n_obs, policy_text, sha)
        gen_s += time.perf_counter() - t0
        loader.add(rows)
        if sum(len(b) for b in loader.buffers.values()) >= 200_000 or idx == n_inst - 1:
            loader.flush()
        if (idx + 1) % 10 == 0 or idx == n_inst - 1:
            log(
                f"  loaded {idx + 1}/{n_inst} institutions, {loader.counts['observation']:,} observations, "
                f"{time.perf_counter() - started:.0f} s"
            )
    loader.finish()
    load_s = time.perf_counter() - started
    t0 = time.perf_counter()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    analyze_s = time.perf_counter() - t0
    return {"load_s": load_s, "generate_s": gen_s, "analyze_s": analyze_s, "rows": dict(loader.counts)}


# ====================================================================================================
# The naive way
# ====================================================================================================
Key = tuple[str, str]
Outcome = tuple[int, int, str, tuple[str, ...]]
"""(required, done, status, missing codes)."""


def _merge(windows: Iterable[tuple[dt.date, dt.date]]) -> list[tuple[dt.date, dt.date]]:
    out: list[tuple[dt.date, dt.date]] = []
    for lo, hi in sorted(windows):
        if out and lo <= out[-1][1] + dt.timedelta(days=1):
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def naive_evaluate(s: Session, institution_id: int, semester: Semester, policy: Policy) -> dict[Key, Outcome]:
    """Every rule of the policy for every position holder, counted in Python over ORM objects.

    Loads: position holdings (+ person), every observation of the institution (+ members, session,
    section, course, section teachers), the class sessions from the earliest term start to the semester's
    end (+ section, course, offering unit, teachers) and the patrols. Then applies the counting rules of
    docs/decisions.md (K-1, K-2) literally: submitted records only, members signed or with their own
    record, the session's date inside the semester and the tenure, one count per distinct session;
    supervision only where the rule includes it; 思政 by the course kind (trimmed) listed in the policy.
    """
    p_start, p_end = semester.start_date, semester.end_date
    holdings = s.scalars(
        select(PositionHolding)
        .where(PositionHolding.institution_id == institution_id)
        .options(joinedload(PositionHolding.person))
    ).all()
    held = [
        h
        for h in holdings
        if h.position_code in policy.observing_positions() and h.held_during(p_start, p_end)
    ]
    earliest = min([p_start] + [h.start_date for h in held if h.start_date])
    observations = (
        s.scalars(
            select(Observation)
            .where(Observation.institution_id == institution_id)
            .options(
                selectinload(Observation.members),
                joinedload(Observation.session)
                .joinedload(ClassSession.section)
                .selectinload(CourseSection.teachers),
            )
        )
        .unique()
        .all()
    )
    sessions = (
        s.scalars(
            select(ClassSession)
            .where(
                ClassSession.institution_id == institution_id,
                ClassSession.date >= earliest,
                ClassSession.date <= p_end,
            )
            .options(
                joinedload(ClassSession.section)
                .joinedload(CourseSection.course)
                .joinedload(Course.offering_unit),
                joinedload(ClassSession.section).selectinload(CourseSection.teachers),
            )
        )
        .unique()
        .all()
    )
    patrols = s.scalars(select(Patrol).where(Patrol.institution_id == institution_id)).all()

    ideological = policy.ideological_course_kinds

    def is_sz(course: Course) -> bool:
        return (course.kind or "").strip() in ideological

    # per person: counted (session, is_supervision) visits
    visits: dict[int, list[tuple[ClassSession, bool]]] = defaultdict(list)
    for o in observations:
        if o.status != "submitted":
            continue
        for m in o.members:
            if m.status in ("signed", "own_record"):
                visits[m.person_id].append((o.session, o.is_supervision))
    patrol_days: dict[int, list[dt.date]] = defaultdict(list)
    for pt in patrols:
        patrol_days[pt.person_id].append(pt.date)

    # what is taught: 思政 course days, and per unit kind the teachers of each session (computed once)
    sz_taught = [(cs.date, cs.section.course.code) for cs in sessions if is_sz(cs.section.course)]
    unit_sessions: dict[str, list[tuple[dt.date, list[str]]]] = defaultdict(list)
    for cs in sessions:
        unit = cs.section.course.offering_unit
        if unit is not None:
            unit_sessions[unit.kind].append((cs.date, [t.employee_no for t in cs.section.teachers]))

    by_person: dict[int, list[PositionHolding]] = defaultdict(list)
    for h in held:
        by_person[h.person_id].append(h)
    persons = {h.person_id: h.person for h in held}

    out: dict[Key, Outcome] = {}
    for rule in policy.rules:
        for pid, hs in by_person.items():
            mine = [h for h in hs if h.position_code in rule.positions]
            if not mine:
                continue
            who = persons[pid]
            key = (who.employee_no, rule.id)
            if rule.kind == "tenure_coverage":
                term = max(mine, key=lambda h: h.start_date or dt.date.min)
                lo = term.start_date or p_start
                hi = min(term.end_date or p_end, p_end)
                teaching = {
                    no for day, nos in unit_sessions[rule.unit_kind or ""] if lo <= day <= hi for no in nos
                }
                teaching.discard(who.employee_no)
                seen = {
                    t.employee_no
                    for cs, _sup in visits[pid]
                    if lo <= cs.date <= hi
                    for t in cs.section.teachers
                }
                missing = tuple(sorted(teaching - seen))
                status = "not_applicable" if not teaching else "short" if missing else "ok"
                out[key] = (len(teaching), len(teaching) - len(missing), status, missing)
                continue
            windows = _merge(
                (max(h.start_date or p_start, p_start), min(h.end_date or p_end, p_end)) for h in mine
            )
            windows = [w for w in windows if w[0] <= w[1]]
            if not windows:
                continue

            def inside(day: dt.date, ws: list[tuple[dt.date, dt.date]] = windows) -> bool:
                return any(lo <= day <= hi for lo, hi in ws)

            if rule.activity == "patrol":
                days = [day for day in patrol_days[pid] if inside(day)]
            counted = {
                cs.id: cs
                for cs, sup in visits[pid]
                if inside(cs.date)
                and (rule.include_supervision or not sup)
                and (rule.courses != "ideological" or is_sz(cs.section.course))
            }
            if rule.kind == "min_count":
                done = len(days) if rule.activity == "patrol" else len(counted)
                out[key] = (rule.count, done, "ok" if done >= rule.count else "short", ())
            elif rule.kind == "each_course":
                required = {code for day, code in sz_taught if inside(day)}
                covered = {cs.section.course.code for cs in counted.values()}
                missing = tuple(sorted(required - covered))
                status = "not_applicable" if not required else "short" if missing else "ok"
                out[key] = (len(required), len(required) - len(missing), status, missing)
            elif rule.kind == "per_month":
                months = sorted({(y, m) for lo, hi in windows for y, m in _months(lo, hi)})
                if rule.activity == "patrol":
                    per: dict[tuple[int, int], int] = defaultdict(int)
                    for day in days:
                        per[(day.year, day.month)] += 1
                else:
                    per = defaultdict(int)
                    for cs in counted.values():
                        per[(cs.date.year, cs.date.month)] += 1
                missing = tuple(f"{y:04d}-{m:02d}" for y, m in months if per[(y, m)] < rule.count)
                status = "not_applicable" if not months else "short" if missing else "ok"
                out[key] = (len(months), len(months) - len(missing), status, missing)
            elif rule.kind == "in_scope_share":
                unit_id = who.unit_id
                inscope = sum(
                    1
                    for cs in counted.values()
                    if unit_id is not None
                    and (
                        cs.section.student_unit_id == unit_id
                        or any(t.unit_id == unit_id for t in cs.section.teachers)
                    )
                )
                total = len(counted)
                out[key] = (total, inscope, "not_applicable" if total == 0 else "ok", ())
    return out


def _months(lo: dt.date, hi: dt.date) -> Iterator[tuple[int, int]]:
    y, m = lo.year, lo.month
    while (y, m) <= (hi.year, hi.month):
        yield y, m
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def engine_outcomes(report: ComplianceReport) -> dict[Key, Outcome]:
    return {
        (r.employee_no, r.rule_id): (r.required, r.done, r.status, tuple(sorted(m.code for m in r.missing)))
        for r in report.results
    }


def compare(
    engine: dict[Key, Outcome],
    naive: dict[Key, Outcome],
    where: str,
    factory: sessionmaker[Session],
    institution_id: int,
) -> int:
    """Raise SystemExit listing the differences (with the people's memberships, to see who is right);
    return the number of (person, rule) results compared."""
    diffs = []
    for key in sorted(engine.keys() | naive.keys()):
        a, b = engine.get(key), naive.get(key)
        if a != b:
            diffs.append(f"  {key[0]} {key[1]}: engine {a} ≠ naive {b}")
    if diffs:
        lines = [f"ENGINE AND NAIVE DISAGREE ({where}, {len(diffs)} results):", *diffs[:40]]
        people = sorted({line.split()[0] for line in diffs})[:5]
        with factory() as s:
            for no in people:
                lines.append(
                    f"  memberships of {no} (member id, observation, member session, observation "
                    "session, member status, record status, supervision, date):"
                )
                for row in s.execute(
                    text(
                        "SELECT om.id, om.observation_id, om.session_id, o.session_id, om.status, o.status, "
                        "o.is_supervision, cs.date FROM observation_member om "
                        "JOIN person p ON p.id = om.person_id JOIN observation o ON o.id = om.observation_id "
                        "JOIN class_session cs ON cs.id = o.session_id "
                        "WHERE p.institution_id = :i AND p.employee_no = :no ORDER BY cs.date, om.id"
                    ),
                    {"i": institution_id, "no": no},
                ):
                    lines.append("    " + " ".join(str(v) for v in row))
        raise SystemExit("\n".join(lines))
    return len(engine)


# ====================================================================================================
# Timing
# ====================================================================================================
class QueryLog:
    """Per-statement wall time while enabled (for --profile)."""

    def __init__(self, engine: Engine) -> None:
        self.enabled = False
        self.entries: list[tuple[float, str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info["qstart"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if self.enabled:
            self.entries.append((time.perf_counter() - conn.info.pop("qstart"), statement, params))


def institutions(factory: sessionmaker[Session]) -> list[tuple[int, int]]:
    """(institution id, semester id) of every institution with the bench's semester."""
    with factory() as s:
        return [
            (i, sid)
            for i, sid in s.execute(
                select(Semester.institution_id, Semester.id)
                .where(Semester.code == SEM_CODE)
                .order_by(Semester.institution_id)
            )
        ]


CPU = {"client": 0.0, "server": 0.0}
"""CPU seconds accumulated by the timed calls: this process, and the PostgreSQL backend serving it (read
from /proc; SQLite runs inside this process). On a shared machine wall time includes waiting for a core;
CPU time does not, so both are reported."""
_TICK = os.sysconf("SC_CLK_TCK")


def _backend_cpu(s: Session) -> float:
    if s.get_bind().dialect.name != "postgresql":
        return 0.0
    # the driver knows its backend's pid: no query, so no transaction is opened here (see evaluate_once)
    driver = s.connection().connection.driver_connection
    if driver is None:
        return 0.0
    pid = driver.info.backend_pid
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # a server on another machine or in a container: not measurable
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


@contextmanager
def cpu_counted(s: Session) -> Iterator[None]:
    b0, c0 = _backend_cpu(s), time.process_time()
    yield
    CPU["client"] += time.process_time() - c0
    CPU["server"] += _backend_cpu(s) - b0


def evaluate_once(factory: sessionmaker[Session], inst: int, sem_id: int) -> tuple[float, ComplianceReport]:
    with factory() as s, cpu_counted(s):
        semester = s.get(Semester, sem_id)
        assert semester is not None
        t0 = time.perf_counter()
        report = ComplianceService(s, inst).evaluate(semester)
        took = time.perf_counter() - t0
        # COMMIT, as the app's request and the worker's job end: psycopg discards its prepared statements
        # on every ROLLBACK, so ending read-only work with a rollback makes PostgreSQL plan every
        # statement again (measured: ~8 ms of planning for the counting query alone).
        s.commit()
    return took, report


@contextmanager
def cpu_delta() -> Iterator[dict[str, float]]:
    box: dict[str, float] = {}
    before = dict(CPU)
    yield box
    box["cpu"] = sum(CPU.values()) - sum(before.values())
    box["server"] = CPU["server"] - before["server"]


def naive_once(
    factory: sessionmaker[Session],
    inst: int,
    sem_id: int,
    policy: Policy,
) -> tuple[float, dict[Key, Outcome]]:
    with factory() as s, cpu_counted(s):
        t0 = time.perf_counter()
        semester = s.get(Semester, sem_id)
        assert semester is not None
        out = naive_evaluate(s, inst, semester, policy)
        took = time.perf_counter() - t0
        s.commit()
    return took, out


@contextmanager
def timed() -> Iterator[dict[str, float]]:
    box: dict[str, float] = {}
    w, c = time.perf_counter(), time.process_time()
    yield box
    box["wall"], box["cpu"] = time.perf_counter() - w, time.process_time() - c


def explain(engine: Engine, statement: str, params: Any) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET jit = off")
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params).all()
            return "\n".join(r[0] for r in rows)
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
        return "\n".join(f"{r[0]:>4} {r[1]:>4} {r[3]}" for r in rows)


def child(args: argparse.Namespace) -> None:
    kind = args.child
    n_inst, n_obs = scale_of(args.scale)
    engine_source = ROOT / "lti_tool" / "compliance" / "services.py"
    result: dict[str, Any] = {
        "database": kind,
        "nproc": os.cpu_count(),
        "engine_sha1": hashlib.sha1(engine_source.read_bytes()).hexdigest()[:12],
    }
    drop: Callable[[], None] | None = None
    if args.database_url:
        url = args.database_url[0]
        result["loaded"] = False
    elif kind == "sqlite":
        folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="tingke-bench-compliance-"))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "bench.db"
        if path.exists():
            path.unlink()
        url = f"sqlite:///{path}"
        if not args.keep:

            def drop() -> None:
                for f in folder.iterdir():
                    f.unlink()
                folder.rmdir()
    else:
        name = f"tingke_bench_{uuid.uuid4().hex[:10]}"
        admin = make_engine(f"{PG_BASE}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = f"{PG_BASE}/{name}"
        if args.keep:
            log(f"  keeping PostgreSQL database {url}")
        else:

            def drop() -> None:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.dispose()

    engine = make_engine(url)
    try:
        if not args.database_url:
            log(f"[{kind}] migrating {url}")
            upgrade(url)
            log(f"[{kind}] loading {n_inst} institutions × {n_obs:,} observations")
            result |= load(url, n_inst, n_obs)
            if kind == "sqlite" and args.sqlite_analyze:
                with engine.begin() as conn:
                    conn.exec_driver_sql("ANALYZE")
            result["sqlite_analyze"] = bool(args.sqlite_analyze)
            log(
                f"[{kind}] load {result['load_s']:.1f} s "
                f"(of which generating rows {result['generate_s']:.1f} s)"
                + (f", VACUUM ANALYZE {result['analyze_s']:.1f} s" if kind == "postgresql" else "")
            )
        result["peak_mb_after_load"] = peak_mb()
        if kind == "sqlite":
            result["db_mb"] = Path(url.removeprefix("sqlite:///")).stat().st_size / 2**20
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        qlog = QueryLog(engine)
        insts = institutions(factory)
        result["institutions"] = len(insts)
        with factory() as s:
            result["observations"] = s.scalar(select(Observation.id).order_by(Observation.id.desc()).limit(1))
            result["memberships"] = s.scalar(
                select(ObservationMember.id).order_by(ObservationMember.id.desc()).limit(1)
            )
            result["sessions"] = s.scalar(select(ClassSession.id).order_by(ClassSession.id.desc()).limit(1))
        policy = default_policy()
        inst, sem_id = insts[len(insts) // 2]
        result["timed_institution"] = inst

        # -- engine, one institution -----------------------------------------------------------------------
        evaluate_once(factory, inst, sem_id)  # warm-up
        with cpu_delta() as cd:
            runs = [evaluate_once(factory, inst, sem_id) for _ in range(args.runs)]
        result["engine_one_cpu"] = cd["cpu"] / args.runs
        result["engine_one"] = statistics.median(t for t, _ in runs)
        result["engine_one_runs"] = [t for t, _ in runs]
        report = runs[0][1]
        eng = engine_outcomes(report)
        statuses: dict[tuple[str, str], int] = defaultdict(int)
        for r in report.results:
            statuses[(r.rule_id, r.status)] += 1
        result["statuses"] = {f"{k[0]} {k[1]}": v for k, v in sorted(statuses.items())}
        log(
            f"[{kind}] engine, one institution: {result['engine_one']:.3f} s "
            f"(runs {', '.join(f'{t:.3f}' for t in result['engine_one_runs'])}; "
            f"CPU {result['engine_one_cpu']:.3f} s per run); "
            f"{len(report.persons)} persons, {len(report.results)} results"
        )

        # -- engine, all institutions ----------------------------------------------------------------------
        passes = []
        for p in range(args.runs + 1):
            with timed() as tm, cpu_delta() as cd:
                for i, sid in insts:
                    evaluate_once(factory, i, sid)
            if p:
                passes.append((tm["wall"], cd["cpu"]))
            log(
                f"[{kind}] engine, all {len(insts)}: pass {p}{' (warm-up)' if not p else ''} "
                f"{tm['wall']:.2f} s (CPU {cd['cpu']:.2f} s, of which database server {cd['server']:.2f} s)"
            )
        result["engine_all"] = statistics.median(w for w, _ in passes)
        result["engine_all_cpu"] = statistics.median(c for _, c in passes)
        result["peak_mb_after_engine"] = peak_mb()

        # -- naive, one institution ------------------------------------------------------------------------
        naive_runs = []
        with cpu_delta() as cd:
            for _ in range(args.runs):
                took, naive = naive_once(factory, inst, sem_id, policy)
                naive_runs.append(took)
        result["naive_one_cpu"] = cd["cpu"] / args.runs
        result["naive_one"] = statistics.median(naive_runs)
        result["naive_one_runs"] = naive_runs
        result["compared"] = compare(eng, naive, f"institution {inst}", factory, inst)
        log(
            f"[{kind}] naive, one institution: {result['naive_one']:.2f} s "
            f"(runs {', '.join(f'{t:.2f}' for t in naive_runs)}); "
            f"engine == naive on {result['compared']} results"
        )

        # -- naive, all institutions (sample, extrapolated) ------------------------------------------------
        k_sample = args.naive_sample
        sample = (
            insts
            if k_sample <= 0 or k_sample >= len(insts)
            else [insts[round(k * (len(insts) - 1) / max(1, k_sample - 1))] for k in range(k_sample)]
        )
        sample = list(dict.fromkeys(sample))
        total = 0.0
        compared = 0
        naive_cpu = 0.0
        for i, sid in sample:
            with cpu_delta() as cd:
                took, naive = naive_once(factory, i, sid, policy)
            total += took
            naive_cpu += cd["cpu"]
            _t, rep = evaluate_once(factory, i, sid)
            compared += compare(engine_outcomes(rep), naive, f"institution {i}", factory, i)
        result["naive_all_cpu"] = naive_cpu * len(insts) / len(sample)
        result["naive_all_measured"] = total
        result["naive_all_sample"] = len(sample)
        result["naive_all"] = total * len(insts) / len(sample)
        result["naive_all_compared"] = compared
        result["peak_mb"] = peak_mb()
        log(
            f"[{kind}] naive, {len(sample)} of {len(insts)} institutions: {total:.1f} s → all "
            f"{'measured' if len(sample) == len(insts) else 'extrapolated'} {result['naive_all']:.1f} s; "
            f"engine == naive on {compared} results"
        )

        if args.profile:
            profile(engine, factory, qlog, inst, sem_id, policy)
    finally:
        engine.dispose()
        if drop:
            drop()
    result["load_average"] = os.getloadavg()
    Path(args.json_out).write_text(json.dumps(result))


def profile(
    engine: Engine, factory: sessionmaker[Session], qlog: QueryLog, inst: int, sem_id: int, policy: Policy
) -> None:
    """Per-statement times and plans of one evaluate, then cProfile of one evaluate and one naive run."""
    qlog.enabled = True
    took, _ = evaluate_once(factory, inst, sem_id)
    qlog.enabled = False
    log(
        f"\n--- profile: one evaluate {took:.3f} s, {len(qlog.entries)} statements, "
        f"{sum(t for t, _, _ in qlog.entries):.3f} s in the database driver ---"
    )
    for t, stmt, params in sorted(qlog.entries, key=lambda e: -e[0])[:8]:
        log(f"\n[{t * 1000:.1f} ms] {' '.join(stmt.split())[:400]}")
        if stmt.lstrip().upper().startswith("SELECT"):
            try:
                log(explain(engine, stmt, params))
            except Exception as exc:  # noqa: BLE001 - a plan is a nice-to-have
                log(f"(no plan: {exc})")
    for label, fn in [
        ("evaluate", lambda: evaluate_once(factory, inst, sem_id)),
        ("naive", lambda: naive_once(factory, inst, sem_id, policy)),
    ]:
        prof = cProfile.Profile()
        prof.enable()
        fn()
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
        log(f"\n--- cProfile: {label} ---\n{buf.getvalue()}")


# ====================================================================================================
# The parent
# ====================================================================================================
def scale_of(scale: float) -> tuple[int, int]:
    """(institutions, observations per institution): the per-institution size stays 10,000 down to
    --scale 0.01; below that one smaller institution."""
    if scale >= 0.01:
        return max(1, round(100 * scale)), 10_000
    return 1, max(100, round(1_000_000 * scale))


def fmt_ratio(engine_s: float, naive_s: float) -> str:
    return f"{naive_s / engine_s:.0f}×" if engine_s > 0 else "—"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 100 institutions × 10,000 (default).")
    parser.add_argument("--sqlite", action="store_true", help="Only SQLite.")
    parser.add_argument("--postgres", action="store_true", help="Only PostgreSQL (127.0.0.1:5432).")
    parser.add_argument("--runs", type=int, default=3, help="Runs of each timed case (default 3).")
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=10,
        help="Institutions the naive all-institutions time is measured on (0 = all).",
    )
    parser.add_argument("--keep", default=None, help="Keep the SQLite file in this folder / the PG database.")
    parser.add_argument(
        "--database-url",
        action="append",
        default=[],
        help="Time an already loaded database (no load); may be given twice.",
    )
    parser.add_argument("--sqlite-analyze", action="store_true", help="Run ANALYZE on SQLite after the load.")
    parser.add_argument("--profile", action="store_true", help="Print per-query times, plans and cProfile.")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--json-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    if args.database_url:
        runs = [("postgresql" if u.startswith("postgresql") else "sqlite", u) for u in args.database_url]
    else:
        kinds = (["sqlite"] if args.sqlite else []) + (["postgresql"] if args.postgres else [])
        runs = [(k, None) for k in kinds or ["sqlite", "postgresql"]]
    kinds = [k for k, _ in runs]
    n_inst, n_obs = scale_of(args.scale)
    size = (
        "an already loaded database"
        if args.database_url
        else f"{n_inst} institutions × {n_obs:,} observations = {n_inst * n_obs:,}"
    )
    log(f"Tingke compliance bench: {size}; {os.cpu_count()} CPUs (nproc); databases: {', '.join(kinds)}")
    results = []
    for kind, url in runs:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
            out = tmp.name
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            kind,
            "--json-out",
            out,
            "--scale",
            str(args.scale),
            "--runs",
            str(args.runs),
            "--naive-sample",
            str(args.naive_sample),
        ]
        for flag, value in [("--keep", args.keep), ("--database-url", url)]:
            if value:
                cmd += [flag, value]
        cmd += ["--sqlite-analyze"] if args.sqlite_analyze else []
        cmd += ["--profile"] if args.profile else []
        proc = subprocess.Popen(cmd, cwd=ROOT)
        _pid, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{kind} run failed (exit {os.waitstatus_to_exitcode(status)})")
        result = json.loads(Path(out).read_text())
        Path(out).unlink()
        result["peak_mb_process"] = usage.ru_maxrss / 1024
        results.append(result)
    report(results)


def report(results: list[dict[str, Any]]) -> None:
    print()
    print("| database | scope | engine s | naive s | ratio | engine CPU s | naive CPU s | CPU ratio |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    failures = []
    for r in results:
        db = "SQLite" if r["database"] == "sqlite" else "PostgreSQL"
        n = r["institutions"]
        extrap = r["naive_all_sample"] < n
        naive_all = f"{r['naive_all']:.0f}"
        if extrap:
            naive_all += f" (extrapolated from {r['naive_all_sample']})"
        per = round(r["observations"] / n)
        print(
            f"| {db} | one institution's semester ({per:,} records) | {r['engine_one']:.3f} | "
            f"{r['naive_one']:.2f} | {fmt_ratio(r['engine_one'], r['naive_one'])} | "
            f"{r['engine_one_cpu']:.3f} | {r['naive_one_cpu']:.2f} | "
            f"{fmt_ratio(r['engine_one_cpu'], r['naive_one_cpu'])} |"
        )
        print(
            f"| {db} | all {n} institutions ({r['observations']:,} records) | {r['engine_all']:.2f} | "
            f"{naive_all} | {fmt_ratio(r['engine_all'], r['naive_all'])} | {r['engine_all_cpu']:.2f} | "
            f"{r['naive_all_cpu']:.0f} | {fmt_ratio(r['engine_all_cpu'], r['naive_all_cpu'])} |"
        )
        if r["engine_one"] > TARGET_ONE:
            failures.append(f"{db}: one institution {r['engine_one']:.3f} s > {TARGET_ONE} s")
        if n >= 10 and r["engine_all"] > TARGET_ALL * n / 100:
            failures.append(f"{db}: all {n} {r['engine_all']:.2f} s > {TARGET_ALL * n / 100:.2f} s")
        for scope, e, nv in [
            ("one", r["engine_one"], r["naive_one"]),
            ("all", r["engine_all"], r["naive_all"]),
        ]:
            if nv / e < TARGET_RATIO:
                failures.append(f"{db}: {scope} ratio {nv / e:.1f}× < {TARGET_RATIO:.0f}×")
    print()
    for r in results:
        db = "SQLite" if r["database"] == "sqlite" else "PostgreSQL"
        load = (
            f"load {r['load_s']:.0f} s"
            + (f" + VACUUM ANALYZE {r['analyze_s']:.0f} s" if r["database"] == "postgresql" else "")
            if "load_s" in r
            else "reused database"
        )
        size = f", file {r['db_mb']:.0f} MB" if r.get("db_mb") else ""
        print(
            f"- {db}: {load}{size}; {r['observations']:,} observations, {r['memberships']:,} memberships, "
            f"{r['sessions']:,} sessions; "
            f"peak RSS {r['peak_mb_process']:.0f} MB (after load {r['peak_mb_after_load']:.0f} MB, "
            f"after engine runs {r['peak_mb_after_engine']:.0f} MB); "
            f"engine == naive on {r['compared'] + r['naive_all_compared']:,}"
            f" (person, rule) results; load average at end {r['load_average'][0]:.1f}"
        )
    r0 = results[0]
    print(
        "- CPU = this process + (PostgreSQL) the server backend serving it, from /proc; on a shared machine"
        " wall time also counts waiting for a core"
    )
    print(f"- engine: lti_tool/compliance/services.py sha1 {r0['engine_sha1']}")
    print(
        f"- machine: {r0['nproc']} CPUs (nproc), {os.uname().sysname} {os.uname().release}; "
        f"timed institution id {r0['timed_institution']}; engine one = median of warm runs, "
        f"all = median of passes after a warm-up pass, one evaluate per institution"
    )
    print(
        "- naive = ORM rows of the institution's observations (+ members, session, section, course, "
        "teachers), sessions and patrols, counted in Python for every rule O-1…O-10 "
        "(required, done, status, missing)"
    )
    mix = ", ".join(f"{k}: {v}" for k, v in r0["statuses"].items())
    print(f"- result mix of the timed institution: {mix}")
    print()
    if failures:
        print("TARGETS MISSED: " + "; ".join(failures))
    else:
        print(f"targets met: one ≤ {TARGET_ONE} s, all ≤ {TARGET_ALL} s, ≥ {TARGET_RATIO:.0f}× the naive way")


if __name__ == "__main__":
    main()
