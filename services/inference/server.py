"""Inference process: the Open Inference Protocol over the model repository."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from maas.inference.v2 import grpc_service_pb2
from services.common.server import GrpcServer, ServiceBinding, run_service
from services.inference.config import InferenceSettings
from services.inference.metrics import InferenceMetrics
from services.inference.predictor import Predictor
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
    channel = settings.peer_channel(
        settings.registry_addr, [("grpc.max_receive_message_length", settings.max_message_bytes)]
    )
    registry = CollectorRegistry()
    metrics = InferenceMetrics(registry)
    repository = ModelRepository(settings, channel, metrics)
    predictor = Predictor(repository, metrics)

    async def close() -> None:
        await repository.close()
        await channel.close()

    return GrpcServer(
        settings=settings,
        bindings=[
            ServiceBinding(register, InferenceServicer(predictor), SERVICE_NAME),
            ServiceBinding(register_prediction, PredictionServicer(predictor), "tensorflow.serving.PredictionService"),
            ServiceBinding(register_model_service, ModelStatusServicer(predictor), "tensorflow.serving.ModelService"),
        ],
        registry=registry,
        on_stop=[close],
    )


def main() -> None:
    run_service(InferenceSettings(), build_server)
