"""How a failed call reads over HTTP: its gRPC status as an HTTP status and a JSON body."""

from __future__ import annotations

import grpc
from aiohttp import web
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2

from services.common.errors import DomainError

# google.rpc.Code -> HTTP status, as in google/rpc/code.proto and grpc-gateway.
HTTP_STATUS = {
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}


class CallFailed(Exception):
    """A call's gRPC status, as the HTTP layer reports it."""

    def __init__(self, code: grpc.StatusCode, message: str, trailers=()) -> None:
        super().__init__(message)
        self.code, self.message, self.trailers = code, message, trailers

    @classmethod
    def of(cls, error: BaseException) -> CallFailed:
        if isinstance(error, grpc.aio.AioRpcError):
            return cls(error.code(), error.details() or "", error.trailing_metadata() or ())
        if isinstance(error, DomainError):
            if not error.details:
                return cls(error.code, error.message)
            status = status_pb2.Status(code=error.code.value[0], message=error.message)
            for detail in error.details:
                status.details.add().Pack(detail)
            return cls(error.code, error.message, (("grpc-status-details-bin", status.SerializeToString()),))
        raise error

    def status_json(self) -> dict:
        """The google.rpc.Status of the failure as JSON, with its details (RetryInfo, QuotaFailure, ...)."""
        status = status_pb2.Status(code=self.code.value[0], message=self.message)
        for key, value in self.trailers:
            if key == "grpc-status-details-bin":
                status.ParseFromString(value)
        return json_format.MessageToDict(status)

    def retry_after(self) -> str | None:
        for key, value in self.trailers:
            if key == "grpc-status-details-bin":
                for detail in status_pb2.Status.FromString(value).details:
                    info = error_details_pb2.RetryInfo()
                    if detail.Unpack(info):
                        return str(max(1, round(info.retry_delay.ToTimedelta().total_seconds())))
        return None


def json_error(failure: CallFailed, kserve_shape: bool = False) -> web.Response:
    headers = {}
    if retry_after := failure.retry_after():
        headers["Retry-After"] = retry_after
    # The KServe v2 REST protocol answers errors as {"error": "<message>"}.
    body = {"error": failure.message} if kserve_shape else {"error": failure.status_json()}
    return web.json_response(body, status=HTTP_STATUS.get(failure.code, 500), headers=headers)
