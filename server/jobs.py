"""Background jobs through the transactional outbox (`inspections.jobs.outbox`).

Every job kind is written as a `job_records` row in the transaction of the change that asks for it;
the relay below hands it to RQ after that transaction commits (job id = KEY_PREFIX + the record's
deterministic id, retries with backoff); the sweeper enqueues it again while it has no live job:
missing (Redis was down, or restarted without persistence), failed with attempts left, or started
by a worker that is gone. Jobs record their own progress (`inspections.jobs.service.tracked`) and
run their effect once: the body and its `finished` mark commit together.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import timedelta

from flask import Flask, current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from inspections.db import new_session, reader_bind, utcnow
from inspections.jobs import outbox, service
from inspections.jobs.models import JobRecord
from inspections.visits.models import Visit
from server.extensions import queue, redis_connection, session

log = logging.getLogger(__name__)
RETRY_INTERVALS = [10, 60, 300]
MAX_ATTEMPTS = 1 + len(RETRY_INTERVALS)
assert MAX_ATTEMPTS == service.MAX_ATTEMPTS
JOB_TIMEOUT = 600  # seconds RQ gives a job; a record `started` with no job in Redis is stale after this

# kind -> (queue, the job function RQ imports by name). Every kind the outbox may hold is here.
KINDS = {
    "score_visit": ("scoring", "inspections.scoring.tasks.score_visit"),
    "score_county": ("scoring", "inspections.scoring.tasks.score_county"),
    "process_photo": ("photos", "inspections.photos.tasks.process_photo_job"),
    "escalate_overdue": ("periodic", "inspections.tickets.tasks.escalate_overdue"),
    "ticket_stats_advance": ("periodic", "inspections.tickets.tasks.advance_ticket_stats"),
    "plan_visits": ("periodic", "inspections.planning.tasks.plan_visits"),
    "photos_cleanup": ("periodic", "inspections.photos.tasks.expire_partial_uploads"),
    "sync_prune": ("periodic", "sync.tasks.prune_changes"),
    "yearly_report": ("default", "inspections.reports.tasks.generate_yearly_report"),
}

_installed_app: Flask | None = None


def prepare_worker_process() -> list[str]:
    """Before a worker's first job: import every job's module and Pillow's plugins, then freeze all that.

    A worker runs jobs in its own process for hours. Imported up front, the first photo or scoring
    job pays no import; frozen (`gc.freeze`), the app, its mappers and modules (~200k objects) are no
    longer walked by each garbage collection a job triggers (a 200-visit scoring batch spent 160-190 ms
    of its 0.6-0.8 s in collections, one of them full; 11-24 ms with them frozen). Returns the job
    modules imported.
    """
    import gc
    import importlib
    modules = sorted({path.rsplit(".", 1)[0] for _queue, path in KINDS.values()})
    for name in modules:
        importlib.import_module(name)
    from PIL import Image
    Image.init()  # every image plugin, as the first Image.open would
    gc.collect()
    gc.freeze()
    return modules


# --- relay -------------------------------------------------------------------------------------------

def install(app: Flask) -> None:
    """Relay every session's committed outbox effects to RQ (explicit, from create_app)."""
    global _installed_app
    _installed_app = app
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
    if not app.config.get("REDIS_URL") and not app.testing and int(app.config.get("JOBS_SWEEP_SECONDS", 30)) > 0:
        # Embedded mode has no worker: each serving process sweeps its own outbox in a thread,
        # started by its first request (never in CLI commands such as `db upgrade`).
        app.before_request(lambda: _start_embedded_sweeper(app))


_embedded_sweeper: dict[int, threading.Thread] = {}


def _start_embedded_sweeper(app: Flask) -> None:
    pid = os.getpid()
    if pid in _embedded_sweeper:
        return
    interval = int(app.config.get("JOBS_SWEEP_SECONDS", 30))

    def loop():
        while True:
            time.sleep(interval)
            try:
                with app.app_context():
                    counts = sweep(app)
                if any(counts.values()):
                    log.info("outbox sweep: %s", counts)
            except Exception:  # the next round tries again
                log.exception("outbox sweep failed")

    thread = threading.Thread(target=loop, name="outbox-sweeper", daemon=True)
    _embedded_sweeper[pid] = thread
    thread.start()


