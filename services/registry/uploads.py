"""Artifact uploads, plain and resumable. A resumable upload is named by the sha256 of its bytes
(`uploads/{sha256}`), so a client that died can resume without having kept any state: it asks
how many bytes the registry holds and sends the rest. One stream at a time per upload."""

from __future__ import annotations

import datetime as dt
import re

from maas.registry.v1 import registry_pb2 as pb
from services.common.errors import Aborted, InvalidArgument, NotFound
from services.common.timeutil import set_timestamp
from services.registry.blobs import BlobStore, BlobWriter

_SHA256 = re.compile(r"[0-9a-f]{64}")


class Uploads:
    def __init__(self, blobs: BlobStore, max_bytes: int) -> None:
        self._blobs = blobs
        self._max_bytes = max_bytes
        # Resumable uploads with a stream open now: (tenant, sha256).
        self._open: set[tuple[str, str]] = set()

    def writer(self, tenant: str, header: pb.UploadArtifactRequest.Header) -> BlobWriter:
        """The writer for an upload's bytes, continuing a resumable one at `header.offset`."""
        if header.size_bytes < 0 or header.size_bytes > self._max_bytes:
            raise InvalidArgument(f"header.size_bytes: must be between 0 and {self._max_bytes}")
        if not header.resumable:
            if header.offset:
                raise InvalidArgument("header.offset: only a resumable upload starts past 0")
            return self._blobs.writer(tenant, self._max_bytes)
        if not _SHA256.fullmatch(header.sha256) or header.size_bytes <= 0:
            raise InvalidArgument("header: a resumable upload needs its sha256 (64 lowercase hex) and size_bytes")
        if (tenant, header.sha256) in self._open:
            raise Aborted(f"uploads/{header.sha256}: another stream is sending these bytes; retry when it ends")
        writer = self._blobs.resumable_writer(tenant, header.sha256, header.offset, header.size_bytes)
        self._open.add((tenant, header.sha256))
        return writer

    def closed(self, tenant: str, header: pb.UploadArtifactRequest.Header) -> None:
        """The stream of a resumable upload ended (completed or broken)."""
        self._open.discard((tenant, header.sha256))

    def status(self, tenant: str, sha256: str) -> pb.UploadStatus:
        path = self._blobs.upload_path(tenant, sha256)
        if not _SHA256.fullmatch(sha256) or not path.is_file():
            raise NotFound(f"uploads/{sha256}: no resumable upload of these bytes is in progress")
        stat = path.stat()
        status = pb.UploadStatus(name=f"uploads/{sha256}", received_bytes=stat.st_size)
        set_timestamp(status.update_time, dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC))
        return status
