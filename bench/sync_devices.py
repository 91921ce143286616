"""200 simulated devices syncing at once through the reference client against gunicorn on PostgreSQL.

    .venv/bin/python -m bench.sync_devices [--devices 200] [--workers 5] [--threads 4]

Each device (a thread with its own SQLite outbox/cache and its own inspector account) does a first
full pull, plans a visit and answers 10 items offline, syncs (push + pull), edits 3 answers and syncs
again; all devices start together behind a barrier. Every HTTP request is timed on the client side;
an error is any failed request, any rejected/conflict result, or a device ending with unsynced records.
"""
from __future__ import annotations

import argparse
import tempfile
import threading
import time

from bench.sync_common import answer_value, machine, pct, scratch_app

ITEMS = ['enrolment', 'teachers_above_required_qualification', 'key_teachers_county_level_or_above',
         'pe_art_teachers', 'teaching_aux_area_m2', 'sports_area_m2', 'equipment_value_yuan', 'multimedia_classrooms',
         'music_rooms_m2', 'art_rooms_m2']


class Timed:
    """A transport wrapper recording (method, path, seconds, status) for every request."""

    def __init__(self, inner, log: list, lock: threading.Lock):
        self.inner, self.log, self.lock = inner, log, lock

    def request(self, method, path, **kw):
        t = time.perf_counter()
        status = "neterr"
        try:
            status, payload = self.inner.request(method, path, **kw)
            return status, payload
        finally:
            with self.lock:
                self.log.append((method, path, time.perf_counter() - t, status))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--workers", type=int, default=5)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()
    from inspections.accounts import service as accounts
    from inspections.accounts.enums import Role
    from inspections.db import new_session
    from sync.client import HttpTransport, SyncClient, SyncUnavailable
    from bench.sync_common import make_world
    from tests.sync.server import gunicorn

    with scratch_app() as app:
        with new_session() as s:
            w = make_world(s)
            school_ids = [str(w.school_a1.id), str(w.school_a1b.id)]
            tokens = []
            for n in range(args.devices):
                u = accounts.create_user(s, username=f"bench-inspector-{n}", password="bench-pass-123",
                                         role=Role.inspector, jurisdiction_id=w.county_a1.id)
                tokens.append(accounts.issue_token(s, user=u)[0])
            s.commit()
        log: list = []
        lock = threading.Lock()
        errors: list[str] = []
        tmp = tempfile.mkdtemp(prefix="bench-devices-")
        with gunicorn(app.config["DATABASE_URL"], secret=app.config["SECRET_KEY"], var_dir=tmp,
                      workers=args.workers, threads=args.threads) as url:
            barrier = threading.Barrier(args.devices)

            def device(n: int):
                dev = SyncClient(f"{tmp}/device-{n}.db", Timed(HttpTransport(url, tokens[n], timeout=120), log, lock),
                                 device_id=f"bench-device-{n}", backoff=0.5, max_attempts=6)
                try:
                    barrier.wait()
                    dev.pull()
                    vid = dev.create("visit", {"school_id": school_ids[n % 2], "notes": f"device {n}"})
                    answers = [dev.create("response", {"visit_id": vid, "item_code": code,
                                                       "value": answer_value(code, n + i)})
                               for i, code in enumerate(ITEMS)]
                    out = dev.sync()
                    for rid in answers[:3]:
                        dev.update("response", rid, {"note": "re-measured"})
                    out2 = dev.sync()
                    bad = {k: v for o in (out, out2) for k, v in o["pushed"].items() if k not in ("applied", "merged")}
                    if bad:
                        errors.append(f"device {n}: {bad}")
                    if dev.unsynced():
                        errors.append(f"device {n}: unsynced {dev.unsynced()[:2]}")
                except (SyncUnavailable, Exception) as e:  # noqa: BLE001 - every failure counts
                    errors.append(f"device {n}: {type(e).__name__}: {e}")
                finally:
                    dev.close()

            threads = [threading.Thread(target=device, args=(n,)) for n in range(args.devices)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
        failed = [x for x in log if x[3] != 200]
        print(f"machine: {machine()}")
        print(f"gunicorn: {args.workers} workers x {args.threads} threads; {args.devices} devices; wall {wall:.1f} s")
        print(f"requests: {len(log)}, failed requests: {len(failed)}, device errors: {len(errors)}")
        for e in errors[:10]:
            print("  ", e)
        for label, sel in (("all", log), ("push", [x for x in log if x[1].endswith("/push")]),
                           ("pull", [x for x in log if x[1].endswith("/pull")])):
            lat = [x[2] for x in sel]
            if lat:
                print(f"{label:>5}: n={len(lat)} p50 {pct(lat, 50) * 1000:.0f} ms, p99 {pct(lat, 99) * 1000:.0f} ms, "
                      f"max {max(lat) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