def _app() -> Flask | None:
    return current_app._get_current_object() if has_app_context() else _installed_app


def _after_rollback(sess: Session) -> None:
    if not sess.in_nested_transaction():  # the whole transaction, not a savepoint
        outbox.forget_pending(sess)


def _after_commit(sess: Session) -> None:
    if sess.in_nested_transaction():
        return  # a released SAVEPOINT: nothing is committed yet
    pending = outbox.take_pending(sess)
    if pending:
        relay_many(pending, app=_app())


def rq_job_id(job_id: str, app: Flask | None = None) -> str:
    """RQ's job keys are global in a Redis database: prefixed like the queues."""
    return (app or current_app).config.get("KEY_PREFIX", "") + job_id


def relay(job_id: str, kind: str, args: dict, *, app: Flask | None = None) -> bool:
    """Hand one effect to RQ; False (logged) when Redis cannot take it now: the sweeper will."""
    from redis.exceptions import RedisError
    app = app or _app()
    if app is None or kind not in KINDS:
        log.error("job %s (%s): no app or unknown kind; left for the sweeper", job_id, kind)
        return False
    queue_name, func = KINDS[kind]
    try:
        queue(queue_name, app).enqueue_call(func, args=(job_id,), kwargs=args, job_id=rq_job_id(job_id, app),
                                            **_job_options())
    except (RedisError, OSError) as exc:
        log.warning("job %s not enqueued (%s: %s); the sweeper will enqueue it", job_id, type(exc).__name__, exc)
        return False
    return True


def _job_options() -> dict:
    from rq import Retry
    return {"retry": Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS), "result_ttl": 86400,
            "failure_ttl": 7 * 86400}


def relay_many(pending: dict[str, tuple[str, dict]], *, app: Flask | None = None) -> int:
    """Hand a committed transaction's effects ({job_id: (kind, args)}) to RQ: one Redis round trip per
    queue (a push submitting 300 visits enqueues 300 score jobs at once); returns how many went.

    In-process queues (no Redis) and single effects take `relay`; on a Redis error the effects stay
    `queued` for the sweeper, as with `relay`."""
    from redis.exceptions import RedisError
    app = app or _app()
    by_queue: dict[str, list[tuple[str, str, dict]]] = {}
    for job_id, (kind, args) in pending.items():
        by_queue.setdefault(KINDS[kind][0] if kind in KINDS else "", []).append((job_id, kind, args))
    sent = 0
    for queue_name, items in by_queue.items():
        q = queue(queue_name, app) if app is not None and queue_name else None
        if q is None or len(items) == 1 or not q.is_async:
            sent += sum(relay(job_id, kind, args, app=app) for job_id, kind, args in items)
            continue
        opts = _job_options()
        try:
            q.enqueue_many([q.prepare_data(KINDS[kind][1], args=(job_id,), kwargs=args,
                                           job_id=rq_job_id(job_id, app), **opts) for job_id, kind, args in items])
            sent += len(items)
        except (RedisError, OSError) as exc:
            log.warning("%d jobs not enqueued (%s: %s); the sweeper will enqueue them", len(items),
                        type(exc).__name__, exc)
    return sent


# --- asking for jobs ---------------------------------------------------------------------------------

def enqueue(kind: str, *, job_id: str, **args) -> JobRecord:
    """Record a job in the request's session and commit (it is relayed after the commit)."""
    db = session()
    rec = outbox.add(db, kind, job_id=job_id, **args)
    db.commit()
    db.refresh(rec)
    return rec


def score_visit_job_id(visit: Visit) -> str:
    """A submitted visit is frozen, so it is scored once: one job per visit."""
    return f"score-visit-{visit.id}"


def enqueue_county(county_id, level: str, stamp: str, county_facts: dict | None = None) -> JobRecord:
    """Score a county at a level; `stamp` (the newest input's time and the veto facts) makes re-runs idempotent."""
    import hashlib
    import json

    facts_tag = hashlib.sha256(json.dumps(county_facts or {}, sort_keys=True).encode()).hexdigest()[:10]
    return enqueue("score_county", job_id=f"score-county-{county_id}-{level}-{stamp}-{facts_tag}",
                   county_id=str(county_id), level=level, county_facts=county_facts or {})


