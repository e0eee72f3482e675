"""HTML → PDF with WeasyPrint, fetching nothing but Tingke's own files.

Why a custom fetcher: WeasyPrint's default one follows any URL a document names. Un-escaped user text
such as ``<link rel="attachment" href="file:///etc/passwd">`` then embeds a server file into the PDF,
and ``<img src="http://127.0.0.1/…">`` makes the worker call internal services (CVE-2025-68616,
measured in docs/stack-notes.md §9). Two independent defences:

1. Templates are rendered by a Jinja environment with autoescaping on, so user text never becomes
   markup in the first place.
2. ``SafeFetcher`` serves only the internal scheme ``tingke:`` — ``tingke:static/<path>`` (files under
   ``lti_tool/static/``) and ``tingke:reports/<path>`` (files under ``templates/reports/``) — plus inline
   ``data:`` URLs. Every other scheme (``file:``, ``http:``, ``https:``, ``ftp:`` …) and every path that
   resolves outside those two folders (``..``, symlinks) is refused; WeasyPrint then skips the resource.

Fonts come from the system (fontconfig, Debian's ``fonts-noto-cjk``), never from a URL.
"""

from __future__ import annotations

import base64
import datetime as dt
import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from lti_tool import STATIC_DIR, TEMPLATES_DIR

SCHEME = "tingke:"
ROOTS: dict[str, Path] = {
    "static": STATIC_DIR.resolve(),
    "reports": (TEMPLATES_DIR / "reports").resolve(),
}


class RefusedURL(ValueError):
    """A document named a resource outside Tingke's own files."""


def resolve_internal(url: str) -> Path:
    """Map ``tingke:<root>/<path>`` to a file inside that root, or raise ``RefusedURL``."""
    if not url.startswith(SCHEME):
        raise RefusedURL(f"only {SCHEME} and data: URLs may be fetched, not {url[:80]!r}")
    rest = unquote(url[len(SCHEME) :].split("?", 1)[0].split("#", 1)[0]).lstrip("/")
    root_name, _, relative = rest.partition("/")
    root = ROOTS.get(root_name)
    if root is None or not relative:
        raise RefusedURL(f"unknown internal resource {url[:80]!r}")
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise RefusedURL(f"no such internal resource {url[:80]!r}")
    return path


def _decode_data_url(url: str) -> tuple[bytes, str]:
    header, sep, payload = url[len("data:") :].partition(",")
    if not sep:
        raise RefusedURL("malformed data: URL")
    params = header.split(";")
    mime = params[0] or "text/plain"
    if "base64" in params[1:]:
        return base64.b64decode(payload), mime
    return unquote_to_bytes(payload), mime


def _make_fetcher() -> Any:
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class SafeFetcher(URLFetcher):  # WeasyPrint ships no type hints
        """Serves ``tingke:`` files and ``data:`` URLs; refuses everything else (never opens a socket)."""

        def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
            if url.startswith("data:"):
                body, mime = _decode_data_url(url)
                return URLFetcherResponse(url, body, {"Content-Type": mime})
            path = resolve_internal(url)
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            headers_out = {"Content-Type": mime + ("; charset=utf-8" if mime.startswith("text/") else "")}
            return URLFetcherResponse(url, path.read_bytes(), headers_out)

    return SafeFetcher(timeout=1, allowed_protocols={"tingke", "data"}, allow_redirects=False)


def render_pdf(html: str, *, on_step: Callable[[str], None] | None = None) -> bytes:
    """Lay out ``html`` and write the PDF; ``on_step("layout"|"write")`` lets a job report progress."""
    from weasyprint import HTML

    document = HTML(string=html, base_url=SCHEME + "reports/", url_fetcher=_make_fetcher()).render()
    if on_step:
        on_step("write")
    pdf = document.write_pdf()
    assert isinstance(pdf, bytes)
    return pdf


# -- templates --------------------------------------------------------------------------------------
def _date(value: object, fmt: str = "%Y年%m月%d日") -> str:
    if isinstance(value, str) and value:
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return str(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return f"{value.year}年{value.month}月{value.day}日" if fmt == "%Y年%m月%d日" else value.strftime(fmt)
    return ""


def _percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


_ENV: Environment | None = None


def template_env() -> Environment:
    """The worker's Jinja environment: the app's templates folder, autoescaped, Chinese catalog.

    No Flask in the worker: the same ``templates/`` folder is read directly. ``_()`` is bound to the
    zh_CN catalog because the execution report is an official Chinese document whatever the UI locale.
    """
    global _ENV
    if _ENV is None:
        from babel.support import Translations

        from lti_tool.i18n import TRANSLATIONS_DIR, ensure_compiled

        ensure_compiled()
        env = Environment(
            loader=FileSystemLoader(str(TEMPLATES_DIR)),
            autoescape=select_autoescape(["html", "xml", "svg"], default_for_string=True),
            undefined=StrictUndefined,
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_translations(  # type: ignore[attr-defined]  # added by the i18n extension
            Translations.load(str(TRANSLATIONS_DIR), ["zh_CN", "zh"]), newstyle=True
        )
        env.filters.update(cn_date=_date, percent=_percent)
        _ENV = env
    return _ENV


def render_template(name: str, **context: Any) -> str:
    return template_env().get_template(name).render(**context)
