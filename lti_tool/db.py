"""Declarative base, engine and session factory.

SQLite is the embedded default, PostgreSQL the production database; both run the same code. On SQLite
every transaction starts with ``BEGIN IMMEDIATE`` (SQLAlchemy's documented pysqlite recipe): a plain
``BEGIN`` upgrades its lock on first write and loses concurrent read-then-write submissions to
SQLITE_BUSY (measured in docs/stack-notes.md §9, docs/decisions.md S-1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import DateTime, ForeignKey, Integer, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, declared_attr, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

# Re-exported: models default their timestamps to the one clock (docs/decisions.md T-1).
from lti_tool.clock import utcnow as utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class InstitutionScoped:
    """Mixin for every row of institutional data: the tenant key is never optional."""

    @declared_attr
    def institution_id(cls) -> Mapped[int]:  # noqa: N805 - declared_attr receives the class
        return mapped_column(Integer, ForeignKey("institution.id", ondelete="CASCADE"), index=True)


T = TypeVar("T")


def get_scoped(session: Session, model: type[T], row_id: object, institution_id: int) -> T | None:
    """The row with this id if it belongs to the institution, else ``None``: another tenant's id is
    treated exactly like one that does not exist (so nothing reveals that it does)."""
    row = session.get(model, row_id) if row_id is not None else None
    return row if row is not None and row.institution_id == institution_id else None  # type: ignore[attr-defined]


def make_engine(url: str, **kwargs: object) -> Engine:
    """Create the engine, with the SQLite pragmas and transaction recipe applied."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # let SQLAlchemy emit BEGIN itself
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Straight to the driver: SQLAlchemy's statement machinery costs more than the BEGIN itself,
            # and every request runs one.
            conn.connection.driver_connection.execute("BEGIN IMMEDIATE")

        return engine
    # No pre-ping: it is one more round trip on every request. A connection that died with a database
    # restart fails the one request that meets it, and SQLAlchemy then drops every older pooled
    # connection; the recycle bounds how long an idle connection is trusted.
    return create_engine(url, pool_recycle=1800, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error (used by CLI and worker)."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
