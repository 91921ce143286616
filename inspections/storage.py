"""Blob storage behind one small interface: a local folder, or S3-compatible through boto3."""
from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Protocol
from urllib.parse import urlparse


class BlobStorage(Protocol):
    def put(self, key: str, data: bytes | BinaryIO, *, content_type: str | None = None,
            sha256: str | None = None) -> None: ...
    def exists(self, key: str) -> bool: ...
    def open(self, key: str) -> Iterator[bytes]: ...
    def delete(self, key: str) -> None: ...
    def check(self) -> None: ...
    def put_stream(self, key: str, chunks: Iterable[bytes], *, content_type: str | None = None) -> int: ...
    def move(self, src: str, dst: str) -> None: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def drop_temporaries(self, *, older_than_s: float) -> int: ...
    def stage(self, key: str, *, content_type: str | None = None, sha256: str | None = None) -> StagedBlob: ...


class StagedBlob(Protocol):
    """A blob written piece by piece as its bytes arrive, kept only once `publish()` makes it the blob at
    its key (atomically, durably); leaving its `with` block unpublished (or `discard()`) drops it whole."""

    key: str
    size: int
    def write(self, piece: bytes) -> None: ...
    def ready(self) -> None: ...
    def publish(self, *, background: bool = False) -> None: ...
    def wait(self) -> None: ...
    def discard(self) -> None: ...
    def __enter__(self) -> StagedBlob: ...
    def __exit__(self, *exc) -> None: ...


def _fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX: the directory entry is data of the folder)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# The largest single write() to a file. Measured on ext4 (Linux 6.18) for a 3.7 MB photo: one write()
# of it, or writes of 1-2 MiB, cost 6-8 ms of kernel time at times (the page cache then takes pages in
# blocks as large as the write, which a fragmented memory makes dear), 256 KiB writes a steady ~0.7 ms.
WRITE_STEP = 256 << 10


def _write_all(fh, data) -> None:
    """Write `data` to a file in WRITE_STEP pieces (views of it: no copy)."""
    if len(data) <= WRITE_STEP:
        fh.write(data)
        return
    view = memoryview(data)
    for start in range(0, len(view), WRITE_STEP):
        fh.write(view[start:start + WRITE_STEP])


class LocalStorage:
    """Blobs as files under a root folder (the embedded default)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if ".." in key.split("/") or key.startswith("/"):
            raise ValueError(f"bad blob key {key!r}")
        return self.root / key

    def put(self, key, data, *, content_type=None, sha256=None):
        chunks = [data] if isinstance(data, bytes) else iter(lambda: data.read(1 << 20), b"")
        self._write(self._path(key), chunks)

    def exists(self, key):
        return self._path(key).is_file()

    def open(self, key, chunk_size: int = 1 << 16):
        with open(self._path(key), "rb") as fh:
            yield from iter(lambda: fh.read(chunk_size), b"")

    def delete(self, key):
        self._path(key).unlink(missing_ok=True)

    def put_stream(self, key, chunks, *, content_type=None):
        """Write an iterable of byte strings as one blob (atomically, durably); returns the byte count."""
        return self._write(self._path(key), chunks)

    @staticmethod
    def _write(path: Path, chunks) -> int:
        """The bytes to a temporary file beside `path`, fsync'd, renamed over `path`, and the rename fsync'd
        (the folder), so a reader never sees half a blob and a blob whose commit was answered survives a
        power cut. Returns the byte count; nothing is left behind on an error."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        total = 0
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    _write_all(fh, chunk)
                    total += len(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        return total

    def move(self, src, dst):
        """Rename a blob (atomic on one filesystem)."""
        target = self._path(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._path(src), target)
        _fsync_dir(target.parent)

    def delete_prefix(self, prefix):
        """Delete every blob whose key starts with `prefix` (a folder, ending in "/"); returns the count."""
        import shutil
        folder = self._path(prefix.rstrip("/"))
        if not folder.is_dir():
            return 0
        count = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder, ignore_errors=True)
        return count

    def stage(self, key, *, content_type=None, sha256=None):
        """A blob written as its bytes arrive (to a temporary file beside `key`), published at `key`."""
        return LocalStaged(self._path(key), key)

    def drop_temporaries(self, *, older_than_s: float) -> int:
        """Delete the temporary files (`.tmp-*`, a blob being written) older than `older_than_s` seconds: those
        of a process that died mid-write (a worker killed or timed out mid-body) stay otherwise. Returns
        the count. A write in progress is younger than any request may run."""
        import time
        cutoff, count = time.time() - older_than_s, 0
        if not self.root.is_dir():
            return 0
        for path in self.root.rglob(".tmp-*"):
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    count += 1
            except FileNotFoundError:  # finished (renamed) or dropped meanwhile
                pass
        return count

    def check(self):
        self.root.mkdir(parents=True, exist_ok=True)
        probe = self.root / ".readyz"
        probe.write_bytes(b"ok")
        probe.unlink()


