"""Calls from one MaaS service to another, in one place: channels with the shared options, TLS
and tracing, deadlines, retries of the contract's read methods, the metadata of a backend call,
chunked upload and download checked against its sha256. A server (or a job's bootstrap) builds
the channels here and hands them to its domain modules, which never open one themselves."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from services.common import tracing
from services.common.access import read_methods
from services.common.errors import DataLoss
from services.common.metadata import REQUEST_ID_KEY, TENANT_KEY
from services.common.settings import ServiceSettings
from services.common.tls import channel_credentials, open_channel

# Deadlines of backend calls: a lookup, a write, and moving an artifact's bytes.
LOOKUP_TIMEOUT = 30
WRITE_TIMEOUT = 60
TRANSFER_TIMEOUT = 600
CHUNK_BYTES = 1 << 20

Metadata = tuple[tuple[str, str], ...]

# Reconnect within a second of a peer coming back (gRPC's default backoff grows to two minutes).
FAST_RECONNECT = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)


class ChecksumMismatch(DataLoss):
    """Downloaded bytes whose sha256 is not the one the artifact was stored with."""

    def __init__(self, artifact: str) -> None:
        super().__init__(f"{artifact}: downloaded bytes fail the sha256 check")
        self.artifact = artifact


def read_retries(*services: ServiceDescriptor, attempts: int = 5) -> tuple[tuple[str, object], ...]:
    """Channel options that retry the services' reads (unary methods of the read scope, from the
    contract) when a restarting peer answered UNAVAILABLE; writes are never retried."""
    names = [{"service": s.full_name, "method": m} for s in services for m in read_methods(s)]
    policy = {
        "maxAttempts": attempts,
        "initialBackoff": "0.5s",
        "maxBackoff": "2s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE"],
    }
    config = {"methodConfig": [{"name": names, "retryPolicy": policy}], "retryThrottling": _BUDGET}
    return (("grpc.enable_retries", 1), ("grpc.service_config", json.dumps(config)))


# The retry budget: each failure takes a token, each success gives back 0.1; retries stop below half.
_BUDGET = {"maxTokens": 100, "tokenRatio": 0.1}


def backend_metadata(identity: Metadata, tenant: str, request_id: str) -> Metadata:
    """Metadata of a call made for `tenant`: the caller's identity (its service token; with mTLS
    the certificate says it too), the tenant it acts for and the request id that correlates logs."""
    return (*identity, (TENANT_KEY, tenant), (REQUEST_ID_KEY, request_id))


def traced(metadata: Metadata) -> Metadata:
    """`metadata` plus the current span's `traceparent` (while tracing is on), for blocking
    channels; async channels add it through their interceptors."""
    return (*metadata, *tracing.outgoing_metadata())


class PeerChannels:
    """Channels to the other services, TLS (mTLS with this service's certificate) when the
    settings name a peer CA, each with the largest message the settings allow."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._tls = (settings.peer_ca_file, settings.tls_cert_file, settings.tls_key_file)
        self._base = (("grpc.max_receive_message_length", settings.max_message_bytes),)

    def _options(self, options: Sequence[tuple[str, object]]) -> list[tuple[str, object]]:
        return [*self._base, *options]

    def aio(self, target: str, *options: tuple[str, object]) -> grpc.aio.Channel:
        """An asyncio channel (a server's), carrying the current trace to the peer."""
        return open_channel(target, self._options(options), *self._tls)

    def blocking(self, target: str, *options: tuple[str, object]) -> grpc.Channel:
        """A blocking channel (a job process's); its calls add `traced()` metadata themselves."""
        credentials = channel_credentials(*self._tls)
        if credentials is None:
            return grpc.insecure_channel(target, options=self._options(options))
        return grpc.secure_channel(target, credentials, options=self._options(options))


def upload_chunks(data: bytes, header_type, request_type) -> Iterator:
    """The requests of a chunked upload: a header with the bytes' sha256 and size, then chunks."""
    yield request_type(header=header_type(sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data)))
    for offset in range(0, len(data), CHUNK_BYTES):
        yield request_type(chunk=data[offset : offset + CHUNK_BYTES])


async def aupload_chunks(data: bytes, header_type, request_type) -> AsyncIterator:
    """The same requests, for an asyncio stub."""
    for request in upload_chunks(data, header_type, request_type):
        yield request


@contextmanager
def _verified_file(artifact: str, sha256: str, target: Path) -> Iterator[Callable[[bytes], None]]:
    """A writer of chunks into `target` whose sha256 must come out as `sha256`: ChecksumMismatch
    otherwise; nothing is left at `target` on any failure."""
    digest = hashlib.sha256()
    with tracing.span("artifact download", artifact=artifact):
        try:
            with target.open("wb") as file:

                def write(chunk: bytes) -> None:
                    file.write(chunk)
                    digest.update(chunk)

                yield write
            if digest.hexdigest() != sha256:
                raise ChecksumMismatch(artifact)
        except BaseException:
            target.unlink(missing_ok=True)
            raise


def download_verified(open_stream: Callable[[], Iterable], artifact: str, sha256: str, target: Path) -> None:
    """Write the chunks of the download `open_stream()` starts to `target`, checked against
    `sha256`. The call starts inside the `artifact download` span, so the peer's spans are its children."""
    with _verified_file(artifact, sha256, target) as write:
        for response in open_stream():
            write(response.chunk)


async def adownload_verified(
    open_stream: Callable[[], AsyncIterable], artifact: str, sha256: str, target: Path
) -> None:
    """The same, for an asyncio stub."""
    with _verified_file(artifact, sha256, target) as write:
        async for response in open_stream():
            write(response.chunk)
