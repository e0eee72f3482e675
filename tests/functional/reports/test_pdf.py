"""WeasyPrint fetches nothing but Tingke's own files (CVE-2025-68616, docs/stack-notes.md §9)."""

from __future__ import annotations

import base64
import io
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pypdf
import pytest

from lti_tool.reports.pdf import RefusedURL, _make_fetcher, render_pdf, render_template, resolve_internal

SECRET = "tingke-secret-marker-4711"


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


@pytest.fixture
def http_hits():  # type: ignore[no-untyped-def]
    """A loopback HTTP server that records every request it gets (it must get none)."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { color: red }")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def _hostile(secret: Path, base: str) -> str:
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8">
    <link rel="stylesheet" href="{base}/style.css">
    <link rel="attachment" href="file://{secret}">
    <link rel="attachment" href="file:///etc/passwd">
    </head><body><p>听课记录</p>
    <img src="file://{secret}"><img src="{base}/pixel.png"><object data="{base}/x.svg"></object>
    <a rel="attachment" href="file://{secret}">附件</a>
    <img src="tingke:reports/../../pyproject.toml"><img src="tingke:static/../../../etc/passwd">
    </body></html>"""


def _attachments(pdf: bytes) -> dict:  # type: ignore[type-arg]
    return dict(pypdf.PdfReader(io.BytesIO(pdf)).attachments)


def test_default_fetcher_would_leak_the_file(secret_file, http_hits):  # type: ignore[no-untyped-def]
    """The control: WeasyPrint's own fetcher embeds the file and calls the URL — what we must prevent."""
    from weasyprint import HTML

    base, hits = http_hits
    pdf = HTML(string=_hostile(secret_file, base)).write_pdf()
    assert any(SECRET.encode() in b"".join(v) for v in _attachments(pdf).values())
    assert hits


def test_render_pdf_refuses_files_and_network(secret_file, http_hits):  # type: ignore[no-untyped-def]
    base, hits = http_hits
    pdf = render_pdf(_hostile(secret_file, base))
    assert pdf.startswith(b"%PDF")
    assert _attachments(pdf) == {}
    assert SECRET.encode() not in pdf and b"root:x:0:0" not in pdf
    assert hits == []
    assert "听课记录" in pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://127.0.0.1/",
        "https://example.com/x.css",
        "ftp://127.0.0.1/x",
        "tingke:reports/../../pyproject.toml",
        "tingke:static/../../../etc/passwd",
        "tingke:nowhere/x.css",
        "tingke:reports/",
        "tingke:reports/missing.css",
        "/etc/passwd",
        "report.css",
    ],
)
def test_fetcher_refuses(url: str) -> None:
    fetcher = _make_fetcher()
    with pytest.raises(RefusedURL):
        fetcher.fetch(url)


def test_fetcher_serves_own_files_and_data_urls() -> None:
    fetcher = _make_fetcher()
    css = fetcher.fetch("tingke:reports/report.css")
    assert b"Noto Serif CJK SC" in css.read() and css.content_type == "text/css"
    assert resolve_internal("tingke:static/app.css").name == "app.css"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>'
    data = fetcher.fetch("data:image/svg+xml;base64," + base64.b64encode(svg).decode())
    assert data.read() == svg and data.content_type == "image/svg+xml"


def test_templates_escape_user_text(secret_file):  # type: ignore[no-untyped-def]
    """A narrative that carries markup is printed as text and embeds nothing."""
    from lti_tool.reports.report import Archive, ArchiveRating, ArchiveRecord

    hostile = (
        f'<img src="file://{secret_file}"><link rel="attachment" href="file://{secret_file}">'
        f'<link rel="attachment" href="file:///etc/passwd">'
    )
    record = ArchiveRecord(
        date=__import__("datetime").date(2026, 10, 9),
        time="08:00–09:40",
        course="道路工程（JT1）",
        teachers="郑老师",
        classes="道桥2401",
        room="A101",
        role="执笔人",
        members="",
        arrival="07:55",
        late=False,
        supervision=False,
        attendance="",
        ratings=(ArchiveRating("教学态度", "优", hostile),),
        narrative=hostile,
        strengths="",
        problems="",
        suggestions="",
        exchange_teacher="",
        exchange_students="",
        teacher_reply="",
    )
    archive = Archive(
        "吉林交通职业技术学院",
        "2026-2027-1",
        "2026—2027学年第一学期",
        "王书记<b>",
        "L001",
        "党委办公室",
        records=[record],
    )
    html = render_template("reports/personal_archive.html", a=archive, generated_on=record.date)
    assert "<img src" not in html and "&lt;img src=" in html and "王书记&lt;b&gt;" in html
    pdf = render_pdf(html)
    assert _attachments(pdf) == {} and SECRET.encode() not in pdf
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "<img src=" in text.replace("\n", "")
