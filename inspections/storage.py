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


def _fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX: the directory entry is data of the folder)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
                    fh.write(chunk)
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

    def check(self):
        self.root.mkdir(parents=True, exist_ok=True)
        probe = self.root / ".readyz"
        probe.write_bytes(b"ok")
        probe.unlink()


class S3Storage:
    """Blobs as objects in an S3-compatible bucket (AWS, MinIO, Ceph RGW) through boto3."""

    def __init__(self, bucket: str, prefix: str = "", client=None):
        self.bucket, self.prefix, self.client = bucket, prefix.strip("/"), client

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
