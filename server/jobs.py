"""Enqueueing background jobs after commit, with deterministic ids so retries never duplicate work."""
from __future__ import annotations

import logging

from flask import current_app


from inspections.jobs.models import JobRecord
from inspections.jobs.service import record_enqueued
from inspections.visits.models import Visit
from server.extensions import queue, session

log = logging.getLogger(__name__)
RETRY_INTERVALS = [10, 60, 300]


def enqueue(fn, *, queue_name: str, job_id: str, **args) -> JobRecord:
    """Record and enqueue a job once per id; asking again for a queued or finished job is a no-op."""
    from rq import Retry
    db = session()
    rec, new = record_enqueued(db, job_id=job_id, kind=fn.kind, args={k: str(v) for k, v in args.items()})
    db.commit()
    if new:
        # RQ's job keys are global in Redis: prefix them like the queues.
        queue(queue_name).enqueue_call(fn, args=(job_id,), kwargs=args,
                                       job_id=current_app.config.get("KEY_PREFIX", "") + job_id,
                                       retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
                                       result_ttl=86400, failure_ttl=7 * 86400)
        db.refresh(rec)
    return rec


def score_visit_job_id(visit: Visit) -> str:
    return f"score-visit-{visit.id}-v{visit.version}"


def on_visit_submitted(visit: Visit) -> JobRecord:
    """After a submission is committed: score the visit (then its county, in that job's wake)."""
    from inspections.scoring.tasks import score_visit
    return enqueue(score_visit, queue_name="scoring", job_id=score_visit_job_id(visit), visit_id=str(visit.id))


def run_effects(db) -> None:
    """After a commit: the effects its changes recorded (every visit it submitted is scored, whichever
    way in it came: API, push, conflict resolution, web)."""
    from inspections.visits import service as visits
    for visit in visits.submitted_in(db):
        on_visit_submitted(visit)


def enqueue_county(county_id, level: str, stamp: str, county_facts: dict | None = None) -> JobRecord:
    """Score a county at a level; `stamp` (the newest input's time and the veto facts) makes re-runs idempotent."""
    import hashlib
    import json

    from inspections.scoring.tasks import score_county
    facts_tag = hashlib.sha256(json.dumps(county_facts or {}, sort_keys=True).encode()).hexdigest()[:10]
    return enqueue(score_county, queue_name="scoring", job_id=f"score-county-{county_id}-{level}-{stamp}-{facts_tag}",
                   county_id=str(county_id), level=level, county_facts=county_facts or {})


def periodic_jobs() -> list[tuple[str, object, dict]]:
    """Every periodic job, named once here (not registered by import): (name, tracked function, args)."""
    from inspections.photos.tasks import expire_partial_uploads
    from inspections.planning.tasks import plan_visits
    from inspections.tickets.tasks import advance_ticket_stats, escalate_overdue
    from sync.tasks import prune_changes
    cfg = current_app.config
    return [
        ("escalate-overdue", escalate_overdue, {}),
        ("ticket-stats-advance", advance_ticket_stats, {}),
        ("plan-visits", plan_visits, {"horizon_days": int(cfg["PLAN_HORIZON_DAYS"])}),
        ("photos-cleanup", expire_partial_uploads, {"storage_url": cfg["STORAGE_URL"],
                                                    "endpoint_url": cfg.get("S3_ENDPOINT_URL"),
                                                    "region": cfg.get("S3_REGION")}),
        ("sync-prune", prune_changes, {"older_than_days": float(cfg["SYNC_CURSOR_RETENTION_DAYS"]),
                                       "mutation_days": int(cfg["SYNC_MUTATION_RETENTION_DAYS"])}),
    ]


def enqueue_periodic(stamp: str) -> list[JobRecord]:
    """Enqueue each periodic job once per `stamp` (e.g. the UTC date: a second run that day is a no-op)."""
    return [enqueue(fn, queue_name="periodic", job_id=f"{name}-{stamp}", **args)
            for name, fn, args in periodic_jobs()]
