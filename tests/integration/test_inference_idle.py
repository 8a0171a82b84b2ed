"""An idle model is unloaded and its memory returned to the operating system; the next calls
load it again, all of them waiting for that one load. A real inference server process beside a
real registry."""

import hashlib
import os
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import keras
import numpy as np
import pytest

from maas.inference.v2 import grpc_service_pb2_grpc
from maas.registry.v1 import registry_pb2 as rpb
from maas.registry.v1 import registry_pb2_grpc
from maas.stack import wait_serving
from services.common.ports import PORTS_FILE_ENV, wait_ports_file
from services.registry.config import RegistrySettings
from services.registry.server import build_server as build_registry
from services.trainer.export import export_saved_model
from tests.conftest import SERVICE_SECRET, running, service_settings, tenant_md
from tests.integration.test_inference_service import FEATURES, infer_request

pytestmark = pytest.mark.slow
MD = tenant_md("acme")
WIDTH = 4096  # a 4096 x 4096 float32 layer: 64 MiB of weights


def resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def register_wide(registry, workdir) -> int:
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(FEATURES,), name="features")
    hidden = keras.layers.Dense(WIDTH, activation="relu")(keras.layers.Dense(WIDTH, activation="relu")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="probabilities")(hidden))
    archive = export_saved_model(model, FEATURES, "probabilities", workdir)
    sha256 = hashlib.sha256(archive).hexdigest()

    def messages():
        yield rpb.UploadArtifactRequest(header=rpb.UploadArtifactRequest.Header(sha256=sha256))
        for i in range(0, len(archive), 1 << 20):
            yield rpb.UploadArtifactRequest(chunk=archive[i : i + (1 << 20)])

    artifact = registry.UploadArtifact(messages(), metadata=MD)
    signature = rpb.Signature(
        method_name="serving_default",
        inputs=[rpb.TensorSpec(name="features", datatype="FP32", shape=[-1, FEATURES])],
        outputs=[rpb.TensorSpec(name="probabilities", datatype="FP32", shape=[-1, 3])],
    )
    version = registry.CreateModelVersion(
        rpb.CreateModelVersionRequest(
            parent="models/wide", model_version=rpb.ModelVersion(artifact=artifact.name, signature=signature)
        ),
        metadata=MD,
    )
    return len(archive) if version.version == 1 else 0


def metric(metrics_port: int, name: str, **labels) -> float:
    """A sample from the inference process's /metrics (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if series == name or (wanted and series == f"{name}{{{wanted}}}"):
            return float(value)
    return 0.0


def test_an_idle_model_is_unloaded_its_memory_returned_and_reloaded_on_the_next_call(tmp_path):
    data_dir = tmp_path / "maas"
    with (
        running(build_registry, service_settings(RegistrySettings, data_dir)) as registry_server,
        grpc.insecure_channel(registry_server.address) as registry_channel,
    ):
        registry = registry_pb2_grpc.RegistryServiceStub(registry_channel)
        size = register_wide(registry, tmp_path)
        registry.SetAlias(
            rpb.SetAliasRequest(alias=rpb.Alias(name="models/wide/aliases/production", version=1)), metadata=MD
        )
        ports_file = tmp_path / "inference-ports.json"
        env = {
            **os.environ,
            "MAAS_PORT": "0",
            "MAAS_METRICS_PORT": "0",
            PORTS_FILE_ENV: str(ports_file),
            "MAAS_REGISTRY_ADDR": registry_server.address,
            # The test servers' deployment secret (inference calls the registry as itself), no gateway.
            "MAAS_SERVICE_SECRET": SERVICE_SECRET,
            "MAAS_GATEWAY_ADDR": "127.0.0.1:1",
            "MAAS_DATA_DIR": str(tmp_path / "inference"),
            "MAAS_IDLE_UNLOAD_SECONDS": "2",
            "MAAS_RUNTIME": "savedmodel",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            # oneDNN's kernels keep the memory of the weights they saw (a bare load and drop in one
            # process returned 3 of 163 MiB with them, 133 without); a pod that unloads runs without.
            "TF_ENABLE_ONEDNN_OPTS": "0",
        }
        # Its own process, so that its resident memory is the server's alone.
        server = subprocess.Popen(
            [sys.executable, "-m", "services.inference"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            bound = wait_ports_file(ports_file, server, 120)
            port, metrics_port = bound["port"], bound["metrics_port"]
            assert wait_serving(f"127.0.0.1:{port}", 120)
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                oip = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)
                request = infer_request(np.ones((1, FEATURES), np.float32))
                request.model_name = "wide"
                before = resident_bytes(server.pid)
                assert oip.ModelInfer(request, metadata=MD, timeout=120).model_version == "1"
                loaded = resident_bytes(server.pid)
                assert metric(metrics_port, "maas_inference_models_loaded") == 1
                deadline = time.monotonic() + 20
                while metric(metrics_port, "maas_inference_models_loaded") and time.monotonic() < deadline:
                    time.sleep(0.2)
                assert metric(metrics_port, "maas_inference_models_loaded") == 0, "the idle model stayed loaded"
                time.sleep(1)  # the freed pages are handed back just after the unload
                after = resident_bytes(server.pid)
                mib = 1 << 20
                print(
                    f"\ninference resident memory: {before / mib:.0f} MiB before the first call, {loaded / mib:.0f} "
                    f"MiB with the model loaded (artifact {size / mib:.0f} MiB), {after / mib:.0f} MiB after the "
                    f"idle unload: {(loaded - after) / mib:.0f} MiB returned"
                )
                assert loaded - after >= 0.5 * (loaded - before), "the unloaded model's memory was not returned"
                labels = {"model": "wide", "tenant": "acme"}
                loads = metric(metrics_port, "maas_inference_model_load_seconds_count", **labels)
                with ThreadPoolExecutor(32) as pool:
                    answers = list(pool.map(lambda _: oip.ModelInfer(request, metadata=MD, timeout=120), range(32)))
                assert all(a.model_version == "1" for a in answers)
                reloaded = resident_bytes(server.pid)
                print(f"after the reload: {reloaded / mib:.0f} MiB")
                assert reloaded <= loaded + 32 * mib, "a reload after an idle unload grew the memory"
                assert metric(metrics_port, "maas_inference_model_load_seconds_count", **labels) == loads + 1
                assert metric(metrics_port, "maas_inference_idle_unloads_total", **labels) == 1
        finally:
            server.terminate()
            server.wait(30)
