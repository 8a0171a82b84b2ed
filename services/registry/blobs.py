"""Content-addressed artifact bytes: on the filesystem (default) or in S3-compatible storage.

A blob is written to a local temporary file while it is hashed and becomes visible only when
it is committed under its sha256 (an atomic rename, or one S3 upload of the finished file), so
a broken-off upload never shows up as an artifact. A resumable upload's file is kept, under
`uploads/<tenant>/<sha256>`, when its stream breaks; the next stream appends to it from the
offset the registry reports.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from services.common.errors import DataLoss, FailedPrecondition, ResourceExhausted, unavailable

HASH_BLOCK = 1 << 20
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def _disk_space():
    """A full disk (or quota) under the artifact store is RESOURCE_EXHAUSTED, not a crash."""
    try:
        yield
    except OSError as error:
        if error.errno in _DISK_FULL:
            raise ResourceExhausted("the artifact store's disk is full; try again once space is freed") from error
        raise


@contextlib.contextmanager
def _object_storage_reachable():
    """Object storage that cannot be reached is UNAVAILABLE with a retry hint, not INTERNAL."""
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import HTTPClientError

    try:
        yield
    except (BotoConnectionError, HTTPClientError) as error:
        raise unavailable("object storage is unreachable; retry shortly") from error


class BlobWriter:
    """Receives chunks, hashes them, and commits the file under its sha256. A resumable writer
    continues the file at `path` from `offset` (which must not be past what it holds)."""

    def __init__(self, store: BlobStore, tenant: str, limit: int, path: Path | None = None, offset: int = 0) -> None:
        self._store = store
        self._tenant = tenant
        self._limit = limit
        self._hash = hashlib.sha256()
        self.resumable = path is not None
        if path is None:
            fd, name = tempfile.mkstemp(dir=store.tmp_dir, prefix="upload-")
            self._file = os.fdopen(fd, "wb")
            self.path = Path(name)
            self.size = 0
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        held = path.stat().st_size if path.exists() else 0
        if offset > held:
            raise FailedPrecondition(
                f"header.offset: the registry holds {held} bytes of this upload; resume from {held}"
            )
        self.path = path
        self._file = path.open("r+b" if path.exists() else "wb")
        self._file.truncate(offset)
        # The hash of what is kept: read back once per resume (about a second per GB).
        while self._file.tell() < offset and (block := self._file.read(min(HASH_BLOCK, offset - self._file.tell()))):
            self._hash.update(block)
        self._file.seek(offset)
        self.size = offset

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self._limit:
            raise ResourceExhausted(f"artifact exceeds the size limit of {self._limit} bytes")
        with _disk_space():
            self._file.write(chunk)
        self._hash.update(chunk)

    def finish(self) -> str:
        """Flush to disk and return the sha256; the bytes stay at `self.path` until commit."""
        with _disk_space():
            self._file.flush()
            os.fsync(self._file.fileno())
        self._file.close()
        return self._hash.hexdigest()

    def commit(self, sha256: str) -> None:
        self._store.commit_file(self._tenant, sha256, self.path)

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)

    def suspend(self) -> None:
        """Keep what arrived (a resumable upload whose stream broke), durably."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


class BlobStore(ABC):
    """What both stores share: uploads in progress live in a local `tmp` directory."""

    def __init__(self, tmp_root: Path) -> None:
        self.tmp_dir = tmp_root / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.uploads_dir = tmp_root / "uploads"
        self.uploads_dir.mkdir(parents=True, exist_ok=True)

    def upload_path(self, tenant: str, sha256: str) -> Path:
        """Where a resumable upload of these bytes is kept until it completes."""
        return self.uploads_dir / tenant / sha256

    def discard_stale_uploads(self, max_age_seconds: float) -> int:
        """Remove resumable uploads nobody continued for `max_age_seconds`; called at start."""
        cutoff = time.time() - max_age_seconds
        stale = [p for p in self.uploads_dir.glob("*/*") if p.stat().st_mtime < cutoff]
        for path in stale:
            path.unlink(missing_ok=True)
        return len(stale)

    def discard_partial_uploads(self) -> int:
        """Remove uploads a crash left behind; called at start."""
        count = 0
        for leftover in self.tmp_dir.iterdir():
            leftover.unlink(missing_ok=True)
            count += 1
        return count

    def writer(self, tenant: str, limit: int) -> BlobWriter:
        return BlobWriter(self, tenant, limit)

    def resumable_writer(self, tenant: str, sha256: str, offset: int, limit: int) -> BlobWriter:
        return BlobWriter(self, tenant, limit, self.upload_path(tenant, sha256), offset)

    @abstractmethod
    def commit_file(self, tenant: str, sha256: str, source: Path) -> None: ...

    @abstractmethod
    def exists(self, tenant: str, sha256: str) -> bool: ...

    @abstractmethod
    def read(self, tenant: str, sha256: str, offset: int, chunk_bytes: int) -> Iterator[bytes]: ...

    @abstractmethod
    def delete(self, tenant: str, sha256: str) -> None: ...

    @abstractmethod
    def all_blobs(self) -> Iterator[tuple[str, str]]:
        """(tenant, sha256) of every committed blob."""
        ...


