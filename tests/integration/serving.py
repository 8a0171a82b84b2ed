"""A registry and an inference server side by side, on free loopback ports, with stubs on both:
the pair most inference tests start."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc

from maas.inference.v2 import grpc_service_pb2_grpc
from maas.registry.v1 import registry_pb2_grpc
from services.inference.config import InferenceSettings
from services.inference.server import build_server as build_inference
from services.registry.config import RegistrySettings
from services.registry.server import build_server as build_registry
from tests.conftest import running, service_settings


@contextmanager
def registry_and_inference(data_dir: Path, **inference_settings) -> Iterator[dict]:
    """Yields `registry` (a registry stub), `oip` (an Open Inference Protocol stub), `channel` (to
    inference), `address` and `registry_address`, and `metrics` (inference's Prometheus registry).
    Inference batches with a 1 ms queue delay unless `inference_settings` say otherwise."""
    with running(build_registry, service_settings(RegistrySettings, data_dir)) as registry_server:
        settings = service_settings(
            InferenceSettings,
            data_dir,
            registry_addr=registry_server.address,
            **{"max_queue_delay_ms": 1.0, **inference_settings},
        )
        with (
            running(build_inference, settings) as inference_server,
            grpc.insecure_channel(registry_server.address) as registry_channel,
            grpc.insecure_channel(inference_server.address) as channel,
        ):
            yield {
                "registry": registry_pb2_grpc.RegistryServiceStub(registry_channel),
                "oip": grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel),
                "channel": channel,
                "address": inference_server.address,
                "registry_address": registry_server.address,
                "metrics": inference_server.server.registry,
            }
