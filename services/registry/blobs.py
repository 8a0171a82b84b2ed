"""Content-addressed artifact bytes on the filesystem.

A blob is written to a temporary file while it is hashed and becomes visible only by an
atomic rename to its sha256 path, so a broken-off upload never shows up as an artifact.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from services.common.errors import DataLoss, ResourceExhausted


class BlobWriter:
    """Receives chunks, hashes them, and commits the file under its sha256."""

    def __init__(self, store: FilesystemBlobStore, tenant: str, limit: int) -> None:
        self._store = store
        self._tenant = tenant
        self._limit = limit
        fd, name = tempfile.mkstemp(dir=store.tmp_dir, prefix="upload-")
        self._file = os.fdopen(fd, "wb")
        self.path = Path(name)
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self._limit:
            raise ResourceExhausted(f"artifact exceeds the size limit of {self._limit} bytes")
        self._file.write(chunk)
        self._hash.update(chunk)

    def finish(self) -> str:
        """Flush to disk and return the sha256; the bytes stay at `self.path` until commit."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self._hash.hexdigest()

    def commit(self, sha256: str) -> Path:
        target = self._store.path(self._tenant, sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, target)
        return target

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


class FilesystemBlobStore:
    """Blobs under `root/blobs/<tenant>/<sha[:2]>/<sha>`; uploads in progress under `root/tmp`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_dir = root / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        (root / "blobs").mkdir(parents=True, exist_ok=True)

    def discard_partial_uploads(self) -> int:
        """Remove uploads a crash left behind; called at start."""
        count = 0
        for leftover in self.tmp_dir.iterdir():
            leftover.unlink(missing_ok=True)
            count += 1
        return count

    def path(self, tenant: str, sha256: str) -> Path:
        return self.root / "blobs" / tenant / sha256[:2] / sha256

    def writer(self, tenant: str, limit: int) -> BlobWriter:
        return BlobWriter(self, tenant, limit)

    def exists(self, tenant: str, sha256: str) -> bool:
        return self.path(tenant, sha256).is_file()

    def size(self, tenant: str, sha256: str) -> int:
        return self.path(tenant, sha256).stat().st_size

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
        """(tenant, sha256) of every committed blob."""
        for tenant_dir in (self.root / "blobs").iterdir():
            for blob in tenant_dir.glob("*/*"):
                yield tenant_dir.name, blob.name
