"""Shared fixtures: real servers on free loopback ports, run in a background event loop."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest

from services.common.logging import configure_logging
from services.common.server import GrpcServer
from tests import system

# In-process servers log through structlog; uncached so tests can capture log lines.
configure_logging("test", level="info", fmt="console", cache=False)


class ServerThread:
    """Runs one service's `build_server` in its own event loop thread, on a free port."""

    def __init__(self, build: Callable[..., Awaitable[GrpcServer]], settings) -> None:
        self._build = build
        self._settings = settings
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.server: GrpcServer | None = None

    def start(self) -> ServerThread:
        self._thread.start()
        self.server = self.call(self._start())
        return self

    async def _start(self) -> GrpcServer:
        server = await self._build(self._settings)
        await server.start()
        return server

    def call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=120)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def stop(self) -> None:
        self.call(self.server.stop(grace=1))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


@contextmanager
def running(build, settings) -> Iterator[ServerThread]:
    thread = ServerThread(build, settings).start()
    try:
        yield thread
    finally:
        thread.stop()


# The deployment secret of test servers: `tenant_md` calls a backend as the operator, for a tenant.
SERVICE_SECRET = "maas-test-deployment-secret"


def tenant_md(tenant: str) -> tuple[tuple[str, str], ...]:
    """Metadata of the deployment's operator acting for a tenant (backends take a tenant only from
    a platform identity; clients' keys name their own)."""
    from services.common.credentials import SERVICE_KEY, service_token

    return (("x-maas-tenant", tenant), (SERVICE_KEY, service_token(SERVICE_SECRET, "operator")))


@contextmanager
def collected_spans():
    """Tracing on for this process's servers, spans kept in memory (an `InMemorySpanExporter`);
    enter it before servers start, since they build their channels with tracing as it is then."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from services.common import tracing

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    try:
        yield exporter
    finally:
        tracing.uninstall()


@pytest.fixture
def spans():
    with collected_spans() as exporter:
        yield exporter


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "maas"


# Set by scripts/test.sh when PostgreSQL answers (postgresql+psycopg://postgres@127.0.0.1:5432/postgres);
# without it the PostgreSQL variants of the storage tests are skipped and SQLite alone runs.
POSTGRES_ADMIN_URL = os.environ.get("MAAS_TEST_POSTGRES_URL", "")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, data_dir: Path) -> Iterator[str]:
    """An empty database of each kind: a SQLite file, or a throw-away PostgreSQL database."""
    if request.param == "sqlite":
        data_dir.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{data_dir / 'test.db'}"
        return
    if not POSTGRES_ADMIN_URL:
        system.missing(system.POSTGRES)
    import sqlalchemy as sa

    name = f"maas_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[str]:
    """A local S3-protocol server (moto) on any free loopback port; yields its endpoint URL."""
    import sys

    log_path = tmp_path_factory.mktemp("s3") / "moto.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{logged_port(log_path, MOTO_LISTENING, process, 15)}"
    wait_http(url, 10)
    yield url
    process.terminate()
    process.wait(10)
    log.close()


@pytest.fixture(params=["filesystem", "s3"])
def artifact_store(request, monkeypatch) -> dict:
    """Settings for each artifact store: the filesystem, or a fresh bucket on the local S3 server."""
    if request.param == "filesystem":
        return {"artifact_store": "filesystem"}
    import boto3

    endpoint = request.getfixturevalue("s3_server")
    for key, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    bucket = f"maas-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return {"artifact_store": "s3", "s3_bucket": bucket, "s3_endpoint_url": endpoint, "s3_prefix": "test/"}


def wait_http(url: str, timeout: float) -> None:
    """Poll `url` until it answers 200 (a server started by a test is up); TimeoutError after `timeout` s."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = urllib.request.urlopen(url, timeout=1).status
            if last == 200:
                return
        except OSError as error:
            last = error
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {timeout} s (last: {last})")


def service_settings(cls, data_dir: Path, **overrides):
    """Settings for a test server: every port 0 (any free port: the server object says which it
    bound, `ServerThread.address`, `server.metrics_port`, `server.bound_ports`), the test's data dir."""
    if "http_port" in cls.model_fields:
        overrides.setdefault("http_port", 0)
    overrides.setdefault("service_secret", SERVICE_SECRET)
    # No gateway unless the test starts one: a stray one on the default port must not answer.
    overrides.setdefault("gateway_addr", "127.0.0.1:1")
    overrides.setdefault("port", 0)
    overrides.setdefault("metrics_port", 0)
    return cls(data_dir=data_dir, grace_seconds=1, **overrides)


@contextmanager
def refusing_address() -> Iterator[str]:
    """A loopback address where nothing listens while the block runs: a socket bound to port 0 and
    never listening holds it, so connections there are refused and no server can take it."""
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{held.getsockname()[1]}"


# What moto's server (werkzeug) and Prometheus print once they listen, started on port 0.
MOTO_LISTENING = r"Running on http://127\.0\.0\.1:(\d+)"
PROMETHEUS_LISTENING = r'msg="Listening on" address=127\.0\.0\.1:(\d+)'