def photo_processing_args(app: Flask | None = None) -> dict:
    """The plain settings a photo job needs (jobs never read Flask config themselves)."""
    cfg = (app or current_app).config
    return {"storage_url": cfg["STORAGE_URL"], "endpoint_url": cfg.get("S3_ENDPOINT_URL"),
            "region": cfg.get("S3_REGION"), "max_pixels": cfg["PHOTO_MAX_PIXELS"],
            "max_full_decode_pixels": cfg["PHOTO_MAX_PIXELS_FULL_DECODE"],
            "max_distance_m": cfg["PHOTO_MAX_DISTANCE_M"], "time_tolerance_hours": cfg["PHOTO_TIME_TOLERANCE_HOURS"]}


def report_job_args(app: Flask | None = None) -> dict:
    """What a yearly report's job needs: where to store its files, and the business zone."""
    cfg = (app or current_app).config
    return {"storage_url": cfg["STORAGE_URL"], "endpoint_url": cfg.get("S3_ENDPOINT_URL"),
            "region": cfg.get("S3_REGION"), "tz": cfg.get("BUSINESS_TIMEZONE", "Asia/Shanghai")}


def record_photo_processing(db: Session, photo) -> JobRecord:
    """In the finalize's transaction: process this received photo once it commits (job `photo-<id>`)."""
    from inspections.photos.tasks import job_id
    return outbox.add(db, "process_photo", job_id=job_id(photo.id), photo_id=str(photo.id), **photo_processing_args())


def periodic_jobs() -> list[tuple[str, str, dict]]:
    """Every periodic job, named once here (not registered by import): (name, kind, args)."""
    cfg = current_app.config
    return [
        ("escalate-overdue", "escalate_overdue", {}),
        ("ticket-stats-advance", "ticket_stats_advance", {}),
        ("plan-visits", "plan_visits", {"horizon_days": int(cfg["PLAN_HORIZON_DAYS"])}),
        ("photos-cleanup", "photos_cleanup", {"storage_url": cfg["STORAGE_URL"],
                                              "endpoint_url": cfg.get("S3_ENDPOINT_URL"),
                                              "region": cfg.get("S3_REGION")}),
        ("sync-prune", "sync_prune", {"older_than_days": float(cfg["SYNC_CURSOR_RETENTION_DAYS"]),
                                      "mutation_days": int(cfg["SYNC_MUTATION_RETENTION_DAYS"])}),
    ]


def enqueue_periodic(stamp: str) -> list[JobRecord]:
    """Enqueue each periodic job once per `stamp` (e.g. the UTC date: a second run that day is a no-op)."""
    return [enqueue(kind, job_id=f"{name}-{stamp}", **args) for name, kind, args in periodic_jobs()]


# --- sweeper -----------------------------------------------------------------------------------------

