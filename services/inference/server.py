"""Inference process: the Open Inference Protocol over the model repository."""

from __future__ import annotations

import multiprocessing
import os
import signal
from multiprocessing.connection import Connection

from prometheus_client import CollectorRegistry

from maas.inference.v2 import grpc_service_pb2
from services.common.access import REGISTRY_SERVICE
from services.common.clients import PeerChannels, read_retries
from services.common.gate import CallGate
from services.common.ports import PORTS_FILE_ENV
from services.common.process import die_with_parent
from services.common.server import GrpcServer, ServiceBinding, run_service
from services.inference.config import InferenceSettings
from services.inference.devices import configure_tensorflow
from services.inference.metrics import InferenceMetrics
from services.inference.predictor import Predictor
from services.inference.processes import ServingProcesses
from services.inference.registry_client import RegistryClient
from services.inference.repository import ModelRepository
from services.inference.servicer import InferenceServicer, register
from services.inference.tf_serving import (
    ModelStatusServicer,
    PredictionServicer,
    register_model_service,
    register_prediction,
)

SERVICE_NAME = grpc_service_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name


async def build_server(settings: InferenceSettings) -> GrpcServer:
    device = configure_tensorflow(settings)
    channel = PeerChannels(settings).aio(settings.registry_addr, *read_retries(REGISTRY_SERVICE))
    registry = CollectorRegistry()
    metrics = InferenceMetrics(registry)
    gate = CallGate(settings)
    repository = ModelRepository(settings, RegistryClient(channel, gate.acting_for), metrics, device)
    predictor = Predictor(repository, metrics)

    async def close() -> None:
        await repository.close()
        await channel.close()

    server = GrpcServer(
        settings=settings,
        bindings=[
            ServiceBinding(register, InferenceServicer(predictor), SERVICE_NAME),
            ServiceBinding(register_prediction, PredictionServicer(predictor), "tensorflow.serving.PredictionService"),
            ServiceBinding(register_model_service, ModelStatusServicer(predictor), "tensorflow.serving.ModelService"),
        ],
        registry=registry,
        gate=gate,
        on_stop=[close],
        reuse_port=settings.worker_count > 1,
    )
    if settings.worker_count > 1 and settings.worker_index == 0:
        workers = ServingProcesses(settings.worker_count, lambda: server.port, serve_worker, settings.grace_seconds)
        server.companions = [workers]
        server.on_stop = [*server.on_stop, workers.wait]
    return server


def serve_worker(index: int, port: int, ready: Connection) -> None:
    """Entry point of an extra worker process: the same settings, on the first process's port;
    its bound ports are sent over `ready` once it serves."""
    parent = multiprocessing.parent_process()
    assert parent is not None and parent.pid is not None, "an extra worker is started by the first process"
    die_with_parent(signal.SIGTERM, parent.pid)
    os.environ.pop(PORTS_FILE_ENV, None)  # the first process reports the shared port, not each worker
    settings = InferenceSettings().model_copy(update={"worker_index": index, "port": port})
    run_service(settings, build_server, on_started=lambda server: ready.send(server.bound_ports))


def main() -> None:
    run_service(InferenceSettings(), build_server)
