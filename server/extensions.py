"""Database, Redis, RQ queues and blob storage; built lazily, never at import (rate limits: server/ratelimit.py)."""
from __future__ import annotations

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session

from inspections import db as domain_db
from inspections import storage as blob_storage

QUEUE_NAMES = ("scoring", "photos", "default", "periodic")


def init_app(app: Flask) -> None:
    """Create the engine and attach per-request session handling."""
    engine = domain_db.make_engine(app.config["DATABASE_URL"])
    app.extensions["db_engine"] = engine
    # Requests use the app's own factory; jobs (which have no app) use the process-wide one.
    app.extensions["db_sessionmaker"] = domain_db.configure(engine)

    @app.teardown_appcontext
    def _close_session(exc):
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            # Anything not committed explicitly by the view is discarded: no partial writes.
            session.rollback()
            session.close()


def session() -> Session:
    """The request's database session."""
    if "db_session" not in g:
        factory = current_app.extensions["db_sessionmaker"]
        if request.method in ("GET", "HEAD", "OPTIONS"):
            # A read begins deferred on SQLite (no write lock); anything else begins as a writer.
            g.db_session = factory(bind=domain_db.reader_bind(current_app.extensions["db_engine"]))
        else:
            g.db_session = factory()
    return g.db_session


def redis_connection(app: Flask | None = None):
    """Redis for RQ: the real server when REDIS_URL is set, an in-process one otherwise."""
    app = app or current_app
    conn = app.extensions.get("redis")
    if conn is None:
        url = app.config.get("REDIS_URL")
        if url:
            from redis import Redis
            conn = Redis.from_url(url)
        else:
            import fakeredis
            conn = fakeredis.FakeRedis()
        app.extensions["redis"] = conn
    return conn


def queue(name: str, app: Flask | None = None):
    """An RQ queue; without REDIS_URL jobs run in-process at enqueue (same RQ code path)."""
    from rq import Queue
    app = app or current_app
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    # KEY_PREFIX lets several deployments (or test runs) share one Redis without sharing queues.
    return Queue(app.config.get("KEY_PREFIX", "") + name, connection=redis_connection(app),
                 is_async=bool(app.config.get("REDIS_URL")),
                 default_timeout=600)


def storage(app: Flask | None = None) -> blob_storage.BlobStorage:
    """The configured blob storage."""
    app = app or current_app
    st = app.extensions.get("storage")
    if st is None:
        st = blob_storage.from_url(app.config["STORAGE_URL"], endpoint_url=app.config.get("S3_ENDPOINT_URL"),
                                   region=app.config.get("S3_REGION"))
        app.extensions["storage"] = st
    return st