_pool: tuple[int, object] | None = None


def _in_background(fn, *args):
    """Run `fn(*args)` on this process's small pool of threads (made again after a fork); returns its Future."""
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        from concurrent.futures import ThreadPoolExecutor
        # Threads start as needed, up to more than a worker's request threads: a slow store never waits
        # for another request's.
        _pool = (os.getpid(), ThreadPoolExecutor(max_workers=32, thread_name_prefix="blob-store"))
    return _pool[1].submit(fn, *args)


class _Staged:
    """What local and S3 staged blobs share: publishing now or in the background, waiting, `with`."""

    key: str
    _publishing = None  # the Future of a publish running in the background
    _published = False

    def publish(self, *, background: bool = False) -> None:
        """Make the bytes the blob at `key`, durably (once). `background`: on another thread, so the caller
        can go on with other work; `wait()` then returns once it is done (and re-raises its error)."""
        if self._published:
            return
        if background:
            if self._publishing is None:
                self._publishing = _in_background(self._publish)
            return
        if self._publishing is not None:
            self._publishing.result()
            return
        self._publish()

    def wait(self) -> None:
        """Wait for a publish started in the background (nothing to wait for otherwise)."""
        if self._publishing is not None:
            self._publishing.result()

    def _settled(self) -> None:
        """Wait for a background publish to end, whatever its outcome (before dropping anything)."""
        if self._publishing is not None:
            self._publishing.exception()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.discard()


# A staged local blob is written with O_DIRECT where the filesystem allows it: the bytes go from an
# aligned buffer to the disk without the page cache, whose allocation for a fresh 4 MB file cost 1 ms
# of kernel time on a quiet machine and 10-12 ms on a busy one (measured on ext4, Linux 6.18), while a
# direct write is a steady ~1.5 ms of CPU, its device time spent on a background thread. The fsync
# stays (the file's size and blocks, and the disk's own cache).
DIRECT_IO = hasattr(os, "O_DIRECT")
DIRECT_BLOCK = 4096  # offsets, lengths and buffers of direct writes are multiples of this
DIRECT_BUFFER = 1 << 20


def _write_fd(fd: int, data) -> None:
    """Write all of `data` at the file's offset. A direct write the filesystem refuses (EINVAL: it took
    the O_DIRECT flag but wants larger blocks than DIRECT_BLOCK) goes on through the page cache: the
    flag is cleared and the rest of `data` written from where the refusal left it."""
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except OSError as e:
            import errno
            import fcntl
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            if e.errno != errno.EINVAL or not DIRECT_IO or not flags & os.O_DIRECT:
                raise
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_DIRECT)
            continue
        view = view[n:]