def _pid_alive(pid: int) -> bool:
    """Whether a process of this host runs; a killed one not yet reaped (a zombie) counts as dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def worker_alive(conn, name: str | None) -> bool:
    """Whether the RQ worker `name` is still there: its key has not expired and, on this host, its pid runs."""
    from rq import Worker
    if not name:
        return False
    w = Worker.find_by_key(Worker.redis_worker_namespace_prefix + name, connection=conn)
    if w is None:
        return False
    if w.hostname == socket.gethostname() and w.pid and not _pid_alive(int(w.pid)):
        return False
    return True


def sweep(app: Flask | None = None, *, grace_seconds: float = 30, limit: int = 1000) -> dict:
    """Enqueue again every effect without a live job; returns counts by reason.

    Looks at records `queued` (older than `grace_seconds`: the relay had its chance), `started` and
    `retrying`. Re-enqueues when RQ has no job for it (Redis was down or lost it), when its job failed
    or stopped and attempts are left (after the backoff), or when it was started by a worker that is
    gone (killed: RQ itself would wait ~10 minutes). With no attempts left the record becomes `failed`.
    """
    from redis.exceptions import RedisError
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus
    app = app or current_app._get_current_object()
    now = utcnow()
    counts = {"missing": 0, "failed_retried": 0, "abandoned": 0, "gave_up": 0, "unavailable": 0}
    with new_session(bind=reader_bind(app.extensions["db_engine"])) as s:  # a read: takes no SQLite write lock
        recs = s.execute(select(JobRecord.id, JobRecord.kind, JobRecord.args, JobRecord.status, JobRecord.attempts,
                                JobRecord.enqueued_at, JobRecord.started_at, JobRecord.finished_at)
                         .where(JobRecord.status.in_(("queued", "started", "retrying")))
                         .order_by(JobRecord.enqueued_at).limit(limit)).all()
    conn = redis_connection(app)
    for r in recs:
        if r.kind not in KINDS:
            continue
        if r.status == "queued" and r.enqueued_at > now - timedelta(seconds=grace_seconds):
            continue
        try:
            try:
                job = Job.fetch(rq_job_id(r.id, app), connection=conn)
                status = job.get_status()
            except NoSuchJobError:
                job, status = None, None
            reason = None
            if job is None and r.status == "started" and r.started_at > now - timedelta(seconds=JOB_TIMEOUT + 60):
                continue  # Redis lost the job but a worker (or an embedded process) may still be running it
            if job is None:
                reason = "missing"
            elif status == JobStatus.STARTED and not worker_alive(conn, job.worker_name):
                reason = "abandoned"
            elif status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED) or (
                    status == JobStatus.FINISHED and r.status != "queued"):
                last = r.finished_at or r.started_at or r.enqueued_at
                wait = RETRY_INTERVALS[min(max(r.attempts - 1, 0), len(RETRY_INTERVALS) - 1)]
                if r.attempts >= MAX_ATTEMPTS:
                    _give_up(r.id, f"no attempts left after {r.attempts} ({status})")
                    counts["gave_up"] += 1
                    continue
                if last > now - timedelta(seconds=wait):
                    continue
                reason = "failed_retried"
            if reason is None:
                continue
            if r.status == "started" and r.attempts >= MAX_ATTEMPTS:
                _give_up(r.id, f"the worker running it went away after {r.attempts} attempts")
                counts["gave_up"] += 1
                continue
            if job is not None:
                job.delete()
            if relay(r.id, r.kind, dict(r.args or {}), app=app):
                counts[reason] += 1
                log.info("sweeper: job %s enqueued again (%s)", r.id, reason)
        except (RedisError, OSError) as exc:
            log.warning("sweeper: Redis unavailable (%s); will try again", exc)
            counts["unavailable"] += 1
            break
    return counts


def _give_up(job_id: str, why: str) -> None:
    with new_session() as s:
        rec = s.get(JobRecord, job_id)
        if rec is not None and rec.status != "finished":
            rec.status, rec.error, rec.finished_at = "failed", (rec.error or why)[:2000], utcnow()
            s.commit()


def clear_stale_scheduler_locks(app: Flask | None = None, queue_names=None) -> list[str]:
    """Delete RQ scheduler locks held by a scheduler process on this host that is dead (SIGKILL leaves
    them for a minute, and RQ only tries again at its 10-minute maintenance); returns the queues freed."""
    from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
    app = app or current_app._get_current_object()
    conn = redis_connection(app)
    prefix = app.config.get("KEY_PREFIX", "")
    freed = []
    for name in queue_names or ():
        qname = name if name.startswith(prefix) else prefix + name
        key = RQScheduler.get_locking_key(qname)
        holder = conn.get(key)
        if holder is None:
            continue
        info = conn.hgetall(SCHEDULER_KEY_TEMPLATE % holder.decode())
        host = (info.get(b"hostname") or b"").decode()
        pid = int(info.get(b"pid") or 0)
        # No metadata for a lock taken over 5 s ago: its scheduler is gone (a live one refreshes both).
        orphan = not info and 0 <= conn.ttl(key) < 55
        if orphan or (host == socket.gethostname() and pid and not _pid_alive(pid)):
            conn.delete(key)
            freed.append(qname)
    return freed
