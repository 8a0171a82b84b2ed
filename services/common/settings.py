"""Settings shared by every service, read from `MAAS_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# sun_path holds 108 bytes, the last one a terminating NUL.
_UNIX_PATH_MAX = 107


class ServiceSettings(BaseSettings):
    """Settings every service has; each service subclasses it with its own defaults."""

    model_config = SettingsConfigDict(env_prefix="MAAS_", extra="ignore")

    data_dir: Path = Field(default=Path(".maas"), description="Directory for local state (SQLite, artifacts).")
    bind_host: str = Field(default="127.0.0.1", description="Address the gRPC and metrics servers bind to.")
    port: int | None = Field(
        default=None, description="gRPC port: the service's default when unset, any free port when 0."
    )
    metrics_port: int | None = Field(
        default=None,
        description="Prometheus /metrics port: the service's default when unset, any free port when 0, -1 disables.",
    )
    log_level: str = Field(default="info", description="debug, info, warning or error.")
    log_format: str = Field(default="json", description="json (one event per line) or console.")
    grace_seconds: float = Field(default=10.0, description="Drain time for in-flight calls on SIGTERM.")
    log_successful_calls: bool = Field(
        default=True, description="Log a line for every successful call (failed and slow ones always are)."
    )
    max_message_bytes: int = Field(default=64 * 1024 * 1024, description="Largest gRPC message accepted or sent.")
    tls_cert_file: Path | None = Field(default=None, description="PEM certificate: serve TLS when set.")
    tls_key_file: Path | None = Field(default=None, description="PEM private key of tls_cert_file.")
    tls_client_ca_file: Path | None = Field(
        default=None, description="PEM CA bundle: require client certificates it signed (mTLS) when set."
    )
    peer_ca_file: Path | None = Field(
        default=None,
        description="PEM CA of the other services' certificates: TLS to them when set, presenting this "
        "service's own certificate (tls_cert_file) for mTLS.",
    )
    unix_socket: Path | None = Field(
        default=None,
        description="A Unix socket the gRPC server also listens on, plaintext, for peers on the same host "
        "(their address: unix:PATH). A local stack gives the gateway one, so that its address is known "
        "before it starts while its TCP port is any free one.",
    )
    health_port: int = Field(
        default=-1,
        description="A plaintext port serving only grpc.health.v1, for probes that cannot speak TLS "
        "(Kubernetes' native gRPC probes) when the service port requires mTLS; any free port when 0, -1 disables.",
    )
    gateway_addr: str = Field(
        default="127.0.0.1:50051",
        description="host:port of the gateway service, whose credentials and quota leases every service uses.",
    )
    service_secret: str = Field(
        default="",
        description="Per-deployment secret from which each service derives the token that proves its "
        "identity to the others (`maas up` generates one); with mTLS the client certificate names it instead.",
    )
    usage_report_seconds: float = Field(
        default=0.5, description="How often a replica reports its counted usage and renews its quota leases."
    )

    # Defaults per service, overridden in subclasses.
    service_name: str = "maas"
    default_port: int = 0
    default_metrics_port: int = 0

    @model_validator(mode="after")
    def _tls_files(self) -> ServiceSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("MAAS_TLS_CERT_FILE and MAAS_TLS_KEY_FILE go together")
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError("MAAS_TLS_CLIENT_CA_FILE needs MAAS_TLS_CERT_FILE and MAAS_TLS_KEY_FILE")
        if self.unix_socket is not None:
            if self.tls_cert_file is not None:
                raise ValueError("MAAS_UNIX_SOCKET is plaintext: it does not go with MAAS_TLS_CERT_FILE")
            if len(str(self.unix_socket)) > _UNIX_PATH_MAX:
                raise ValueError(f"MAAS_UNIX_SOCKET is longer than a Unix socket path may be ({_UNIX_PATH_MAX} bytes)")
        for path in (self.tls_cert_file, self.tls_key_file, self.tls_client_ca_file, self.peer_ca_file):
            if path is not None and not path.is_file():
                raise ValueError(f"TLS file {path} does not exist")
        return self

    @property
    def grpc_port(self) -> int:
        """The port to bind: 0 asks the kernel for any free one (the server reports what it bound)."""
        return self.default_port if self.port is None else self.port

    @property
    def prometheus_port(self) -> int:
        return self.default_metrics_port if self.metrics_port is None else self.metrics_port

    def sqlite_url(self, name: str) -> str:
        return f"sqlite:///{(self.data_dir / f'{name}.db').resolve()}"
