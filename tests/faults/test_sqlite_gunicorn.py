"""Concurrent writers on SQLite through gunicorn, as `make run` serves it (issue 13, inputs 4 and 5):
every push is applied whole, none is refused, and every submitted visit is scored exactly once."""
from __future__ import annotations

import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inspections.db import make_engine
from tests.factories import GOOD_PRIMARY, make_world
from tests.faults.stack import ROOT, app_env, gunicorn, http

pytestmark = pytest.mark.slow


def mutation(entity, op, id=None, base_version=None, **fields):
    return {"mutation_id": str(uuid.uuid4()), "entity": entity, "id": str(id or uuid.uuid4()), "op": op,
            "base_version": base_version, "fields": fields}


def visit_push(school_id, submit: bool) -> tuple[str, list[dict]]:
    vid = str(uuid.uuid4())
    facts = GOOD_PRIMARY if submit else dict(list(GOOD_PRIMARY.items())[:3])
    muts = [mutation("visit", "create", id=vid, school_id=str(school_id))]
    muts += [mutation("response", "create", visit_id=vid, item_code=k, value=v) for k, v in facts.items()]
    return vid, muts


@pytest.fixture
def sqlite_server(tmp_path):
    url = f"sqlite:///{tmp_path / 'var' / 'inspections.db'}"
    env = app_env(DATABASE_URL=url, VAR_DIR=tmp_path / "var", STORAGE_URL=tmp_path / "var" / "blobs",
                  SECRET_KEY="fault-secret", ARGON2_TIME_COST=1, ARGON2_MEMORY_KIB=1024, REDIS_URL=None)
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=120)
    engine = make_engine(url)
    from inspections.accounts import service as accounts
    with Session(engine, expire_on_commit=False) as s:
        world = make_world(s)
        secret, _ = accounts.issue_token(s, user=world.inspector_a1)
        s.commit()
    with gunicorn(env, workers=2, threads=4, log_path=tmp_path / "gunicorn.log") as base:
        yield base, engine, world, {"Authorization": f"Bearer {secret}"}
    engine.dispose()


def test_forty_concurrent_pushes_on_sqlite_all_apply_whole(sqlite_server):
    base, engine, world, headers = sqlite_server
    pushes = [visit_push(world.school_a1.id, submit=(n % 4 == 0)) for n in range(40)]

    def send(n_push):
        n, (vid, muts) = n_push
        answer = http("POST", base + "/api/v1/sync/push", {"device_id": f"dev-{n}", "mutations": muts}, headers)
        if n % 4 == 0 and answer[0] == 200:
            # The device submits once its answers are in: the next push, on the version it has.
            version = http("GET", f"{base}/api/v1/visits/{vid}", headers=headers)[2]["version"]
            answer = http("POST", base + "/api/v1/sync/push", {"device_id": f"dev-{n}", "mutations": [
                mutation("visit", "update", id=vid, base_version=version, status="submitted")]}, headers)
        return vid, answer

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, enumerate(pushes)))
    statuses = [a[1][0] for a in answers]
    assert statuses == [200] * 40, [a[1] for a in answers if a[1][0] != 200][:3]
    for _, (_, _, body) in answers:
        assert {r["status"] for r in body["results"]} <= {"applied", "merged"}, body["results"]

    from inspections.jobs.models import JobRecord
    from inspections.scoring.models import VisitScore
    from inspections.visits.models import Response, Visit
    from sync.models import ChangeLog, SyncCommit
    with Session(engine) as s:
        for (vid, muts), n in zip(pushes, range(40)):
            visit = s.get(Visit, uuid.UUID(vid))
            assert visit is not None
            assert s.scalar(select(func.count()).select_from(Response).where(Response.visit_id == visit.id)) \
                == len(muts) - 1
            if n % 4 == 0:
                assert visit.status == "submitted"
                rec = s.get(JobRecord, f"score-visit-{vid}")
                assert rec is not None and rec.status == "finished" and rec.attempts == 1, rec and rec.error
                assert s.scalar(select(func.count()).select_from(VisitScore)
                                .where(VisitScore.visit_id == visit.id)) == 1
        # Every change row belongs to a committed transaction: none without its commit record (pull
        # never delivers those; the half-written pushes of input 4 left 585 of them).
        orphans = select(func.count()).select_from(ChangeLog).where(
            ~ChangeLog.txn_id.in_(select(SyncCommit.txn_id)))
        assert s.scalar(orphans) == 0
