"""Every CLI command turns every refusal of the API into one readable line and its own exit code.

The server here answers any MaaS method with a chosen status and `google.rpc` details, exactly
as they travel in the `grpc-status-details-bin` trailer; the e2e tier gets the same statuses from
the real gateway.
"""

from concurrent import futures

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from maas.cli import main
from maas.cli.errors import describe, duration, status_exit_code
from maas.client import MaasError
from maas.client.client import required_scope
from maas.descriptors import find_service


class Refusing(grpc.GenericRpcHandler):
    """Refuses every call with `self.status`; remembers the methods called."""

    def __init__(self) -> None:
        self.status: status_pb2.Status | None = None
        self.methods: list[str] = []

    def service(self, details):
        service, name = details.method.lstrip("/").split("/")
        method = find_service(service).methods_by_name[name]
        self.methods.append(details.method.lstrip("/"))

        def refuse(request, context):
            context.abort_with_status(rpc_status.to_status(self.status))

        def refuse_stream(request, context):
            context.abort_with_status(rpc_status.to_status(self.status))
            yield

        if method.client_streaming:
            return grpc.stream_unary_rpc_method_handler(refuse)
        if method.server_streaming:
            return grpc.unary_stream_rpc_method_handler(refuse_stream)
        return grpc.unary_unary_rpc_method_handler(refuse)


@pytest.fixture(scope="module")
def refusing():
    handler = Refusing()
    server = grpc.server(futures.ThreadPoolExecutor(4), handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield handler, f"127.0.0.1:{port}"
    server.stop(0)


def _packed(*messages) -> list[any_pb2.Any]:
    packed = []
    for message in messages:
        detail = any_pb2.Any()
        detail.Pack(message)
        packed.append(detail)
    return packed


RETRY = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=90))
QUOTA = error_details_pb2.QuotaFailure(
    violations=[error_details_pb2.QuotaFailure.Violation(subject="tenants/acme", description="predictions per day: 1")]
)
BAD = error_details_pb2.BadRequest(
    field_violations=[error_details_pb2.BadRequest.FieldViolation(field="epochs", description="must be positive")]
)
# status, message, details, what the line must say
STATUSES = {
    "UNAUTHENTICATED": (code_pb2.UNAUTHENTICATED, "invalid or revoked API key", [], "run `maas login`"),
    "PERMISSION_DENIED": (code_pb2.PERMISSION_DENIED, "not allowed", [], "scope"),
    "NOT_FOUND": (code_pb2.NOT_FOUND, "model 'm' not found", [], "not found: model 'm' not found"),
    "INVALID_ARGUMENT": (code_pb2.INVALID_ARGUMENT, "bad spec", _packed(BAD), "epochs: must be positive"),
    "RESOURCE_EXHAUSTED": (
        code_pb2.RESOURCE_EXHAUSTED,
        "daily prediction quota reached",
        _packed(RETRY, QUOTA),
        "predictions per day: 1); retry in 1m 30s",
    ),
}
COMMANDS = [
    "login --tenant acme --api-key k",
    "usage --tenant acme",
    "datasets upload {csv}",
    "datasets list",
    "datasets show digits",
    "datasets delete digits --version 1",
    "train --dataset digits --label-column label --model digits",
    "train --spec {spec}",
    "jobs list --state running",
    "jobs show",
    "jobs show j1",
    "jobs cancel j1",
    "jobs watch j1",
    "jobs watch j1 -o json",
    "models list",
    "models show digits",
    "models versions digits",
    "models versions digits production",
    "models download digits -O {tmp}/m.tar",
    "alias set digits production 3",
    "alias set digits production latest",
    "alias list digits",
    "predict digits {csv} --label-column label",
    "admin tenants create acme --plan pro",
    "admin keys create acme --scope read",
    "admin plans create tiny --predictions-per-day 1",
]


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,label\n1,2,0\n3,4,1\n")
    (tmp_path / "spec.yaml").write_text("dataset: {dataset: digits, label_column: label}\ntarget_model: digits\n")
    return {"csv": tmp_path / "d.csv", "spec": tmp_path / "spec.yaml", "tmp": tmp_path}


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_reports_every_status_in_one_line(refusing, cli_home, inputs, capsys, command, status):
    handler, address = refusing
    code, message, details, expected = STATUSES[status]
    handler.status = status_pb2.Status(code=code, message=message, details=details)
    handler.methods.clear()
    argv = [*command.format(**inputs).split(), "--endpoint", address]
    if not command.startswith("login"):
        argv += ["--api-key", "k"]

    exit_code = main(argv)

    out, err = capsys.readouterr()
    assert out == "", "stdout stays clean for scripts when a command fails"
    assert exit_code == status_exit_code(grpc.StatusCode[status]), err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("maas: ") and expected in line, line
    if status == "PERMISSION_DENIED":
        assert f"'{required_scope(handler.methods[-1])}' scope" in line
    assert not (cli_home / "config.json").exists(), "a refused login must not save anything"


def test_exit_codes_differ_for_every_status():
    codes = {status_exit_code(code) for code in grpc.StatusCode if code != grpc.StatusCode.OK}
    assert len(codes) == len(grpc.StatusCode) - 1
    assert codes.isdisjoint({0, 1, 2, 3, 130})


def test_unreachable_gateway_says_where_it_looked(cli_home, capsys):
    from tests.conftest import refusing_address

    with refusing_address() as address:
        assert main(["models", "list", "--endpoint", address, "--api-key", "k", "--timeout", "5"]) == 24
    assert f"cannot reach MaaS at {address}" in capsys.readouterr().err


def test_scope_is_named_from_the_contract_not_repeated_when_the_server_names_it():
    method = "maas.registry.v1.RegistryService/CreateDataset"
    assert required_scope(method) == "train"
    assert required_scope("inference.GRPCInferenceService/ModelInfer") == "predict"
    bare = MaasError(grpc.StatusCode.PERMISSION_DENIED, "no", method=method)
    assert describe(bare, "e") == "permission denied: no (CreateDataset needs the 'train' scope)"
    named = MaasError(grpc.StatusCode.PERMISSION_DENIED, "the API key lacks the 'train' scope", method=method)
    assert describe(named, "e") == "permission denied: the API key lacks the 'train' scope"


def test_resource_exhausted_without_retry_info_promises_no_retry():
    error = MaasError(grpc.StatusCode.RESOURCE_EXHAUSTED, "storage is full", violations=("stored bytes: 10",))
    assert describe(error, "e") == "limit reached: storage is full (stored bytes: 10)"


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (0.5, "0.5s"), (12, "12s"), (90, "1m 30s"), (3600, "1h"), (3725, "1h 2m 5s")]
)
def test_durations_read_like_people_write_them(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize("text", ["³", "²d", "٣"])
def test_digits_that_are_not_ascii_are_usage_errors_not_crashes(text):
    # str.isdigit() takes superscripts and other scripts' digits, which int() refuses.
    from maas.cli.errors import CliError
    from maas.cli.members import since
    from maas.cli.models import _version_number

    with pytest.raises(CliError):
        _version_number(text, None, "m")  # type: ignore[arg-type]
    with pytest.raises(CliError):
        since(text)
