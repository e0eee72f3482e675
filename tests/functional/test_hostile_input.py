"""Hostile input on every page and form, as each persona (the house rule: bad input gets a 4xx and a
message a person understands, never a 500, and a refused POST leaves every table as it was).

The sweep is driven by the app itself: every rule of ``url_map`` and every method, the query parameters
and form fields each view reads (found in its source and the module helpers it calls), and the personas
its ``requires_persona`` allows. Each test builds one small college (plus a second institution whose ids
must look like ids that do not exist), launches every persona once, runs one family of hostile variants
and reports all the failures together, so one run names every endpoint that still breaks.
"""

from __future__ import annotations

import csv
import datetime as dt
import inspect
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.routing import IntegerConverter, Rule
from werkzeug.test import TestResponse, encode_multipart

from lti_tool import clock
from lti_tool.contacts.models import ContactMember, ContactPoint, ContactRecord
from lti_tool.contacts.summaries import ContactSummary
from lti_tool.contacts.transfer import POINT_ALIASES
from lti_tool.directory.models import PlatformUser, Unit
from lti_tool.directory.services import PEOPLE_ALIASES, UNIT_ALIASES, DirectoryService
from lti_tool.errors import TingkeError
from lti_tool.lti.models import Platform
from lti_tool.lti.services import KEPT_LOGIN_PARAMS
from lti_tool.models import Base
from lti_tool.observations.fields import FIXED
from lti_tool.observations.models import MemberStatus, ObservationMember, ObservationStatus
from lti_tool.observations.transfer import ObservationTransfer, columns
from lti_tool.outreach.division import ALIASES as DIVISION_ALIASES
from lti_tool.outreach.models import (
    CongressSession,
    FollowUp,
    Letter,
    Proposal,
    ReceptionDuty,
    ReceptionRecord,
    ReceptionVisit,
)
from lti_tool.outreach.reception import ROSTER_ALIASES
from lti_tool.patrols.services import PATROL_ALIASES, PatrolService
from lti_tool.policy.schema import default_policy
from lti_tool.policy.store import PolicyStore
from lti_tool.problems.models import PhotoStage, Problem
from lti_tool.problems.photos import PhotoService, PhotoUpload
from lti_tool.reminders.models import Reminder, ReminderCheckpoint
from lti_tool.reports.models import ReportRun
from lti_tool.timetable.importer import TIMETABLE_ALIASES, TimetableImporter
from lti_tool.timetable.models import CourseContextMapping
from lti_tool.timetable.periods import PERIOD_ALIASES, PeriodService
from tests.conftest import make_institution
from tests.support import factories
from tests.support.images import phone_jpeg
from tests.support.launch import drop_session_cookie
from tests.support.platform import ROLE_INSTRUCTOR, ROLE_LEARNER, LmsUser
from tests.support.worlds import observation_world

# -- who launches --------------------------------------------------------------------------------------------
PERSONA_USERS = {
    "quality_center": LmsUser("u-q001", "孙主任", "q001@jti.edu", "Q001", [ROLE_INSTRUCTOR]),
    "organization": LmsUser("u-o001", "周部长", "o001@jti.edu", "O001", [ROLE_LEARNER]),
    "observer": LmsUser("u-l001", "王校长", "l001@jti.edu", "L001", [ROLE_LEARNER]),
    "handler": LmsUser("u-h001", "后勤干事", "h001@jti.edu", "H001", [ROLE_LEARNER]),
    "teacher": LmsUser("u-t001", "李老师", "t001@jti.edu", "T001", [ROLE_INSTRUCTOR]),
    "school_office": LmsUser("u-x001", "办公室主任", "x001@jti.edu", "X001", [ROLE_LEARNER]),
    "branch_secretary": LmsUser("u-b001", "钱支书", "b001@jti.edu", "B001", [ROLE_LEARNER]),
}

# -- hostile values ------------------------------------------------------------------------------------------
BAD_IDS: list[object] = [0, -1, 2**31, 2**63, 10**30, "9" * 5000]
"""Path ids no row can have: zero, negative, past PostgreSQL's ``integer``, past ``bigint``, past any
machine int, past what ``int()`` parses."""
BAD_PATH_TEXT = ["x" * 2000, "%00", "%E2%80%AE%20", "..%2F..%2Fetc"]
BAD_TEXT = [
    "",
    "x" * 10_000,
    "2026-13-45",
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00",
    "NaN",
    "1e309",
    "-0",
    "-1",
    "0",
    str(2**31),
    str(2**63),
    str(10**30),
    "9" * 5000,
    "²",
    "\u202eevil",
    "a\x00b",
    "１２",
    "<script>",
]
"""Query values: empty, long, impossible dates, numbers Python parses but databases refuse, digits
``str.isdigit`` accepts and ``int`` does not, an RTL override, a NUL byte (PostgreSQL refuses it); dates
at the ends of the calendar, where a day or a time zone more overflows."""
BAD_FORM = [*BAD_TEXT, "x" * 100_000]
BAD_JSON = [
    None,
    True,
    -1,
    1.5,
    10**30,
    1e308,
    "x" * 100_000,
    "a\x00b",
    "NaN",
    [],
    {},
    [1, 2],
    {"a": {"b": 1}},
]

