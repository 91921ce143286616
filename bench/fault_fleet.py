"""A fleet of devices syncing through faults: nothing committed is lost, nothing applies twice, every
effect runs once.

    .venv/bin/python -m bench.fault_fleet [--devices 150] [--workers 4] [--threads 4] [--seed 13]

Gunicorn on a scratch PostgreSQL database, a throwaway redis-server (no persistence) and two
`flask worker` processes (sweeping every 5 s). Each device (a thread running the reference client,
`sync.client.SyncClient`, with its own inspector account) pulls, plans a visit and answers 8 items
offline, syncs, submits the visit and syncs again. Its transport drops requests before they are
sent and answers after the server applied them (the client retries with the same mutation ids), and
replays some pushes whole (a twin). Meanwhile Redis is stopped for 20 s and comes back empty, and one
worker is killed with SIGKILL (horse and scheduler too) and started again. At the end every
device's visit must be on the server, submitted, with its 8 answers once, scored exactly once by a
finished job, and no request may have had a 5xx other than 503.
"""
from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from bench.sync_common import machine, scratch_app

ITEMS = {"enrolment": 600, "teachers_above_required_qualification": 30, "key_teachers_county_level_or_above": 8,
         "pe_art_teachers": 6, "teaching_aux_area_m2": 3000, "sports_area_m2": 5000,
         "equipment_value_yuan": 1500000, "multimedia_classrooms": 15}


