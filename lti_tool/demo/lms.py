"""A small demo LMS: a real LTI 1.3 platform on loopback, so a newcomer sees Tingke working (issue 11 §12).

``tingke demo-lms`` (started by ``scripts/run.sh``) serves one course page, "领导干部听课 (demo)", that embeds
Tingke in an iframe, and a list of the demo college's people to launch as: school leaders, a dean, a
Marxism-School leader, a teacher with feedback to read, a problem handler, quality-center and
organization-department staff, a student and an LMS administrator. Choosing one runs the real flow, as
Moodle does (docs/decisions.md, the launch): third-party login initiation → Tingke's OIDC authentication
request → this platform's ``/auth`` signs an id_token (RS256, its own key, JWKS at ``/jwks``) → form post
to Tingke's launch URL.

It is a demo only: it signs in anyone who clicks, so it refuses to start when ``TINGKE_ENV=production``,
listens on 127.0.0.1 only, and registers itself only for the demo institution. Its key is kept in
``INSTANCE/demo-lms-key.pem`` so a restart keeps the registration valid.
"""

from __future__ import annotations

import html
import json
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.wrappers import Request, Response

from lti_tool import clock
from lti_tool.config import Settings
from lti_tool.demo.outreach import link_demo_student
from lti_tool.directory.models import Person, PositionHolding, Unit, UnitFunction
from lti_tool.errors import Conflict
from lti_tool.lti.registration import PlatformSpec, RegistrationService
from lti_tool.observations.models import Observation, ObservationStatus
from lti_tool.outreach.models import ReceptionDuty
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import ClassSession, SectionTeacher
from lti_tool.timetable.semesters import SemesterService

log = logging.getLogger(__name__)

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
ROLE_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
ROLE_LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
ROLE_SYS_ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"
CLIENT_ID = "tingke-demo-lms"
DEPLOYMENT_ID = "1"
COURSE = {"id": "demo-leaders", "label": "LEADERS", "title": "领导干部听课（演示课程）"}


@dataclass(frozen=True)
class DemoUser:
    sub: str
    name: str
    email: str
    employee_no: str
    roles: tuple[str, ...]
    who: str
    """What this person shows of Tingke (Chinese, for the course page)."""


def _receiving_this_week(session: Session, institution_id: int) -> Person | None:
    """The school leader the reception roster schedules for the college's current teaching week."""
    today = clock.today(session.get(Institution, institution_id))
    semester = SemesterService(session, institution_id).of_date(today)
    if semester is None:
        return None
    duty = session.scalars(
        select(ReceptionDuty).where(
            ReceptionDuty.semester_id == semester.id, ReceptionDuty.week == semester.week_of(today)
        )
    ).first()
    return duty.person if duty is not None else None


def demo_users(session: Session, institution_id: int) -> list[DemoUser]:
    """One person per persona of the demo college, picked from its roster."""
    people: list[DemoUser] = []
    seen: set[int] = set()

    def add(person: Person | None, who: str, roles: tuple[str, ...] = (ROLE_INSTRUCTOR,)) -> None:
        if person is None or person.id in seen:
            return
        seen.add(person.id)
        email = person.email or ""
        people.append(
            DemoUser(f"demo-{person.employee_no}", person.name, email, person.employee_no, roles, who)
        )

    def holder(code: str) -> Person | None:
        return session.scalars(
            select(Person)
            .join(PositionHolding, PositionHolding.person_id == Person.id)
            .where(Person.institution_id == institution_id, PositionHolding.position_code == code)
            .order_by(PositionHolding.start_date.desc(), Person.employee_no)
        ).first()

    def staff(function: str) -> Person | None:
        """Somebody working in the unit with that function, not shown yet."""
        found = session.scalars(
            select(Person)
            .join(Unit, Unit.id == Person.unit_id)
            .where(Person.institution_id == institution_id, Unit.function == function)
            .order_by(Person.employee_no)
            .limit(50)
        )
        return next((p for p in found if p.id not in seen), None)

    add(holder("vp_teaching"), "校领导（分管教学）：听课任务、选课听课、填写听课记录")
    add(_receiving_this_week(session, institution_id), "本周接待日值班校领导：在手机上记录来访接待")
    add(holder("party_secretary"), "党委书记：思政课听课（O-3）")
    add(holder("college_dean"), "教学院长：听课任务、集体听课")
    add(holder("marxism_school_leader"), "马克思主义学院领导：任期内听课全覆盖（O-6）")
    add(holder("head_logistics"), "后勤负责人：巡查（O-9）、处理反映的问题")
    teacher = session.scalars(
        select(Person)
        .join(SectionTeacher, SectionTeacher.person_id == Person.id)
        .join(ClassSession, ClassSession.section_id == SectionTeacher.section_id)
        .join(Observation, Observation.session_id == ClassSession.id)
        .where(
            Observation.institution_id == institution_id,
            Observation.status == ObservationStatus.SUBMITTED,
            Observation.teacher_reply == "",
        )
        .order_by(Observation.submitted_at.desc())
    ).first()
    add(teacher, "授课教师：查看听课反馈并回复")
    add(staff(UnitFunction.QUALITY_CENTER), "教学质量监控与评价中心：全部记录、统计、报告、归档")
    add(staff(UnitFunction.ORGANIZATION), "党委组织部：干部听课情况、年度考核导出")
    add(staff(UnitFunction.SCHOOL_OFFICE), "学校办公室：领导分工、接待日安排、校领导信箱、提案办理")
    people.append(
        DemoUser(
            "demo-student",
            "学生甲",
            "student@demo.invalid",
            "",
            (ROLE_LEARNER,),
            "学生：写信给校领导、阅读答复",
        )
    )
    people.append(
        DemoUser(
            "demo-admin",
            "LMS 管理员",
            "admin@demo.invalid",
            "",
            (ROLE_SYS_ADMIN, ROLE_INSTRUCTOR),
            "LMS 管理员（不在名单中）：质量中心已有人员，因此没有设置权限",
        )
    )
    return people