QUERY_ARG = re.compile(
    r'(?:args\.get(?:list)?\(|\bday\(|(?:_date_arg|id_field)\(\s*(?:request\.)?args,)\s*"([^"]+)"'
)
FORM_FIELD = re.compile(r'(?:form\.get(?:list)?\(|id_field\(\s*request\.form,)\s*f?"([^"]+)"')
FILE_FIELD = re.compile(r'files\.get\(\s*"([^"]+)"')
SECRET_ADDRESS_ENDPOINTS = {"calendar_feed.feed"}
"""Served without a session to calendar clients: the secret in the address is the credential (a wrong one
is a 404, tests/functional/test_calendar_feed.py)."""
EXTRA_FIELDS = {"lti.login": KEPT_LOGIN_PARAMS, "lti.launch": ("id_token", "state")}
"""Parameters a view reads all at once (the LTI views pass the whole form on)."""
DESTRUCTIVE = ("archive.",)
"""Swept last: closing a semester locks its records, which would hide the other forms' code paths."""


# An Excel date cell holds a naive date and time.
EXCEL_NAIVE = dt.datetime(2026, 9, 1, 8, 30)  # noqa: DTZ001


# -- the college ---------------------------------------------------------------------------------------------


def _seed(s: Session, inst: int, platform_id: int, tag: str) -> dict[str, int]:
    """One college with a row behind every kind of id a URL carries; returns those ids by URL name."""
    w = observation_world(s, inst)
    org_unit = Unit(
        institution_id=inst, code="ORG", name="党委组织部", kind="department", function="organization"
    )
    s.add(org_unit)
    s.flush()
    factories.person(s, inst, "周部长", employee_no="O001", unit=org_unit, email="o001@jti.edu")
    factories.person(s, inst, "后勤干事", employee_no="H001", unit=w.logistics, email="h001@jti.edu")
    office = factories.unit(s, inst, "学校办公室", kind="department", code="XB", function="school_office")
    factories.person(s, inst, "办公室主任", employee_no="X001", unit=office, email="x001@jti.edu")
    factories.hold(s, w.observer, "head_security")  # a patrol duty too, so the patrol form is open
    draft = factories.observation(
        s,
        w.session_w1,
        w.observer,
        status=ObservationStatus.DRAFT,
        members=[(w.co_observer, MemberStatus.INVITED)],
    )
    done = factories.observation(s, w.session_w3, w.observer)
    member = s.scalars(
        select(ObservationMember).where(
            ObservationMember.observation_id == draft.id, ObservationMember.person_id == w.co_observer.id
        )
    ).one()
    problem = Problem(
        institution_id=inst,
        observation_id=draft.id,
        raised_by_id=w.observer.id,
        unit_id=w.logistics.id,
        category=default_policy().problem_categories[0].code,
        description="投影仪无法开机",
    )
    checkpoint = ReminderCheckpoint(institution_id=inst, semester_id=w.semester.id, week=6)
    s.add_all([problem, checkpoint])
    s.flush()
    (photo,) = PhotoService(s, inst).add(
        problem,
        [PhotoUpload("p.jpg", io.BytesIO(phone_jpeg()))],
        stage=PhotoStage.RAISED,
        person_id=w.observer.id,
    )
    reminder = Reminder(
        institution_id=inst,
        checkpoint_id=checkpoint.id,
        person_id=w.observer.id,
        subject="听课提醒",
        body="本学期还差 1 次",
    )
    # The grassroots-contact system: a branch, its secretary, a contact point, a draft record.
    branch = Unit(institution_id=inst, code="JD-DZB1", name="机电党支部", kind="party_branch")
    s.add(branch)
    s.flush()
    secretary = factories.person(s, inst, "钱支书", employee_no="B001", email="b001@jti.edu")
    secretary.party_member, secretary.branch_id = True, branch.id
    factories.hold(s, secretary, "branch_secretary")
    point = ContactPoint(
        institution_id=inst, person_id=w.observer.id, academic_year="2026-2027", kind="friend", label="张教授"
    )
    contact = ContactRecord(
        institution_id=inst, author_id=w.observer.id, kind="visit", date=dt.date(2026, 9, 1), status="draft"
    )
    contact.members = [
        ContactMember(institution_id=inst, person_id=w.observer.id, role="author"),
        ContactMember(institution_id=inst, person_id=w.co_observer.id, role="member"),
    ]
    s.add_all([point, contact])
    s.flush()
    s.add(
        Problem(
            institution_id=inst,
            contact_record_id=contact.id,
            raised_by_id=w.observer.id,
            unit_id=w.logistics.id,
            category=default_policy().problem_categories[0].code,
            description="暖气不热",
        )
    )
    run = ReportRun(institution_id=inst, kind="statistics", semester_id=w.semester.id)
    mapping = CourseContextMapping(
        institution_id=inst,
        platform_id=platform_id,
        context_id=f"ctx-{tag}",
        course_code="MATH1",
        context_title="高等数学",
    )
    stranger = PlatformUser(
        institution_id=inst, platform_id=platform_id, lti_user_id=f"stranger-{tag}", name="陌生人"
    )
    summary = ContactSummary(
        institution_id=inst,
        person_id=w.observer.id,
        academic_year="2026-2027",
        activities="本学年……",
        opinions="",
        problems="",
        reflection="",
        status="submitted",
        version=1,
    )
    s.add_all([reminder, run, mapping, stranger, summary])
    s.flush()
    # Reception days, letters and proposals (lti_tool/outreach): a week with a draft record and a visitor,
    # a letter with the logistics office, a proposal of a congress session.
    duty = ReceptionDuty(institution_id=inst, semester_id=w.semester.id, week=1, person_id=w.observer.id)
    s.add(duty)
    s.flush()
    reception = ReceptionRecord(
        institution_id=inst, duty_id=duty.id, recorded_by_id=w.observer.id, date=w.semester.week1_monday
    )
    reception.visits.append(
        ReceptionVisit(
            institution_id=inst, identity="student", matter="热水", answer="已协调", outcome="solved"
        )
    )
    letter = Letter(
        institution_id=inst,
        follow_up=FollowUp(
            institution_id=inst,
            kind="letter",
            status="with_unit",
            leader_id=w.observer.id,
            unit_id=w.logistics.id,
        ),
        subject="饮水机",
        body="希望增加饮水机",
        writer_person_id=w.teacher.id,
        received_on=dt.date(2026, 9, 1),
    )
    congress = CongressSession(
        institution_id=inst, body="staff", number=1, title="教代会", held_on=dt.date(2026, 9, 1)
    )
    s.add_all([reception, letter, congress])
    s.flush()
    proposal = Proposal(
        institution_id=inst,
        follow_up=FollowUp(institution_id=inst, kind="proposal"),
        session_id=congress.id,
        number=1,
        proposer_name="李老师",
        proposer_id=w.teacher.id,
        title="停车位",
        content="增加停车位",
    )
    s.add(proposal)
    s.flush()
    return {
        "duty_id": duty.id,
        "reception_id": reception.id,
        "visit_id": reception.visits[0].id,
        "follow_up_id": letter.follow_up_id,
        "letter_id": letter.id,
        "congress_id": congress.id,
        "summary_id": summary.id,
        "semester_id": w.semester.id,
        "person_id": w.teacher.id,
        "user_id": stranger.id,
        "obs_id": done.id,
        "draft_id": draft.id,
        "member_id": member.id,
        "problem_id": problem.id,
        "photo_id": photo.id,
        "reminder_id": reminder.id,
        "run_id": run.id,
        "mapping_id": mapping.id,
        "session_id": w.session_w1.id,
        "co_observer": w.co_observer.id,
        "unit_id": w.logistics.id,
        "platform_id": platform_id,
        "record_id": contact.id,
        "point_id": point.id,
    }