class FilesystemBlobStore(BlobStore):
    """Blobs under `root/blobs/<tenant>/<sha[:2]>/<sha>`; uploads in progress under `root/tmp`."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.root = root
        (root / "blobs").mkdir(parents=True, exist_ok=True)

    def path(self, tenant: str, sha256: str) -> Path:
        return self.root / "blobs" / tenant / sha256[:2] / sha256

    def commit_file(self, tenant: str, sha256: str, source: Path) -> None:
        target = self.path(tenant, sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)

    def exists(self, tenant: str, sha256: str) -> bool:
        return self.path(tenant, sha256).is_file()

    def read(self, tenant: str, sha256: str, offset: int, chunk_bytes: int) -> Iterator[bytes]:
        """Yield the bytes from `offset`; when read from the start, verify the sha256 at the end."""
        digest = hashlib.sha256() if offset == 0 else None
        with self.path(tenant, sha256).open("rb") as file:
            file.seek(offset)
            while chunk := file.read(chunk_bytes):
                if digest:
                    digest.update(chunk)
                yield chunk
        if digest and digest.hexdigest() != sha256:
            raise DataLoss(f"artifact {sha256} is corrupt on disk (checksum mismatch)")

    def delete(self, tenant: str, sha256: str) -> None:
        self.path(tenant, sha256).unlink(missing_ok=True)

    def all_blobs(self) -> Iterator[tuple[str, str]]:
        for tenant_dir in (self.root / "blobs").iterdir():
            for blob in tenant_dir.glob("*/*"):
                yield tenant_dir.name, blob.name


class S3BlobStore(BlobStore):
    """Blobs as objects `<prefix>blobs/<tenant>/<sha256>` in an S3-compatible bucket.

    Uploads in progress still go to a local temporary directory (hashing needs the bytes once);
    only finished, verified files are put into the bucket.
    """

    def __init__(self, tmp_root: Path, bucket: str, prefix: str = "", client=None, **client_options) -> None:
        super().__init__(tmp_root)
        import boto3

        self.bucket = bucket
        self.prefix = prefix
        self.s3 = client or boto3.client("s3", **client_options)

    def key(self, tenant: str, sha256: str) -> str:
        return f"{self.prefix}blobs/{tenant}/{sha256}"

    def commit_file(self, tenant: str, sha256: str, source: Path) -> None:
        with _object_storage_reachable():
            self.s3.upload_file(str(source), self.bucket, self.key(tenant, sha256))
        source.unlink(missing_ok=True)

    def exists(self, tenant: str, sha256: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            with _object_storage_reachable():
                self.s3.head_object(Bucket=self.bucket, Key=self.key(tenant, sha256))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def read(self, tenant: str, sha256: str, offset: int, chunk_bytes: int) -> Iterator[bytes]:
        digest = hashlib.sha256() if offset == 0 else None
        request = {"Bucket": self.bucket, "Key": self.key(tenant, sha256)}
        if offset:
            request["Range"] = f"bytes={offset}-"
        with _object_storage_reachable():
            body = self.s3.get_object(**request)["Body"]
        try:
            while chunk := body.read(chunk_bytes):
                if digest:
                    digest.update(chunk)
                yield chunk
        finally:
            body.close()
        if digest and digest.hexdigest() != sha256:
            raise DataLoss(f"artifact {sha256} is corrupt in object storage (checksum mismatch)")

    def delete(self, tenant: str, sha256: str) -> None:
        with _object_storage_reachable():
            self.s3.delete_object(Bucket=self.bucket, Key=self.key(tenant, sha256))

    def all_blobs(self) -> Iterator[tuple[str, str]]:
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}blobs/"):
            for item in page.get("Contents", []):
                tenant, sha256 = item["Key"].removeprefix(f"{self.prefix}blobs/").split("/", 1)
                yield tenant, sha256
