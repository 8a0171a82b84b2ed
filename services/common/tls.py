"""TLS for gRPC servers and channels, and for the gateway's HTTP server, from PEM files."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path

import grpc

from services.common import tracing


def _read(path: Path | None) -> bytes | None:
    return path.read_bytes() if path else None


def server_credentials(cert: Path | None, key: Path | None, client_ca: Path | None) -> grpc.ServerCredentials | None:
    """TLS with this certificate; with `client_ca`, clients must present a certificate it signed (mTLS)."""
    if cert is None:
        return None
    if key is None:
        raise ValueError(f"a TLS certificate ({cert}) needs its private key")
    return grpc.ssl_server_credentials(
        [(key.read_bytes(), cert.read_bytes())],
        root_certificates=_read(client_ca),
        require_client_auth=client_ca is not None,
    )


def ssl_context(cert: Path | None, key: Path | None, client_ca: Path | None) -> ssl.SSLContext | None:
    """The same, for an HTTPS server."""
    if cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if client_ca is not None:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def channel_credentials(ca: Path | None, cert: Path | None, key: Path | None) -> grpc.ChannelCredentials | None:
    """TLS to a peer verified against `ca`, presenting `cert` when set (mTLS); None for plaintext."""
    if ca is None:
        return None
    return grpc.ssl_channel_credentials(ca.read_bytes(), _read(key), _read(cert))


def open_channel(
    target: str, options: Sequence[tuple[str, object]], ca: Path | None, cert: Path | None, key: Path | None
) -> grpc.aio.Channel:
    """A channel to a peer: TLS when `ca` is set, plaintext otherwise; it carries the current
    trace (`traceparent`) to the peer while tracing is on."""
    credentials = channel_credentials(ca, cert, key)
    interceptors = tracing.channel_interceptors()
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=list(options), interceptors=interceptors)
    return grpc.aio.secure_channel(target, credentials, options=list(options), interceptors=interceptors)
