"""The photo upload request alone, on the deployed path, optionally side by side with other code.

    .venv/bin/python -m bench.photo_upload [--uploads 30] [--s3] [--against DIR] [--redis-db 10]

gunicorn (2 x 4, `wsgi:app` inside bench/timed_wsgi.py) on a scratch PostgreSQL database with Redis (its own key
prefix; no worker, so no job runs beside the requests) and a local blob folder or, with --s3, moto's S3
server in its own process over HTTP. Each upload is `POST /api/v1/photos/uploads/whole` of a camera-like
4032 x 3024 JPEG of ~3.7 MB (one byte changed each time, so dedupe never skips the write), over one
kept-alive connection. Timed per request: at the client, inside the server (wall), and the server
thread's CPU time (what the request costs whatever else runs on the machine).

--against DIR: a second gunicorn runs the code in DIR (e.g. `git archive <commit> | tar -x -C DIR`) on
the same database, storage and Redis; requests alternate between the two, so a busy spell of a shared
machine hits both alike.

Then the blob write alone, in this process, on the same files: the local folder's put, and with --s3
boto3's put_object to the moto server and a plain unsigned HTTP PUT of the same bytes to it (moto's own
cost, without boto3's signing and checksums).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.photo_deployed import inspector_and_env, s3_bucket
from bench.photo_ingest import camera_jpeg
from bench.sync_common import machine, median, scratch_app

ROOT = Path(__file__).resolve().parent.parent


def _pct(values, p):
    v = sorted(values)
    return v[int(p * (len(v) - 1))]


def _summary(values) -> str:
    return f"p50 {median(values):.1f} ms, p90 {_pct(values, 0.9):.1f}, min {min(values):.1f}"


def _moto(port: int):
    proc = subprocess.Popen([str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(endpoint, timeout=1).read()
            break
        except OSError:
            time.sleep(0.05)
    return proc, endpoint


def storage_alone(files: list[bytes], folder: Path, endpoint: str | None, n: int) -> None:
    """The blob write by itself: local folder, and (with S3) boto3 to moto and raw HTTP to moto."""
    from inspections.storage import LocalStorage, from_url
    local = LocalStorage(folder)
    modes = [("local blob folder, put", lambda i, d: local.put(f"alone/{i}", d))]
    if endpoint:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
        s3 = from_url("s3://bench-alone/p", endpoint_url=endpoint, region="us-east-1")
        s3.client.create_bucket(Bucket="bench-alone")
        netloc = endpoint.split("//", 1)[1]

        def raw(i, d):
            conn = http.client.HTTPConnection(netloc, timeout=60)
            conn.request("PUT", f"/bench-alone/raw{i}", d, {"Content-Type": "image/jpeg"})
            conn.getresponse().read()
            conn.close()
        modes += [("S3: boto3 put_object to moto_server (as the app: with its SHA-256)",
                   lambda i, d: s3.put(f"k{i}", d, content_type="image/jpeg", sha256=hashlib.sha256(d).hexdigest())),
                  ("S3: plain HTTP PUT to moto_server (no signing, no checksum: moto's own cost)", raw)]
    modes.append(("sha256 of the file", lambda i, d: hashlib.sha256(d).hexdigest()))
    times: dict[str, list[float]] = {m: [] for m, _ in modes}
    for i in range(n):
        d = files[i % len(files)]
        d = d[:-3] + bytes([i % 256]) + d[-2:]
        for name, fn in modes:  # interleaved, as the requests are
            t = time.perf_counter()
            fn(i, d)
            times[name].append((time.perf_counter() - t) * 1000)
    for name, v in times.items():
        print(f"  {name}: {_summary(v)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--uploads", type=int, default=30)
    ap.add_argument("--s3", action="store_true")
    ap.add_argument("--against", type=Path, help="a folder with other code to run side by side")
    ap.add_argument("--redis-db", type=int, default=10)
    args = ap.parse_args()
    from tests.faults.stack import _stop, free_port, wait_for

    tmp = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    files = [camera_jpeg(4032, 3024, seed=i, quality=98) for i in range(4)]
    storage = {"STORAGE_URL": tmp / "blobs"}
    moto = endpoint = None
    if args.s3:
        moto, endpoint = _moto(free_port())
        storage = s3_bucket(endpoint)
    servers = {"this code": ROOT}
    if args.against:
        servers = {"other code": args.against.resolve(), **servers}
    procs = []
    try:
        with scratch_app() as app:
            w, token, env = inspector_and_env(app, tmp, args.redis_db, "benchupload", storage)
            conns = {}
            # The wrapper as a top-level module of its own, so the other code needs no copy of it.
            shim = tmp / "shim"
            shim.mkdir()
            (shim / "timed_wsgi.py").write_text((ROOT / "bench" / "timed_wsgi.py").read_text())
            for name, root in servers.items():
                port = free_port()
                procs.append(subprocess.Popen(
                    [str(ROOT / ".venv/bin/gunicorn"), "-w", "2", "--threads", "4", "-b", f"127.0.0.1:{port}",
                     "timed_wsgi:app"], cwd=root, env={**env, "PYTHONPATH": f"{shim}:{root}"},
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))

                def up(port=port):
                    try:
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
                        return True
                    except OSError:
                        return False
                wait_for(up, 60, f"gunicorn ({name})")
                conns[name] = http.client.HTTPConnection(f"127.0.0.1:{port}", timeout=60)
            auth = {"Authorization": f"Bearer {token}"}
            first = next(iter(conns.values()))
            first.request("POST", "/api/v1/visits", json.dumps({"school_id": str(w.school_a1.id)}),
                          {**auth, "Content-Type": "application/json"})
            visit_id = json.loads(first.getresponse().read())["id"]
            seq = [0]

            def upload(name: str, data: bytes) -> tuple[float, float, float]:
                seq[0] += 1
                data = data[:-3] + seq[0].to_bytes(2, "big") + data[-1:]
                meta = {"sha256": hashlib.sha256(data).hexdigest(), "size": str(len(data)),
                        "content_type": "image/jpeg", "visit_id": visit_id, "item_code": "sports_area_m2"}
                header = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
                conn = conns[name]
                t = time.perf_counter()
                conn.request("POST", "/api/v1/photos/uploads/whole", data,
                             {**auth, "Upload-Metadata": header, "Content-Type": "application/offset+octet-stream"})
                r = conn.getresponse()
                body = r.read()
                took = (time.perf_counter() - t) * 1000
                assert r.status == 200, body
                return took, float(r.getheader("X-Server-Ms")), float(r.getheader("X-Cpu-Ms"))

            for k in range(8):  # warm up both workers of each server
                for name in conns:
                    upload(name, files[k % len(files)])
            out = {name: ([], [], []) for name in conns}
            names = list(conns)
            for i in range(args.uploads):
                for name in (names if i % 2 == 0 else names[::-1]):
                    for acc, value in zip(out[name], upload(name, files[i % len(files)])):
                        acc.append(value)
                    time.sleep(0.02)
            with open("/proc/loadavg") as fh:
                load = " ".join(fh.read().split()[:3])
            print(f"machine: {machine()}; load average at the end {load}")
            print(f"gunicorn 2 x 4, PostgreSQL, Redis db {args.redis_db}, "
                  f"{'S3 (moto_server, own process)' if args.s3 else 'local blob folder'}; {args.uploads} uploads "
                  f"per server of 4032 x 3024 JPEGs, {min(map(len, files)) / 1e6:.2f}-{max(map(len, files)) / 1e6:.2f} MB")
            for name, (client, server, cpu) in out.items():
                print(f"{name} ({servers[name]}):")
                print(f"  upload request at the client: {_summary(client)} (target <= 30 ms)")
                print(f"  inside the server: {_summary(server)}; server CPU: {_summary(cpu)}")
            print("the blob write alone, in this process:")
            storage_alone(files, tmp / "alone", endpoint, args.uploads)
    finally:
        for p in procs:
            _stop(p)
        if moto is not None:
            moto.terminate()
            moto.wait(10)


if __name__ == "__main__":
    main()
