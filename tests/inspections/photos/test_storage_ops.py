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


def test_local_put_writes_a_large_blob_in_pieces(tmp_path, monkeypatch):
    """One write() of a whole 4 MB photo costs the kernel ~5x four writes of 1 MiB: bytes go in pieces
    of at most WRITE_STEP, and the blob is the same bytes."""
    import inspections.storage as storage_mod
    monkeypatch.setattr(storage_mod, "WRITE_STEP", 1000)
    written: list[int] = []
    real_fdopen = os.fdopen

    class Recording:
        def __init__(self, fh):
            self.fh = fh

        def write(self, data):
            written.append(len(data))
            return self.fh.write(data)

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            self.fh.__enter__()
            return self

        def __exit__(self, *exc):
            return self.fh.__exit__(*exc)
    monkeypatch.setattr(os, "fdopen", lambda fd, mode: Recording(real_fdopen(fd, mode)))
    st = LocalStorage(tmp_path)
    data = os.urandom(2500)
    st.put("a/b.jpg", data)
    assert written == [1000, 1000, 500]
    written.clear()
    st.put_stream("a/c.jpg", [data, b"xy"])
    assert written == [1000, 1000, 500, 2]
    assert b"".join(st.open("a/b.jpg")) == data and b"".join(st.open("a/c.jpg")) == data + b"xy"


def test_staged_blob_is_published_whole_or_not_at_all(st):
    """Written piece by piece as it arrives, a staged blob is readable at its key only once published;
    dropped (left unpublished, or discarded) it leaves nothing, not even a temporary file."""
    data = os.urandom(300_000)
    with st.stage("originals/ab/abc", content_type="image/jpeg") as staged:
        for i in range(0, len(data), 70_000):
            staged.write(data[i:i + 70_000])
        assert staged.size == len(data) and staged.key == "originals/ab/abc"
        staged.ready()
        assert not st.exists("originals/ab/abc")
        staged.publish()
        staged.publish()  # once is enough; again is a no-op
    assert b"".join(st.open("originals/ab/abc")) == data
    with st.stage("originals/cd/cde") as dropped:
        dropped.write(b"half a photo")
        dropped.ready()
    with st.stage("originals/ef/efg") as discarded:
        discarded.write(b"a wrong hash")
        discarded.discard()
        discarded.discard()
    with pytest.raises(RuntimeError):
        with st.stage("originals/gh/ghi") as failed:
            failed.write(b"cut short")
            raise RuntimeError("connection lost")
    assert not st.exists("originals/cd/cde") and not st.exists("originals/ef/efg")
    assert not st.exists("originals/gh/ghi")
    if isinstance(st, LocalStorage):
        assert sorted(str(p.relative_to(st.root)) for p in st.root.rglob("*") if p.is_file()) == ["originals/ab/abc"]


def test_local_staged_blob_is_durable_when_publish_returns(tmp_path, monkeypatch):
    """As put: the file's data, then the folder entry naming it, fsync'd before publish returns (the
    file's fsync may run in the background meanwhile, but publish waits for it)."""
    import threading
    synced: list[str] = []
    real = os.fsync
    started = threading.Event()
    release = threading.Event()

    def fsync(fd):
        kind = "dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "file"
        if kind == "file":
            started.set()
            assert release.wait(10)
        real(fd)
        synced.append(kind)
    monkeypatch.setattr(os, "fsync", fsync)
    st = LocalStorage(tmp_path)
    staged = st.stage("a/b.jpg")
    staged.write(b"x" * 5000)
    staged.ready()
    assert started.wait(10)  # the file's fsync runs on another thread: ready() returned before it ended
    assert synced == [] and not st.exists("a/b.jpg")
    done = threading.Thread(target=staged.publish)
    done.start()
    done.join(0.2)
    assert done.is_alive() and not st.exists("a/b.jpg"), "publish waits for the file's fsync"
    release.set()
    done.join(10)
    assert synced == ["file", "dir"] and st.exists("a/b.jpg")
    assert not list(tmp_path.rglob(".tmp-*"))


def test_local_staged_blob_whose_fsync_fails_is_not_published(tmp_path, monkeypatch):
    def fsync(fd):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(os, "fsync", fsync)
    st = LocalStorage(tmp_path)
    with pytest.raises(OSError):
        with st.stage("a/b.jpg") as staged:
            staged.write(b"x" * 5000)
            staged.ready()
            staged.publish()
    assert not st.exists("a/b.jpg") and not list(tmp_path.rglob(".tmp-*"))