@dataclass
class Who:
    token: str
    csrf: str


@dataclass
class Sweep:
    """Sends requests as a persona and collects every 500 (or wrong answer) instead of stopping."""

    app: Flask
    client: FlaskClient
    engine: Engine
    who: dict[str, Who]
    ids: dict[str, int]
    foreign: dict[str, int]
    lti_login: dict[str, str]
    """What the simulated LMS sends to start a login."""
    failures: list[str] = field(default_factory=list)

    def counts(self) -> list[int]:
        """Every table's row count, in one statement."""
        tables = [t.name for t in Base.metadata.sorted_tables]
        sql = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{t}")' for t in tables)
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql)).one())

    def send(
        self,
        label: str,
        method: str,
        path: str,
        persona: str | None,
        *,
        query: dict | None = None,
        form: Any = None,
        body: bytes | None = None,
        content_type: str | None = None,
        json_body: Any = ...,
        headers: dict[str, str] | None = None,
        csrf: bool = True,
        token: str | None = None,
    ) -> TestResponse | None:
        """One request; a POST carries the session in the URL and the CSRF field, a JSON POST both in
        headers. Returns the response, or None when the app raised (recorded as a failure)."""
        query = dict(query or {})
        headers = dict(headers or {})
        me = self.who[persona] if persona else None
        if token is None and me is not None:
            token = me.token
        if token is not None and json_body is ... and "X-Tingke-Session" not in headers:
            query.setdefault("s", token)
        kwargs: dict[str, Any] = {"query_string": query, "headers": headers}
        if json_body is not ...:
            headers["X-Tingke-Session"] = token or ""
            if me and csrf:
                headers["X-CSRF-Token"] = me.csrf
            headers["Accept"] = "application/json"
            kwargs["data"] = body if body is not None else json.dumps(json_body)
            kwargs["content_type"] = "application/json"
        elif body is not None:
            kwargs["data"], kwargs["content_type"] = body, content_type
        elif method == "POST":
            data = form if isinstance(form, list) else list((form or {}).items())
            if me and csrf:
                data = [("csrf", me.csrf), *data]
            boundary, kwargs["data"] = encode_multipart(_multidict(data))  # in memory, unlike the client's
            kwargs["content_type"] = f"multipart/form-data; boundary={boundary}"
        before = self.counts() if method == "POST" else None
        try:
            response = self.client.open(path, method=method, **kwargs)
        except Exception as exc:  # the test client re-raises what the app did not handle (a 500)
            self.failures.append(f"{label}: {method} {path} raised {type(exc).__name__}: {str(exc)[:200]}")
            return None
        if response.status_code >= 500:
            self.failures.append(f"{label}: {method} {path} answered {response.status_code}")
        elif response.status_code >= 400 and not _explains(response):
            self.failures.append(f"{label}: {method} {path} answered {response.status_code} with no message")
        elif before is not None and response.status_code >= 400 and self.counts() != before:
            self.failures.append(f"{label}: {method} {path} refused ({response.status_code}), rows changed")
        return response

    def expect(self, label: str, response: TestResponse | None, ok: Callable[[int], bool], what: str) -> None:
        if response is not None and response.status_code < 500 and not ok(response.status_code):
            self.failures.append(
                f"{label}: expected {what}, got {response.status_code}: {_message(response)}"
            )

    def report(self) -> None:
        assert not self.failures, f"{len(self.failures)} failure(s):\n" + "\n".join(self.failures[:300])


