"""The gateway's own metrics: the credentials its admin API refused, by a reason from a fixed set
(never a string a client sent, so the series are few and bounded)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

# Why a call to the admin API was refused its caller: no key, a key unknown or revoked, an expired
# key, or an internal method called by something that is not one of the platform's services.
AUTH_FAILURE_REASONS = ("missing_key", "unknown_key", "expired_key", "not_a_service")


class AuthMetrics:
    """`maas_gateway_auth_failures_total{reason}`, each reason's series there from the start (at 0)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.failures = Counter(
            "maas_gateway_auth_failures_total",
            "Calls to the gateway's admin API refused for their credentials, by reason.",
            ["reason"],
            registry=registry,
        )
        for reason in AUTH_FAILURE_REASONS:
            self.failures.labels(reason)

    def failed(self, reason: str) -> None:
        if reason not in AUTH_FAILURE_REASONS:
            raise ValueError(f"not an auth failure reason: {reason}")
        self.failures.labels(reason).inc()