def load_key(path: Path) -> tuple[str, dict[str, Any]]:
    """The platform's signing key (PEM) and its public JWK, created on first use."""
    if path.exists():
        pem = path.read_text()
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(pem)
        path.chmod(0o600)
    jwk = JWK.from_pem(pem.encode())
    public = json.loads(jwk.export_public())
    public.update(kid=jwk.thumbprint(), alg="RS256", use="sig")
    return pem, public


class DemoLms:
    """The WSGI app of the demo platform; ``register`` makes Tingke trust it (demo institution only)."""

    def __init__(
        self, settings: Settings, factory: sessionmaker[Session], institution_code: str, base: str
    ) -> None:
        if settings.is_production:
            raise Conflict(
                "The demo LMS signs in anyone who clicks: it never runs with TINGKE_ENV=production."
            )
        self.settings = settings
        self.factory = factory
        self.institution_code = institution_code
        self.base = base.rstrip("/")
        self.tool = settings.base_url.rstrip("/")
        self.pem, self.public_jwk = load_key(settings.instance_path / "demo-lms-key.pem")

    @property
    def issuer(self) -> str:
        return self.base

    def register(self) -> None:
        with self.factory.begin() as s:
            platform = RegistrationService(s, self.settings).add_platform(
                self.institution_code,
                PlatformSpec(
                    issuer=self.issuer,
                    client_id=CLIENT_ID,
                    deployment_ids=[DEPLOYMENT_ID],
                    auth_login_url=f"{self.base}/auth",
                    auth_token_url=f"{self.base}/token",
                    key_set_url=f"{self.base}/jwks",
                    name="演示 LMS (demo)",
                ),
            )
            s.flush()
            link_demo_student(
                s, platform.institution_id, platform.id
            )  # the demo's student letters become theirs

    def users(self) -> list[DemoUser]:
        with self.factory() as s:
            inst = s.scalars(select(Institution).where(Institution.code == self.institution_code)).first()
            return demo_users(s, inst.id) if inst is not None else []

    # -- WSGI ------------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        handler = {
            "/": self.course,
            "/launch": self.launch,
            "/auth": self.auth,
            "/jwks": self.jwks,
        }.get(request.path)
        response = handler(request) if handler else Response("not found", status=404)
        response.headers["Cache-Control"] = "no-store"
        return response(environ, start_response)

    def course(self, request: Request) -> Response:
        """The course page: who to be, and Tingke embedded below (as Moodle's activity page does)."""
        users = self.users()
        chosen = request.args.get("as") or (users[0].sub if users else "")
        items = "".join(
            f'<li><a href="/?{urlencode({"as": u.sub})}"{" aria-current=page" if u.sub == chosen else ""}>'
            f"<b>{html.escape(u.name)}</b> <small>{html.escape(u.employee_no)}</small><br>"
            f"<span>{html.escape(u.who)}</span></a></li>"
            for u in users
        )
        frame = (
            f'<iframe id="tool" name="tool" title="Tingke" src="/launch?{urlencode({"user": chosen})}" '
            'allow="fullscreen"></iframe>'
            if chosen
            else "<p>演示学院还没有建立（先运行 tingke demo）。</p>"
        )
        page = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{COURSE["title"]} · 演示 LMS</title>
