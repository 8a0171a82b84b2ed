"""Gateway settings (`MAAS_*` environment variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.common.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    default_port: int = 50051
    default_metrics_port: int = 9101

    database_url: str = Field(default="", description="SQLAlchemy URL; SQLite under data_dir when empty.")
    admin_key: str = Field(default="", description="Admin API key; generated on first start when empty.")
    registry_addr: str = Field(default="127.0.0.1:50052", description="host:port of the registry.")
    trainer_addr: str = Field(default="127.0.0.1:50053", description="host:port of the trainer.")
    inference_addr: str = Field(default="127.0.0.1:50054", description="host:port of inference.")
    http_port: int = Field(
        default=8080,
        description="HTTP port: the REST/JSON twin, KServe v2 REST, OpenAPI and console; any free port "
        "when 0, -1 disables.",
    )
    public_grpc_address: str = Field(
        default="",
        description="host:port where programs reach the gRPC API (the door in front of the gateway), shown in "
        "the console's code snippets; the HTTP host with the gateway's own gRPC port when empty.",
    )
    http_tls_cert_file: Path | None = Field(
        default=None,
        description="PEM certificate of the HTTP port when it differs from the gRPC port's (the public one, "
        "while gRPC serves the internal mTLS certificate); tls_cert_file when unset.",
    )
    http_tls_key_file: Path | None = Field(default=None, description="PEM private key of http_tls_cert_file.")
    backend_ca_file: Path | None = Field(
        default=None, description="PEM CA that signed the backends' certificates: TLS to the backends when set."
    )
    backend_cert_file: Path | None = Field(
        default=None, description="PEM client certificate presented to the backends (mTLS)."
    )
    backend_key_file: Path | None = Field(default=None, description="PEM private key of backend_cert_file.")
    key_cache_seconds: float = Field(
        default=2.0, description="How long a key lookup is cached; bounds how late a revocation applies."
    )
    key_use_flush_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often the keys' last use (noted in memory per call) is written: the resolution "
        "of the last use the console shows.",
    )
    registration_enabled: bool = Field(
        default=False,
        description="Let anyone register (email and password) on the HTTP port, becoming the owner of a new "
        "tenant on registration_plan; invited members can register either way.",
    )
    registration_plan: str = Field(default="free", description="The plan of tenants created by registration.")
    session_hours: float = Field(default=12.0, description="How long a console session lasts after sign-in.")
    session_idle_minutes: float = Field(
        default=30.0, description="A console session unused this long ends, before session_hours if need be."
    )
    session_purge_seconds: float = Field(
        default=300.0, description="How often sessions that ended (signed out, expired, idle) are deleted."
    )
    invitation_hours: float = Field(default=72.0, description="How long an owner's invitation can be used.")
    login_max_failures: int = Field(default=20, description="Failed sign-ins of one account that lock it.")
    login_max_failures_per_address: int = Field(
        default=100,
        description="Failed sign-ins from one client address (of any accounts) that lock the address: more "
        "than an account's, since many people may share an address.",
    )
    login_lockout_seconds: float = Field(default=900.0, description="How long a locked account or address waits.")
    password_scrypt_n: int = Field(
        default=2**17,
        description="scrypt's cost N for new password hashes (OWASP: 2^17, with r=8, p=1); lower only in tests.",
    )
    billing_cycle_seconds: float = Field(
        default=600.0,
        description="How often every tenant's training time and storage are sampled for invoices and the "
        "invoices of ended months issued; 0 turns the cycle off (invoices are then issued when first read).",
    )

    @property
    def db_url(self) -> str:
        return self.database_url or self.sqlite_url("gateway")
