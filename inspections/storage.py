"""Blob storage behind one small interface: a local folder, or S3-compatible through boto3."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol
from urllib.parse import urlparse


class BlobStorage(Protocol):
    def put(self, key: str, data: bytes | BinaryIO, *, content_type: str | None = None) -> None: ...
    def exists(self, key: str) -> bool: ...
    def open(self, key: str) -> Iterator[bytes]: ...
    def delete(self, key: str) -> None: ...
    def check(self) -> None: ...


class LocalStorage:
    """Blobs as files under a root folder (the embedded default)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if ".." in key.split("/") or key.startswith("/"):
            raise ValueError(f"bad blob key {key!r}")
        return self.root / key

    def put(self, key, data, *, content_type=None):
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file then rename, so a reader never sees half a blob.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            if isinstance(data, bytes):
                fh.write(data)
            else:
                for chunk in iter(lambda: data.read(1 << 20), b""):
                    fh.write(chunk)
        os.replace(tmp, path)

    def exists(self, key):
        return self._path(key).is_file()

    def open(self, key, chunk_size: int = 1 << 16):
        with open(self._path(key), "rb") as fh:
            yield from iter(lambda: fh.read(chunk_size), b"")

    def delete(self, key):
        self._path(key).unlink(missing_ok=True)

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

    def put(self, key, data, *, content_type=None):
        extra = {"ContentType": content_type} if content_type else {}
        if isinstance(data, bytes):
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
