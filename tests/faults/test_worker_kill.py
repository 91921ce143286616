"""A worker killed with SIGKILL mid-job, with its work horse and scheduler (issue 13, input 3): a
worker started again at once clears the dead scheduler's lock and runs the abandoned job within
seconds (RQ alone waits for its 10-minute maintenance), exactly once."""
from __future__ import annotations

import sqlite3
import time
import uuid

import pytest
from sqlalchemy import func, select, text

from inspections.jobs.models import JobRecord
from inspections.scoring.models import VisitScore
from tests.factories import make_world, token_for
from tests.faults.stack import Worker, app_env, wait_for
from tests.faults.test_redis_outage import PUSH, push_visit_and_submit

pytestmark = pytest.mark.slow


class DatabaseWriteLock:
    """Hold up every write to visit scores: the scoring job starts, then waits here (mid-job)."""

    def __init__(self, engine):
        self.engine, self.conn = engine, None

    def __enter__(self):
        if self.engine.dialect.name == "postgresql":
            self.conn = self.engine.connect()
            self.conn.execute(text("LOCK TABLE visit_scores IN EXCLUSIVE MODE"))
        else:
            self.conn = sqlite3.connect(self.engine.url.database, isolation_level=None)
            self.conn.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *exc):
        if self.engine.dialect.name == "postgresql":
            self.conn.rollback()
        else:
            self.conn.execute("ROLLBACK")
        self.conn.close()


def test_killed_worker_mid_job_is_recovered_promptly_and_once(make_fault_app, redis_server, session, tmp_path):
    from rq.job import Job

    from server.jobs import rq_job_id
    fapp = make_fault_app(REDIS_URL=redis_server.url)
    client = fapp.test_client()
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    vid, submit = push_visit_and_submit(client, h, w.school_a1.id)
    assert client.post(PUSH, json=submit, headers=h).status_code == 200
    job_id = f"score-visit-{vid}"
    env = app_env(DATABASE_URL=fapp.config["DATABASE_URL"], REDIS_URL=redis_server.url,
                  KEY_PREFIX=fapp.config["KEY_PREFIX"], VAR_DIR=fapp.config["VAR_DIR"],
                  STORAGE_URL=fapp.config["STORAGE_URL"], SECRET_KEY=fapp.config["SECRET_KEY"])
    from server.extensions import redis_connection
    conn = redis_connection(fapp)

    def rq_status():
        with fapp.app_context():
            try:
                return Job.fetch(rq_job_id(job_id, fapp), connection=conn).get_status()
            except Exception:  # noqa: BLE001 - not there (yet/any more)
                return None

    first = Worker(env, tmp_path / "worker1.log")
    second = Worker(env, tmp_path / "worker2.log")
    try:
        with DatabaseWriteLock(fapp.extensions["db_engine"]):
            first.start()
            wait_for(lambda: rq_status() == "started", 30, "the first worker to start the job")
            time.sleep(1.0)  # the horse is inside the job, waiting on the lock
            first.kill()
        session.expire_all()
        assert session.get(JobRecord, job_id).status != "finished"
        assert session.scalar(select(func.count()).select_from(VisitScore)
                              .where(VisitScore.visit_id == uuid.UUID(vid))) == 0
        prefix = fapp.config["KEY_PREFIX"]
        assert conn.exists(f"rq:scheduler-lock:{prefix}scoring"), "the dead scheduler's lock is left behind"

        restarted = time.monotonic()
        second.start()

        def finished():
            session.expire_all()
            rec = session.get(JobRecord, job_id)
            return rec is not None and rec.status == "finished"
        wait_for(finished, 45, "the abandoned job to finish after the restart", interval=0.5)
        took = time.monotonic() - restarted
    finally:
        first.stop()
        second.stop()
    log = (tmp_path / "worker2.log").read_text()
    assert "cleared a stale scheduler lock" in log, log[-2000:]
    assert took < 45
    rec = session.get(JobRecord, job_id)
    assert rec.attempts == 2 or (rec.attempts == 1 and fapp.extensions["db_engine"].dialect.name == "sqlite")
    assert session.scalar(select(func.count()).select_from(VisitScore)
                          .where(VisitScore.visit_id == uuid.UUID(vid))) == 1
