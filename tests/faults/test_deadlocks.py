"""Deadlocks are retried inside the server, never answered as an outage (issue 13, input 6)."""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from server.errors import retryable_db_error
from tests.factories import make_world, token_for
from tests.faults.test_redis_outage import PUSH, mutation


def test_opposite_order_pushes_all_get_answers_not_503(app, client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    ids = []
    for _ in range(2):
        vid = str(uuid.uuid4())
        r = client.post(PUSH, json={"device_id": "setup", "mutations": [
            mutation("visit", "create", id=vid, school_id=str(w.school_a1.id))]}, headers=h)
        assert r.status_code == 200, r.json
        ids.append(vid)

    def push(n: int):
        order = ids if n % 2 == 0 else ids[::-1]
        versions = {v: client.get(f"/api/v1/visits/{v}", headers=h).json["version"] for v in order}
        muts = [mutation("visit", "update", id=v, base_version=versions[v], notes=f"push {n} on {v[:4]}")
                for v in order]
        r = client.post(PUSH, json={"device_id": f"dev-{n % 2}", "mutations": muts}, headers=h)
        return r.status_code, r.json

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(push, range(40)))
    bad = [a for a in answers if a[0] != 200]
    assert bad == [], bad[:3]
    for _, body in answers:
        assert all(r["status"] in ("applied", "merged", "conflict") for r in body["results"]), body


def test_a_real_deadlock_is_classified_retryable(app):
    engine = app.extensions["db_engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no deadlock to provoke")
    with engine.begin() as c:
        c.execute(text("CREATE TABLE IF NOT EXISTS fault_probe (id int PRIMARY KEY, v int)"))
        c.execute(text("INSERT INTO fault_probe VALUES (1, 0), (2, 0) ON CONFLICT DO NOTHING"))
    barrier, errors = threading.Barrier(2), []

    def txn(first: int, second: int):
        try:
            with engine.begin() as c:
                c.execute(text("UPDATE fault_probe SET v = v + 1 WHERE id = :i"), {"i": first})
                barrier.wait(10)
                c.execute(text("UPDATE fault_probe SET v = v + 1 WHERE id = :i"), {"i": second})
        except Exception as exc:  # noqa: BLE001 - one of the two is the deadlock victim
            errors.append(exc)

    try:
        threads = [threading.Thread(target=txn, args=(1, 2)), threading.Thread(target=txn, args=(2, 1))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(errors) == 1 and retryable_db_error(errors[0]), errors
    finally:
        with engine.begin() as c:
            c.execute(text("DROP TABLE fault_probe"))
