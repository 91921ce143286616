"""The storage operations uploads rely on: streamed (multipart) writes, moves, prefix deletes."""
from __future__ import annotations

import os

import pytest

from inspections.storage import LocalStorage, S3Storage, from_url


@pytest.fixture
def s3(s3_endpoint):
    st = from_url("s3://uploads-test/pfx", endpoint_url=s3_endpoint)
    st.client.create_bucket(Bucket="uploads-test")
    yield st
    for obj in st.client.list_objects_v2(Bucket="uploads-test").get("Contents", []):
        st.client.delete_object(Bucket="uploads-test", Key=obj["Key"])
    st.client.delete_bucket(Bucket="uploads-test")


@pytest.fixture(params=["local", "s3"])
def st(request, tmp_path):
    return LocalStorage(tmp_path) if request.param == "local" else request.getfixturevalue("s3")


def test_put_stream_small_and_move_and_prefix_delete(st):
    assert st.put_stream("uploads/u1/assembled", iter([b"ab", b"", b"cd"]), content_type="image/jpeg") == 4
    st.put("uploads/u1/0-x", b"chunk")
    st.move("uploads/u1/assembled", "originals/ab/abcd")
    assert b"".join(st.open("originals/ab/abcd")) == b"abcd"
    assert not st.exists("uploads/u1/assembled")
    st.put("uploads/u2/0-y", b"other")
    assert st.delete_prefix("uploads/u1/") == 1
    assert not st.exists("uploads/u1/0-x") and st.exists("uploads/u2/0-y")
    assert st.delete_prefix("uploads/nothing/") == 0


def test_put_stream_large_goes_multipart(st):
    if isinstance(st, S3Storage):
        st.PART_SIZE = 5 << 20  # the S3 minimum, to keep the test quick
    data = os.urandom(11 << 20)
    pieces = [data[i:i + 700_001] for i in range(0, len(data), 700_001)]
    assert st.put_stream("big/obj", iter(pieces)) == len(data)
    assert b"".join(st.open("big/obj")) == data
    if isinstance(st, S3Storage):
        head = st.client.head_object(Bucket="uploads-test", Key="pfx/big/obj")
        assert head["ETag"].strip('"').endswith("-3"), "three parts: 5 + 5 + 1 MiB"


def test_failed_stream_leaves_nothing(st):
    if isinstance(st, S3Storage):
        st.PART_SIZE = 5 << 20

    def boom():
        yield os.urandom(6 << 20)
        raise RuntimeError("connection lost")

    with pytest.raises(RuntimeError):
        st.put_stream("half/obj", boom())
    assert not st.exists("half/obj")
    if isinstance(st, S3Storage):
        assert not st.client.list_multipart_uploads(Bucket="uploads-test").get("Uploads")


@pytest.mark.parametrize("way", ["put_bytes", "put_file", "put_stream", "move"])
def test_local_blob_is_durable_before_the_call_returns(tmp_path, monkeypatch, way):
    """A 2xx for an upload means the bytes survive a power cut: the file's data and the folder entry that
    names it are both fsync'd before put/put_stream/move return (a power cut cannot be staged in a test,
    so the calls to the kernel are what is checked)."""
    import io
    st = LocalStorage(tmp_path)
    if way == "move":
        st.put("a/src.jpg", b"x" * 10)
    synced: list[str] = []
    real = os.fsync

    def fsync(fd):
        synced.append("dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "file")
        real(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    if way == "put_bytes":
        st.put("a/b.jpg", b"x" * 1000)
    elif way == "put_file":
        st.put("a/b.jpg", io.BytesIO(b"x" * 3_000_000))
    elif way == "put_stream":
        st.put_stream("a/b.jpg", [b"x" * 10, b"y" * 10])
    else:
        st.move("a/src.jpg", "c/b.jpg")
    assert synced == (["dir"] if way == "move" else ["file", "dir"])
    assert not [p for p in tmp_path.rglob(".tmp-*")]


def test_local_put_that_fails_midway_leaves_no_temporary_file(tmp_path):
    class Broken:
        def __init__(self):
            self.n = 0

        def read(self, size):
            self.n += 1
            if self.n > 1:
                raise OSError("connection reset")
            return b"x" * size
    st = LocalStorage(tmp_path)
    with pytest.raises(OSError):
        st.put("a/b.jpg", Broken())
    assert list(tmp_path.rglob("*.jpg")) == [] and list(tmp_path.rglob(".tmp-*")) == []