def _multidict(pairs: list[tuple[str, Any]]) -> MultiDict:
    """Form pairs as the test client wants them: text, or (file, name) for an upload."""
    return MultiDict([(k, FileStorage(v[0], v[1]) if isinstance(v, tuple) else str(v)) for k, v in pairs])


EXPLANATION = re.compile(r'class="(?:message|details|field-error)"[^>]*>\s*(?:<li>)?([^<\s][^<]*)')
"""Where a refusal says why: the error page's message and details, a form field's error."""


def _message(response: TestResponse) -> str:
    """What the page tells the person (JSON ``error`` for fetch calls); empty when it says nothing."""
    if response.is_json:
        return str((response.get_json(silent=True) or {}).get("error") or "")[:120]
    found = EXPLANATION.search(response.get_data(as_text=True))
    return found.group(1).strip()[:120] if found else ""


def _explains(response: TestResponse) -> bool:
    return bool(_message(response))


@pytest.fixture
def sweep(
    app,
    client,
    engine,
    session_factory,
    institution_id,
    launcher,
    platform,  # type: ignore[no-untyped-def]
    monkeypatch,
) -> Sweep:
    # Report runs the sweep starts stay unqueued: the test Redis is shared, and a worker test would
    # otherwise spend minutes on jobs whose rows are long gone.
    monkeypatch.setattr(
        "lti_tool.reports.services.enqueue_run", lambda run_id, connection, **_: f"report-run-{run_id}"
    )
    with session_factory.begin() as s:
        platform_id = s.scalars(select(Platform.id)).one()
        ids = _seed(s, institution_id, platform_id, "own")
    other = make_institution(session_factory, code="OTHER", name="另一所学院")
    with session_factory.begin() as s:
        foreign = _seed(s, other, platform_id, "other")
    who = {}
    for persona, user in PERSONA_USERS.items():
        launch = launcher.launch(user)
        home = launch.get(client, "/home")
        assert home.status_code == 200, home.get_data(as_text=True)
        who[persona] = Who(
            launch.token,
            re.search(
                r'data-csrf="([^"]+)"',  # type: ignore[union-attr]
                home.get_data(as_text=True),
            ).group(1),
        )
    return Sweep(app, client, engine, who, ids, foreign, platform.login_params(PERSONA_USERS["observer"]))


