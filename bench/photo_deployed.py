"""Photos on the deployed path: HTTP -> gunicorn -> PostgreSQL -> Redis -> one RQ worker, timed until
every photo is processed, against plain Pillow making the same derivatives of the same files.

    .venv/bin/python -m bench.photo_deployed [--files 8] [--rounds 5] [--redis-db 10] [--s3]

gunicorn (2 x 4) on a scratch PostgreSQL database, Redis (db 10 of the local server by default, keys
under a prefix of their own), ONE `flask worker` and local blob storage (or, with --s3, moto's S3
server over HTTP). A round uploads the files one after another, as a device syncing its photos does
(`POST /api/v1/photos/uploads/whole`: the declaration in Upload-Metadata, the JPEG as the body), and
ends when the last photo's record is `processed` (polled every 10 ms). Timed:

- each upload request, from sending it to its answer (target <= 30 ms for a 4 MB JPEG), both during
  the rounds (the worker processing the previous photos on the same CPUs) and alone (after the
  rounds, each upload sent once the previous photo is processed, so no job runs beside it);
- end to end: from the first upload to the last photo processed, as photos/s;
- the baseline, in this process between the rounds: plain Pillow on the same files, `open`,
  full `load()`, a 1600 px copy (`thumbnail`) and a 320 px copy, both encoded as JPEG (quality 82,
  as ours). Ratio = end-to-end photos/s / baseline photos/s (target >= 0.7).

The files are camera-like 4032 x 3024 JPEGs of ~3.7 MB (quality 98, EXIF orientation 6); each round
changes one byte of each so dedupe never skips work.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import io
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

from PIL import Image

from bench.photo_ingest import camera_jpeg
from bench.sync_common import machine, median, pct, scratch_app


def baseline(files: list[bytes]) -> float:
    """Plain Pillow: full decode, 1600 px and 320 px derivatives, each encoded."""
    t = time.perf_counter()
    for data in files:
        im = Image.open(io.BytesIO(data))
        im.load()
        display = im.copy()
        display.thumbnail((1600, 1600))
        thumb = display.copy()
        thumb.thumbnail((320, 320))
        for x in (display, thumb):
            x.save(io.BytesIO(), "JPEG", quality=82)
    return time.perf_counter() - t



def s3_bucket(endpoint: str) -> dict:
    """Make the bench's bucket on an S3 endpoint; returns the app settings that store blobs there."""
    import boto3
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                 aws_secret_access_key="bench").create_bucket(Bucket="bench-photos")
    return {"STORAGE_URL": "s3://bench-photos/p", "S3_ENDPOINT_URL": endpoint, "S3_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}


def inspector_and_env(app, tmp, redis_db: int, prefix: str, storage: dict):
    """The demo world in the scratch app's database, an inspector's bearer token, and the environment a
    served copy of the app (gunicorn, worker) runs with: (world, token, env)."""
    from bench.sync_common import make_world
    from inspections.accounts import service as accounts
    from inspections.db import new_session
    from tests.faults.stack import app_env
    with new_session() as s:
        w = make_world(s)
        token = accounts.issue_token(s, user=w.inspector_a1)[0]
        s.commit()
    env = app_env(DATABASE_URL=app.config["DATABASE_URL"], REDIS_URL=f"redis://127.0.0.1:6379/{redis_db}",
                  KEY_PREFIX=f"{prefix}{uuid.uuid4().hex[:6]}-", VAR_DIR=tmp, SECRET_KEY="bench",
                  ARGON2_TIME_COST=1, ARGON2_MEMORY_KIB=1024, **storage)
    return w, token, env

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--redis-db", type=int, default=10)
    ap.add_argument("--s3", action="store_true", help="store blobs in moto's S3 server instead of a folder")
    args = ap.parse_args()
    from sqlalchemy import func, select

    from inspections.db import new_session
    from inspections.photos.models import Photo
    from tests.faults.stack import Worker, gunicorn

    files = [camera_jpeg(4032, 3024, seed=i, quality=98) for i in range(args.files)]
    sizes = [len(f) for f in files]
    tmp = Path(tempfile.mkdtemp(prefix="bench-photos-"))
    moto = None
    storage = {"STORAGE_URL": tmp / "blobs"}
    if args.s3:
        from moto.server import ThreadedMotoServer
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        host, port = moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        storage = s3_bucket(endpoint)
    try:
        with scratch_app() as app:
            w, token, env = inspector_and_env(app, tmp, args.redis_db, "benchphoto", storage)
            worker = Worker(env, tmp / "worker.log").start()
            uploads, rates, base_rates, ratios, alone = [], [], [], [], []
            try:
                with gunicorn(env, workers=2, threads=4, log_path=tmp / "gunicorn.log") as url:
                    netloc = urllib.parse.urlsplit(url).netloc
                    auth = {"Authorization": f"Bearer {token}"}
                    held = {"conn": http.client.HTTPConnection(netloc, timeout=60)}

                    def request(method, path, body=None, headers=None):
                        # One kept-alive connection, as a device's client has; opened again if gunicorn
                        # closed it while idle (between rounds), outside the timing of an upload.
                        for attempt in (1, 2):
                            conn = held["conn"]
                            try:
                                conn.request(method, path, body=body, headers={**auth, **(headers or {})})
                                r = conn.getresponse()
                                return r.status, r.read()
                            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                                conn.close()
                                held["conn"] = http.client.HTTPConnection(netloc, timeout=60)
                                if attempt == 2:
                                    raise
                    import json
                    st, body = request("POST", "/api/v1/visits", json.dumps({"school_id": str(w.school_a1.id)}),
                                       {"Content-Type": "application/json"})
                    assert st == 201, body
                    visit_id = json.loads(body)["id"]

                    def upload(data: bytes) -> tuple[str, float]:
                        meta = {"sha256": hashlib.sha256(data).hexdigest(), "size": str(len(data)),
                                "content_type": "image/jpeg", "visit_id": visit_id, "item_code": "sports_area_m2"}
                        header = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
                        t = time.perf_counter()
                        st, body = request("POST", "/api/v1/photos/uploads/whole", data,
                                           {"Upload-Metadata": header,
                                            "Content-Type": "application/offset+octet-stream"})
                        took = time.perf_counter() - t
                        assert st == 200, body
                        return json.loads(body)["id"], took

                    def processed(ids) -> int:
                        with new_session() as s:
                            return s.scalar(select(func.count()).select_from(Photo).where(
                                Photo.id.in_([uuid.UUID(i) for i in ids]), Photo.status == "processed"))

                    # Warm up: the worker's first job imports Pillow's plugins, gunicorn workers their code.
                    warm = [upload(files[0][:-2] + bytes([250 + k]) + files[0][-2:])[0] for k in range(4)]
                    deadline = time.monotonic() + 120
                    while processed(warm) < len(warm) and time.monotonic() < deadline:
                        time.sleep(0.05)
                    for r in range(args.rounds):
                        batch = [d[:-2] + bytes([r % 250]) + d[-2:] for d in files]
                        base = baseline(batch)
                        held["conn"].close()
                        held["conn"] = http.client.HTTPConnection(netloc, timeout=60)
                        held["conn"].connect()  # connected before the clock starts
                        t0 = time.perf_counter()
                        ids, times = [], []
                        for data in batch:
                            pid, took = upload(data)
                            ids.append(pid)
                            times.append(took)
                        deadline = time.monotonic() + 300
                        while processed(ids) < len(ids):
                            if time.monotonic() > deadline:
                                raise SystemExit(f"round {r + 1}: photos not processed after 300 s")
                            time.sleep(0.01)
                        e2e = time.perf_counter() - t0
                        base2 = baseline(batch)  # before and after: a slow spell hits both sides
                        b = (base + base2) / 2
                        uploads += times
                        rates.append(len(batch) / e2e)
                        base_rates.append(len(batch) / b)
                        ratios.append(b / e2e)
                        print(f"round {r + 1}: end to end {len(batch) / e2e:.2f} photos/s, baseline "
                              f"{len(batch) / b:.2f} photos/s, ratio {b / e2e:.2f}; upload request p50 "
                              f"{median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms", flush=True)
                    # The upload request alone: no job running beside it (the previous photo is processed).
                    for k, d in enumerate(files * 2):
                        pid, took = upload(d[:-2] + bytes([(200 + k) % 256]) + d[-2:])
                        alone.append(took)
                        deadline = time.monotonic() + 60
                        while processed([pid]) < 1 and time.monotonic() < deadline:
                            time.sleep(0.01)
                        time.sleep(0.05)
                    held["conn"].close()
            finally:
                worker.stop()
            print(f"machine: {machine()}")
            print(f"gunicorn 2 x 4, one `flask worker`, Redis db {args.redis_db}, "
                  f"{'S3 (moto server)' if args.s3 else 'local blob folder'}; {args.files} JPEGs 4032 x 3024, "
                  f"{min(sizes) / 1e6:.2f}-{max(sizes) / 1e6:.2f} MB; {args.rounds} rounds")
            uploads.sort()
            print(f"upload request during the rounds: p50 {median(uploads) * 1000:.1f} ms, p90 "
                  f"{pct(uploads, 90) * 1000:.1f} ms, max {uploads[-1] * 1000:.1f} ms "
                  f"(target <= 30 ms)")
            alone.sort()
            print(f"upload request alone (no job running): p50 {median(alone) * 1000:.1f} ms, "
                  f"p90 {pct(alone, 90) * 1000:.1f} ms, max {alone[-1] * 1000:.1f} ms")
            print(f"end to end: median {median(rates):.2f} photos/s; baseline median {median(base_rates):.2f} photos/s")
            print(f"ratio end to end / baseline: median {median(ratios):.2f}, min {min(ratios):.2f}, "
                  f"max {max(ratios):.2f} (target >= 0.7)")
    finally:
        if moto is not None:
            moto.stop()


if __name__ == "__main__":
    main()
