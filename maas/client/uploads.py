"""Model files for upload: a SavedModel directory packed as a reproducible tar, a `.keras` file
or an archive sent as it is; and the resumable upload loop (the registry keeps what arrived,
`GetUploadStatus` says from where to go on, the sha256 is checked at both ends)."""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc

from maas.registry.v1 import registry_pb2

CHUNK_BYTES = 1024 * 1024
# A broken stream is resumed this many times in a row before the upload gives up.
RESUMES = 8
Progress = Callable[[int, int], None]


def pack_model(path: str | os.PathLike[str], workdir: Path) -> tuple[Path, str]:
    """The file to upload for `path` and its format hint: a SavedModel directory becomes a tar
    (same model, same bytes: no timestamps or owners), anything else is sent as it is (the
    server decides by content what it is)."""
    path = Path(path)
    if path.is_dir():
        if not (path / "saved_model.pb").is_file():
            raise ValueError(f"{path}: a directory to upload must be a SavedModel (it has no saved_model.pb)")
        archive = workdir / f"{path.name or 'model'}.tar"
        with tarfile.open(archive, "w") as tar:
            for item in sorted(path.rglob("*")):
                info = tar.gettarinfo(str(item), arcname=str(item.relative_to(path)))
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                if item.is_file():
                    with item.open("rb") as file:
                        tar.addfile(info, file)
                elif item.is_dir():
                    tar.addfile(info)
        return archive, "tf_saved_model"
    if not path.is_file():
        raise ValueError(f"{path}: no such file or directory")
    return path, "keras" if path.suffix == ".keras" else ""


def file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest(), path.stat().st_size


def _messages(
    path: Path, sha256: str, size: int, offset: int, progress: Progress | None
) -> Iterator[registry_pb2.UploadArtifactRequest]:
    header = registry_pb2.UploadArtifactRequest.Header(sha256=sha256, size_bytes=size, resumable=True, offset=offset)
    yield registry_pb2.UploadArtifactRequest(header=header)
    with path.open("rb") as file:
        file.seek(offset)
        sent = offset
        for chunk in iter(lambda: file.read(CHUNK_BYTES), b""):
            yield registry_pb2.UploadArtifactRequest(chunk=chunk)
            sent += len(chunk)
            if progress:
                progress(sent, size)


def upload_resumable(
    registry: Any, kw: Callable[[float | None], dict[str, Any]], path: Path, progress: Progress | None = None
) -> registry_pb2.Artifact:
    """Upload `path` as an artifact, resuming from what the registry holds (also after a
    previous process died half-way); returns the Artifact. Raises grpc.RpcError."""
    sha256, size = file_digest(path)
    resumes = 0
    while True:
        try:
            status = registry.GetUploadStatus(registry_pb2.GetUploadStatusRequest(name=f"uploads/{sha256}"), **kw(None))
            offset = status.received_bytes
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:
                raise
            offset = 0
        try:
            return registry.UploadArtifact(_messages(path, sha256, size, offset, progress), **kw(3600))
        except grpc.RpcError as error:
            retryable = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED)
            if error.code() not in retryable or resumes >= RESUMES:
                raise
            resumes += 1
            time.sleep(min(0.2 * 2**resumes, 5))


def temporary_workdir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="maas-upload-")