# -- reading the app -----------------------------------------------------------------------------------------
def _rules(app: Flask) -> Iterator[tuple[Rule, str]]:
    """Every rule and method (HEAD and OPTIONS are Werkzeug's), static files aside."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint.startswith(DESTRUCTIVE), r.rule)):
        if rule.endpoint != "static":
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield rule, method


def _view(app: Flask, rule: Rule) -> Callable[..., Any]:
    return app.view_functions[rule.endpoint]


def _source(view: Callable[..., Any]) -> str:
    """The view's source and that of the module-level helpers it calls, and theirs (where it reads the
    request): its own module's, or the import pages' shared one (``import_runs.views.receive`` reads
    every upload)."""
    inner = inspect.unwrap(view)
    module = inspect.getmodule(inner)
    parts, seen, todo = [], {inner}, [inner]
    while todo:
        function = todo.pop()
        parts.append(inspect.getsource(function))
        for name in function.__code__.co_names:
            helper = getattr(module, name, None)
            if (
                inspect.isfunction(helper)
                and helper not in seen
                and helper.__module__ in (inner.__module__, "lti_tool.import_runs.views")
            ):
                seen.add(helper)
                todo.append(helper)
    return "\n".join(parts)


def _personas(view: Callable[..., Any]) -> list[str]:
    """The personas ``requires_persona`` lets in (all of them when the view does not say)."""
    allowed = inspect.getclosurevars(view).nonlocals.get("personas") if view.__closure__ else None
    return [p for p in PERSONA_USERS if not allowed or p in allowed]


def _arguments(rule: Rule) -> list[str]:
    return re.findall(r"<(?:[^:>]+:)?([^>]+)>", rule.rule)


def _path(rule: Rule, values: dict[str, Any]) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: str(values[m.group(1)]), rule.rule)


def _valid(sweep: Sweep, rule: Rule, ids: dict[str, int] | None = None) -> dict[str, Any]:
    """Path values naming real rows; a rule about a group member or a problem needs the draft record."""
    ids = ids or sweep.ids
    values: dict[str, Any] = {
        **ids,
        "fmt": "csv",
        "institution_code": "JTI",
        "key": "k",
        "decision": "confirm",
        "step": "answer",
        "token": "A" * 43,  # a calendar address's secret (calendar_feed): well-formed, names no feed
    }
    if "member_id" in rule.arguments or "problem_id" in rule.arguments and "obs_id" in rule.arguments:
        values["obs_id"] = ids["draft_id"]
    return values


def _plausible(sweep: Sweep) -> dict[str, Any]:
    """A value each form field would get from a person using the page, to vary one field at a time."""
    ids, policy = sweep.ids, default_policy()
    return {
        "session_id": ids["session_id"],
        "person": ids["co_observer"],
        "persona": "observer",
        "locale": "en",
        "next": "/home",
        "category": policy.problem_categories[0].code,
        "unit_id": ids["unit_id"],
        "room": "A101",
        "description": "粉笔不够",
        "reply": "收到",
        "status": "accepted",
        "note": "已处理",
        "kind": "statistics",
        "semester_id": ids["semester_id"],
        "code": "2027-2028-1",
        "start": "2027-09-06",
        "weeks": "18",
        "holidays": "",
        "platform_id": ids["platform_id"],
        "context_id": "ctx-new",
        "course_code": "MATH1",
        "context_title": "高等数学",
        "employee_no": "T001",
        "date": clock.today().isoformat(),
        "rooms": "A101",
        "checked": "safety",
        "notes": "正常",
        "problem_category_0": policy.problem_categories[0].code,
        "problem_unit_0": ids["unit_id"],
        "problem_room_0": "A102",
        "problem_description_0": "灯坏了",
        "reason": "补录",
        "draft_version": "",
        "action": "save",
        "target": "home",
        "title": "听课",
        "narrative": "讲解导数",
        "arrival_time": "09:55",
        "id_token": "e30.e30.sig",
        **sweep.lti_login,
    }


def _form_fields(sweep: Sweep, rule: Rule, view: Callable[..., Any]) -> list[str]:
    names = [n.replace("{i}", "0") for n in FORM_FIELD.findall(_source(view))]
    names += EXTRA_FIELDS.get(rule.endpoint, ())
    if rule.endpoint == "observations.save":  # the record's fields: one of each kind (autosave tries all)
        dimension = default_policy().dimensions[0].code
        names += [
            *{f.kind: f.name for f in FIXED.values()}.values(),
            f"rating__{dimension}",
            f"comment__{dimension}",
        ]
    return list(dict.fromkeys(names))


# -- the sweeps ----------------------------------------------------------------------------------------------
def sweep_path_ids(sweep: Sweep) -> None:
    """Ids no row has, or another institution's: 404 for anyone who may see the page, never a 500."""
    for rule, method in _rules(sweep.app):
        view = _view(sweep.app, rule)
        for arg in _arguments(rule):
            is_int = isinstance(rule._converters[arg], IntegerConverter)
            bad = (
                [*BAD_IDS, ("foreign", sweep.foreign[arg])]
                if is_int and arg in sweep.foreign
                else (BAD_IDS if is_int else BAD_PATH_TEXT)
            )
            for persona in _personas(view) if is_int else _personas(view)[:1]:
                valid = _valid(sweep, rule)
                baseline = (
                    sweep.send(f"{rule.endpoint} baseline", method, _path(rule, valid), persona)
                    if method == "GET"
                    else None
                )
                for value in bad:
                    shown, raw = value if isinstance(value, tuple) else (value, value)
                    label = f"{rule.endpoint} as {persona} with {arg}={str(shown)[:20]}"
                    response = sweep.send(label, method, _path(rule, {**valid, arg: raw}), persona)
                    if not is_int:
                        continue
                    if baseline is not None and baseline.status_code < 400:
                        sweep.expect(label, response, lambda s: s == 404, "404")
                    else:
                        sweep.expect(label, response, lambda s: 400 <= s < 500, "a 4xx")


def sweep_methods(sweep: Sweep) -> None:
    """A method a page does not take gets 405 and a message, not a 500."""
    for rule in sweep.app.url_map.iter_rules():
        if rule.endpoint != "static":
            path = _path(rule, _valid(sweep, rule))
            response = sweep.send(f"{rule.endpoint} PUT", "PUT", path, "quality_center")
            sweep.expect(f"{rule.endpoint} PUT", response, lambda s: s == 405, "405")


def sweep_query_strings(sweep: Sweep) -> None:
    """Every query parameter a page reads, with garbage: a 4xx or the page, never a 500."""
    for rule, method in _rules(sweep.app):
        if method != "GET":
            continue
        view = _view(sweep.app, rule)
        names = list(dict.fromkeys([*QUERY_ARG.findall(_source(view)), *EXTRA_FIELDS.get(rule.endpoint, ())]))
        persona = _personas(view)[0]
        for name in names:
            if name == "s":
                continue
            for value in BAD_TEXT:
                sweep.send(
                    f"{rule.endpoint} ?{name}={value[:20]!r}",
                    "GET",
                    _path(rule, _valid(sweep, rule)),
                    persona,
                    query={name: value},
                )
            sweep.send(
                f"{rule.endpoint} ?{name} repeated",
                "GET",
                _path(rule, _valid(sweep, rule)),
                persona,
                query={name: ["1", "x" * 300]},
            )