def logged_port(log: Path, pattern: str, process: subprocess.Popen, timeout: float) -> int:
    """The port a server `process` started on port 0 says it bound, read from its `log` by the
    first group of `pattern`; RuntimeError if it exits first or says nothing within `timeout` s."""
    import re
    import time

    deadline = time.monotonic() + timeout
    while not (found := re.search(pattern, log.read_text(errors="replace") if log.exists() else "")):
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with code {process.returncode}; see {log}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process.args!r} logged no port within {timeout} s; see {log}")
        time.sleep(0.05)
    return int(found.group(1))


def status_of(call: Callable[[], object]) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Under pytest-xdist with `--dist loadfile` (scripts/test.sh runs two workers): each file on one
    worker, so that a module's servers start once, and the whole end-to-end tier on one worker, so
    that its session stack and journey start once (xdist's `loadgroup` marks do not take under
    pytest 9: it sets a node id attribute pytest no longer reads)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FileOrEndToEndScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "tests/e2e" if nodeid.startswith("tests/e2e/") else super()._split_scope(nodeid)

    return FileOrEndToEndScheduling(config, log)


# Tests that need a package some supported install cannot have carry a marker, applied here by a rule,
# so that such an install deselects them by name and pytest counts them (scripts/protobuf_tiers.sh):
# - `tritonclient_grpc`: the file imports tritonclient.grpc (in its code or in a script it runs); the
#   current tritonclient's grpc extra needs protobuf < 7.
# - `tensorflow`: the file imports TensorFlow, Keras or TensorFlow Serving's API, or the parts of ours
#   and of the test helpers that train or serve (services.inference.server, services.trainer.export,
#   the model-making helpers), or starts training jobs (whose processes import TensorFlow); and every
#   test of a file that fails to import for want of one of those packages (collected as a placeholder
#   per test function that fails if it is run). The `ml` extra needs protobuf >= 6.31.1.
NEEDS_BY_SOURCE = {
    "tritonclient_grpc": re.compile(r"^\s*(from|import)\s+tritonclient\.grpc\b", re.M),
    "tensorflow": re.compile(
        r"^\s*(from|import)\s+(tensorflow|keras|tensorflow_serving)\b"
        r"|^\s*from\s+services\.inference\.server\s+import|^\s*from\s+services\.trainer\.export\s+import"
        r"|\b(tf_serving_descriptors|byom_models|registry_and_inference|tiny_model|create_training_job|CreateTrainingJob)\b|\binference=True",
        re.M,
    ),
}
MISSING_MODULE = re.compile(r"No module named '(tensorflow|keras|tensorflow_serving)[.']")


def _needs(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    return [marker for marker, pattern in NEEDS_BY_SOURCE.items() if pattern.search(source)]


class _NeedsPackage(pytest.Item):
    """Stands for a test of a file that cannot be imported here; fails if it is not deselected."""

    def runtest(self) -> None:
        pytest.fail(f"{self.path.name} cannot be imported here: {self.parent.missing} (deselect with -m)")

    def reportinfo(self):
        return self.path, None, self.name


class _Module(pytest.Module):
    missing = ""

    def collect(self):
        try:
            self.obj  # noqa: B018 (imports the test module)
        except self.CollectError as error:
            found = MISSING_MODULE.search(str(error))
            if found is None:
                raise
            self.missing = f"no {found.group(1)}"
            yield from self._placeholders()
            return
        yield from super().collect()

    def _placeholders(self):
        import ast

        tree = ast.parse(self.path.read_text(encoding="utf-8"))
        for node in tree.body:
            tests = [node] if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else []
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                tests = [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
            for test in tests:
                if test.name.startswith("test"):
                    name = f"{node.name}::{test.name}" if test is not node else test.name
                    item = _NeedsPackage.from_parent(self, name=name)
                    item.add_marker("tensorflow")
                    yield item


def pytest_pycollect_makemodule(module_path, parent):
    if _needs(module_path):
        return _Module.from_parent(parent, path=module_path)
    return None


def pytest_collection_modifyitems(config, items) -> None:
    needs: dict[Path, list[str]] = {}
    for item in items:
        if item.path not in needs:
            needs[item.path] = _needs(item.path)
        for marker in needs[item.path]:
            item.add_marker(marker)


def pytest_terminal_summary(terminalreporter) -> None:
    """End the run with what was skipped for want of a system part, and what was there."""
    reasons = []
    for report in terminalreporter.stats.get("skipped", []):
        if isinstance(report.longrepr, tuple):
            reasons.append(str(report.longrepr[2]))
    terminalreporter.section("system parts")
    for line in system.summary(reasons):
        terminalreporter.write_line(line)


@contextmanager
def test_door(gateway: ServerThread, registry: ServerThread, trainer: ServerThread, inference: list[ServerThread]):
    """The public gRPC door in front of test servers: Envoy, configured by the generator `maas up`
    uses, or the gateway's fallback proxy with `MAAS_TEST_DOOR=python` (or where Envoy is missing)."""
    from maas import door

    if os.environ.get("MAAS_TEST_DOOR", "envoy") == "python" or door.envoy_binary() is None:
        yield gateway.address
        return
    backends = {"gateway": [gateway.address], "registry": [registry.address], "trainer": [trainer.address]}
    backends["inference"] = [replica.address for replica in inference] or ["127.0.0.1:1"]
    with door.EnvoyProcess.on_any_port(backends, gateway.server.settings.data_dir) as envoy:
        yield envoy.address
