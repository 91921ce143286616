"""Recording job progress; RQ does the running, these rows make the state visible and durable."""
from __future__ import annotations

import functools
import logging
import traceback

from sqlalchemy.orm import Session

from inspections.db import new_session, utcnow
from inspections.jobs.models import JobRecord

log = logging.getLogger(__name__)


def record_enqueued(session: Session, *, job_id: str, kind: str, args: dict) -> tuple[JobRecord, bool]:
    """Create the record for a job about to be enqueued; (record, False) when it already exists."""
    rec = session.get(JobRecord, job_id)
    if rec is not None and rec.status != "failed":
        return rec, False
    if rec is None:
        rec = JobRecord(id=job_id, kind=kind, args=args)
        session.add(rec)
    else:  # a failed job asked for again starts over
        rec.status, rec.error, rec.attempts, rec.enqueued_at = "queued", None, 0, utcnow()
    session.flush()
    return rec, True


def tracked(kind: str):
    """Decorate a job body `fn(session, **args) -> dict`: status, attempts and errors are recorded.

    The body runs in its own transaction; a failure is recorded (with its reason) in another, then
    re-raised so RQ's retry policy applies. The wrapped function is what RQ imports by name.
    """

    def deco(fn):
        @functools.wraps(fn)
        def run(job_id: str, **args):
            with new_session() as s:
                rec = s.get(JobRecord, job_id) or JobRecord(id=job_id, kind=kind, args=_jsonable(args))
                s.add(rec)
                rec.status, rec.started_at, rec.attempts = "started", utcnow(), (rec.attempts or 0) + 1
                s.commit()
            try:
                with new_session() as s:
                    result = fn(s, **args)
                    s.commit()
            except Exception as exc:
                log.exception("job %s failed", job_id)
                with new_session() as s:
                    rec = s.get(JobRecord, job_id)
                    rec.status = "retrying" if _will_retry() else "failed"
                    rec.error = f"{type(exc).__name__}: {exc}"[:2000]
                    rec.result = {"traceback": traceback.format_exc(limit=5)[-4000:]}
                    rec.finished_at = utcnow()
                    s.commit()
                raise
            with new_session() as s:
                rec = s.get(JobRecord, job_id)
                rec.status, rec.error, rec.result, rec.finished_at = "finished", None, result, utcnow()
                s.commit()
            return result

        run.kind = kind
        return run

    return deco


def _will_retry() -> bool:
    """Whether RQ will run the current job again (never in the embedded, synchronous mode)."""
    from rq import get_current_job
    job = get_current_job()
    return bool(job and job.worker_name != "sync" and (job.retries_left or 0) > 0)


def _jsonable(args: dict) -> dict:
    return {k: str(v) for k, v in args.items()}
