"""The change log is pruned by a periodic job (`flask periodic`), past the cursor retention only."""
from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update

from inspections.db import utcnow
from inspections.jobs.models import JobRecord
from sync.models import ChangeLog, Mutation
from tests.factories import make_world, run_jobs, token_for
from tests.sync.helpers import mutation, new_visit, push


def _visit_changes(session, vid):
    session.expire_all()
    return sorted(session.scalars(select(ChangeLog.version).where(ChangeLog.entity_id == vid)))


def test_periodic_prune_drops_superseded_changes_older_than_the_retention(app, runner, client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    old = new_visit(client, h, w.school_a1.id)
    push(client, h, mutation("visit", "update", id=old["id"], base_version=1, notes="later"))
    recent = new_visit(client, h, w.school_a1.id)
    push(client, h, mutation("visit", "update", id=recent["id"], base_version=1, notes="later"))
    old_id, recent_id = uuid.UUID(old["id"]), uuid.UUID(recent["id"])
    days = app.config["SYNC_CURSOR_RETENTION_DAYS"]
    session.execute(update(ChangeLog).where(ChangeLog.entity_id == old_id)
                    .values(changed_at=utcnow() - timedelta(days=days + 1)))
    session.commit()
    assert _visit_changes(session, old_id) == [1, 2] and _visit_changes(session, recent_id) == [1, 2]

    r = runner.invoke(args=["periodic"])
    assert r.exit_code == 0 and "sync-prune-" in r.output, r.output
    run_jobs(app)
    # Older than the retention and superseded: gone; the latest change and recent ones stay.
    assert _visit_changes(session, old_id) == [2]
    assert _visit_changes(session, recent_id) == [1, 2]
    rec = session.scalar(select(JobRecord).where(JobRecord.id.like("sync-prune-%")))
    assert rec.status == "finished" and rec.result == {"pruned": 1, "results_pruned": 0}


def test_push_results_are_kept_for_their_retention_then_pruned(app, runner, client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    old = mutation("visit", "create", school_id=str(w.school_a1.id))
    recent = mutation("visit", "create", school_id=str(w.school_a1.id))
    push(client, h, old)
    push(client, h, recent)
    days = app.config["SYNC_MUTATION_RETENTION_DAYS"]
    session.execute(update(Mutation).where(Mutation.mutation_id == old["mutation_id"])
                    .values(received_at=utcnow() - timedelta(days=days + 1)))
    session.commit()
    assert runner.invoke(args=["periodic"]).exit_code == 0
    run_jobs(app)
    session.expire_all()
    assert set(session.scalars(select(Mutation.mutation_id))) == {recent["mutation_id"]}
    rec = session.scalar(select(JobRecord).where(JobRecord.id.like("sync-prune-%")))
    assert rec.result["results_pruned"] == 1
    # A recent retry is still answered from its stored result; a retry past the retention writes
    # nothing twice either: its visit id is taken.
    (again,) = push(client, h, recent)
    assert again["status"] == "duplicate"
    (late,) = push(client, h, old)
    assert late["status"] == "rejected" and "already used" in late["reason"]


def test_a_deleted_visits_tombstone_outlives_the_retention_so_its_id_is_never_reused(app, runner, client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    gone = new_visit(client, h, w.school_a1.id)
    (res,) = push(client, h, mutation("visit", "delete", id=gone["id"], base_version=1))
    assert res["status"] == "applied"
    long_ago = utcnow() - timedelta(days=max(app.config["SYNC_CURSOR_RETENTION_DAYS"],
                                             app.config["SYNC_MUTATION_RETENTION_DAYS"]) + 1)
    session.execute(update(ChangeLog).where(ChangeLog.entity_id == uuid.UUID(gone["id"])).values(changed_at=long_ago))
    session.execute(update(Mutation).values(received_at=long_ago))
    session.commit()
    assert runner.invoke(args=["periodic"]).exit_code == 0
    run_jobs(app)
    session.expire_all()
    left = session.execute(select(ChangeLog.op).where(ChangeLog.entity_id == uuid.UUID(gone["id"]))).scalars().all()
    assert left == ["delete"]  # the create is pruned, its tombstone is left
    (again,) = push(client, h, mutation("visit", "create", id=gone["id"], school_id=str(w.school_a1.id)))
    assert again["status"] == "rejected" and "already used" in again["reason"]
