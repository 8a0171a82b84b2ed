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


def _retry_policy(attempts: int, initial: str, largest: str) -> dict[str, object]:
    """Retry a call a peer answered UNAVAILABLE (restarting, or a replica going away), with backoff."""
    return {
        "maxAttempts": attempts,
        "initialBackoff": initial,
        "maxBackoff": largest,
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE"],
    }


def read_retries(*services: ServiceDescriptor, attempts: int = 5) -> tuple[tuple[str, object], ...]:
    """Channel options that retry the services' reads (unary methods of the read scope, from the
    contract) when a restarting peer answered UNAVAILABLE; writes are never retried."""
    names = [{"service": s.full_name, "method": m} for s in services for m in read_methods(s)]
    policy = _retry_policy(attempts, "0.5s", "2s")
    config = {"methodConfig": [{"name": names, "retryPolicy": policy}], "retryThrottling": _BUDGET}
    return (("grpc.enable_retries", 1), ("grpc.service_config", json.dumps(config)))


# The retry budget: each failure takes a token, each success gives back 0.1; retries stop below half.
_BUDGET = {"maxTokens": 100, "tokenRatio": 0.1}


def balanced(*services: str) -> tuple[tuple[str, object], ...]:
    """Channel options for a peer of several replicas (a headless Service resolved with dns:///, or
    a list such as ipv4:10.0.0.1:50054,10.0.0.2:50054): calls spread over every address round robin,
    skip replicas whose health check is not SERVING, and calls of `services` (which change nothing)
    that a dying replica answered UNAVAILABLE are retried, within a retry budget so that retries
    cannot swamp the survivors (200 tokens absorb a replica's share of 64 calls in flight)."""
    config = {
        "loadBalancingConfig": [{"round_robin": {}}],
        "healthCheckConfig": {"serviceName": ""},
        "methodConfig": [
            {"name": [{"service": s} for s in services], "retryPolicy": _retry_policy(5, "0.05s", "0.5s")}
        ],
        "retryThrottling": {"maxTokens": 200, "tokenRatio": 0.1},
    }
    return (("grpc.enable_retries", 1), ("grpc.service_config", json.dumps(config)))


def backend_metadata(identity: Metadata, tenant: str, request_id: str) -> Metadata:
    """Metadata of a call made for `tenant`: the caller's identity (its service token; with mTLS
    the certificate says it too), the tenant it acts for and the request id that correlates logs."""
    return (*identity, (TENANT_KEY, tenant), (REQUEST_ID_KEY, request_id))


def traced(metadata: Metadata) -> Metadata:
    """`metadata` plus the current span's `traceparent` (while tracing is on), for blocking
    channels; async channels add it through their interceptors."""
    return (*metadata, *tracing.outgoing_metadata())


# The TLS of a peer's channel: the CA its certificate is checked against (None: plaintext), and
# this service's certificate and key to present (mTLS) when set.
PeerTls = tuple[Path | None, Path | None, Path | None]


class PeerChannels:
    """The one maker of channels to the other services (and to a server's own loopback port):
    TLS (mTLS with this service's certificate) when the settings name a peer CA, each with the
    largest message the settings allow, either way."""

    def __init__(self, settings: ServiceSettings, tls: PeerTls | None = None) -> None:
        """`tls` replaces the settings' peer CA and own certificate (the gateway's backends have their own)."""
        self._tls = tls or (settings.peer_ca_file, settings.tls_cert_file, settings.tls_key_file)
        limit = settings.max_message_bytes
        self._base = (("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit))

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

    def loopback(self, target: str) -> grpc.aio.Channel:
        """A plaintext asyncio channel to this server's own loopback port (the gateway's REST twin
        calling its gRPC port), which forwards the trace headers its callers sent itself."""
        return grpc.aio.insecure_channel(target, options=self._options(()))


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