<style>
body{{margin:0;font-family:system-ui,"Noto Sans CJK SC",sans-serif;color:#1f2933;background:#f5f7fa}}
header{{background:#0f6cbf;color:#fff;padding:.6rem 1rem}} header small{{opacity:.85}}
main{{display:flex;flex-wrap:wrap;gap:1rem;padding:1rem}}
nav{{flex:1 1 240px;max-width:320px}} nav ul{{list-style:none;margin:0;padding:0}}
nav a{{display:block;padding:.45rem .6rem;margin-bottom:.3rem;border:1px solid #d9e2ec;border-radius:6px;
background:#fff;color:inherit;text-decoration:none}}
nav a[aria-current]{{border-color:#0f6cbf;background:#eaf2fb}}
nav span{{font-size:.85rem;color:#52606d}}
section{{flex:3 1 600px;min-width:0}}
iframe{{width:100%;height:80vh;border:1px solid #d9e2ec;background:#fff}}
@media (max-width:700px){{main{{padding:.5rem}} nav{{max-width:none}} section{{order:-1}}
iframe{{height:85vh}} nav h2{{font-size:1.1rem}}}}
</style></head><body>
<header><b>演示 LMS</b> <small>— 一个运行在本机的 LTI 1.3 平台，仅供演示</small></header>
<main><nav aria-label="以谁的身份打开"><h2>以谁的身份打开听课系统</h2><ul>{items}</ul></nav>
<section><h1>{COURSE["title"]}</h1>{frame}</section></main></body></html>"""
        return Response(page, content_type="text/html; charset=utf-8")

    def launch(self, request: Request) -> Response:
        """What Moodle's launch.php does: auto-post the third-party login initiation to the tool."""
        params = {
            "iss": self.issuer,
            "login_hint": request.args.get("user", ""),
            "client_id": CLIENT_ID,
            "target_link_uri": f"{self.tool}/lti/launch",
            "lti_message_hint": "resource",
            "lti_deployment_id": DEPLOYMENT_ID,
        }
        return _autopost(f"{self.tool}/lti/login", params)

    def auth(self, request: Request) -> Response:
        """The OIDC authentication response: an id_token for the chosen demo person, posted to Tingke."""
        args = request.values
        redirect_uri = args.get("redirect_uri", "")
        if args.get("client_id") != CLIENT_ID or urlsplit(redirect_uri)[:2] != urlsplit(self.tool)[:2]:
            return Response("unknown client or redirect_uri", status=400)
        user = next((u for u in self.users() if u.sub == args.get("login_hint")), None)
        if user is None:
            return Response("unknown login_hint", status=400)
        now = int(time.time())
        body = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": user.sub,
            "iat": now,
            "exp": now + 300,
            "nonce": args.get("nonce", ""),
            "name": user.name,
            "email": user.email,
            LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": DEPLOYMENT_ID,
            LTI + "target_link_uri": f"{self.tool}/lti/launch",
            LTI + "roles": list(user.roles),
            LTI + "context": dict(COURSE, type=["CourseSection"]),
            LTI + "resource_link": {"id": "demo-link-1", "title": "听课"},
            LTI + "lis": {"person_sourcedid": user.employee_no},
            LTI + "launch_presentation": {"document_target": "iframe", "locale": "zh_cn"},
            LTI + "tool_platform": {
                "guid": "tingke-demo-lms",
                "name": "演示 LMS",
                "product_family_code": "demo",
            },
        }
        token = jwt.encode(body, self.pem, algorithm="RS256", headers={"kid": self.public_jwk["kid"]})
        return _autopost(redirect_uri, {"id_token": token, "state": args.get("state", "")})

    def jwks(self, request: Request) -> Response:
        return Response(json.dumps({"keys": [self.public_jwk]}), content_type="application/json")


def _autopost(action: str, fields: dict[str, str]) -> Response:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in fields.items()
    )
    form_id = "f" + uuid.uuid4().hex[:8]
    return Response(
        f'<!doctype html><html><body><form id="{form_id}" method="post" action="{html.escape(action)}">'
        f"{inputs}<noscript><button>继续</button></noscript></form>"
        f'<script>document.getElementById("{form_id}").submit()</script></body></html>',
        content_type="text/html; charset=utf-8",
    )


__all__ = ["DemoLms", "DemoUser", "demo_users", "load_key"]
