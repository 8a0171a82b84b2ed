"""The KServe v2 (Open Inference Protocol) REST paths, with Triton's extensions that
`tritonclient.http` uses: model configuration, statistics, the repository, and the binary tensor
extension (`Inference-Header-Content-Length`: a JSON header, then the tensors' raw bytes).
Each path is one call to the inference service through the gateway's own gRPC port."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from typing import Any

import grpc
from aiohttp import web

from maas.inference.v2 import grpc_service_pb2 as infer_pb
from services.common.errors import DomainError, InvalidArgument
from services.gateway.rest import kserve

HEADER_LENGTH = "Inference-Header-Content-Length"
_DECOMPRESS = {"gzip": gzip.decompress, "deflate": zlib.decompress}


class KServeRoutes:
    def __init__(
        self,
        channel: Callable[[], grpc.aio.Channel | None],
        metadata: Callable[[web.Request], tuple],
        error_response: Callable[[BaseException], web.Response],
    ) -> None:
        self._channel = channel
        self._metadata = metadata
        self._error = error_response

    def add_to(self, app: web.Application) -> None:
        model = "/v2/models/{model}"
        versioned = "/v2/models/{model}/versions/{version}"
        app.router.add_get("/v2/health/live", self._server_live)
        app.router.add_get("/v2/health/ready", self._server_ready)
        app.router.add_get("/v2", self._server_metadata)
        app.router.add_get("/v2/models/stats", self._statistics)
        for base in (model, versioned):
            app.router.add_get(base, self._model_metadata)
            app.router.add_get(base + "/ready", self._model_ready)
            app.router.add_get(base + "/config", self._model_config)
            app.router.add_get(base + "/stats", self._statistics)
            app.router.add_post(base + "/infer", self._model_infer)
        app.router.add_post("/v2/repository/index", self._repository_index)
        app.router.add_post("/v2/repository/models/{model}/load", self._repository_load)
        app.router.add_post("/v2/repository/models/{model}/unload", self._repository_unload)

    async def _call(self, request: web.Request, method: str, message, reply: Callable[[Any], web.Response]):
        response_class = getattr(infer_pb, type(message).__name__.replace("Request", "Response"))
        channel = self._channel()
        assert channel is not None  # the routes serve once the gateway's channel is open
        call = channel.unary_unary(
            f"/inference.GRPCInferenceService/{method}",
            request_serializer=type(message).SerializeToString,
            response_deserializer=response_class.FromString,
        )
        try:
            response = await call(message, metadata=self._metadata(request))
        except grpc.aio.AioRpcError as error:
            return self._error(error)
        return reply(response)

    @staticmethod
    def _readiness(flag: str):
        # The protocol's health answer is the status code: 200 true, 400 false.
        return lambda r: web.json_response({flag: getattr(r, flag)}, status=200 if getattr(r, flag) else 400)

    @staticmethod
    def _model_ref(request: web.Request) -> dict[str, str]:
        return {"name": request.match_info.get("model", ""), "version": request.match_info.get("version", "")}

    async def _server_live(self, request: web.Request):
        return await self._call(request, "ServerLive", infer_pb.ServerLiveRequest(), self._readiness("live"))

    async def _server_ready(self, request: web.Request):
        return await self._call(request, "ServerReady", infer_pb.ServerReadyRequest(), self._readiness("ready"))

    async def _server_metadata(self, request: web.Request):
        message = infer_pb.ServerMetadataRequest()
        return await self._call(
            request, "ServerMetadata", message, lambda r: web.json_response(kserve.server_metadata(r))
        )

    async def _model_metadata(self, request: web.Request):
        message = infer_pb.ModelMetadataRequest(**self._model_ref(request))
        return await self._call(
            request, "ModelMetadata", message, lambda r: web.json_response(kserve.model_metadata(r))
        )

    async def _model_ready(self, request: web.Request):
        message = infer_pb.ModelReadyRequest(**self._model_ref(request))
        return await self._call(request, "ModelReady", message, self._readiness("ready"))

    async def _model_config(self, request: web.Request):
        message = infer_pb.ModelConfigRequest(**self._model_ref(request))
        return await self._call(request, "ModelConfig", message, lambda r: web.json_response(kserve.model_config(r)))

    async def _statistics(self, request: web.Request):
        message = infer_pb.ModelStatisticsRequest(**self._model_ref(request))
        return await self._call(request, "ModelStatistics", message, lambda r: web.json_response(kserve.statistics(r)))

    async def _model_infer(self, request: web.Request):
        ref = self._model_ref(request)
        try:
            body = await request.read()
            encoding = request.headers.get("Content-Encoding", "")
            if encoding in _DECOMPRESS:
                body = _DECOMPRESS[encoding](body)
            header_length = request.headers.get(HEADER_LENGTH)
            parsed = kserve.split_binary(body, header_length)
            message, binary_outputs = kserve.infer_request(*parsed, ref["name"], ref["version"])
        except (DomainError, OSError, zlib.error) as error:
            failure = error if isinstance(error, DomainError) else InvalidArgument(f"body: cannot decompress ({error})")
            return self._error(failure)

        def reply(response) -> web.Response:
            header, binary = kserve.infer_response(response, binary_outputs)
            if not binary:
                return web.Response(body=header, content_type="application/json")
            headers = {HEADER_LENGTH: str(len(header))}
            return web.Response(body=header + binary, content_type="application/octet-stream", headers=headers)

        return await self._call(request, "ModelInfer", message, reply)

    async def _repository_index(self, request: web.Request):
        try:
            body = kserve.json_object(await request.read())
        except DomainError as error:
            return self._error(error)
        message = infer_pb.RepositoryIndexRequest(ready=bool(body.get("ready", False)))
        return await self._call(
            request, "RepositoryIndex", message, lambda r: web.json_response(kserve.repository_index(r))
        )

    async def _repository_load(self, request: web.Request):
        try:
            body = kserve.json_object(await request.read())
        except DomainError as error:
            return self._error(error)
        message = infer_pb.RepositoryModelLoadRequest(model_name=request.match_info["model"])
        version = (body.get("parameters") or {}).get("version")
        if version is not None:
            message.parameters["version"].string_param = str(version)
        return await self._call(request, "RepositoryModelLoad", message, lambda r: web.json_response({}))

    async def _repository_unload(self, request: web.Request):
        message = infer_pb.RepositoryModelUnloadRequest(model_name=request.match_info["model"])
        return await self._call(request, "RepositoryModelUnload", message, lambda r: web.json_response({}))
