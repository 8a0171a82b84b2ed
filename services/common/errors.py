"""Domain errors. Each owns its gRPC status code; the error interceptor turns them into statuses."""

from __future__ import annotations

import grpc
from google.protobuf import duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2


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
    # The plan's limit that refused the call (`rate_limit`, `predictions_per_day`, ...), for metrics.
    limit: str = "other"


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unavailable(DomainError):
    code = grpc.StatusCode.UNAVAILABLE


def unavailable(message: str, retry_seconds: int = 1) -> Unavailable:
    """UNAVAILABLE with a RetryInfo detail: a dependency is down and a retry after a moment may succeed."""
    retry = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=retry_seconds))
    return Unavailable(message, details=[retry])


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
    def from_rpc_error(cls, error: grpc.aio.AioRpcError | grpc.RpcError, peer: str = "a service") -> DomainError:
        """The peer's status as it sent it; when the peer could not be reached at all (UNAVAILABLE
        from our own channel, with no trailers), UNAVAILABLE with a retry hint instead of the channel's
        text, which names internal addresses."""
        # Each item is a (key, value) tuple at run time; grpc's stub calls it an opaque _Metadatum.
        trailers = tuple((k, v) for k, v in (error.trailing_metadata() or ()))  # pyright: ignore[reportGeneralTypeIssues]
        if error.code() == grpc.StatusCode.UNAVAILABLE and not trailers:
            return unavailable(f"{peer} this call needs is unreachable; retry shortly")
        return cls(error.code(), error.details() or "", trailers)
