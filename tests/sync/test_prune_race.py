"""The change-log prune and pushes at the same time: no merge base is lost.

A version's fields live in its change row until the prune keeps them as a revision and drops the row.
These tests commit the other side's work between any two statements of one side, on PostgreSQL (SQLite
runs one writer at a time: the other side's commit would wait for the whole transaction instead).
"""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import event, update

from inspections.db import new_session, utcnow
from sync.changelog import prune
from sync.models import ChangeLog
from sync.push import base_record, base_records
from tests.factories import make_world, token_for
from tests.sync.helpers import mutation, new_visit, push


@pytest.fixture
def pg(app):
    if app.extensions["db_engine"].dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite runs one writer at a time, so no commit can fall between two "
                    "statements of another transaction")
    return app.extensions["db_engine"]


def _answer_at_version(client, h, school_id, versions: int):
    """An answer updated to `versions`, each version's note `note vN`, its change rows 40 days old."""
    vid = new_visit(client, h, school_id)["id"]
    rid = str(uuid.uuid4())
    r = push(client, h, mutation("response", "create", id=rid, visit_id=vid, item_code="enrolment",
                                 value=100, note="note v1"))[0]
    assert r["status"] == "applied"
    for v in range(2, versions + 1):
        r = push(client, h, mutation("response", "update", id=rid, base_version=v - 1, note=f"note v{v}"))[0]
        assert r["status"] == "applied" and r["version"] == v
    return uuid.UUID(rid)


def _backdate(engine, rid) -> None:
    with new_session(bind=engine) as s:
        s.execute(update(ChangeLog).where(ChangeLog.entity_id == rid)
                  .values(changed_at=utcnow() - timedelta(days=40)))
        s.commit()


def _statements_of(engine, work) -> int:
    """How many statements `work(session)` runs (then rolled back)."""
    n = 0

    def count(*_a, **_k):
        nonlocal n
        n += 1
    with new_session(bind=engine) as s:
        conn = s.connection()
        event.listen(conn, "before_cursor_execute", count)
        work(s)
        event.remove(conn, "before_cursor_execute", count)
        s.rollback()
    return n


def _with_commit_before(engine, k: int, work, other) -> None:
    """Run `work(session)` and commit it; just before its statement number `k`, run `other()` (which
    commits on its own connection)."""
    seen = 0

    def hook(*_a, **_k):
        nonlocal seen
        if seen == k:
            other()
        seen += 1
    with new_session(bind=engine) as s:
        conn = s.connection()
        event.listen(conn, "before_cursor_execute", hook)
        try:
            work(s)
            s.commit()
        finally:
            event.remove(conn, "before_cursor_execute", hook)


def test_a_change_committed_while_the_prune_runs_loses_no_version(app, client, session, pg):
    """Version 2 is the latest change row when the prune starts; a push makes version 3 before any one
    of the prune's statements. Every version stays a merge base, and the device still on version 2 merges."""
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    steps = _statements_of(pg, lambda s: prune(s, older_than_days=30))
    assert steps >= 1
    for k in range(steps):
        rid = _answer_at_version(client, h, w.school_a1.id, 2)
        _backdate(pg, rid)

        def other():
            r = push(client, h, mutation("response", "update", id=str(rid), base_version=2, value=7),
                     device_id="other")[0]
            assert r["status"] == "applied" and r["version"] == 3

        _with_commit_before(pg, k, lambda s: prune(s, older_than_days=30), other)
        session.expire_all()
        for v in (1, 2):
            assert (base_record(session, "response", rid, v) or {}).get("note") == f"note v{v}", (k, v)
        m = push(client, h, mutation("response", "update", id=str(rid), base_version=2, note="device"))[0]
        assert m["status"] == "merged" and m["record"]["value"] == 7 and m["record"]["note"] == "device", k


def test_a_prune_committed_while_bases_are_read_hides_no_version(app, client, session, pg):
    """A push reads its merge bases in two statements; the prune commits before any one of them. Each
    version asked for is still found (in its change row or in the revision the prune kept)."""
    w = make_world(session)
    h = token_for(session, w.inspector_a1)

    def prune_now():
        with new_session(bind=pg) as s:
            assert prune(s, older_than_days=30) > 0
            s.commit()

    reads = {"base_records": lambda s, rid: base_records(s, {("response", rid, 1), ("response", rid, 2)}),
             "base_record": lambda s, rid: {("response", rid, 2): base_record(s, "response", rid, 2)}}
    for name, read in reads.items():
        for k in range(2):  # before the first read, and between the two
            rid = _answer_at_version(client, h, w.school_a1.id, 3)
            _backdate(pg, rid)
            found = {}
            _with_commit_before(pg, k, lambda s: found.update(read(s, rid)), prune_now)
            assert found and all((data or {}).get("note") == f"note v{key[2]}" for key, data in found.items()), \
                (name, k, found)
