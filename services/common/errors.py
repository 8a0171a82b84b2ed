"""Domain errors. Each owns its gRPC status code; the error interceptor turns them into statuses."""

from __future__ import annotations

import grpc
from google.protobuf.message import Message


class DomainError(Exception):
    """An error a caller can act on; its message is sent to the caller as is."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, details: list[Message] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(DomainError):
    code = grpc.StatusCode.ABORTED


class ResourceExhausted(DomainError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unavailable(DomainError):
    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(DomainError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class DataLoss(DomainError):
    code = grpc.StatusCode.DATA_LOSS


class Unimplemented(DomainError):
    code = grpc.StatusCode.UNIMPLEMENTED


class UpstreamError(DomainError):
    """A status received from another service, passed on intact (code, message, trailers)."""

    def __init__(
        self, code: grpc.StatusCode, message: str, trailing_metadata: tuple[tuple[str, str | bytes], ...] = ()
    ) -> None:
        super().__init__(message)
        self.code = code
        self.trailing_metadata = trailing_metadata

    @classmethod
    def from_rpc_error(cls, error: grpc.aio.AioRpcError | grpc.RpcError) -> UpstreamError:
        trailers = tuple((k, v) for k, v in (error.trailing_metadata() or ()))
        return cls(error.code(), error.details() or "", trailers)
