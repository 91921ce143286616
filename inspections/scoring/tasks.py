"""RQ jobs of the scoring slice: they take ids and open their own sessions."""
from __future__ import annotations

import logging
import uuid

from sqlalchemy import event, select

from inspections.db import utcnow
from inspections.jobs.models import JobRecord
from inspections.jobs.service import tracked
from inspections.scoring import service

log = logging.getLogger(__name__)
BATCH = 200  # visits one job scores together at most (its own and other queued score jobs)


@tracked("score_visit")
def score_visit(session, *, visit_id: str) -> dict:
    """Score a submitted visit; returns its verdict per section.

    Other visits waiting to be scored are scored in the same transaction (up to BATCH in all): their
    job records, still `queued`, are claimed with FOR UPDATE SKIP LOCKED (a record another worker holds
    is left to it), marked `finished` in the same commit as their scores, and their RQ jobs taken off
    the queue after the commit (one that a worker already picked finds its record finished and returns).
    If anything in the batch fails, it is rolled back to a savepoint and this visit is scored alone:
    the others stay queued for their own jobs, which record their own failures and retries.
    """
    others = _claim(session, limit=BATCH - 1)
    if others:
        try:
            with session.begin_nested():
                scored = service.score_visits(session, [visit_id] + [r.args["visit_id"] for r in others])
                for rec in others:
                    rows = scored[uuid.UUID(rec.args["visit_id"])]
                    rec.attempts = (rec.attempts or 0) + 1
                    rec.status, rec.error, rec.result = "finished", None, _result(rec.args["visit_id"], rows)
                    rec.started_at = rec.finished_at = utcnow()
            _dequeue_after_commit(session, [rec.id for rec in others])
            return _result(visit_id, scored[uuid.UUID(visit_id)])
        except Exception:  # noqa: BLE001 - the batch is an optimisation: fall back to this visit alone
            log.warning("scoring %d visits together failed; scoring visit %s alone", len(others) + 1, visit_id,
                        exc_info=True)
    return _result(visit_id, service.score_visit(session, uuid.UUID(visit_id)))


def _result(visit_id: str, rows) -> dict:
    return {"visit_id": str(visit_id), "verdicts": {r.section or r.level: r.verdict for r in rows}}


def _claim(session, *, limit: int) -> list[JobRecord]:
    """Queued score jobs of submitted visits, locked for this transaction (skipping locked ones)."""
    from inspections.visits.enums import VisitStatus
    from inspections.visits.models import Visit
    if limit <= 0:
        return []
    recs = list(session.scalars(select(JobRecord).where(JobRecord.kind == "score_visit", JobRecord.status == "queued")
                                .order_by(JobRecord.enqueued_at).limit(limit)
                                .with_for_update(skip_locked=True)))
    ids = {}
    for rec in recs:
        try:
            ids[rec.id] = uuid.UUID(str((rec.args or {}).get("visit_id")))
        except ValueError:
            continue  # left to its own job, which records why it fails
    if not ids:
        return []
    submitted = set(session.scalars(select(Visit.id).where(Visit.id.in_(list(ids.values())),
                                                           Visit.status == VisitStatus.submitted)))
    return [rec for rec in recs if ids.get(rec.id) in submitted]


def _dequeue_after_commit(session, record_ids: list[str]) -> None:
    """Once this transaction commits, take the claimed records' RQ jobs off the queue (best effort)."""
    from rq import get_current_job
    job = get_current_job()
    if job is None or job.worker_name == "sync" or not job.args:
        return  # called directly, or in-process (the embedded mode runs each job at its enqueue)
    prefix = job.id[:len(job.id) - len(str(job.args[0]))]
    conn, queue_key = job.connection, "rq:queue:" + job.origin

    def dequeue(_session):
        try:
            rq_ids = [prefix + rid for rid in record_ids]
            with conn.pipeline(transaction=False) as p:
                for rq_id in rq_ids:
                    p.lrem(queue_key, 1, rq_id)
                removed = p.execute()
            with conn.pipeline(transaction=False) as p:
                for rq_id, n in zip(rq_ids, removed):
                    if n:  # still waiting in the queue: nobody runs it; its job hash goes too
                        p.delete("rq:job:" + rq_id)
                p.execute()
        except Exception:  # noqa: BLE001 - the jobs then run and find their records finished
            log.warning("could not take %d scored visits' jobs off the queue", len(record_ids), exc_info=True)

    event.listen(session, "after_commit", dequeue, once=True)


@tracked("score_county")
def score_county(session, *, county_id: str, level: str, county_facts: dict | None = None) -> dict:
    """Judge a county at a level; returns the verdict and the stored score id."""
    row = service.score_county(session, uuid.UUID(county_id), level, county_facts)
    return {"county_score_id": str(row.id), "verdict": row.verdict}
