"""Helpers for the tests that run Tingke as real processes (gunicorn, ``tingke worker``) and talk to it
over HTTP: the college they serve, a visitor that launches and records as a browser would, waiting.

Used by the scale-out test (tests/ops/test_scale_out.py, hosts in network namespaces behind nginx) and the
fault suite (tests/ops/test_faults.py, processes on loopback). A "site" is anything with the database URL,
the base URL the visitors use and a scratch folder.
"""

from __future__ import annotations

import collections
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import requests
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from lti_tool.directory.models import Person, PositionHolding
from lti_tool.lti.keys import KeyService
from lti_tool.lti.registration import PlatformSpec, RegistrationService
from lti_tool.migrate import upgrade
from lti_tool.policy.schema import default_policy
from lti_tool.policy.store import PolicyStore
from lti_tool.tenancy import Institution
from lti_tool.timetable.models import ClassSession
from tests.support.platform import ROLE_INSTRUCTOR, ROLE_LEARNER, LmsUser, PlatformSimulator
from tests.support.worlds import complete_fields, observation_world

OBSERVERS = 24
RETRYABLE = {502, 503, 504}
STATUSES: collections.Counter[int] = collections.Counter()
"""Every answer the visitors got, by status (printed at the end: how many met the dead host)."""


class Site(Protocol):
    database_url: str
    base_url: str
    tmp: Path


# -- the college --------------------------------------------------------------------------------------
@dataclass
class College:
    institution_id: int
    observers: list[LmsUser]
    qc: LmsUser
    session_ids: list[int]
    semester_id: int


def make_college(cluster: Site, sim: PlatformSimulator, count: int = OBSERVERS) -> College:
    upgrade(cluster.database_url)
    engine = create_engine(cluster.database_url)
    try:
        with Session(engine) as s, s.begin():
            KeyService(s).ensure_key()
            inst = Institution(code="JTI", name="吉林交通职业技术学院")
            s.add(inst)
            s.flush()
            PolicyStore(s, inst.id).ensure_version()
            world = observation_world(s, inst.id)
            observers = []
            for i in range(count):
                no = f"L{100 + i}"
                person = Person(
                    institution_id=inst.id, employee_no=no, name=f"观察员{i}", email=f"{no}@jti.edu"
                )
                person.positions.append(
                    PositionHolding(institution_id=inst.id, position_code="school_leader")
                )
                s.add(person)
                observers.append(LmsUser(f"u-{no}", f"观察员{i}", f"{no}@jti.edu", no, [ROLE_LEARNER]))
            sessions = s.scalars(
                select(ClassSession.id)
                .where(ClassSession.section_id == world.section.id)
                .order_by(ClassSession.date)
            ).all()
            RegistrationService(s, _settings_stub(cluster)).add_platform(
                "JTI",
                PlatformSpec(
                    issuer=sim.issuer,
                    client_id=sim.client_id,
                    deployment_ids=[sim.deployment_id],
                    auth_login_url=sim.urls["auth"],
                    auth_token_url=sim.urls["token"],
                    key_set_url=sim.urls["jwks"],
                    name="Simulated LMS",
                ),
            )
            qc = LmsUser("u-q001", "孙主任", "q001@jti.edu", "Q001", [ROLE_INSTRUCTOR])
            return College(inst.id, observers, qc, list(sessions[:4]), world.semester.id)
    finally:
        engine.dispose()


def _settings_stub(cluster: Site) -> Any:
    from lti_tool.config import Settings

    return Settings(
        instance_path=cluster.tmp,
        database_url=cluster.database_url,
        redis_url="",
        secret_key="unused",
        base_url=cluster.base_url,
    )