def sweep_form_fields(sweep: Sweep) -> None:
    """Each field a POST reads, one at a time: missing, empty, huge, NUL, numbers out of range, repeated."""
    plausible = _plausible(sweep)
    for rule, method in _rules(sweep.app):
        view = _view(sweep.app, rule)
        if method != "POST":
            continue
        fields = _form_fields(sweep, rule, view)
        path = _path(rule, _valid(sweep, rule))
        for persona in _personas(view)[:2]:
            for name in fields:
                base = {f: plausible.get(f, "x") for f in fields if f != name}
                sweep.send(f"{rule.endpoint} as {persona} without {name}", "POST", path, persona, form=base)
                huge = f"{plausible.get(name, 'x')}{'x' * 100_000}"  # valid-looking, past any column's size
                for value in [*BAD_FORM, huge]:
                    sweep.send(
                        f"{rule.endpoint} as {persona} {name}={value[:20]!r}",
                        "POST",
                        path,
                        persona,
                        form={**base, name: value},
                    )
                sweep.send(
                    f"{rule.endpoint} as {persona} {name} repeated",
                    "POST",
                    path,
                    persona,
                    form=[*base.items(), (name, plausible.get(name, "x")), (name, "x" * 300)],
                )
            # a JSON body where a form is expected
            sweep.send(
                f"{rule.endpoint} as {persona} JSON body",
                "POST",
                path,
                persona,
                json_body={f: plausible.get(f, "x") for f in fields},
            )


FOREIGN_FIELDS = {
    "session_id": "session_id",
    "person": "co_observer",
    "unit_id": "unit_id",
    "semester_id": "semester_id",
    "problem_unit_0": "unit_id",
}
"""Form fields that name a row, and the seeded id of that kind."""


def sweep_foreign_ids_in_fields(sweep: Sweep) -> None:
    """A form naming another institution's row (a session, a person, a unit, a semester) is refused."""
    plausible = _plausible(sweep)
    for rule, method in _rules(sweep.app):
        view = _view(sweep.app, rule)
        fields = _form_fields(sweep, rule, view) if method == "POST" else []
        for name in (f for f in fields if f in FOREIGN_FIELDS):
            persona = _personas(view)[0]
            form = {**{f: plausible.get(f, "x") for f in fields}, name: sweep.foreign[FOREIGN_FIELDS[name]]}
            label = f"{rule.endpoint} as {persona} with another institution's {name}"
            response = sweep.send(label, method, _path(rule, _valid(sweep, rule)), persona, form=form)
            sweep.expect(label, response, lambda s: 400 <= s < 500, "a 4xx")


def sweep_json_bodies(sweep: Sweep) -> None:
    """The fetch endpoints (autosave, submit): broken JSON, wrong shapes, values of every wrong type."""
    draft = sweep.ids["draft_id"]
    names = [*FIXED, *(f"rating__{d.code}" for d in default_policy().dimensions), "comment__x"]
    for endpoint in ("autosave", "submit"):
        path = f"/observations/{draft}/{endpoint}"
        for raw in (
            b"{not json",
            b"[]",
            b"[1, 2]",
            b'"text"',
            b"null",
            b"1e309",
            b"{}" * 3,
            b"\x00",
            b"[" * 100_000,
            b'{"fields": ' * 5_000,
            rb'{"fields": {"narrative": "\ud800"}}',
        ):
            sweep.send(f"{endpoint} raw {raw[:12]!r}", "POST", path, "observer", json_body=None, body=raw)
        for value in BAD_JSON:
            sweep.send(
                f"{endpoint} fields={str(value)[:20]}", "POST", path, "observer", json_body={"fields": value}
            )
            sweep.send(
                f"{endpoint} draft_version={str(value)[:20]}",
                "POST",
                path,
                "observer",
                json_body={"fields": {}, "draft_version": value},
            )
        sweep.send(f"{endpoint} form body", "POST", path, "observer", form={"narrative": "x"})
    for name in names:
        for value in BAD_JSON:
            sweep.send(
                f"autosave {name}={str(value)[:20]}",
                "POST",
                f"/observations/{draft}/autosave",
                "observer",
                json_body={"fields": {name: value}},
            )


