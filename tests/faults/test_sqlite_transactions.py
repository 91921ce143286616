"""SQLite (the embedded default) never half-writes and queues its writers (issue 13, inputs 4 and 5)."""
from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from inspections.db import make_engine, reader_bind


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'sp.db'}")
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        c.exec_driver_sql("INSERT INTO t VALUES (1, 'old')")
    yield engine
    engine.dispose()


def _value(engine) -> str:
    with engine.connect() as c:
        return c.exec_driver_sql("SELECT v FROM t WHERE id = 1").scalar()


def test_released_savepoint_is_rolled_back_with_its_transaction_on_sqlite(sqlite_engine):
    # Input 4, minimal: read, begin_nested(), UPDATE, commit the savepoint, roll back the session.
    s = Session(sqlite_engine)
    assert s.execute(text("SELECT v FROM t WHERE id = 1")).scalar() == "old"
    sp = s.begin_nested()
    s.execute(text("UPDATE t SET v = 'new' WHERE id = 1"))
    sp.commit()
    s.rollback()
    s.close()
    assert _value(sqlite_engine) == "old"


def test_savepoint_rollback_keeps_the_outer_writes_on_sqlite(sqlite_engine):
    s = Session(sqlite_engine)
    s.execute(text("UPDATE t SET v = 'outer' WHERE id = 1"))
    with pytest.raises(RuntimeError):
        with s.begin_nested():
            s.execute(text("INSERT INTO t VALUES (2, 'inner')"))
            raise RuntimeError("a mutation fails")
    s.commit()
    with sqlite_engine.connect() as c:
        assert c.exec_driver_sql("SELECT id, v FROM t ORDER BY id").all() == [(1, "outer")]


def test_released_savepoint_is_rolled_back_on_the_runs_database(app):
    # The same input on whatever this run uses (PostgreSQL with real services), in a session as the
    # app's requests and jobs get them.
    from inspections.db import new_session
    from inspections.jobs.models import JobRecord
    with new_session() as session:
        session.add(JobRecord(id="sp-probe", kind="probe", args={}, status="queued", attempts=0))
        session.commit()
        assert session.get(JobRecord, "sp-probe").status == "queued"
        sp = session.begin_nested()
        session.get(JobRecord, "sp-probe").status = "finished"
        session.flush()
        sp.commit()
        session.rollback()
    with new_session() as session:
        assert session.get(JobRecord, "sp-probe").status == "queued"


def test_writers_wait_for_the_lock_instead_of_failing(sqlite_engine):
    # Input 5's cause: a transaction that read first and then writes. As a deferred transaction it
    # fails at once ("database is locked") while another writer holds the lock; begun as a writer
    # (BEGIN IMMEDIATE) it waits on the busy timeout and every one of them commits.
    errors, done = [], []

    def writer(n: int):
        try:
            with Session(sqlite_engine) as s:
                s.execute(text("SELECT count(*) FROM t")).scalar()
                s.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": f"w{n}"})
                threading.Event().wait(0.02)  # hold the write lock a little, as a push does
                s.commit()
                done.append(n)
        except Exception as exc:  # noqa: BLE001 - the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(done) == 16
    with sqlite_engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM t").scalar() == 17


def test_a_reader_transaction_takes_no_write_lock(sqlite_engine):
    # GET requests begin deferred: a long read never holds up a writer.
    with Session(bind=reader_bind(sqlite_engine)) as reader:
        assert reader.execute(text("SELECT v FROM t WHERE id = 1")).scalar() == "old"
        with Session(sqlite_engine) as w:
            w.execute(text("UPDATE t SET v = :v WHERE id = 1"), {"v": uuid.uuid4().hex})
            w.commit()
        # The reader keeps its snapshot.
        assert reader.execute(text("SELECT v FROM t WHERE id = 1")).scalar() == "old"
