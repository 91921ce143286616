"""Fixtures of the fault suite: an app wired to throwaway services that a test may stop and start."""
from __future__ import annotations

import uuid

import pytest

from tests.faults.stack import RedisServer, have_redis_server


@pytest.fixture
def redis_server():
    """A throwaway redis-server (no persistence) on a free port, always stopped afterwards."""
    if not have_redis_server():
        pytest.skip("needs the redis-server program (apt-get install redis-server) to stop and restart Redis")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def make_fault_app(app):
    """Build an app on the run's database with other settings (a throwaway Redis, S3 endpoint, ...)."""
    from inspections import db as domain_db
    from server import create_app
    built = []

    def make(**overrides):
        cfg = {k: app.config[k] for k in ("DATABASE_URL", "VAR_DIR", "STORAGE_URL", "SECRET_KEY",
                                          "ARGON2_TIME_COST", "ARGON2_MEMORY_KIB")}
        cfg.update({"TESTING": True, "KEY_PREFIX": f"f{uuid.uuid4().hex[:8]}-", "REDIS_URL": None})
        cfg.update(overrides)
        fapp = create_app(cfg)
        built.append(fapp)
        return fapp

    yield make
    for fapp in built:
        fapp.extensions["db_engine"].dispose()
    domain_db.configure(app.extensions["db_engine"])


def run_worker_burst(fapp) -> None:
    """Run every queued job of this app to completion, as a worker would."""
    from rq import SimpleWorker

    from server.extensions import QUEUE_NAMES, queue, redis_connection
    with fapp.app_context():
        SimpleWorker([queue(n) for n in QUEUE_NAMES], connection=redis_connection()).work(burst=True)
