"""The pull cursor never passes a change whose transaction commits late (PostgreSQL concurrency)."""
from __future__ import annotations

import random
import threading
import time

import pytest
from sqlalchemy import func, select

from inspections.accounts.scope import Principal
from inspections.db import new_session
from inspections.org.models import School
from sync.models import ChangeLog
from sync.pull import pull
from tests.factories import make_world

SECRET = "test-secret"


@pytest.fixture(autouse=True)
def _postgresql_only(base_app):
    # SQLite holds one writer for a whole transaction, so the interleavings below cannot happen there.
    if base_app.extensions["db_engine"].dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (concurrent writers)")


def _admin(w) -> Principal:
    return Principal(user_id=w.admin.id, role=w.admin.role)


def _pull_until_done(p, cursor):
    seen = []
    with new_session() as s:
        while True:
            page = pull(s, p, cursor=cursor, limit=200, secret=SECRET, max_age_days=30)
            seen += page["changes"]
            cursor = page["cursor"]
            if not page["has_more"]:
                return seen, cursor


def _rename(session, school_id, name):
    school = session.get(School, school_id)
    school.name = name
    school.version += 1
    session.flush()


def test_lower_sequence_committing_late_is_not_skipped(app, session):
    w = make_world(session)
    p = _admin(w)
    _, cursor = _pull_until_done(p, None)

    slow, fast = new_session(), new_session()
    try:
        _rename(slow, w.school_a1.id, "slow")          # takes the lower seq, stays open
        _rename(fast, w.school_b1.id, "fast")          # takes a higher seq and commits first
        fast.commit()
        changes, cursor = _pull_until_done(p, cursor)
        assert [c["data"]["name"] for c in changes] == ["fast"]
        slow.commit()
    finally:
        slow.close()
        fast.close()
    with new_session() as s:
        seqs = dict(s.execute(select(ChangeLog.entity_id, ChangeLog.seq)
                              .where(ChangeLog.entity_id.in_([w.school_a1.id, w.school_b1.id]))
                              .order_by(ChangeLog.seq)).all())
    assert seqs[w.school_a1.id] < seqs[w.school_b1.id]  # the scenario really is "lower seq commits later"
    changes, _ = _pull_until_done(p, cursor)
    assert [c["data"]["name"] for c in changes] == ["slow"]


def test_a_naive_sequence_cursor_would_have_missed_it(app, session):
    """Control: the same interleaving read by `seq > last seen` loses the late commit."""
    w = make_world(session)
    slow, fast = new_session(), new_session()
    try:
        _rename(slow, w.school_a1.id, "slow")
        _rename(fast, w.school_b1.id, "fast")
        fast.commit()
        with new_session() as s:
            last_seen = s.scalar(select(func.max(ChangeLog.seq)))
        slow.commit()
    finally:
        slow.close()
        fast.close()
    with new_session() as s:
        late = s.scalars(select(ChangeLog.data).where(ChangeLog.seq > last_seen)).all()
        slow_row = s.scalar(select(ChangeLog.seq).where(ChangeLog.entity_id == w.school_a1.id))
    assert late == [] and slow_row < last_seen


def test_concurrent_writers_and_a_reader_miss_nothing(app, session):
    w = make_world(session)
    p = _admin(w)
    schools = [w.school_a1.id, w.school_a1b.id, w.school_a2.id, w.school_b1.id]
    _, start = _pull_until_done(p, None)
    written: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()
    errors: list = []

    def writer(n: int):
        rnd = random.Random(n)
        try:
            for i in range(25):
                with new_session() as s:
                    name = f"w{n}-{i}"
                    school = s.get(School, schools[n % len(schools)])
                    school.name, school.version = name, school.version + 1
                    s.flush()
                    time.sleep(rnd.random() * 0.01)  # hold the lower seq open for a while
                    s.commit()
                with lock:
                    written.add(name)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    seen: list[str] = []

    def reader():
        cursor = start
        while not stop.is_set():
            changes, cursor = _pull_until_done(p, cursor)
            seen.extend(c["data"]["name"] for c in changes if c["entity"] == "school")
        changes, _ = _pull_until_done(p, cursor)
        seen.extend(c["data"]["name"] for c in changes if c["entity"] == "school")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    rt = threading.Thread(target=reader)
    rt.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    rt.join()
    assert not errors
    assert len(written) == 200
    assert set(seen) == written           # nothing missed by the concurrent reader
    assert len(seen) == len(set(seen))    # and nothing delivered twice
