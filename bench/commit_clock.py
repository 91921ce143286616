"""The commit clock's ceiling: commits/s with 8, 32 and 128 concurrent writers.

    .venv/bin/python -m bench.commit_clock [--writers 8,32,128] [--seconds 4]

Every transaction that writes changes takes `LOCK TABLE sync_commits IN EXCLUSIVE MODE` in its
before-commit hook and holds it through COMMIT (`sync.changelog`): commit sequence numbers become
visible strictly in order, which is what makes a pull cursor safe, and it is one lock for the whole
database. This measures how many such commits per second one PostgreSQL can make.

The bench starts a PostgreSQL 15 of its own (initdb into a temporary folder, a free port,
`max_connections = 300`, so 128 writers fit, and the shared server's connection budget is not
touched), migrates it like production, and runs writers as threads over 4 processes, each writer
with its own connection, for `--seconds` per setting after a warm-up. A writer's transaction is what
a small write leaves: one change row, then the clock (lock, `max(commit_seq) + 1`, one
`sync_commits` row) and COMMIT. The baseline is the same transaction without the clock. Both with
`synchronous_commit = on` (each COMMIT waits for its WAL flush, as production should run) and
`off`.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench.sync_common import machine

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the `postgres` account then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class Cluster:
    """A throwaway PostgreSQL cluster on a free port (stopped and deleted on exit)."""

    def __init__(self):
        from tests.faults.stack import free_port
        self.dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")

    def start(self) -> "Cluster":
        data = self.dir / "data"
        subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                                     "--no-sync"]), check=True, stdout=subprocess.DEVNULL)
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=300 "
                f"-c shared_buffers=256MB")
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l",
                                     str(self.dir / "log"), "-w", "start"]), check=True, stdout=subprocess.DEVNULL)
        import psycopg
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as c:
            c.execute("CREATE DATABASE bench")
        return self

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/bench"

    def stop(self) -> None:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


CHANGE = ("INSERT INTO sync_changes (txn_id, entity, entity_id, op, version, data, changed_at) "
          "VALUES (%s, 'visit', %s, 'upsert', 1, '{\"notes\": \"bench\"}', now())")


def _writer(url: str, clock: bool, sync_commit: str, start: float, stop: float, counts: list, i: int) -> None:
    import psycopg
    with psycopg.connect(url) as conn:
        conn.execute(f"SET synchronous_commit = {sync_commit}")
        conn.commit()
        n = 0
        while time.time() < stop:
            txn = uuid.uuid4()
            conn.execute(CHANGE, (txn, uuid.uuid4()))
            if clock:
                conn.execute("LOCK TABLE sync_commits IN EXCLUSIVE MODE")
                nxt = (conn.execute("SELECT max(commit_seq) FROM sync_commits").fetchone()[0] or 0) + 1
                conn.execute("INSERT INTO sync_commits (txn_id, commit_seq, committed_at) VALUES (%s, %s, now())",
                             (txn, nxt))
            conn.commit()
            if time.time() >= start:
                n += 1
        counts[i] = n


def _process(url, clock, sync_commit, start, stop, threads, queue) -> None:
    counts = [0] * threads
    ts = [threading.Thread(target=_writer, args=(url, clock, sync_commit, start, stop, counts, i))
          for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    queue.put(sum(counts))


def run(url: str, writers: int, clock: bool, sync_commit: str, seconds: float, procs: int = 4) -> float:
    procs = min(procs, writers)
    q = mp.Queue()
    start = time.time() + 1.0 + writers / 100  # connections made and warm before the clock starts
    stop = start + seconds
    ps = [mp.Process(target=_process, args=(url, clock, sync_commit, start, stop,
                                            writers // procs + (1 if k < writers % procs else 0), q))
          for k in range(procs)]
    for p in ps:
        p.start()
    total = sum(q.get() for _ in ps)
    for p in ps:
        p.join()
    return total / seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--writers", default="8,32,128")
    ap.add_argument("--seconds", type=float, default=4)
    args = ap.parse_args()
    if not (PG_BIN / "initdb").exists():
        raise SystemExit(f"commit_clock: needs PostgreSQL 15's server binaries in {PG_BIN}")
    from server import create_app
    from server.cli import upgrade_database
    cluster = Cluster().start()
    try:
        app = create_app({"DATABASE_URL": cluster.url, "VAR_DIR": str(cluster.dir), "STORAGE_URL": str(cluster.dir),
                          "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"})
        with app.app_context():
            upgrade_database(app)
        app.extensions["db_engine"].dispose()
        url = cluster.url
        rows = []
        for n in [int(x) for x in args.writers.split(",")]:
            for sync_commit in ("on", "off"):
                base = run(url, n, False, sync_commit, args.seconds)
                clock = run(url, n, True, sync_commit, args.seconds)
                rows.append((n, sync_commit, clock, base))
                print(f"{n:>4} writers, synchronous_commit={sync_commit}: with the clock {clock:,.0f} commits/s, "
                      f"without {base:,.0f} commits/s (ratio {clock / base:.2f})", flush=True)
        print(f"machine: {machine()}")
        print("| writers | synchronous_commit | commits/s with the clock | without (same transaction) | ratio |")
        print("| --- | --- | --- | --- | --- |")
        for n, sc, clock, base in rows:
            print(f"| {n} | {sc} | {clock:,.0f} | {base:,.0f} | {clock / base:.2f} |")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