class FaultyTransport:
    """Wraps the client's transport: drops requests and answers, replays pushes; counts statuses."""

    def __init__(self, inner, rng: random.Random, stats: Counter, lock: threading.Lock, *, drop: float,
                 lose_answer: float, replay: float):
        self.inner, self.rng, self.stats, self.lock = inner, rng, stats, lock
        self.drop, self.lose_answer, self.replay = drop, lose_answer, replay

    def _count(self, key):
        with self.lock:
            self.stats[key] += 1

    def request(self, method, path, **kw):
        from sync.client import TransportError
        r = self.rng.random()
        if r < self.drop:
            self._count("dropped before sending")
            raise TransportError("dropped before sending (simulated)")
        try:
            status, payload = self.inner.request(method, path, **kw)
        except TransportError:
            self._count("network error")
            raise
        self._count(status)
        if path.endswith("/push") and self.rng.random() < self.replay:
            try:
                twin, _ = self.inner.request(method, path, **kw)  # the same body again: a replay
                self._count(twin)
                self._count("replayed pushes")
            except TransportError:
                self._count("network error")
        if r > 1 - self.lose_answer:
            self._count("answers lost")
            raise TransportError("answer lost after the server applied it (simulated)")
        return status, payload


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=150)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--drop", type=float, default=0.05)
    ap.add_argument("--lose-answer", type=float, default=0.05)
    ap.add_argument("--replay", type=float, default=0.1)
    ap.add_argument("--outage-at", type=float, default=20, help="seconds into the run when Redis stops")
    args = ap.parse_args()
    from sqlalchemy import func, select

    from bench.sync_common import make_world
    from inspections.accounts import service as accounts
    from inspections.accounts.enums import Role
    from inspections.db import new_session
    from inspections.jobs.models import JobRecord
    from inspections.scoring.models import VisitScore
    from inspections.visits.models import Response, Visit
    from sync.client import HttpTransport, SyncClient
    from tests.faults.stack import RedisServer, Worker, app_env, gunicorn

    redis = RedisServer().start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    try:
        with scratch_app() as app:
            with new_session() as s:
                w = make_world(s)
                school_id = str(w.school_a1.id)
                tokens = []
                for n in range(args.devices):
                    u = accounts.create_user(s, username=f"fleet-inspector-{n}", password="fleet-pass-123",
                                             role=Role.inspector, jurisdiction_id=w.county_a1.id)
                    tokens.append(accounts.issue_token(s, user=u)[0])
                s.commit()
            prefix = f"fleet{uuid.uuid4().hex[:6]}-"
            env = app_env(DATABASE_URL=app.config["DATABASE_URL"], REDIS_URL=redis.url, KEY_PREFIX=prefix,
                          VAR_DIR=tmp, STORAGE_URL=tmp / "blobs", SECRET_KEY="bench", ARGON2_TIME_COST=1,
                          ARGON2_MEMORY_KIB=1024)
            workers = [Worker(env, tmp / f"worker{i}.log").start() for i in range(2)]
            stats: Counter = Counter()
            lock = threading.Lock()
            errors: list[str] = []
            visits: dict[int, str] = {}
            events: list[str] = []
            with gunicorn(env, workers=args.workers, threads=args.threads, log_path=tmp / "gunicorn.log") as url:
                barrier = threading.Barrier(args.devices + 1)

                def device(n: int):
                    rng = random.Random(args.seed * 100003 + n)
                    transport = FaultyTransport(HttpTransport(url, tokens[n], timeout=120), rng, stats, lock,
                                                drop=args.drop, lose_answer=args.lose_answer, replay=args.replay)
                    dev = SyncClient(str(tmp / f"device-{n}.db"), transport, device_id=f"fleet-device-{n}",
                                     backoff=0.5, max_attempts=12)
                    try:
                        barrier.wait()
                        dev.pull()
                        vid = dev.create("visit", {"school_id": school_id, "notes": f"device {n}"})
                        visits[n] = vid
                        for code, value in ITEMS.items():
                            dev.create("response", {"visit_id": vid, "item_code": code, "value": value})
                        dev.sync()
                        dev.update("visit", vid, {"status": "submitted"})
                        out = dev.sync()
                        bad = {k: v for k, v in out["pushed"].items() if k not in ("applied", "merged", "duplicate")}
                        if bad:
                            errors.append(f"device {n}: {bad}")
                        if dev.unsynced():
                            errors.append(f"device {n}: unsynced {dev.unsynced()[:2]}")
                    except Exception as e:  # noqa: BLE001 - every failure counts
                        errors.append(f"device {n}: {type(e).__name__}: {e}")
                    finally:
                        dev.close()

                def chaos():
                    barrier.wait()
                    t0 = time.monotonic()
                    time.sleep(args.outage_at)
                    redis.stop()
                    events.append(f"{time.monotonic() - t0:.1f} s: Redis stopped")
                    time.sleep(4)
                    workers[0].kill()
                    events.append(f"{time.monotonic() - t0:.1f} s: worker 1 killed (SIGKILL, horse and scheduler)")
                    time.sleep(2)
                    workers[0].start()
                    events.append(f"{time.monotonic() - t0:.1f} s: worker 1 started again")
                    time.sleep(14)
                    redis.start()
                    events.append(f"{time.monotonic() - t0:.1f} s: Redis started again, empty")

                threads = [threading.Thread(target=device, args=(n,)) for n in range(args.devices)]
                threads.append(threading.Thread(target=chaos))
                t0 = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                wall = time.perf_counter() - t0
                # Workers (or the restarted ones: an operator's supervisor would) finish what is left.
                for i, wk in enumerate(workers):
                    if wk.proc.poll() is not None:
                        events.append(f"worker {i + 1} had exited (Redis outage); started again")
                        wk.start()
                ids = [uuid.UUID(v) for v in visits.values()]
                deadline = time.monotonic() + 240
                while time.monotonic() < deadline:
                    with new_session() as s:
                        left = s.scalar(select(func.count()).select_from(JobRecord).where(
                            JobRecord.status.in_(("queued", "started", "retrying"))))
                    if not left:
                        break
                    time.sleep(2)
                settle = time.perf_counter() - t0 - wall
            for wk in workers:
                wk.stop()
            with new_session() as s:
                found = {v.id: v for v in s.scalars(select(Visit).where(Visit.id.in_(ids)))}
                answers = dict(s.execute(select(Response.visit_id, func.count()).where(Response.visit_id.in_(ids))
                                         .group_by(Response.visit_id)).all())
                scores = dict(s.execute(select(VisitScore.visit_id, func.count()).where(VisitScore.visit_id.in_(ids))
                                        .group_by(VisitScore.visit_id)).all())
                jobs = {r.id: r for r in s.scalars(select(JobRecord).where(JobRecord.kind == "score_visit"))}
                open_jobs = s.scalar(select(func.count()).select_from(JobRecord).where(
                    JobRecord.status.in_(("queued", "started", "retrying"))))
            lost = [i for i in ids if i not in found or found[i].status != "submitted" or answers.get(i) != len(ITEMS)]
            duplicated = [i for i in ids if answers.get(i, 0) > len(ITEMS) or scores.get(i, 0) > 1]
            missing = [i for i in ids if scores.get(i, 0) != 1 or getattr(jobs.get(f"score-visit-{i}"), "status", None)
                       != "finished"]
            retried = sum(1 for r in jobs.values() if r.attempts > 1)
            five = {k: v for k, v in stats.items() if isinstance(k, int) and k >= 500}
            print(f"machine: {machine()}")
            print(f"gunicorn: {args.workers} workers x {args.threads} threads; 2 RQ workers; {args.devices} devices; "
                  f"seed {args.seed}; drop {args.drop}, lost answers {args.lose_answer}, replays {args.replay}")
            print(f"wall {wall:.1f} s for the devices, then {settle:.1f} s until no job was queued or running")
            for e in events:
                print("  event:", e)
            print("requests:", dict(sorted(((str(k), v) for k, v in stats.items()))))
            print(f"device errors: {len(errors)}")
            for e in errors[:10]:
                print("  ", e)
            print(f"visits: {len(ids)} made on devices, {len(found)} on the server; lost {len(lost)}, "
                  f"duplicated {len(duplicated)}, effects missing {len(missing)}; score jobs run more than once "
                  f"(retried after a fault) {retried}; jobs still open {open_jobs}")
            swept = Counter()
            for i in range(2):
                for line in (tmp / f"worker{i}.log").read_text(errors="replace").splitlines():
                    if "enqueued again (" in line:
                        swept[line.rsplit("(", 1)[1].rstrip(")")] += 1
            print(f"jobs the sweepers enqueued again, by reason: {dict(swept)}")
            print(f"5xx other than 503: {sum(v for k, v in five.items() if k != 503)}; 503: {five.get(503, 0)}")
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
