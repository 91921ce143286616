"""Fixtures: one migrated database per run (PostgreSQL when present), a transaction per test."""
from __future__ import annotations

import os
import uuid

import pytest

from tests import services

BACKEND: dict = {}


def pytest_configure(config):
    real = services.real_services_available()
    if os.environ.get("CI", "").lower() == "true" and not real:
        raise pytest.UsageError("CI=true: PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are required "
                                "but do not answer")
    BACKEND["real"] = real


def pytest_collection_modifyitems(config, items):
    # `make test` runs the suite on two processes (pytest-xdist, --dist loadgroup), each with its own
    # database, key prefix and servers: one browser test at a time (each drives a Chromium and a server)
    # and one fault test at a time (each starts and kills services of its own, on timers), each kind on
    # one process while the other runs the rest.
    if config.pluginmanager.hasplugin("xdist"):
        for item in items:
            kind = item.nodeid.split("/")[1] if item.nodeid.startswith("tests/") else ""
            if kind in ("browser", "faults"):
                item.add_marker(pytest.mark.xdist_group(kind))
    # .ci/run runs the suite twice, on the real services and then embedded: what no backend changes (the
    # field app's own unit and model tests, page layout) ran in the first pass already.
    if os.environ.get("CI_EMBEDDED_PASS") == "1":
        again = pytest.mark.skip(reason="the same on every backend: ran in this CI run's first pass")
        for item in items:
            if item.get_closest_marker("once"):
                item.add_marker(again)


def pytest_report_header(config):
    from tests.browser import chromium_status
    lines = ["services: PostgreSQL and Redis (real), throwaway database per run" if BACKEND.get("real")
             else "services: PostgreSQL/Redis not answering -> SQLite file and in-process queue"]
    lines.append(f"browser tests: {chromium_status()}")
    return lines


def pytest_terminal_summary(terminalreporter):
    from tests.browser import CHROMIUM, chromium_missing
    if chromium_missing():
        terminalreporter.write_line(f"browser tests SKIPPED: {CHROMIUM} not found "
                                    "(apt-get install chromium chromium-driver; CI=true requires it)", yellow=True)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if BACKEND["real"]:
        url = services.create_pg_database()
        yield url
        services.drop_pg_database(url)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def redis_url():
    if not BACKEND["real"]:
        return None
    return services.TEST_REDIS_URL


@pytest.fixture(scope="session")
def base_app(database_url, redis_url, tmp_path_factory):
    from server import create_app
    from server.cli import upgrade_database
    var = tmp_path_factory.mktemp("var")
    app = create_app({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "VAR_DIR": str(var),
                      "STORAGE_URL": str(var / "blobs"), "TESTING": True, "SECRET_KEY": "test-secret",
                      # Cheap hashes: tests create many accounts; the cost itself is not under test.
                      "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 1024,
                      # Other test runs on this machine share the Redis database: keep to our own keys.
                      "KEY_PREFIX": f"t{uuid.uuid4().hex[:10]}-"})
    with app.app_context():
        upgrade_database(app)
    return app


def _clean(engine) -> None:
    """Empty every table (the schema stays): real commits in tests, a clean slate after each."""
    from inspections.db import Base
    tables = [t.name for t in Base.metadata.sorted_tables]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} CASCADE")
        else:
            for name in reversed(tables):
                conn.exec_driver_sql(f"DELETE FROM {name}")
        # As a fresh migration leaves it: the dashboard's (empty) counts are built.
        from inspections.tickets.stats import rebuild
        rebuild(conn)


@pytest.fixture
def app(base_app):
    """The app; whatever the test committed is wiped afterwards."""
    from inspections import db as domain_db
    from server.ratelimit import reset as reset_rate_limits
    # Another test may have built its own app (and re-pointed the jobs' session factory).
    domain_db.configure(base_app.extensions["db_engine"])
    reset_rate_limits(base_app)
    try:
        yield base_app
    finally:
        _clean(base_app.extensions["db_engine"])
        if base_app.config.get("REDIS_URL"):
            # Queued jobs of this test must not reach the next one (only this run's queues).
            from server.extensions import QUEUE_NAMES, queue
            with base_app.app_context():
                for name in QUEUE_NAMES:
                    queue(name).empty()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    # No app context here: a pushed one would be shared by every test-client request (and its `g`).
    from inspections.db import new_session, observer_bind
    # Held open across the app's requests: on SQLite its reads must neither lock nor go stale.
    s = new_session(bind=observer_bind(app.extensions["db_engine"]))
    yield s
    s.close()


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 HTTP endpoint (moto's server) on 127.0.0.1, shared by the whole run."""
    from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    old = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = "testing", "testing"
    yield f"http://{host}:{port}"
    server.stop()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