def sweep_tokens(sweep: Sweep) -> None:
    """No session, a forged or broken one, no CSRF or a wrong one: refused (4xx), nothing stored."""
    refused, unreadable = (401, 403), (400, 401, 403)
    drop_session_cookie(sweep.client)  # the launches' cookie would stand in for the token under test
    variants: list[tuple[str, dict[str, Any], tuple[int, ...]]] = [
        ("no session", {"token": ""}, refused),
        ("forged session", {"token": "eyJzaWQiOiJ4In0.forged"}, refused),
        ("huge session", {"token": "x" * 10_000}, refused),
        ("NUL session", {"token": "a\x00b"}, unreadable),  # refused at the door, before the token is read
        ("no csrf", {"csrf": False}, refused),
        ("wrong csrf", {"csrf": False, "form": {"csrf": "0" * 32}}, refused),
        ("csrf list", {"csrf": False, "form": [("csrf", "x"), ("csrf", "y")]}, refused),
    ]
    for rule, method in _rules(sweep.app):
        view = _view(sweep.app, rule)
        if rule.endpoint.startswith("lti.") and rule.endpoint != "lti.deep_link":
            continue
        if rule.endpoint in SECRET_ADDRESS_ENDPOINTS:  # no session to refuse: tested on its own
            continue
        persona = _personas(view)[0]
        path = _path(rule, _valid(sweep, rule))
        for name, kwargs, statuses in variants:
            if method == "GET" and "csrf" in name:
                continue
            response = sweep.send(f"{rule.endpoint} {name}", method, path, persona, **kwargs)
            sweep.expect(f"{rule.endpoint} {name}", response, statuses.__contains__, f"one of {statuses}")


