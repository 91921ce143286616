"""Recording job progress; RQ does the running, these rows make the state visible and durable."""
from __future__ import annotations

import functools
import logging
import traceback

from sqlalchemy.orm import Session

from inspections.db import new_session, utcnow
from inspections.jobs.models import JobRecord

log = logging.getLogger(__name__)


def tracked(kind: str):
    """Decorate a job body `fn(session, **args) -> dict`: status, attempts and errors are recorded.

    The job's record is marked `started` (attempts + 1) in its own short transaction, unless it is
    already `finished`: a duplicate delivery then returns the stored result and runs nothing. The body
    runs in another transaction that first locks the record's row (a concurrent duplicate waits, then
    finds it finished) and marks it `finished` in that same commit, so the effect and its mark land
    together. A failure is recorded (with its reason) in another, then re-raised so RQ's retry
    policy applies. The wrapped function is what RQ imports by name.
    """

    def deco(fn):
        @functools.wraps(fn)
        def run(job_id: str, **args):
            with new_session() as s:
                rec = s.get(JobRecord, job_id, with_for_update=True)
                if rec is None:
                    rec = JobRecord(id=job_id, kind=kind, args=_jsonable(args), attempts=0)
                    s.add(rec)
                elif rec.status == "finished":
                    return rec.result
                rec.status, rec.started_at, rec.attempts = "started", utcnow(), (rec.attempts or 0) + 1
                rec.finished_at = None
                s.commit()
            try:
                with new_session() as s:
                    rec = s.get(JobRecord, job_id, with_for_update=True)
                    if rec is not None and rec.status == "finished":
                        return rec.result
                    result = fn(s, **args)
                    rec = s.get(JobRecord, job_id)
                    rec.status, rec.error, rec.result, rec.finished_at = "finished", None, result, utcnow()
                    s.commit()
            except Exception as exc:
                log.exception("job %s failed", job_id)
                with new_session() as s:
                    rec = s.get(JobRecord, job_id)
                    rec.status = "retrying" if _will_retry(rec.attempts) else "failed"
                    rec.error = f"{type(exc).__name__}: {exc}"[:2000]
                    rec.result = {"traceback": traceback.format_exc(limit=5)[-4000:]}
                    rec.finished_at = utcnow()
                    s.commit()
                raise
            return result

        run.kind = kind
        return run

    return deco


MAX_ATTEMPTS = 4  # the first run and three retries (10 s, 60 s, 300 s)


def _will_retry(attempts: int) -> bool:
    """Whether the current job will run again: RQ retries it, or (in the embedded, synchronous mode,
    which has no retries of its own) the outbox sweeper does while attempts are left."""
    from rq import get_current_job
    job = get_current_job()
    if job is None:
        return False  # called directly, not as a job
    if job.worker_name == "sync":
        return attempts < MAX_ATTEMPTS
    return (job.retries_left or 0) > 0


def _jsonable(args: dict) -> dict:
    return {k: str(v) for k, v in args.items()}
