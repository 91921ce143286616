"""Blob storage against a real HTTP S3 endpoint (moto's server) through boto3, and locally."""
from __future__ import annotations

import io
import os

import pytest

from inspections.storage import LocalStorage, S3Storage, from_url


@pytest.fixture
def s3(s3_endpoint):
    st = from_url("s3://evidence/photos", endpoint_url=s3_endpoint)
    st.client.create_bucket(Bucket="evidence")
    yield st
    for obj in st.client.list_objects_v2(Bucket="evidence").get("Contents", []):
        st.client.delete_object(Bucket="evidence", Key=obj["Key"])
    st.client.delete_bucket(Bucket="evidence")


def test_s3_round_trip(s3):
    assert isinstance(s3, S3Storage)
    s3.check()
    assert not s3.exists("ab/abc")
    s3.put("ab/abc", b"hello evidence", content_type="image/jpeg")
    assert s3.exists("ab/abc")
    assert b"".join(s3.open("ab/abc")) == b"hello evidence"
    head = s3.client.head_object(Bucket="evidence", Key="photos/ab/abc")
    assert head["ContentType"] == "image/jpeg"
    import urllib.request
    with urllib.request.urlopen(s3.presigned_url("ab/abc", expires=60)) as resp:
        assert resp.read() == b"hello evidence"
    s3.delete("ab/abc")
    assert not s3.exists("ab/abc")


def test_s3_large_stream_goes_multipart(s3):
    data = os.urandom(9 * 1024 * 1024)
    s3.put("big/one", io.BytesIO(data))
    assert b"".join(s3.open("big/one")) == data


def test_readyz_with_s3(s3_endpoint, s3, tmp_path):
    from server import create_app
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "VAR_DIR": str(tmp_path), "SECRET_KEY": "x",
                      "STORAGE_URL": "s3://evidence", "S3_ENDPOINT_URL": s3_endpoint})
    assert app.test_client().get("/readyz").json["checks"]["storage"] == "ok"
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "VAR_DIR": str(tmp_path), "SECRET_KEY": "x",
                      "STORAGE_URL": "s3://no-such-bucket", "S3_ENDPOINT_URL": s3_endpoint})
    assert app.test_client().get("/readyz").status_code == 503


def test_local_storage_refuses_escaping_keys(tmp_path):
    st = LocalStorage(tmp_path)
    st.put("aa/bb", b"x")
    assert b"".join(st.open("aa/bb")) == b"x"
    with pytest.raises(ValueError):
        st.put("../outside", b"x")



def test_s3_put_sends_the_content_hash_with_the_bytes(s3):
    import base64
    import hashlib
    data = b"evidence bytes" * 100
    sent = []
    s3.client.meta.events.register("before-send.s3.PutObject", lambda request, **_: sent.append(request.headers))
    s3.put("ab/good", data, sha256=hashlib.sha256(data).hexdigest())
    assert b"".join(s3.open("ab/good")) == data
    # The SHA-256 goes with the bytes (AWS S3 and MinIO refuse a body that does not match it; moto takes it
    # without checking), and replaces the CRC32 botocore would otherwise compute over the body.
    headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in sent[-1].items()}
    assert headers["x-amz-checksum-sha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert "x-amz-checksum-crc32" not in headers


def test_a_put_with_its_sha256_is_not_hashed_again_for_the_signature(s3):
    """With x-amz-checksum-sha256 (signed, and checked by S3 against the body) the payload goes unsigned,
    so botocore does not hash the photo a second time; a put without it keeps its signed payload."""
    import hashlib
    sent: list[dict] = []

    def capture(request, **_):
        sent.append(dict(request.headers))
    s3.client.meta.events.register("before-send.s3.PutObject", capture)
    try:
        data = os.urandom(200_000)
        digest = hashlib.sha256(data).hexdigest()
        s3.put("ab/with-sha", data, content_type="image/jpeg", sha256=digest)
        s3.put("ab/without", data, content_type="image/jpeg")
    finally:
        s3.client.meta.events.unregister("before-send.s3.PutObject", capture)

    def header(h, name):
        value = next(v for k, v in h.items() if k.lower() == name)
        return value.decode() if isinstance(value, bytes) else value
    with_sha, without = sent
    assert header(with_sha, "x-amz-content-sha256") == "UNSIGNED-PAYLOAD"
    auth = header(with_sha, "authorization")
    assert "x-amz-checksum-sha256" in auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert header(without, "x-amz-content-sha256") == digest  # signed payload, as before
    assert b"".join(s3.open("ab/with-sha")) == data and b"".join(s3.open("ab/without")) == data