# -- a browser, over HTTP ---------------------------------------------------------------
class Visitor:
    """One launched person; records which app host answered each of their requests."""

    def __init__(
        self, cluster: Site, sim: PlatformSimulator, user: LmsUser, seen: list[tuple[str, str, str]]
    ):
        self.base = cluster.base_url
        self.sim = sim
        self.user = user
        self.http = requests.Session()
        self.seen = seen
        self.token = ""
        self.csrf = ""
        self.statuses = STATUSES

    def __enter__(self) -> Visitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def send(
        self, step: str, method: str, path: str, *, retry_statuses: set[int] = RETRYABLE, **kwargs: Any
    ) -> requests.Response:
        """As the page's script does: a request that met a dead host is sent again — also when the host died
        after the answer's headers, in the middle of its body (fetch() rejects then too)."""
        for attempt in range(20):
            try:
                response = self.http.request(
                    method, self.base + path, timeout=30, allow_redirects=False, **kwargs
                )
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                time.sleep(0.2 * (attempt + 1))
                continue
            self.seen.append((self.user.sourcedid, step, response.headers.get("X-Upstream", "")))
            self.statuses[response.status_code] += 1
            if response.status_code not in retry_statuses:
                return response
            time.sleep(0.2 * (attempt + 1))
        raise AssertionError(f"{self.user.sourcedid} {step}: no answer after 20 attempts")

    def launch(self) -> None:
        for _ in range(5):  # a login whose state died with its host is started again, as the LMS would
            login = self.send("login", "POST", "/lti/login", data=self.sim.login_params(self.user))
            assert login.status_code == 302, login.text
            auth = {k: v[0] for k, v in parse_qs(urlsplit(login.headers["Location"]).query).items()}
            id_token = self.sim.sign(self.sim.claims(self.user, auth["nonce"]))
            launched = self.send(
                "launch",
                "POST",
                "/lti/launch",
                data={"id_token": id_token, "state": auth["state"]},
                cookies={c.name: c.value for c in login.cookies},
            )
            if launched.status_code == 303:
                self.token = parse_qs(urlsplit(launched.headers["Location"]).query)["s"][0]
                break
        assert self.token, f"{self.user.sourcedid}: no launch succeeded"
        home = self.send("home", "GET", f"/home?s={self.token}")
        assert home.status_code == 200, home.text
        self.csrf = re.search(r'data-csrf="([^"]+)"', home.text).group(1)  # type: ignore[union-attr]

    def _json(self, step: str, path: str, body: dict[str, Any]) -> requests.Response:
        headers = {"X-Tingke-Session": self.token, "X-CSRF-Token": self.csrf, "Accept": "application/json"}
        return self.send(step, "POST", path, json=body, headers=headers)

    def record(self, session_id: int) -> tuple[int, str]:
        started = self.send(
            "start",
            "POST",
            f"/observations/start?s={self.token}",
            data={"csrf": self.csrf, "session_id": session_id},
        )
        assert started.status_code == 303, started.text
        obs_id = int(re.search(r"/observations/(\d+)/edit", started.headers["Location"]).group(1))  # type: ignore[union-attr]
        version = 0
        last = ""
        for n in range(3):
            last = f"第{n + 1}次自动保存：{self.user.sourcedid} 的课堂记录。"
            fields = complete_fields(default_policy(), narrative=last)
            saved = self._json(
                "autosave", f"/observations/{obs_id}/autosave", {"draft_version": version, "fields": fields}
            )
            if saved.status_code == 409:  # the attempt that met the dead host had been stored: reload
                version = self.draft_version(obs_id)
                saved = self._json(
                    "autosave",
                    f"/observations/{obs_id}/autosave",
                    {"draft_version": version, "fields": fields},
                )
            assert saved.status_code == 200, saved.text
            version = saved.json()["draft_version"]
        done = self._json("submit", f"/observations/{obs_id}/submit", {"draft_version": version})
        assert done.status_code in (200, 409), done.text  # 409: a retried submit found it submitted
        return obs_id, last

    def draft_version(self, obs_id: int) -> int:
        page = self.send("edit", "GET", f"/observations/{obs_id}/edit?s={self.token}")
        return int(re.search(r'name="draft_version" value="(\d+)"', page.text).group(1))  # type: ignore[union-attr]

    def start_report(self, kind: str, semester_id: int) -> None:
        started = self.send(
            "report",
            "POST",
            f"/reports/start?s={self.token}",
            data={"csrf": self.csrf, "kind": kind, "semester_id": semester_id},
        )
        assert started.status_code == 303, started.text


def wait_for(predicate: Any, timeout: float, what: str, every: float = 0.3) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