def test_discarding_a_staged_blob_waits_for_its_fsync(tmp_path, monkeypatch):
    """The background fsync holds the file descriptor: discard closes it only once that fsync ended."""
    import threading
    real = os.fsync
    started, release = threading.Event(), threading.Event()

    def fsync(fd):
        started.set()
        assert release.wait(10)
        real(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    staged = LocalStorage(tmp_path).stage("a/b.jpg")
    staged.write(b"x" * 5000)
    staged.ready()
    assert started.wait(10)
    gone = threading.Thread(target=staged.discard)
    gone.start()
    gone.join(0.2)
    assert gone.is_alive() and list(tmp_path.rglob(".tmp-*")), "discard waits for the fsync"
    release.set()
    gone.join(10)
    assert not list(tmp_path.rglob(".tmp-*"))


@pytest.mark.parametrize("direct", [True, False])
def test_local_staged_blob_through_aligned_buffers_or_the_page_cache(tmp_path, monkeypatch, direct):
    """With O_DIRECT every write is whole blocks from an aligned buffer (the last one padded, then the
    file cut to its size); without it (a filesystem that refuses it), plain writes. The same bytes."""
    import inspections.storage as storage_mod
    monkeypatch.setattr(storage_mod, "DIRECT_IO", direct)
    monkeypatch.setattr(storage_mod, "DIRECT_BUFFER", 8192)
    writes: list[int] = []
    real_write = os.write

    def write(fd, data):
        writes.append(len(data))
        return real_write(fd, data)
    monkeypatch.setattr(os, "write", write)
    st = LocalStorage(tmp_path)
    data = os.urandom(50_001)
    with st.stage("originals/ab/abc") as staged:
        for i, size in enumerate([3000, 20_000, 1, 27_000]):
            start = sum([3000, 20_000, 1, 27_000][:i])
            staged.write(data[start:start + size])
        staged.ready()
        staged.publish()
    assert (tmp_path / "originals/ab/abc").read_bytes() == data
    if direct:
        assert all(n % 4096 == 0 for n in writes) and writes == [8192] * 6 + [4096]
    else:
        assert sum(writes) == len(data)
    # Dropped halfway, with buffers still being written: nothing left.
    with st.stage("originals/cd/cde") as dropped:
        dropped.write(data)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == ["originals/ab/abc"]


def test_local_staged_blob_on_a_filesystem_without_direct_io(tmp_path, monkeypatch):
    import fcntl

    real = fcntl.fcntl

    def no_direct(fd, cmd, *args):
        if cmd == fcntl.F_SETFL and args and args[0] & os.O_DIRECT:
            raise OSError(22, "Invalid argument")
        return real(fd, cmd, *args)
    monkeypatch.setattr(fcntl, "fcntl", no_direct)
    st = LocalStorage(tmp_path)
    data = os.urandom(3 << 20)
    with st.stage("originals/ab/abc") as staged:
        staged.write(data)
        staged.ready()
        staged.publish()
    assert (tmp_path / "originals/ab/abc").read_bytes() == data


def test_local_staged_blob_when_the_filesystem_refuses_a_direct_write(tmp_path, monkeypatch):
    """A filesystem may take the O_DIRECT flag and then refuse its writes (EINVAL: it wants larger blocks):
    the blob is written through the page cache instead, every byte once, nothing refused."""
    import fcntl
    import inspections.storage as storage_mod
    monkeypatch.setattr(storage_mod, "DIRECT_BUFFER", 8192)
    real_write = os.write
    refused = []

    def write(fd, data):
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            refused.append(len(data))
            raise OSError(22, "Invalid argument")
        return real_write(fd, data)
    monkeypatch.setattr(os, "write", write)
    st = LocalStorage(tmp_path)
    data = os.urandom(50_001)
    with st.stage("originals/ab/abc") as staged:
        staged.write(data[:20_000])
        staged.write(data[20_000:])
        staged.ready()
        staged.publish()
    assert (tmp_path / "originals/ab/abc").read_bytes() == data
    assert refused if storage_mod.DIRECT_IO else not refused
