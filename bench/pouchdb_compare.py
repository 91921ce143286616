"""Our sync against PouchDB-server 4.2 (the CouchDB-protocol server offline-first apps replicate to), side
by side on the same machine, the same records, in interleaved rounds.

    .venv/bin/python -m bench.pouchdb_compare [--rounds 5] [--stored 20000] [--redis-db 9] [--pouch-store leveldb|memory]

Needs Node and npm: PouchDB-server is installed by `npm ci` from bench/pouchdb/package-lock.json
(pinned, into bench/pouchdb/node_modules, which is not committed); without Node the benchmark says
so and exits. PouchDB-server runs as deployed, on its default LevelDB files in a scratch folder
(leveldown 5.6 installs from the prebuilt linux-x64 binary in its npm package, nothing is compiled);
`--pouch-store memory` runs it `--in-memory` instead, which keeps nothing across a restart and so is
no replication server anyone deploys, but is shown as the harder reference. Neither side is told to
sync to disk differently from its default: we commit to PostgreSQL with `synchronous_commit = on`,
LevelDB writes without fsync.

Ours: gunicorn (2 x 4) on a scratch PostgreSQL database, Redis (db 9 by default, own key prefix),
one `flask worker`. Both are driven over HTTP on 127.0.0.1 by this process, one kept-alive
connection each. Per round, in alternating order:

- push 500 creates: 25 visits, each with 19 answers (ours: one `POST /api/v1/sync/push`; PouchDB:
  one `POST /db/_bulk_docs` of the same 500 records as documents);
- push 500 updates: each of those 475 answers and 25 visits changed (ours: `update` mutations with
  their base versions; PouchDB: the documents with their `_rev`);
- replay 500 creates: the create batch sent again (ours: the same mutation ids, answered
  `duplicate`; PouchDB: the same documents and revisions with `new_edits: false`, as a replicator
  re-sends them);
- pull a 1,000-change page, every page from the start of a log of ~`--stored` changes (ours:
  `GET /api/v1/sync/pull?limit=1000` following the cursor; PouchDB:
  `GET /db/_changes?include_docs=true&limit=1000` following `last_seq`); median page.

Ratio = PouchDB's time / ours (> 1: we are faster). Targets (issue 18): >= 1.5 for the three pushes,
>= 1.2 for the pull.

Then the throughput phase (`--devices 4 --batches 3`; `--devices 0` skips it): several devices push at
once, each its own batches over its own connection, as a county's inspectors sync at the end of a day;
records per second of wall time for creates, their updates and a replay, on both sides (`throughput`).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from bench.sync_common import ROOT, answer_value, machine, median, next_answer_value

POUCH_DIR = ROOT / "bench" / "pouchdb"
ITEMS = ['enrolment', 'teachers_above_required_qualification', 'key_teachers_county_level_or_above',
         'pe_art_teachers', 'teaching_aux_area_m2', 'sports_area_m2', 'equipment_value_yuan', 'multimedia_classrooms',
         'class_sizes', 'music_rooms_m2', 'art_rooms_m2', 'compulsory_enrolment', 'training_budget_yuan',
         'public_funds_budget_yuan', 'has_charter', 'it_in_management_and_teaching', 'moral_education_rating',
         'full_curriculum', 'no_excessive_homework']


class Http:
    """One kept-alive HTTP connection (reopened if the server closed it while idle)."""

    def __init__(self, netloc: str, headers: dict | None = None):
        self.netloc, self.headers = netloc, headers or {}
        self.conn = http.client.HTTPConnection(netloc, timeout=300)

    def __call__(self, method: str, path: str, body=None) -> tuple[int, object, float]:
        data = json.dumps(body).encode() if body is not None else None
        hdr = {**self.headers, **({"Content-Type": "application/json"} if data is not None else {})}
        for attempt in (1, 2):
            try:
                t = time.perf_counter()
                self.conn.request(method, path, body=data, headers=hdr)
                r = self.conn.getresponse()
                raw = r.read()
                took = time.perf_counter() - t
                return r.status, (json.loads(raw) if raw else None), took
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.netloc, timeout=300)
                if attempt == 2:
                    raise

    def reconnect(self):
        self.conn.close()
        self.conn = http.client.HTTPConnection(self.netloc, timeout=300)
        self.conn.connect()


def pouchdb_server() -> Path | None:
    """The pinned pouchdb-server executable, installed on first use; None (with a message) without Node."""
    if not (shutil.which("node") and shutil.which("npm")):
        print("pouchdb_compare: SKIPPED: Node/npm not found (install Node 20 to run the comparison)")
        return None
    exe = POUCH_DIR / "node_modules" / ".bin" / "pouchdb-server"
    if not exe.exists():
        print("installing pouchdb-server (npm ci, pinned by bench/pouchdb/package-lock.json) ...", flush=True)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=POUCH_DIR, check=True)
    return exe


def batch_creates(school_id: str) -> tuple[list[dict], list[dict]]:
    """500 creates: (our mutations, the same records as PouchDB documents)."""
    muts, docs = [], []
    for _ in range(25):
        vid = str(uuid.uuid4())
        fields = {"school_id": school_id, "notes": "bench"}
        muts.append({"mutation_id": str(uuid.uuid4()), "entity": "visit", "id": vid, "op": "create", "fields": fields})
        docs.append({"_id": vid, "type": "visit", **fields})
        for i, code in enumerate(ITEMS):
            rid = str(uuid.uuid4())
            fields = {"visit_id": vid, "item_code": code, "value": answer_value(code, i)}
            muts.append({"mutation_id": str(uuid.uuid4()), "entity": "response", "id": rid, "op": "create",
                         "fields": fields})
            docs.append({"_id": rid, "type": "response", **fields})
    return muts, docs


def batch_updates(creates: list[dict], results: list[dict]) -> list[dict]:
    """Each created record changed once, on the version the create answered."""
    out = []
    for m, res in zip(creates, results):
        fields = {"notes": "bench, edited"} if m["entity"] == "visit" else \
            {"value": next_answer_value(m["fields"]["item_code"], m["fields"]["value"])}
        out.append({"mutation_id": str(uuid.uuid4()), "entity": m["entity"], "id": m["id"], "op": "update",
                    "base_version": res["version"], "fields": fields})
    return out


def throughput(args, school_id: str, ours_netloc: str, token: str, pouch_netloc: str) -> dict:
    """Records per second of wall time with `args.devices` devices pushing at once, each its own batches
    (its own visits, device id and kept-alive connection), `args.batches` of 500 each: creates, then their
    updates, then the creates again (a retry after a lost answer). PouchDB-server gets the same documents
    in `_bulk_docs` from the same number of clients, into its one database, as devices replicate to it.
    Request bodies are encoded before the clock starts and answers decoded after it stops, so the client's
    JSON work (one process, shared cores) weighs on neither side. Rounds alternate which side goes first."""
    import threading

    def run(netloc, headers, path, bodies_per_device) -> tuple[float, list[list[bytes]]]:
        conns = [http.client.HTTPConnection(netloc, timeout=300) for _ in bodies_per_device]
        for c in conns:
            c.connect()
        answers: list[list[tuple[int, bytes]]] = [[] for _ in bodies_per_device]
        gate = threading.Barrier(len(conns) + 1)

        def device(i):
            gate.wait()
            for body in bodies_per_device[i]:
                conns[i].request("POST", path, body=body, headers={**headers, "Content-Type": "application/json"})
                r = conns[i].getresponse()
                answers[i].append((r.status, r.read()))
        threads = [threading.Thread(target=device, args=(i,)) for i in range(len(conns))]
        for t in threads:
            t.start()
        gate.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        took = time.perf_counter() - t0
        for c in conns:
            c.close()
        for device_answers in answers:
            for status, raw in device_answers:
                assert status in (200, 201), raw[:300]
        return took, [[raw for _, raw in a] for a in answers]

    rates = {k: {"ours": [], "pouch": []} for k in ("creates", "updates", "replay")}
    n = args.devices * args.batches * 500
    ours_headers = {"Authorization": f"Bearer {token}"}
    for rnd in range(args.rounds):
        plan = [[batch_creates(school_id) for _ in range(args.batches)] for _ in range(args.devices)]
        for side in (["ours", "pouch"] if rnd % 2 == 0 else ["pouch", "ours"]):
            if side == "ours":
                devices = [f"bench-{rnd}-{i}" for i in range(args.devices)]
                creates = [[json.dumps({"device_id": devices[i], "mutations": m}).encode() for m, _ in plan[i]]
                           for i in range(args.devices)]
                took, got = run(ours_netloc, ours_headers, "/api/v1/sync/push", creates)
                rates["creates"][side].append(n / took)
                results = [[json.loads(raw)["results"] for raw in a] for a in got]
                assert all({r["status"] for r in res} == {"applied"} for a in results for res in a)
                updates = [[json.dumps({"device_id": devices[i], "mutations": batch_updates(m, results[i][j])}).encode()
                            for j, (m, _) in enumerate(plan[i])] for i in range(args.devices)]
                took, got = run(ours_netloc, ours_headers, "/api/v1/sync/push", updates)
                rates["updates"][side].append(n / took)
                assert all({r["status"] for r in json.loads(raw)["results"]} <= {"applied", "merged"}
                           for a in got for raw in a)
                took, got = run(ours_netloc, ours_headers, "/api/v1/sync/push", creates)
                rates["replay"][side].append(n / took)
                assert all({r["status"] for r in json.loads(raw)["results"]} == {"duplicate"} for a in got for raw in a)
            else:
                creates = [[json.dumps({"docs": d}).encode() for _, d in plan[i]] for i in range(args.devices)]
                took, got = run(pouch_netloc, {}, "/bench/_bulk_docs", creates)
                rates["creates"][side].append(n / took)
                revs = [[{r["id"]: r["rev"] for r in json.loads(raw)} for raw in a] for a in got]
                assert all(all(r.get("ok") for r in json.loads(raw)) for a in got for raw in a)
                updates = [[json.dumps({"docs": [{**d, "_rev": revs[i][j][d["_id"]],
                                                   **({"notes": "bench, edited"} if d["type"] == "visit"
                                                      else {"value": next_answer_value(d["item_code"], d["value"])})}
                                                   for d in docs]}).encode()
                            for j, (_, docs) in enumerate(plan[i])] for i in range(args.devices)]
                took, got = run(pouch_netloc, {}, "/bench/_bulk_docs", updates)
                rates["updates"][side].append(n / took)
                assert all(all(r.get("ok") for r in json.loads(raw)) for a in got for raw in a)
                replays = [[json.dumps({"docs": [{**d, "_rev": revs[i][j][d["_id"]]} for d in docs],
                                        "new_edits": False}).encode()
                            for j, (_, docs) in enumerate(plan[i])] for i in range(args.devices)]
                took, got = run(pouch_netloc, {}, "/bench/_bulk_docs", replays)
                rates["replay"][side].append(n / took)
        print(f"throughput round {rnd + 1}: " + ", ".join(
            f"{k} ours {rates[k]['ours'][-1]:,.0f} / PouchDB {rates[k]['pouch'][-1]:,.0f} records/s" for k in rates),
            flush=True)
    return rates


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--stored", type=int, default=20000, help="changes in each log before the pull is timed")
    ap.add_argument("--redis-db", type=int, default=9, choices=(9, 10))
    ap.add_argument("--pouch-store", choices=("leveldb", "memory"), default="leveldb",
                    help="PouchDB-server's storage: its default LevelDB files (as deployed) or --in-memory")
    ap.add_argument("--devices", type=int, default=4,
                    help="devices pushing at once in the throughput phase (0: skip it)")
    ap.add_argument("--batches", type=int, default=3, help="batches of 500 each device pushes per throughput round")
    args = ap.parse_args()
    exe = pouchdb_server()
    if exe is None:
        return
    from bench.sync_common import make_world, scratch_app
    from inspections.accounts import service as accounts
    from inspections.db import new_session
    from tests.faults.stack import Worker, app_env, free_port, gunicorn, wait_for

    tmp = Path(tempfile.mkdtemp(prefix="bench-pouch-"))
    port = free_port()
    pouch_log = open(tmp / "pouchdb.log", "ab")
    store = ["--in-memory"] if args.pouch_store == "memory" else []
    pouch = subprocess.Popen([str(exe), *store, "--no-stdout-logs", "-p", str(port), "-o", "127.0.0.1",
                              "-d", str(tmp)],
                             cwd=tmp, stdout=pouch_log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        pdb = Http(f"127.0.0.1:{port}")

        def pouch_up():
            try:
                return pdb("GET", "/")[0] == 200
            except OSError:
                pdb.conn.close()
                if pouch.poll() is not None:
                    raise RuntimeError(f"pouchdb-server exited (log: {tmp / 'pouchdb.log'})")
                return False
        wait_for(pouch_up, 60, "pouchdb-server to answer", 0.2)
        version = pdb("GET", "/")[1].get("version")
        assert pdb("PUT", "/bench")[0] in (201, 412)
        with scratch_app() as app:
            with new_session() as s:
                w = make_world(s)
                token = accounts.issue_token(s, user=w.inspector_a1)[0]
                s.commit()
                school_id = str(w.school_a1.id)
            env = app_env(DATABASE_URL=app.config["DATABASE_URL"], REDIS_URL=f"redis://127.0.0.1:6379/{args.redis_db}",
                          KEY_PREFIX=f"benchpouch{uuid.uuid4().hex[:6]}-", VAR_DIR=tmp, STORAGE_URL=tmp / "blobs",
                          SECRET_KEY="bench", ARGON2_TIME_COST=1, ARGON2_MEMORY_KIB=1024)
            worker = Worker(env, tmp / "worker.log").start()
            try:
                with gunicorn(env, workers=2, threads=4, log_path=tmp / "gunicorn.log") as url:
                    ours = Http(url.split("//", 1)[1], {"Authorization": f"Bearer {token}"})

                    def our_push(muts):
                        st, body, took = ours("POST", "/api/v1/sync/push", {"device_id": "bench", "mutations": muts})
                        assert st == 200, body
                        return body["results"], took

                    # Fill both logs to ~`stored` changes (the same records on both sides).
                    print(f"filling both logs with ~{args.stored:,} changes ...", flush=True)
                    for _ in range(max(1, args.stored // 525)):
                        muts, docs = batch_creates(school_id)
                        res, _ = our_push(muts)
                        assert {r["status"] for r in res} == {"applied"}
                        st, _, _ = pdb("POST", "/bench/_bulk_docs", {"docs": docs})
                        assert st == 201
                    # warm-up of every path on both sides
                    muts, docs = batch_creates(school_id)
                    res, _ = our_push(muts)
                    our_push(batch_updates(muts, res))
                    our_push(muts)
                    pdb("POST", "/bench/_bulk_docs", {"docs": docs})
                    figures = {k: {"ours": [], "pouch": []} for k in ("creates", "updates", "replay", "pull")}
                    for rnd in range(args.rounds):
                        muts, docs = batch_creates(school_id)
                        sides = ["ours", "pouch"] if rnd % 2 == 0 else ["pouch", "ours"]
                        for side in sides:
                            if side == "ours":
                                ours.reconnect()
                                res, t_create = our_push(muts)
                                assert {r["status"] for r in res} == {"applied"}, {r["status"] for r in res}
                                res2, t_update = our_push(batch_updates(muts, res))
                                # a visit answered after its create is merged on its create's version
                                assert {r["status"] for r in res2} <= {"applied", "merged"}, {r["status"] for r in res2}
                                res3, t_replay = our_push(muts)
                                assert {r["status"] for r in res3} == {"duplicate"}, {r["status"] for r in res3}
                                cursor, pages = None, []
                                while True:
                                    q = "limit=1000" + (f"&cursor={cursor}" if cursor else "")
                                    st, body, took = ours("GET", f"/api/v1/sync/pull?{q}")
                                    assert st == 200, body
                                    if len(body["changes"]) == 1000:
                                        pages.append(took)
                                    cursor = body["cursor"]
                                    if not body["has_more"]:
                                        break
                            else:
                                pdb.reconnect()
                                st, res, t_create = pdb("POST", "/bench/_bulk_docs", {"docs": docs})
                                assert st == 201 and all(r.get("ok") for r in res), res[:2]
                                revs = {r["id"]: r["rev"] for r in res}
                                edited = [{**d, "_rev": revs[d["_id"]],
                                           **({"notes": "bench, edited"} if d["type"] == "visit"
                                              else {"value": next_answer_value(d["item_code"], d["value"])})}
                                          for d in docs]
                                st, res2, t_update = pdb("POST", "/bench/_bulk_docs", {"docs": edited})
                                assert st == 201 and all(r.get("ok") for r in res2), res2[:2]
                                replay = [{**d, "_rev": revs[d["_id"]]} for d in docs]
                                st, _, t_replay = pdb("POST", "/bench/_bulk_docs", {"docs": replay, "new_edits": False})
                                assert st == 201
                                since, pages = 0, []
                                while True:
                                    st, body, took = pdb("GET", f"/bench/_changes?include_docs=true&limit=1000&since={since}")
                                    assert st == 200
                                    if len(body["results"]) == 1000:
                                        pages.append(took)
                                    if len(body["results"]) < 1000:
                                        break
                                    since = body["last_seq"]
                            figures["creates"][side].append(t_create)
                            figures["updates"][side].append(t_update)
                            figures["replay"][side].append(t_replay)
                            figures["pull"][side].append(median(pages))
                        print(f"round {rnd + 1}: " + ", ".join(
                            f"{k} ours {figures[k]['ours'][-1] * 1000:.0f} ms / PouchDB {figures[k]['pouch'][-1] * 1000:.0f} ms"
                            for k in figures), flush=True)
                    rates = throughput(args, school_id, url.split("//", 1)[1], token, f"127.0.0.1:{port}") \
                        if args.devices > 0 else None
            finally:
                worker.stop()
        print(f"machine: {machine()}; node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}")
        print(f"PouchDB-server {version} ({'--in-memory' if args.pouch_store == 'memory' else 'LevelDB files'}); ours: gunicorn 2 x 4, PostgreSQL, Redis db {args.redis_db}, "
              f"one worker; {args.rounds} interleaved rounds; pull over ~{args.stored:,}+ changes")
        print("| work | ours (median) | PouchDB-server (median) | ratio PouchDB / ours | target |")
        print("| --- | --- | --- | --- | --- |")
        names = {"creates": ("push 500 creates", 1.5), "updates": ("push 500 updates", 1.5),
                 "replay": ("replay 500 creates (`duplicate`)", 1.5), "pull": ("pull a 1,000-change page", 1.2)}
        for k, (name, target) in names.items():
            o, p = median(figures[k]["ours"]), median(figures[k]["pouch"])
            print(f"| {name} | {o * 1000:.0f} ms | {p * 1000:.0f} ms | {p / o:.2f} | >= {target} |")
        if rates:
            print(f"\nthroughput, {args.devices} devices pushing at once, {args.batches} batches of 500 each per round "
                  f"({args.rounds} interleaved rounds, medians; records per second of wall time):")
            print("| work | ours | PouchDB-server | ratio ours / PouchDB | target |")
            print("| --- | --- | --- | --- | --- |")
            for k, name in (("creates", "push creates"), ("updates", "push updates"), ("replay", "replay creates")):
                o, p = median(rates[k]["ours"]), median(rates[k]["pouch"])
                print(f"| {name} | {o:,.0f} records/s | {p:,.0f} records/s | {o / p:.2f} | >= 1.5 |")
    finally:
        os.killpg(pouch.pid, signal.SIGTERM)
        try:
            pouch.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(pouch.pid, signal.SIGKILL)
            pouch.wait()
        pouch_log.close()


if __name__ == "__main__":
    main()
