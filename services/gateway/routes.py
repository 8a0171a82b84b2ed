"""The routing table, derived from the service descriptors (`services.common.access`): which
backend serves a public method, its streaming kind and the scope a key needs for it. Envoy's
configuration and the fallback proxy route by it; the backends authenticate with the same table."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.access import (
    BACKENDS,
    REGISTRY_SERVICE,
    TRAINER_SERVICE,
    Quota,
    is_internal,
    read_methods,
)

__all__ = ["REGISTRY_SERVICE", "TRAINER_SERVICE", "Quota", "Route", "build_routes", "is_internal", "read_methods"]


@dataclass(frozen=True)
class Route:
    backend: str
    method: str
    client_streaming: bool
    server_streaming: bool
    scope: int
    quota: Quota | None = None


def build_routes() -> dict[str, Route]:
    """Every public method of the backends; internal ones are for the platform's services only."""
    return {
        name: Route(backend, name, a.client_streaming, a.server_streaming, a.scope, a.quota)
        for backend, methods in BACKENDS.items()
        for name, a in methods.items()
        if not a.internal
    }


def routed_services() -> dict[str, str]:
    """Full service name -> the backend that serves it."""
    return {name.split("/")[1]: route.backend for name, route in build_routes().items()}
