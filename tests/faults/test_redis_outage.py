"""Redis stopped and restarted around a submit (issue 13, inputs 1 and 7): the committed visit is
scored exactly once after Redis returns, and clients got 503 + Retry-After, never 500."""
from __future__ import annotations

import uuid

from sqlalchemy import func, select

from inspections.jobs.models import JobRecord
from inspections.scoring.models import VisitScore
from tests.factories import GOOD_PRIMARY, make_world, token_for
from tests.faults.conftest import run_worker_burst

PUSH = "/api/v1/sync/push"


def mutation(entity, op, id=None, base_version=None, **fields):
    return {"mutation_id": str(uuid.uuid4()), "entity": entity, "id": str(id or uuid.uuid4()), "op": op,
            "base_version": base_version, "fields": fields}


def push_visit_and_submit(client, headers, school_id) -> tuple[str, dict]:
    """A new visit with 8 answers, then its submission: (visit id, the submit push's body)."""
    vid = str(uuid.uuid4())
    muts = [mutation("visit", "create", id=vid, school_id=str(school_id))]
    muts += [mutation("response", "create", visit_id=vid, item_code=k, value=v) for k, v in GOOD_PRIMARY.items()]
    r = client.post(PUSH, json={"device_id": "dev-1", "mutations": muts}, headers=headers)
    assert r.status_code == 200, r.json
    version = client.get(f"/api/v1/visits/{vid}", headers=headers).json["version"]
    body = {"device_id": "dev-1", "mutations": [mutation("visit", "update", id=vid, base_version=version,
                                                         status="submitted")]}
    return vid, body


def _scores(session, vid) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(VisitScore).where(VisitScore.visit_id == uuid.UUID(vid)))


def test_submit_while_redis_is_down_is_scored_once_when_it_returns(make_fault_app, redis_server, session):
    from server.jobs import sweep
    fapp = make_fault_app(REDIS_URL=redis_server.url)
    client = fapp.test_client()
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    vid, submit = push_visit_and_submit(client, h, w.school_a1.id)

    redis_server.stop()
    r = client.post(PUSH, json=submit, headers=h)
    assert r.status_code == 200, r.json  # was a 500, though the visit committed
    assert r.json["results"][0]["status"] == "applied"
    again = client.post(PUSH, json=submit, headers=h)
    assert again.status_code == 200 and again.json["results"][0]["status"] == "duplicate"
    # The effect committed with the submission.
    rec = session.get(JobRecord, f"score-visit-{vid}")
    assert rec is not None and rec.status == "queued" and rec.attempts == 0
    # Input 7: sign-in while Redis is down is never a 500: the sign-in limit counts in memory meanwhile
    # (server/ratelimit.py), so a wrong password is a 401 and the right one signs in.
    login = client.post("/api/v1/auth/token", json={"username": w.inspector_a1.username, "password": "x"})
    assert login.status_code == 401, login.json
    login = client.post("/api/v1/auth/token", json={"username": w.inspector_a1.username, "password": "password-123"})
    assert login.status_code in (200, 201) and login.json.get("access_token"), login.json
    # With Redis down, a sweep says so and changes nothing.
    with fapp.app_context():
        assert sweep(fapp, grace_seconds=0)["unavailable"] == 1

    redis_server.start()  # empty: no persistence
    with fapp.app_context():
        assert sweep(fapp, grace_seconds=0)["missing"] == 1
    run_worker_burst(fapp)
    session.expire_all()
    rec = session.get(JobRecord, f"score-visit-{vid}")
    assert rec.status == "finished" and rec.attempts == 1, rec.error
    assert _scores(session, vid) == 1
    assert client.get(f"/api/v1/visits/{vid}/score", headers=h).json["state"] == "scored"
    # Nothing left to do, and nothing runs twice.
    with fapp.app_context():
        assert not any(sweep(fapp, grace_seconds=0).values())
    run_worker_burst(fapp)
    assert _scores(session, vid) == 1 and session.get(JobRecord, f"score-visit-{vid}").attempts == 1


def test_jobs_queued_in_a_redis_that_restarts_empty_still_run(make_fault_app, redis_server, session):
    from server.jobs import sweep
    fapp = make_fault_app(REDIS_URL=redis_server.url)
    client = fapp.test_client()
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    vid, submit = push_visit_and_submit(client, h, w.school_a1.id)
    assert client.post(PUSH, json=submit, headers=h).status_code == 200
    with fapp.app_context():
        from server.extensions import queue
        assert queue("scoring").count == 1  # relayed after the commit
    # No worker ran it; Redis restarts without persistence and the queued job is gone.
    redis_server.stop()
    redis_server.start()
    with fapp.app_context():
        assert queue("scoring").count == 0
        assert sweep(fapp, grace_seconds=0)["missing"] == 1
    run_worker_burst(fapp)
    session.expire_all()
    assert session.get(JobRecord, f"score-visit-{vid}").status == "finished"
    assert _scores(session, vid) == 1