class LocalStaged(_Staged):
    """A local blob being received: a temporary file beside its final path, opened on the first write.

    With O_DIRECT (DIRECT_IO), pieces are gathered in one of two aligned buffers and each full buffer
    is written on a background thread while the next one fills. `ready()` (all bytes written) starts
    the rest (the last, partial buffer and the file's fsync) in the background, so it runs while the
    caller does its other work (the database checks of an upload); publishing waits for it, renames
    the file to its key and fsyncs the folder: as durable as `put` once it is done. Nothing stays
    behind unless published."""

    def __init__(self, path: Path, key: str):
        self.path, self.key, self.size = path, key, 0
        self._fd: int | None = None
        self._tmp: str | None = None
        self._synced = None  # the Future of finish() (the last bytes and the fsync)
        self._buffers: list | None = None  # two aligned buffers when writing with O_DIRECT
        self._current = self._fill = 0
        self._pending = None  # (Future, buffer view) of the direct write in flight

    def _open(self) -> None:
        import fcntl
        import mmap
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd, self._tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-")
        if DIRECT_IO:
            try:
                fcntl.fcntl(self._fd, fcntl.F_SETFL, fcntl.fcntl(self._fd, fcntl.F_GETFL) | os.O_DIRECT)
            except OSError:  # a filesystem without direct I/O (tmpfs): through the page cache
                return
            self._buffers = [mmap.mmap(-1, DIRECT_BUFFER), mmap.mmap(-1, DIRECT_BUFFER)]

    def write(self, piece: bytes) -> None:
        if self._fd is None:
            self._open()
        view = memoryview(piece)
        if self._buffers is None:
            for start in range(0, len(view), WRITE_STEP):
                _write_fd(self._fd, view[start:start + WRITE_STEP])
        else:
            pos = 0
            while pos < len(view):
                n = min(DIRECT_BUFFER - self._fill, len(view) - pos)
                self._buffers[self._current][self._fill:self._fill + n] = view[pos:pos + n]
                self._fill += n
                pos += n
                if self._fill == DIRECT_BUFFER:
                    self._written()
                    self._pending = (_in_background(_write_fd, self._fd, self._buffers[self._current]),
                                     self._buffers[self._current])
                    self._current, self._fill = 1 - self._current, 0
        self.size += len(piece)

    def _written(self) -> None:
        """Wait for the direct write in flight (doing it here if it has not started; re-raising its error)."""
        if self._pending is not None:
            future, data = self._pending
            self._pending = None
            if future.cancel():
                _write_fd(self._fd, data)
            else:
                future.result()

    def _finish(self) -> None:
        """The last bytes (a direct write is padded to a block, then the file cut to its size) and the fsync."""
        self._written()
        if self._buffers is not None and self._fill:
            padded = -(-self._fill // DIRECT_BLOCK) * DIRECT_BLOCK
            buffer = self._buffers[self._current]
            buffer[self._fill:padded] = bytes(padded - self._fill)
            _write_fd(self._fd, memoryview(buffer)[:padded])
            os.ftruncate(self._fd, self.size)
            self._fill = 0
        os.fsync(self._fd)

    def ready(self) -> None:
        """Every byte is written: finish them and make them durable in the background (publishing waits)."""
        if self._fd is not None and self._synced is None:
            self._synced = _in_background(self._finish)

    def _publish(self) -> None:
        if self._fd is None:
            self.write(b"")  # an empty blob is a blob too
        if self._synced is None or self._synced.cancel():
            self._finish()  # not started (a publish on the pool never waits for a queued task)
        else:
            self._synced.result()  # re-raises a write or fsync error: then nothing is published
        self._close()
        os.replace(self._tmp, self.path)
        self._published = True
        _fsync_dir(self.path.parent)

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        for buffer in self._buffers or ():
            buffer.close()
        self._buffers = None

    def discard(self) -> None:
        self._settled()
        if self._published or self._tmp is None:
            return
        # Never close the file (or free a buffer) under a write or fsync still running on another thread.
        if self._synced is not None:
            self._synced.cancel() or self._synced.exception()
        if self._pending is not None:
            self._pending[0].cancel() or self._pending[0].exception()
            self._pending = None
        self._close()
        Path(self._tmp).unlink(missing_ok=True)
        self._tmp = None


class S3Staged(_Staged):
    """An object being received: its pieces held in memory, sent by publishing in one PUT (with its
    SHA-256 when given, which S3 checks), so a dropped upload never reaches the bucket."""

    def __init__(self, storage: S3Storage, key: str, content_type: str | None, sha256: str | None):
        self.storage, self.key, self.content_type, self.sha256 = storage, key, content_type, sha256
        self.size, self._pieces = 0, []

    def write(self, piece: bytes) -> None:
        self._pieces.append(piece)
        self.size += len(piece)

    def ready(self) -> None:
        pass

    def _publish(self) -> None:
        data = self._pieces[0] if len(self._pieces) == 1 else b"".join(self._pieces)
        self.storage.put(self.key, data, content_type=self.content_type, sha256=self.sha256)
        self._published = True
        self._pieces = []

    def discard(self) -> None:
        self._settled()
        self._pieces = []


def _body_bound_by_its_sha256(request, **_):
    """A PutObject carrying x-amz-checksum-sha256 goes with an unsigned payload: the signed checksum header
    already binds the body (S3 refuses a body that does not hash to it), so botocore need not hash the
    4 MB again for the signature (it does over http; over https with a checksum it never does)."""
    if "x-amz-checksum-sha256" not in request.headers:
        return
    from botocore.config import Config
    config = request.context.get("client_config") or Config()
    request.context["client_config"] = config.merge(Config(s3={**(config.s3 or {}), "payload_signing_enabled": False}))


class S3Storage:
    """Blobs as objects in an S3-compatible bucket (AWS, MinIO, Ceph RGW) through boto3."""

    def __init__(self, bucket: str, prefix: str = "", client=None):
        self.bucket, self.prefix, self.client = bucket, prefix.strip("/"), client
        if client is not None:
            client.meta.events.register("before-sign.s3.PutObject", _body_bound_by_its_sha256,
                                        unique_id="inspections-sha256-binds-body")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key, data, *, content_type=None, sha256=None):
        """Store an object; `sha256` (hex, of bytes `data`): AWS S3 and MinIO check the bytes against it.

        Given, it replaces the CRC32 botocore would otherwise compute over the body for the same check.
        """
        extra = {"ContentType": content_type} if content_type else {}
        if isinstance(data, bytes):
            if sha256 is not None:
                extra["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(sha256)).decode()
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **extra)
        else:
            # upload_fileobj switches to multipart upload for large bodies.
            self.client.upload_fileobj(data, self.bucket, self._key(key), ExtraArgs=extra or None)

    def exists(self, key):
        from botocore.exceptions import ClientError
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def open(self, key, chunk_size: int = 1 << 16):
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        yield from body.iter_chunks(chunk_size)

    def delete(self, key):
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    # S3 parts must be >= 5 MiB except the last; 8 MiB matches boto3's transfer default.
    PART_SIZE = 8 << 20

    def put_stream(self, key, chunks, *, content_type=None):
        """Write an iterable of byte strings as one object: a multipart upload when over one part."""
        extra = {"ContentType": content_type} if content_type else {}
        buf, total, parts, upload_id = bytearray(), 0, [], None
        full_key = self._key(key)
        try:
            for chunk in chunks:
                buf += chunk
                total += len(chunk)
                while len(buf) >= self.PART_SIZE:
                    if upload_id is None:
                        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=full_key,
                                                                        **extra)["UploadId"]
                    part, buf = bytes(buf[:self.PART_SIZE]), buf[self.PART_SIZE:]
                    n = len(parts) + 1
                    etag = self.client.upload_part(Bucket=self.bucket, Key=full_key, UploadId=upload_id,
                                                   PartNumber=n, Body=part)["ETag"]
                    parts.append({"PartNumber": n, "ETag": etag})
            if upload_id is None:
                self.client.put_object(Bucket=self.bucket, Key=full_key, Body=bytes(buf), **extra)
                return total
            if buf or not parts:
                n = len(parts) + 1
                etag = self.client.upload_part(Bucket=self.bucket, Key=full_key, UploadId=upload_id,
                                               PartNumber=n, Body=bytes(buf))["ETag"]
                parts.append({"PartNumber": n, "ETag": etag})
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=full_key, UploadId=upload_id,
                                                  MultipartUpload={"Parts": parts})
            return total
        except BaseException:
            if upload_id is not None:
                # An abandoned multipart upload keeps its parts (and costs storage) until aborted.
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=full_key, UploadId=upload_id)
            raise

    def move(self, src, dst):
        """Server-side copy then delete (no bytes through this process; objects up to 5 GB)."""
        self.client.copy_object(Bucket=self.bucket, Key=self._key(dst),
                                CopySource={"Bucket": self.bucket, "Key": self._key(src)})
        self.delete(src)

    def delete_prefix(self, prefix):
        """Delete every object under a key prefix; returns the count."""
        count = 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                count += len(keys)
        return count

    def stage(self, key, *, content_type=None, sha256=None):
        """An object received piece by piece, PUT whole at `key` by publish()."""
        return S3Staged(self, key, content_type, sha256)

    def drop_temporaries(self, *, older_than_s: float) -> int:
        """Nothing to drop: an object is PUT whole (a failed PUT leaves no object)."""
        return 0

    def presigned_url(self, key: str, *, expires: int = 300) -> str:
        return self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": self._key(key)},
                                                  ExpiresIn=expires)

    def check(self):
        self.client.head_bucket(Bucket=self.bucket)


def from_url(url: str, *, endpoint_url: str | None = None, region: str | None = None) -> BlobStorage:
    """Storage for a STORAGE_URL: `s3://bucket[/prefix]` or a folder path (`file://` optional)."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        import boto3
        from botocore.config import Config
        client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region or "us-east-1",
                              config=Config(retries={"max_attempts": 5, "mode": "standard"}))
        return S3Storage(parsed.netloc, parsed.path, client)
    if parsed.scheme in ("", "file"):
        return LocalStorage(parsed.path if parsed.scheme == "file" else url)
    raise ValueError(f"unsupported STORAGE_URL scheme {parsed.scheme!r}")
