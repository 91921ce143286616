"""The S3 endpoint (moto's HTTP server) stopped mid-processing and mid-upload (issue 13, inputs 2
and 7): the photo job has a record and retries until it is processed; a chunk sent meanwhile is a
503 naming the storage, with Retry-After."""
from __future__ import annotations

import hashlib
import time
import uuid

import pytest

from inspections.jobs.models import JobRecord
from inspections.photos.models import Photo
from tests.factories import make_world, token_for
from tests.faults.conftest import run_worker_burst
from tests.faults.stack import free_port, wait_for
from tests.inspections.photos.images import photo

API = "/api/v1"
CHUNK = "application/offset+octet-stream"
BUCKET = "faults-evidence"


class Moto:
    """moto's S3 server on a fixed port, stopped and started again (its data lives in this process)."""

    def __init__(self):
        self.port = free_port()
        self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        from moto.server import ThreadedMotoServer
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def moto(s3_endpoint):  # s3_endpoint sets the fake AWS credentials for the run
    m = Moto().start()
    yield m
    m.stop()


def declare(client, headers, visit_id, data):
    body = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "content_type": "image/jpeg",
            "visit_id": visit_id, "item_code": "sports_area_m2", "id": str(uuid.uuid4())}
    r = client.post(f"{API}/photos/uploads", json=body, headers=headers)
    assert r.status_code == 201, r.json
    return r.json["id"]


def test_photo_processing_survives_an_s3_outage(make_fault_app, redis_server, moto, session):
    fapp = make_fault_app(REDIS_URL=redis_server.url, STORAGE_URL=f"s3://{BUCKET}/p", S3_ENDPOINT_URL=moto.url)
    from server.extensions import storage
    storage(fapp).client.create_bucket(Bucket=BUCKET)
    client = fapp.test_client()
    w = make_world(session)
    insp, office = token_for(session, w.inspector_a1), token_for(session, w.office_a1)
    v = client.post(f"{API}/visits", json={"school_id": str(w.school_a1.id)}, headers=insp).json
    data = photo(640, 480)
    pid = declare(client, insp, v["id"], data)
    r = client.patch(f"{API}/photos/uploads/{pid}", data=data,
                     headers={**insp, "Upload-Offset": "0", "Content-Type": CHUNK, "Upload-Complete": "?1"})
    assert r.status_code == 200 and r.json["status"] == "received", r.json
    # The job has a record from the finalize's own transaction, under the id the issue asked for.
    job = client.get(f"{API}/jobs/photo-{pid}", headers=office)
    assert job.status_code == 200 and job.json["status"] == "queued" and job.json["kind"] == "process_photo", job.json

    moto.stop()
    # Mid-upload: a chunk while S3 is unreachable is a 503 naming the storage, never a 500.
    other = photo(320, 240)
    oid = declare(client, insp, v["id"], other)
    chunk = client.patch(f"{API}/photos/uploads/{oid}", data=other[:100],
                         headers={**insp, "Upload-Offset": "0", "Content-Type": CHUNK})
    assert chunk.status_code == 503 and chunk.headers.get("Retry-After"), chunk.json
    assert "storage" in chunk.json["detail"].lower()
    # Mid-processing: the job fails once, is recorded as retrying, and the photo is still received.
    failed_at = time.monotonic()
    run_worker_burst(fapp)
    session.expire_all()
    rec = session.get(JobRecord, f"photo-{pid}")
    assert rec.status == "retrying" and rec.attempts == 1 and rec.error, (rec.status, rec.error)
    assert session.get(Photo, uuid.UUID(pid)).status == "received"

    moto.start()  # the same endpoint again, its objects intact
    # RQ's retry is due 10 s after the failure; a worker with its scheduler picks it up.
    time.sleep(max(0.0, 10.5 - (time.monotonic() - failed_at)))
    from rq import SimpleWorker

    from server.extensions import QUEUE_NAMES, queue, redis_connection

    def processed():
        with fapp.app_context():
            SimpleWorker([queue(n) for n in QUEUE_NAMES], connection=redis_connection()).work(
                burst=True, with_scheduler=True)
        session.expire_all()
        return session.get(Photo, uuid.UUID(pid)).status == "processed"
    wait_for(processed, 30, "the photo to be processed after S3 returned", interval=1)
    rec = session.get(JobRecord, f"photo-{pid}")
    assert rec.status == "finished" and rec.attempts == 2
    ev = client.get(f"{API}/visits/{v['id']}/photos", headers=insp).json
    assert next(p for p in ev if p["id"] == pid)["status"] == "processed"
    # The chunk refused during the outage goes through now, from the same offset.
    again = client.patch(f"{API}/photos/uploads/{oid}", data=other,
                         headers={**insp, "Upload-Offset": "0", "Content-Type": CHUNK, "Upload-Complete": "?1"})
    assert again.status_code == 200, again.json
