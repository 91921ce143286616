"""Declarative base, portable column types, and the process-wide session factory."""
from __future__ import annotations

import os
import uuid
import weakref
from pathlib import Path
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import JSON, DateTime, MetaData, Numeric, String, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from inspections import jsontext

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def among(session: Session, column, values):
    """`column IN (values)`; on PostgreSQL as `column = ANY(array)`: one parameter however many values
    (500 placeholders cost a ms or more to send, parse and plan on every push)."""
    values = list(values)
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    from sqlalchemy import any_, bindparam
    from sqlalchemy.dialects.postgresql import ARRAY
    return column == any_(bindparam(None, values, type_=ARRAY(column.type)))


def as_utc(value: datetime) -> datetime:
    """An aware datetime in UTC; ValueError for a naive one, or one past the calendar's ends in UTC
    (what a forged or mistyped value from outside may be)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given; use timezone-aware UTC")
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("the datetime is past the calendar's ends in UTC") from None


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class ExactDecimal(TypeDecorator):
    """Decimal stored exactly: NUMERIC on PostgreSQL, text on SQLite (which has no decimal type)."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 18, scale: int = 6):
        super().__init__()
        self.precision, self.scale = precision, scale

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        # A float goes through its shortest repr (149.9, not 149.900000000000005684...); SQLite keeps the
        # column's scale as PostgreSQL's NUMERIC does, so both read back the same Decimal.
        value = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        return str(value.quantize(Decimal(1).scaleb(-self.scale))) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(value)


# JSONB on PostgreSQL (indexable), plain JSON text elsewhere.
class _JSONValue(TypeDecorator):
    """JSON as it was sent, on both databases (JSONB on PostgreSQL). A column declared JSON has NUMERIC
    affinity on SQLite, which turns the stored text `1.0` into the integer 1 (a float answer read back
    as an int): there a top-level whole float is bound as bytes (a BLOB, which no affinity converts)."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(JSONB() if dialect.name == "postgresql" else JSON())

    def bind_processor(self, dialect):
        to_text = self.load_dialect_impl(dialect).bind_processor(dialect)
        if dialect.name != "sqlite" or to_text is None:
            return to_text

        def process(value):
            if type(value) is float and value.is_integer():
                return to_text(value).encode()
            return to_text(value)
        return process

    def result_processor(self, dialect, coltype):
        from_text = self.load_dialect_impl(dialect).result_processor(dialect, coltype)
        if dialect.name != "sqlite" or from_text is None:
            return from_text

        def process(value):
            return from_text(value.decode() if isinstance(value, bytes) else value)
        return process


JSONType = _JSONValue()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class IdMixin:
    """Client-generatable UUID primary key: an offline device may create the id."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class VersionedMixin:
    """Monotonic record version; sync and optimistic concurrency compare against it."""

    version: Mapped[int] = mapped_column(default=1)


def make_engine(url: str, **kwargs) -> Engine:
    """Engine for a URL, with SQLite set up for concurrent readers and enforced foreign keys."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs.setdefault("pool_pre_ping", True)
    # json/jsonb columns read by orjson where it reads as the standard library does (`jsontext.loads`):
    # a push of 500 updates reads 500 answers' values and their merge bases.
    kwargs.setdefault("json_deserializer", jsontext.loads)
    engine = create_engine(url, **kwargs)
    # RQ forks a work horse per job: a child must open its own connections, never reuse the
    # parent's pooled ones (that corrupts both sides' protocol state).
    ref = weakref.ref(engine)
    os.register_at_fork(after_in_child=lambda: (e := ref()) is not None and e.dispose(close=False))
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _binary_lists(dbapi_conn, _record):
            # A list parameter (`among`: `id = ANY(%s)` with a push's 500 ids) goes in binary: psycopg
            # quotes every element of a text array in Python, 1.3 ms for 475 uuids against 0.2 ms, and the
            # server then parses the text (a query with them took 3.5 ms, 0.9 ms in binary).
            from psycopg.types.array import ListBinaryDumper
            dbapi_conn.adapters.register_dumper(list, ListBinaryDumper)

    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # pysqlite's own transaction handling is off: it issues no BEGIN before a SELECT and
            # commits on DDL, so a released outermost SAVEPOINT committed for real. SQLAlchemy's
            # recipe: the driver stays in autocommit and the "begin" event below emits BEGIN itself.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            # SQLite's advice for WAL: no fsync per commit, only at checkpoints. The database stays
            # consistent after any crash; a power cut may lose the last commits (the embedded default
            # is one machine; production runs PostgreSQL).
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # A writer takes the write lock at BEGIN, where it waits on the busy timeout; a deferred
            # transaction that read first and then writes fails at once with "database is locked".
            mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
            dbapi_conn = conn.connection.dbapi_connection
            if mode == "LEGACY":
                # pysqlite's own handling: reads autocommit, BEGIN before the first INSERT/UPDATE/DELETE.
                # Only for a long-lived session that reads between other connections' writes (tests).
                dbapi_conn.isolation_level = ""
                return
            dbapi_conn.isolation_level = None
            conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")

    return engine


_factory: sessionmaker[Session] | None = None


def reader_bind(engine: Engine) -> Engine:
    """The engine for a transaction that only reads: on SQLite it begins deferred (no write lock);
    elsewhere the same engine. Writers use the engine itself (BEGIN IMMEDIATE on SQLite)."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(sqlite_begin="DEFERRED")


def observer_bind(engine: Engine) -> Engine:
    """For a session kept open while other connections write (a test's session): on SQLite each read
    sees the latest commit and holds no lock (pysqlite's legacy mode); elsewhere the same engine."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(sqlite_begin="LEGACY")


def configure(engine: Engine) -> sessionmaker[Session]:
    """Set the process-wide session factory (the app and the worker call this once)."""
    global _factory
    _factory = sessionmaker(bind=engine, expire_on_commit=False)
    return _factory


def new_session(**kw) -> Session:
    """A fresh session for jobs and CLI work, from the configured factory (`kw`: e.g. bind=...)."""
    if _factory is None:
        raise RuntimeError("database not configured: call inspections.db.configure(engine) first")
    return _factory(**kw)


def import_models() -> None:
    """Import every model module so the metadata is complete (explicit list, no discovery)."""
    from inspections.accounts import models as _a  # noqa: F401
    from inspections.audit import models as _au  # noqa: F401
    from inspections.jobs import models as _j  # noqa: F401
    from inspections.org import models as _o  # noqa: F401
    from inspections.photos import models as _p  # noqa: F401
    from inspections.planning import models as _pl  # noqa: F401
    from inspections.scoring import models as _s  # noqa: F401
    from inspections.templates import models as _t  # noqa: F401
    from inspections.tickets import models as _ti  # noqa: F401
    from inspections.visits import models as _v  # noqa: F401
