"""The registry's PostgreSQL stopped under load and started again: while it is down, calls get
UNAVAILABLE with a retry hint (never INTERNAL), the registry keeps serving health, and once the
database is back calls succeed again by themselves, with everything acknowledged before still there.
The test runs its own PostgreSQL cluster (initdb on a free port), so stopping it harms nothing else."""

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from maas.registry.v1 import registry_pb2 as rpb
from maas.registry.v1 import registry_pb2_grpc
from services.registry.config import RegistrySettings
from services.registry.server import build_server as build_registry
from tests import system
from tests.conftest import running, service_settings, tenant_md

pytestmark = pytest.mark.slow
MD = tenant_md("outage")
SERVER_BINARIES = system.SystemPart(
    "postgresql-server", "PostgreSQL's server programs (initdb, pg_ctl)", "sudo apt-get install postgresql", ()
)


class OwnPostgres:
    """A throw-away cluster; as root its programs run as the `postgres` user, which PostgreSQL requires."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
        if not found[-1]:
            system.missing(SERVER_BINARIES)
        self.bin = Path(found[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="maas-pg-"))
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.root / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    @property
    def url(self) -> str:
        # Its Unix socket only (no TCP port to choose): .s.PGSQL.5432 in its own directory.
        return f"postgresql+psycopg://postgres@/postgres?host={self.root}&port=5432"

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([*self.prefix, str(self.bin / program), *args], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p 5432 -k {self.root} -c listen_addresses=''"
        self._run("pg_ctl", "-D", str(self.root / "data"), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def postgres():
    cluster = OwnPostgres()
    cluster.start()
    yield cluster
    cluster.remove()


def test_registry_rides_out_a_postgres_restart_under_load(postgres, tmp_path):
    settings = service_settings(RegistrySettings, tmp_path, database_url=postgres.url)
    with running(build_registry, settings) as server, grpc.insecure_channel(server.address) as channel:
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        health = health_pb2_grpc.HealthStub(channel)
        acknowledged: list[str] = []
        codes: list[tuple[float, grpc.StatusCode]] = []
        retry_hints: list[float] = []
        stop = threading.Event()

        def load() -> None:
            number = 0
            while not stop.is_set():
                number += 1
                request = rpb.CreateModelRequest(model_id=f"m{number}")
                try:
                    registry.CreateModel(request, metadata=MD, timeout=5)
                    acknowledged.append(f"models/m{number}")
                    codes.append((time.monotonic(), grpc.StatusCode.OK))
                except grpc.RpcError as error:
                    codes.append((time.monotonic(), error.code()))
                    for detail in rpc_status.from_call(error).details if rpc_status.from_call(error) else []:
                        info = error_details_pb2.RetryInfo()
                        if detail.Unpack(info):
                            retry_hints.append(info.retry_delay.ToTimedelta().total_seconds())
                time.sleep(0.02)

        worker = threading.Thread(target=load)
        worker.start()
        time.sleep(1.0)
        postgres.stop()
        stopped = time.monotonic()
        time.sleep(2.0)
        serving = health.Check(health_pb2.HealthCheckRequest(), timeout=5).status
        starting = time.monotonic()
        postgres.start()
        restarted = time.monotonic()
        deadline = restarted + 30
        while time.monotonic() < deadline and not any(t > restarted and c == grpc.StatusCode.OK for t, c in codes):
            time.sleep(0.05)
        stop.set()
        worker.join(10)
        recovered = next((t for t, c in codes if t > restarted and c == grpc.StatusCode.OK), None)
        assert recovered is not None, "calls did not succeed again after PostgreSQL came back"
        print(f"recovery: first success {recovered - restarted:.2f} s after PostgreSQL was up again")
        during = {c for t, c in codes if stopped + 0.5 < t < starting}
        assert during == {grpc.StatusCode.UNAVAILABLE}, during
        assert retry_hints and min(retry_hints) >= 1
        assert {c for _, c in codes} <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}
        assert serving == health_pb2.HealthCheckResponse.SERVING
        listed = registry.ListModels(rpb.ListModelsRequest(page_size=1000), metadata=MD, timeout=10).models
        assert set(acknowledged) <= {m.name for m in listed}, "an acknowledged model was lost"
