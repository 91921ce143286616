"""The transactional outbox: an effect of a change (score this visit, process this photo, ...) is a
`job_records` row written in the change's own transaction.

Nothing here talks to Redis. After the transaction commits, a relay (`server.jobs`, listening on the
session's after_commit) hands each new effect to RQ; if Redis is down at that moment the row simply
stays `queued`, and the sweeper (`server.jobs.sweep`, run by every worker and by `flask jobs sweep`)
enqueues it again until a job exists and finishes. A rolled-back change takes its effects with it.
"""
from __future__ import annotations

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from inspections.db import utcnow
from inspections.jobs.models import JobRecord

PENDING = "outbox_pending"  # session.info key: effects written in the current transaction
ABSENT = "outbox_absent"  # session.info key: job ids known to have no record in this transaction


def add(session: Session, kind: str, *, job_id: str, **args) -> JobRecord:
    """Record an effect to run once after this transaction commits; returns its job record.

    `job_id` is deterministic (e.g. `photo-<id>`): asking again for a queued, running or finished
    job is a no-op; a job that failed for good starts over. `args` must be JSON values (they are what
    the job is called with, again, by the sweeper). Nothing happens if the transaction rolls back.
    """
    known = session.info.get(PENDING, {}).get(job_id)
    if known is not None and inspect(known[0]).session is session:
        rec = known[0]  # asked for twice in this transaction (not yet flushed: not in the identity map)
    elif job_id in session.info.get(ABSENT, ()):
        rec = None  # looked up with the batch's others (`prefetch`)
    else:
        with session.no_autoflush:  # called mid-change (e.g. inside visits.transition): flush nothing early
            rec = session.get(JobRecord, job_id)
    if rec is not None and rec.status != "failed":
        return rec
    if rec is None:
        rec = JobRecord(id=job_id, kind=kind, args=dict(args), status="queued", attempts=0, enqueued_at=utcnow())
        session.add(rec)
    else:  # a failed job asked for again starts over
        rec.status, rec.error, rec.attempts, rec.enqueued_at = "queued", None, 0, utcnow()
        rec.started_at = rec.finished_at = None
        rec.args = dict(args)
    session.info.setdefault(PENDING, {})[job_id] = (rec, kind, dict(args))
    return rec


def prefetch(session: Session, job_ids) -> None:
    """Look up the job records a batch of changes may `add`, in one query instead of one each: those
    found stay in the session's identity map, those not found are remembered as absent for the rest of
    the transaction (a concurrent insert of the same job id fails this one's flush on the key)."""
    job_ids = [j for j in job_ids if j not in session.info.get(ABSENT, ())]
    if not job_ids:
        return
    with session.no_autoflush:
        found = {r.id for r in session.scalars(select(JobRecord).where(JobRecord.id.in_(job_ids)))}
    session.info.setdefault(ABSENT, set()).update(j for j in job_ids if j not in found)


def take_pending(session: Session) -> dict[str, tuple[str, dict]]:
    """The effects of the transaction that just committed ({job_id: (kind, args)}), forgotten here.

    An effect added inside a SAVEPOINT that was rolled back is left out (its row was never kept).
    """
    session.info.pop(ABSENT, None)
    out = {}
    for job_id, (rec, kind, args) in (session.info.pop(PENDING, None) or {}).items():
        state = inspect(rec)
        if state.session is session and state.persistent:
            out[job_id] = (kind, args)
    return out


def forget_pending(session: Session) -> None:
    """The transaction rolled back: its effects never happened."""
    session.info.pop(PENDING, None)
    session.info.pop(ABSENT, None)
