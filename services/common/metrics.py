"""Prometheus metrics: the conventional gRPC server metrics and the /metrics endpoint."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

# Buckets from 0.5 ms to 60 s: inference calls are fast, uploads and training calls are not.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class GrpcServerMetrics:
    """`grpc_server_*` metrics with the labels of go-grpc-prometheus, so existing dashboards work."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["grpc_type", "grpc_service", "grpc_method"]
        self.started = Counter("grpc_server_started_total", "RPCs started on the server.", labels, registry=registry)
        self.handled = Counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, by status code.",
            [*labels, "grpc_code"],
            registry=registry,
        )
        # Calls the service's gate let through to a handler (authenticated and within the plan).
        self.admitted = Counter(
            "maas_grpc_server_admitted_total", "RPCs admitted to a handler by the gate.", labels, registry=registry
        )
        # Calls the gate refused, and why: a key problem (unauthenticated, permission_denied), the
        # plan's limits (rate_limit, predictions_per_day, training_seconds_per_month, stored_bytes), or
        # no credentials or lease to be had (unavailable).
        self.refused = Counter(
            "maas_gate_refused_total",
            "RPCs the gate refused before a handler, by reason.",
            ["grpc_service", "reason"],
            registry=registry,
        )
        self.handling_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time to handle an RPC on the server.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )


def serve_metrics(host: str, port: int, registry: CollectorRegistry):
    """Start the /metrics HTTP server in a background thread; returns the server (`server_port`,
    and `shutdown()` + `server_close()` to release the port)."""
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server
