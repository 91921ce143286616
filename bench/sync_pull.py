"""Pull latency: p50 of 1,000-change pages with 10k, 100k and 1M changes stored.

    .venv/bin/python -m bench.sync_pull [--sizes 10000,100000,1000000] [--pages 40]

The change log is filled with synthetic ticket changes (10 per transaction, ~250-byte snapshots)
spread over four schools, half of them in the scope of the county inspector who pulls, so the
scope filter does real work. Each sample is one GET /api/v1/sync/pull?limit=1000 through the app
(test client: auth, scope criterion, JSON) from a cursor at a random position in the log.
"""
from __future__ import annotations

import argparse
import random
import time

from bench.sync_common import machine, median, pct, scratch_app

FILL = """
INSERT INTO sync_commits (txn_id, commit_seq, committed_at)
SELECT md5('bench-t' || g)::uuid, CAST(:base AS bigint) + g, now() FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g;
INSERT INTO sync_changes (txn_id, entity, entity_id, op, version, school_id, visit_id, data, changed_at)
SELECT md5('bench-t' || ((g - 1) / 10 + 1))::uuid, 'ticket', md5('bench-e' || g)::uuid, 'upsert', 1,
       (ARRAY[CAST(:s1 AS uuid), CAST(:s2 AS uuid), CAST(:s3 AS uuid), CAST(:s4 AS uuid)])[1 + g % 4], NULL,
       jsonb_build_object('id', md5('bench-e' || g)::uuid, 'title', 'Sports ground below the standard ' || g,
                          'status', 'open', 'severity', 'major', 'item_code', 'sports_area_m2',
                          'measured', 4.1, 'required', 4.5, 'shortfall', '240.00', 'unit', 'm2',
                          'due_date', '2027-06-30'),
       now()
FROM generate_series(CAST(:clo AS bigint), CAST(:chi AS bigint)) g;
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--pages", type=int, default=40)
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    from sqlalchemy import func, select, text

    from inspections.db import new_session
    from sync.models import SyncCommit
    from sync.pull import Position, encode_cursor
    from bench.sync_common import make_world, token_for
    rnd = random.Random(7)
    with scratch_app() as app:
        with new_session() as s:
            w = make_world(s)
            headers = token_for(s, w.inspector_a1)
            from inspections.accounts.scope import principal_for
            scope = principal_for(s, w.inspector_a1).scope_tag()  # cursors are issued to one scope
            schools = [str(x.id) for x in (w.school_a1, w.school_a1b, w.school_a2, w.school_b1)]
            base = s.scalar(select(func.max(SyncCommit.commit_seq))) or 0
        engine = app.extensions["db_engine"]
        client = app.test_client()
        stored = 0
        print(f"machine: {machine()}")
        rows_out = []
        for size in sizes:
            t = time.perf_counter()
            lo_txn, hi_txn = stored // 10 + 1, size // 10
            with engine.begin() as conn:
                for stmt in filter(str.strip, FILL.split(";")):
                    conn.execute(text(stmt), {"base": base, "lo": lo_txn, "hi": hi_txn, "clo": stored + 1,
                                              "chi": size, "s1": schools[0], "s2": schools[1], "s3": schools[2],
                                              "s4": schools[3]})
            with engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql("VACUUM ANALYZE sync_changes")
                conn.exec_driver_sql("VACUUM ANALYZE sync_commits")
            fill_s = time.perf_counter() - t
            stored = size
            top = base + size // 10
            client.get("/api/v1/sync/pull", query_string={"limit": 1000}, headers=headers)  # warm
            samples, counts = [], []
            for _ in range(args.pages):
                # a position that leaves at least one full page of in-scope changes after it
                cursor = encode_cursor(Position(rnd.randint(base, max(base, top - 300)), 0), secret="bench", scope=scope)
                t = time.perf_counter()
                r = client.get("/api/v1/sync/pull", query_string={"limit": 1000, "cursor": cursor}, headers=headers)
                samples.append(time.perf_counter() - t)
                assert r.status_code == 200, r.get_json()
                counts.append(len(r.get_json()["changes"]))
            rows_out.append((size, median(samples), pct(samples, 99), median(counts)))
            print(f"{size:>9,} changes stored (filled in {fill_s:.1f} s): p50 {median(samples) * 1000:.0f} ms, "
                  f"p99 {pct(samples, 99) * 1000:.0f} ms per page of {median(counts):.0f} changes")
        first, last = rows_out[0][1], rows_out[-1][1]
        print(f"p50 largest / smallest: {last / first:.2f}x  (target <= 1.5x)")


if __name__ == "__main__":
    main()
