"""What-if measurement aid: the app with the *next* proposed changes (bench/launch.md, "Further
proposals") applied as monkeypatches, so their effect can be measured before anyone edits the modules
they belong to.

NOT production code. ``bench/launch.py --tuned`` serves ``bench.tuned:create_app()`` instead of
``lti_tool.wsgi:app`` and runs the in-process profile with the same patches. ``BENCH_TUNED`` picks the
patches (comma-separated names, default all of them). Each patch is skipped, with a note on stderr, when
the code it targets has changed shape, so the bench never silently measures something else.

The first round of proposals (platform memo, no tool key, no cleanup per request, policy cache, lazy
HTTP session, platform key cache, …) is implemented in lti_tool/ now, and so are the second round's "no
Flask cookie session" and "no pool pre-ping"; bench/launch.md has the numbers. What is left here was
measured and not adopted (within the noise), kept so that it can be measured again on other machines:

- ``mmap``: ``PRAGMA mmap_size`` on SQLite connections. With several connections writing, each new
  transaction finds the database changed and re-reads its pages with ``read()``; mapped pages avoid that.
- ``writelock``: SQLite allows one writer, and every request begins with ``BEGIN IMMEDIATE``. Threads
  of one worker then wait in SQLite's busy handler, which sleeps 1, 2, 5, 10, … 100 ms between tries,
  and the lock often sits free meanwhile. This patch makes the threads of one process queue on a mutex
  instead (the busy handler still arbitrates between processes).
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

APPLIED: list[str] = []
ALL = ("mmap", "writelock")


def _note(msg: str) -> None:
    print(f"[bench.tuned] {msg}", file=sys.stderr)


def _sqlite_engine_patches(wanted: set[str]) -> None:
    from sqlalchemy import event

    from lti_tool import db

    real = getattr(db, "make_engine", None)
    if real is None:
        _note("skip mmap/writelock: lti_tool.db.make_engine not found")
        return

    def make_engine(url: str, **kwargs: object) -> Any:
        engine = real(url, **kwargs)
        if not url.startswith("sqlite"):
            return engine
        if "mmap" in wanted:

            @event.listens_for(engine, "connect")
            def _mmap(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA mmap_size=268435456")
                cur.close()

        if "writelock" in wanted:
            lock = threading.Lock()
            held = threading.local()

            def _acquire(conn: Any) -> None:
                lock.acquire()
                held.on = True

            event.listen(engine, "begin", _acquire, insert=True)  # before db.py's BEGIN IMMEDIATE

            def _release(conn: Any) -> None:
                if getattr(held, "on", False):
                    held.on = False
                    lock.release()

            event.listen(engine, "commit", _release)
            event.listen(engine, "rollback", _release)
        return engine

    db.make_engine = make_engine  # type: ignore[assignment]
    import lti_tool.app

    lti_tool.app.make_engine = make_engine  # type: ignore[attr-defined]
    APPLIED.extend(sorted(wanted))


def wanted() -> set[str]:
    raw = os.environ.get("BENCH_TUNED", ",".join(ALL))
    names = {n.strip() for n in raw.split(",") if n.strip()}
    unknown = names - set(ALL)
    if unknown:
        raise SystemExit(f"BENCH_TUNED: unknown patches {sorted(unknown)}; known: {', '.join(ALL)}")
    return names


def apply() -> list[str]:
    """Patch the modules (call before ``create_app``)."""
    if not APPLIED:
        names = wanted()
        if names:
            _sqlite_engine_patches(names)
        _note("applied: " + (", ".join(sorted(names)) or "nothing"))
        APPLIED.append("applied")
    return APPLIED


def create_app() -> Any:
    """gunicorn ``bench.tuned:create_app()``: the real factory, after the patches."""
    apply()
    import lti_tool.app

    return lti_tool.app.create_app()
