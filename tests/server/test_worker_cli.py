"""`flask worker` runs queued jobs against real Redis (and explains itself without it)."""
from __future__ import annotations

from tests.factories import GOOD_PRIMARY, make_world, submit_visit, token_for


def test_worker_burst_scores_a_submitted_visit(app, runner, client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    visit = submit_visit(client, h, w.school_a1.id, GOOD_PRIMARY)
    if not app.config.get("REDIS_URL"):
        r = runner.invoke(args=["worker", "--burst"])
        assert r.exit_code == 2 and "REDIS_URL is not set" in r.output
        # In-process mode already ran the job at submission.
        assert client.get(f"/api/v1/visits/{visit['id']}/score", headers=h).json["state"] == "scored"
        return
    assert client.get(f"/api/v1/visits/{visit['id']}/score", headers=h).json["state"] == "pending"
    import gc
    try:
        r = runner.invoke(args=["worker", "--burst", "--queues", "scoring"])
    finally:
        gc.unfreeze()  # the worker froze this (test) process's objects: give them back to the collector
    assert r.exit_code == 0, r.output
    assert client.get(f"/api/v1/visits/{visit['id']}/score", headers=h).json["state"] == "scored"


def test_periodic_enqueues_each_job_once_a_day(app, runner, session):
    from inspections.jobs.models import JobRecord
    from tests.factories import run_jobs
    r = runner.invoke(args=["periodic"])
    assert r.exit_code == 0, r.output
    assert "escalate-overdue-" in r.output and "photos-cleanup-" in r.output
    r2 = runner.invoke(args=["periodic"])
    assert r2.output.split(":")[0] == r.output.split(":")[0]
    run_jobs(app)
    rec = session.query(JobRecord).filter(JobRecord.id.like("escalate-overdue-%")).one()
    assert rec.status == "finished" and rec.result == {"escalated": 0}


def test_a_worker_imports_every_job_and_freezes_what_it_loaded_before_the_first_job():
    import gc
    import sys

    from PIL import Image

    from server.jobs import KINDS, prepare_worker_process
    assert gc.get_freeze_count() == 0
    try:
        modules = prepare_worker_process()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert set(modules) == {path.rsplit(".", 1)[0] for _queue, path in KINDS.values()}
    assert "inspections.photos.tasks" in modules and all(m in sys.modules for m in modules)
    assert Image._initialized == 2  # every plugin registered, not only the five preloaded ones