# -- files ---------------------------------------------------------------------------------------------------
def _csv(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


def _xlsx(rows: list[list[Any]]) -> bytes:
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _zip(name: str, content: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(name, content)
    return out.getvalue()


def hostile_files(
    aliases: dict[str, list[str]], good_row: list[str], many: int = 20_000
) -> list[tuple[str, str, bytes]]:
    """(label, file name, bytes) for one importer; ``good_row`` fits the English canonical header."""
    english = list(aliases)
    chinese = [names[0] if names and not names[0].isascii() else c for c, names in aliases.items()]
    width = len(english)
    formula = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)"]
    return [
        ("empty", "a.csv", b""),
        ("binary .csv", "a.csv", bytes(range(256)) * 40),
        ("binary .xlsx", "a.xlsx", bytes(range(256)) * 40),
        ("text named .xlsx", "a.xlsx", b"code,name\n1,2\n"),
        ("zip that is not xlsx", "a.xlsx", _zip("a.txt", b"hello")),
        ("zip named .csv", "a.csv", _zip("a.txt", b"hello")),
        ("OLE .xls named .xlsx", "a.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600),
        ("GB18030 (Chinese Excel)", "a.csv", _csv([chinese, good_row], "gb18030")),
        ("UTF-8 BOM", "a.csv", b"\xef\xbb\xbf" + _csv([chinese, good_row])),
        ("UTF-16", "a.csv", _csv([english, good_row], "utf-16")),
        ("header only", "a.csv", _csv([english])),
        ("formula cells", "a.csv", _csv([english, (formula * width)[:width]])),
        ("duplicate columns", "a.csv", _csv([english + english, good_row + good_row])),
        ("extra columns", "a.csv", _csv([[*english, "备注", ""], [*good_row, "x", "y"]])),
        ("NUL in cells", "a.csv", _csv([english, [c + "\x00" for c in good_row]])),
        ("NUL in header", "a.csv", _csv([[c + "\x00" for c in english], good_row])),
        ("100 KB cells", "a.csv", _csv([english, ["x" * 100_000] * width])),
        ("out-of-range numbers", "a.csv", _csv([english, [str(10**30)] * width])),
        ("ragged rows", "a.csv", _csv([english, good_row[:1], [*good_row, *good_row]])),
        (
            "xlsx odd cells",
            "a.xlsx",
            _xlsx(
                [
                    english,
                    [EXCEL_NAIVE, 1e308, True, "#DIV/0!", -0.0, 10**15][:width] + good_row[6:],
                ]
            ),
        ),
        ("xlsx empty", "a.xlsx", _xlsx([])),
        ("xlsx header only", "a.xlsx", _xlsx([english])),
        ("many rows", "a.csv", _csv([english] + [good_row] * many)),
    ]


READABLE = ("GB18030 (Chinese Excel)", "UTF-8 BOM", "UTF-16")
"""Encodings Chinese Excel saves CSV in: read as they are."""
UPLOADS: dict[str, tuple[dict[str, list[str]], list[str]]] = {
    "directory.import_units": (UNIT_ALIASES, ["JW", "教务处", "department", ""]),
    "directory.import_people": (PEOPLE_ALIASES, ["T900", "钱老师", "t900@jti.edu", "JD", "", "", ""]),
    "timetable.import_periods": (PERIOD_ALIASES, ["1", "08:00", "08:45"]),
    "timetable.import_timetable": (
        TIMETABLE_ALIASES,
        [
            "2026-2027-1",
            "PHY1",
            "大学物理",
            "公共基础",
            "JD",
            "T001",
            "机电2401",
            "JD",
            "3",
            "1",
            "1-16",
            "A102",
            "是",
        ],
    ),
    "contacts.office_import_points": (POINT_ALIASES, ["L001", "2026-2027", "friend", "张教授", "", ""]),
    "outreach.office_division_import": (DIVISION_ALIASES, ["2026-2027", "teaching", "L001", ""]),
    "outreach.office_reception_import": (ROSTER_ALIASES, ["3", "L001", ""]),
}
UPLOAD_PERSONA = {
    "contacts.office_import_points": "school_office",
    "outreach.office_division_import": "school_office",
    "outreach.office_reception_import": "school_office",
}
"""Who uploads where, when it is not the quality center."""
POLICY_FILES = [
    ("empty", b""),
    ("binary", bytes(range(256)) * 40),
    ("GB18030", '名称 = "听课"'.encode("gb18030")),
    ("NUL", b'name = "a\x00"'),
    ("too big", b"#" * 300_000),
    ("not TOML", b"[[[[ = ="),
    ("wrong types", b'positions = 5\nrules = "x"\ndimensions = [1, 2]'),
    ("deep arrays", b"x = " + b"[" * 5_000 + b"]" * 5_000),
    ("huge integers", re.sub(r"= \d+\b", f"= {10**30}", default_policy().text).encode()),
    ("infinite numbers", re.sub(r"= \d+\b", "= 1e309", default_policy().text).encode()),
    ("negative numbers", re.sub(r"= \d+\b", "= -1", default_policy().text).encode()),
]


def sweep_uploads(sweep: Sweep) -> None:
    """Every upload form with broken, foreign-encoded and malicious files: read, or refused clearly."""
    readers = {
        r.endpoint
        for r, m in _rules(sweep.app)
        if m == "POST" and FILE_FIELD.search(_source(_view(sweep.app, r)))
    }
    assert readers == {*UPLOADS, "policy.upload"}, "an upload form is missing from UPLOADS"
    for endpoint, (aliases, good_row) in UPLOADS.items():
        rule = next(r for r in sweep.app.url_map.iter_rules() if r.endpoint == endpoint)
        who = UPLOAD_PERSONA.get(endpoint, "quality_center")
        for label, name, data in hostile_files(aliases, good_row):
            response = sweep.send(
                f"{endpoint} {label}",
                "POST",
                rule.rule,
                who,
                form={"file": (io.BytesIO(data), name)},
            )
            if label in READABLE:
                sweep.expect(f"{endpoint} {label}", response, lambda s: s < 400, "the file to be read")
        sweep.send(f"{endpoint} no file", "POST", rule.rule, who, form={})
        too_big = sweep.send(
            f"{endpoint} 17 MB",
            "POST",
            rule.rule,
            who,
            form={"file": (io.BytesIO(b"x" * (17 << 20)), "a.csv")},
        )
        sweep.expect(f"{endpoint} 17 MB", too_big, lambda s: s == 413, "413")
        sweep.send(f"{endpoint} file as text field", "POST", rule.rule, who, form={"file": "x"})
    for label, data in POLICY_FILES:
        sweep.send(
            f"policy.upload {label}",
            "POST",
            "/policy/rules",
            "quality_center",
            form={"file": (io.BytesIO(data), "policy.toml")},
        )


SWEEPS = {
    f.__name__: f
    for f in (
        sweep_path_ids,
        sweep_methods,
        sweep_query_strings,
        sweep_form_fields,
        sweep_json_bodies,
        sweep_foreign_ids_in_fields,
        sweep_tokens,
        sweep_uploads,
    )
}


@pytest.mark.parametrize("name", list(SWEEPS))
def test_hostile_input(sweep: Sweep, name: str) -> None:
    SWEEPS[name](sweep)
    sweep.report()


# -- imports that only the command line offers ---------------------------------------------------------------
Importer = Callable[[Session, int], Callable[..., Any]]
CLI_IMPORTS: dict[str, tuple[dict[str, list[str]], list[str], Importer]] = {
    "observations": (
        dict(columns(default_policy())),
        ["", "L001", "", "MATH1", "", "T001", "", "", "2026-09-07", "3-4", "", "submitted", "否"],
        lambda s, i: ObservationTransfer(s, i, PolicyStore(s, i).current()).import_file,
    ),
    "patrols": (
        PATROL_ALIASES,
        ["L001", "2026-09-08", "A101", "safety", "", "", "", "", ""],
        lambda s, i: PatrolService(s, i, PolicyStore(s, i).current()).import_file,
    ),
    "units": (
        UNIT_ALIASES,
        UPLOADS["directory.import_units"][1],
        lambda s, i: DirectoryService(s, i).import_units,
    ),
    "periods": (PERIOD_ALIASES, ["1", "08:00", "08:45"], lambda s, i: PeriodService(s, i).import_periods),
    "timetable": (
        TIMETABLE_ALIASES,
        UPLOADS["timetable.import_timetable"][1],
        lambda s, i: TimetableImporter(s, i).import_file,
    ),
}


@pytest.mark.parametrize("kind", list(CLI_IMPORTS))
def test_import_files_fail_cleanly(session_factory, institution_id, kind: str) -> None:  # type: ignore[no-untyped-def]
    """The importers behind ``tingke import``: a bad file raises the project's error, nothing else."""
    aliases, good_row, importer = CLI_IMPORTS[kind]
    with session_factory.begin() as s:
        observation_world(s, institution_id)
    failures = []
    for label, name, data in hostile_files(aliases, good_row, many=300):  # these importers query per row
        with session_factory() as s:
            try:
                with s.begin_nested():
                    importer(s, institution_id)(data, name)
                    s.flush()
            except TingkeError:
                pass
            except Exception as exc:  # anything else is a traceback on the command line
                failures.append(f"{kind} {label}: {type(exc).__name__}: {str(exc)[:200]}")
            s.rollback()
    assert not failures, "\n".join(failures)
