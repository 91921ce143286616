"""PostgreSQL connections dropped under the app (a database restart or failover, issue 13): the next
requests are answered normally, and what they commit is kept."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from inspections.visits.models import Visit
from tests.factories import make_world, token_for
from tests.faults.test_redis_outage import PUSH, mutation


def test_requests_after_every_connection_was_dropped_succeed(app, client, session):
    engine = app.extensions["db_engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite has no server connection to drop")
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    for _ in range(3):  # connections in the pool, then all of them cut by the server
        assert client.get("/api/v1/visits", headers=h).status_code == 200
    # From a connection of its own, outside the app's pool: every connection the app holds is cut.
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool
    killer = create_engine(engine.url, poolclass=NullPool)
    with killer.connect() as c:
        killed = c.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    killer.dispose()
    assert killed >= 1
    vid = str(uuid.uuid4())
    r = client.post(PUSH, json={"device_id": "dev-1", "mutations": [
        mutation("visit", "create", id=vid, school_id=str(w.school_a1.id))]}, headers=h)
    assert r.status_code == 200 and r.json["results"][0]["status"] == "applied", r.json
    assert client.get(f"/api/v1/visits/{vid}", headers=h).status_code == 200
    session.rollback()
    assert session.get(Visit, uuid.UUID(vid)) is not None
