"""The Open Inference Protocol (KServe v2) servicer, with Triton's configuration, statistics,
streaming and repository extensions."""

from __future__ import annotations

import grpc

from maas.inference.v2 import grpc_service_pb2 as pb
from maas.inference.v2 import grpc_service_pb2_grpc
from services.common.errors import DomainError, InvalidArgument, NotFound
from services.common.metadata import tenant_of
from services.common.validation import check_id
from services.inference.codec import decode_inputs, encode_outputs
from services.inference.predictor import Predictor
from services.inference.routing import routing_key_of
from services.inference.triton import PLATFORM, model_config, model_statistics

SERVER_NAME = "maas-inference"
SERVER_VERSION = "0.1.0"
EXTENSIONS = ["model_repository", "model_configuration", "statistics", "binary_tensor_data"]


def _model_id(name: str, field: str = "model_name") -> str:
    if not name:
        raise InvalidArgument(f"{field}: required")
    return check_id(name, field)


class InferenceServicer(grpc_service_pb2_grpc.GRPCInferenceServiceServicer):
    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor

    async def ServerLive(self, request, context):
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request, context):
        return pb.ServerReadyResponse(ready=True)

    async def ServerMetadata(self, request, context):
        return pb.ServerMetadataResponse(name=SERVER_NAME, version=SERVER_VERSION, extensions=EXTENSIONS)

    async def ModelReady(self, request, context):
        try:
            ready = await self.predictor.ready(tenant_of(context), _model_id(request.name, "name"), request.version)
        except NotFound:
            ready = False
        return pb.ModelReadyResponse(ready=ready)

    async def ModelMetadata(self, request, context):
        model = _model_id(request.name, "name")
        number, signature, _ = await self.predictor.signature(tenant_of(context), model, request.version)
        response = pb.ModelMetadataResponse(name=model, versions=[str(number)], platform=PLATFORM)
        for spec in signature.inputs.values():
            response.inputs.add(name=spec.name, datatype=spec.datatype, shape=spec.shape)
        for spec in signature.outputs.values():
            response.outputs.add(name=spec.name, datatype=spec.datatype, shape=spec.shape)
        return response

    async def ModelConfig(self, request, context):
        model = _model_id(request.name, "name")
        _, signature, batched = await self.predictor.signature(tenant_of(context), model, request.version)
        max_batch_size, delay = self.predictor.batching
        return pb.ModelConfigResponse(config=model_config(model, signature, batched, max_batch_size, delay))

    async def ModelStatistics(self, request, context):
        tenant = tenant_of(context)
        response = pb.ModelStatisticsResponse()
        if request.name:
            model = _model_id(request.name, "name")
            number = (await self.predictor.version(tenant, model, request.version)).version
            loaded = self.predictor.loaded_version(tenant, model, number)
            models = [loaded] if loaded is not None else []
        else:
            models = self.predictor.loaded(tenant)
        for loaded in models:
            response.model_stats.append(model_statistics(loaded.key.model, loaded.key.version, loaded.statistics))
        return response

    async def _infer(self, request, context) -> pb.ModelInferResponse:
        model_id = _model_id(request.model_name)
        call = await self.predictor.call(
            tenant_of(context),
            model_id,
            request.model_version,
            context.time_remaining(),
            routing_key_of(context.invocation_metadata(), request.parameters),
        )
        async with call:
            finite = not call.model.signature.accepts_non_finite
            outputs = await call.infer(decode_inputs(request, call.model.inputs, call.model.batched, finite))
        response = pb.ModelInferResponse(model_name=model_id, model_version=str(call.model.key.version), id=request.id)
        encode_outputs(response, outputs, call.model.outputs, [o.name for o in request.outputs])
        return response

    async def ModelInfer(self, request, context):
        return await self._infer(request, context)

    async def ModelStreamInfer(self, request_iterator, context):
        # One answer per request, in order; a request's error is its answer's `error_message`
        # (as Triton does), so one bad request does not end the stream.
        async for request in request_iterator:
            try:
                yield pb.ModelStreamInferResponse(infer_response=await self._infer(request, context))
            except DomainError as error:
                yield pb.ModelStreamInferResponse(
                    error_message=f"{error.code.name}: {error.message}",
                    infer_response=pb.ModelInferResponse(model_name=request.model_name, id=request.id),
                )

    async def RepositoryIndex(self, request, context):
        response = pb.RepositoryIndexResponse()
        for model in self.predictor.loaded(tenant_of(context)):
            response.models.add(name=model.key.model, version=str(model.key.version), state="READY")
        return response

    async def RepositoryModelLoad(self, request, context):
        version = ""
        if "version" in request.parameters:
            version = request.parameters["version"].string_param or str(request.parameters["version"].int64_param)
        await self.predictor.load(tenant_of(context), _model_id(request.model_name), version)
        return pb.RepositoryModelLoadResponse()

    async def RepositoryModelUnload(self, request, context):
        await self.predictor.unload(tenant_of(context), _model_id(request.model_name))
        return pb.RepositoryModelUnloadResponse()


def register(servicer: InferenceServicer, server: grpc.aio.Server) -> None:
    grpc_service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)
