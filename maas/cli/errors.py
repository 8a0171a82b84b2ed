"""Exit codes and one-line messages for everything that can go wrong in a command."""

from __future__ import annotations

import grpc

from maas.client import MaasError

EXIT_JOB_FAILED = 1  # the call worked, but the training job ended failed or cancelled
EXIT_USAGE = 2  # argparse's own code for bad arguments
EXIT_INPUT = 3  # a local file or setting is missing or unreadable
EXIT_INTERRUPTED = 130
# A failed call exits with 10 + its gRPC status code, so each status has its own exit code.
STATUS_EXIT_BASE = 10


class CliError(Exception):
    """A failure the user can fix, with the exit code it maps to."""

    def __init__(self, message: str, exit_code: int = EXIT_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def status_exit_code(code: grpc.StatusCode) -> int:
    return STATUS_EXIT_BASE + code.value[0]


def not_logged_in() -> CliError:
    return CliError(
        "no API key: run `maas login` (or pass --api-key, or set MAAS_API_KEY)",
        status_exit_code(grpc.StatusCode.UNAUTHENTICATED),
    )


def duration(seconds: float) -> str:
    """`3725` -> `1h 2m 5s`; under a minute keeps one decimal."""
    if seconds < 60:
        return f"{seconds:.1f}s".replace(".0s", "s")
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return " ".join(f"{value}{unit}" for value, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if value)


def describe(error: MaasError, endpoint: str) -> str:
    """One line that says what went wrong and what to do about it."""
    message = " ".join(error.message.split()) or "no details"
    extra = "; ".join(v for v in error.violations if v not in message)
    if extra:
        message = f"{message} ({extra})"
    code = error.code
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return f"not authenticated: {message}; run `maas login` with a valid API key"
    if code == grpc.StatusCode.PERMISSION_DENIED:
        scope = error.scope
        if scope and f"'{scope}'" not in message:
            message += f" ({error.method.rsplit('/', 1)[-1]} needs the '{scope}' scope)"
        return f"permission denied: {message}"
    if code == grpc.StatusCode.NOT_FOUND:
        return f"not found: {message}"
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return f"invalid argument: {message}"
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        retry = f"; retry in {duration(error.retry_after)}" if error.retry_after is not None else ""
        return f"limit reached: {message}{retry}"
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"cannot reach MaaS at {endpoint}: {message} (is the gateway running? `maas up` starts one locally)"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"timed out waiting for {endpoint}: {message} (raise --timeout?)"
    return f"{code.name.lower().replace('_', ' ')}: {message}"
