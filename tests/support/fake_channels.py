"""A local fake of the endpoints Tingke's notification channels call, on 127.0.0.1 and a random port.

One server answers as all three services, each on its documented path:

- Moodle: ``POST /webservice/rest/server.php`` (form: wstoken, wsfunction=core_message_send_instant_messages,
  moodlewsrestformat=json, messages[0][touserid|text|textformat]) → ``[{"msgid": n}]``; a wrong token gets
  Moodle's error JSON (``{"exception": …, "errorcode": "invalidtoken", "message": …}``), an unknown user
  ``[{"msgid": -1, "errormessage": …}]``.
- 企业微信: ``GET /cgi-bin/gettoken?corpid&corpsecret`` → ``{"errcode": 0, "access_token", "expires_in"}``,
  ``POST /cgi-bin/message/send?access_token`` (JSON: touser, msgtype, agentid, text|textcard).
- 钉钉: ``GET /gettoken?appkey&appsecret``,
  ``POST /topapi/message/corpconversation/asyncsend_v2?access_token``
  (JSON: agent_id, userid_list, msg) → ``{"errcode": 0, "task_id": n}``.

``requests`` keeps every request (path, query, form or JSON); ``fail_next`` makes the next n sends fail
with a server error, ``expire_token_once`` answers the next send with 42001 (token expired).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MOODLE_TOKEN = "moodle-ws-token-1234"
WECOM = {"corpid": "ww-fake-corp", "secret": "wecom-secret-5678"}
DINGTALK = {"appkey": "ding-fake-key", "secret": "ding-secret-9012"}
MOODLE_USERS = {"2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"}


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)
    json: Any = None


class FakeChannels:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.fail_next = 0
        self.expire_token_once = False
        self.tokens_issued = 0
        self._valid_tokens: set[str] = set()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeChannels:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def sends(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    # -- the services ---------------------------------------------------------------------------------------
    def _token(self) -> dict[str, Any]:
        self.tokens_issued += 1
        token = f"token-{self.tokens_issued}"
        self._valid_tokens.add(token)
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}

    def answer(self, r: Received) -> tuple[int, Any]:
        if r.path == "/webservice/rest/server.php":
            return 200, self._moodle(r)
        if r.path == "/cgi-bin/gettoken":
            ok = r.query.get("corpid") == WECOM["corpid"] and r.query.get("corpsecret") == WECOM["secret"]
            return 200, self._token() if ok else {"errcode": 40001, "errmsg": "invalid credential"}
        if r.path == "/gettoken":
            ok = (
                r.query.get("appkey") == DINGTALK["appkey"] and r.query.get("appsecret") == DINGTALK["secret"]
            )
            return 200, self._token() if ok else {"errcode": 40089, "errmsg": "不合法的corpid或corpsecret"}
        if r.path in ("/cgi-bin/message/send", "/topapi/message/corpconversation/asyncsend_v2"):
            if self.fail_next:
                self.fail_next -= 1
                return 500, {"errcode": -1, "errmsg": "system busy"}
            if self.expire_token_once:
                self.expire_token_once = False
                self._valid_tokens.discard(r.query.get("access_token", ""))
                return 200, {"errcode": 42001, "errmsg": "access_token expired"}
            if r.query.get("access_token") not in self._valid_tokens:
                return 200, {"errcode": 40014, "errmsg": "invalid access_token"}
            if r.path == "/cgi-bin/message/send":
                return 200, {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": "m1"}
            return 200, {"errcode": 0, "errmsg": "ok", "task_id": 256271667526, "request_id": "r1"}
        return 404, {"error": "no such endpoint"}

    def _moodle(self, r: Received) -> Any:
        if self.fail_next:
            self.fail_next -= 1
            return {"exception": "moodle_exception", "errorcode": "servicebusy", "message": "Service busy"}
        if r.form.get("wstoken") != MOODLE_TOKEN:
            return {
                "exception": "moodle_exception",
                "errorcode": "invalidtoken",
                "message": "Invalid token - token not found",
            }
        if r.form.get("wsfunction") != "core_message_send_instant_messages":
            return {"exception": "dml_missing_record_exception", "errorcode": "invalidrecord", "message": "?"}
        if r.form.get("messages[0][touserid]") not in MOODLE_USERS:
            return [{"msgid": -1, "errormessage": "The user does not exist"}]
        return [{"msgid": 100 + len(self.requests)}]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                received = Received(method, parts.path, query)
                if "json" in (self.headers.get("Content-Type") or ""):
                    received.json = json.loads(raw or b"null")
                elif raw:
                    received.form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                with fake._lock:
                    fake.requests.append(received)
                    status, body = fake.answer(received)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
