"""The Open Inference Protocol (KServe v2) servicer, with Triton's repository extension."""

from __future__ import annotations

import grpc

from maas.inference.v2 import grpc_service_pb2 as pb
from maas.inference.v2 import grpc_service_pb2_grpc
from services.common.errors import InvalidArgument, NotFound
from services.common.metadata import tenant_of
from services.common.validation import check_id
from services.inference.codec import decode_inputs, encode_outputs
from services.inference.predictor import Predictor
from services.inference.repository import ModelKey

SERVER_NAME = "maas-inference"
SERVER_VERSION = "0.1.0"
EXTENSIONS = ["model_repository"]


def _model_id(name: str, field: str = "model_name") -> str:
    if not name:
        raise InvalidArgument(f"{field}: required")
    return check_id(name, field)


class InferenceServicer(grpc_service_pb2_grpc.GRPCInferenceServiceServicer):
    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.repository = predictor.repository

    async def ServerLive(self, request, context):
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request, context):
        return pb.ServerReadyResponse(ready=True)

    async def ServerMetadata(self, request, context):
        return pb.ServerMetadataResponse(name=SERVER_NAME, version=SERVER_VERSION, extensions=EXTENSIONS)

    async def ModelReady(self, request, context):
        tenant = tenant_of(context)
        model = _model_id(request.name, "name")
        try:
            version = await self.repository.resolve(tenant, model, request.version)
        except NotFound:
            return pb.ModelReadyResponse(ready=False)
        return pb.ModelReadyResponse(
            ready=self.repository.get_loaded(ModelKey(tenant, model, version.version)) is not None
        )

    async def ModelMetadata(self, request, context):
        tenant = tenant_of(context)
        model = _model_id(request.name, "name")
        version = await self.repository.resolve(tenant, model, request.version)
        response = pb.ModelMetadataResponse(
            name=model, versions=[str(version.version)], platform="tensorflow_savedmodel"
        )
        for spec in version.signature.inputs:
            response.inputs.add(name=spec.name, datatype=spec.datatype, shape=spec.shape)
        for spec in version.signature.outputs:
            response.outputs.add(name=spec.name, datatype=spec.datatype, shape=spec.shape)
        return response

    async def ModelInfer(self, request, context):
        tenant = tenant_of(context)
        model_id = _model_id(request.model_name)
        model, outputs = await self.predictor.predict(
            tenant,
            model_id,
            request.model_version,
            lambda m: decode_inputs(request, m.inputs),
            context.time_remaining(),
        )
        response = pb.ModelInferResponse(model_name=model_id, model_version=str(model.key.version), id=request.id)
        encode_outputs(response, outputs, model.outputs, [o.name for o in request.outputs])
        return response

    async def RepositoryIndex(self, request, context):
        tenant = tenant_of(context)
        response = pb.RepositoryIndexResponse()
        for model in self.repository.loaded(tenant):
            response.models.add(name=model.key.model, version=str(model.key.version), state="READY")
        return response

    async def RepositoryModelLoad(self, request, context):
        tenant = tenant_of(context)
        version = ""
        if "version" in request.parameters:
            version = request.parameters["version"].string_param or str(request.parameters["version"].int64_param)
        await self.repository.get(tenant, _model_id(request.model_name), version)
        return pb.RepositoryModelLoadResponse()

    async def RepositoryModelUnload(self, request, context):
        tenant = tenant_of(context)
        await self.repository.unload(tenant, _model_id(request.model_name))
        return pb.RepositoryModelUnloadResponse()


def register(servicer: InferenceServicer, server: grpc.aio.Server) -> None:
    grpc_service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)
