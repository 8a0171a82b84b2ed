"""Our Open Inference Protocol proto must match tritonclient's on the wire: same package,
service, method, message and field names, numbers and types. tritonclient's descriptor is read in
a separate process, as tritonclient alone sees it (ours live in a pool of their own,
`maas/inference/v2/_pool.py`, so both also load in one process: tests/e2e/client_install_probe.py)."""

import subprocess
import sys

from google.protobuf import descriptor_pb2

from maas.inference.v2 import grpc_service_pb2, model_config_pb2

DUMP = """
import sys
from google.protobuf import descriptor_pb2
from tritonclient.grpc import model_config_pb2, service_pb2
fd = descriptor_pb2.FileDescriptorProto()
{"service": service_pb2, "model_config": model_config_pb2}[sys.argv[1]].DESCRIPTOR.CopyToProto(fd)
print(fd.SerializeToString().hex())
"""


# Fields of newer tritonclient releases that MaaS does not fill (proto3 readers skip what they do not
# know, so leaving them out is wire compatible): per-response statistics of decoupled models.
NOT_SERVED = {
    "ModelStatistics.response_stats",
    "ModelStatistics.ResponseStatsEntry.key",
    "ModelStatistics.ResponseStatsEntry.value",
}


def _theirs(name: str) -> descriptor_pb2.FileDescriptorProto:
    hexed = subprocess.run([sys.executable, "-c", DUMP, name], check=True, capture_output=True, text=True).stdout
    return descriptor_pb2.FileDescriptorProto.FromString(bytes.fromhex(hexed.strip()))


def _fields(message, prefix=""):
    out = {}
    for field in message.field:
        out[f"{prefix}{message.name}.{field.name}"] = (
            field.number,
            field.type,
            field.label,
            field.type_name,
            field.HasField("oneof_index"),
        )
    for nested in message.nested_type:
        out.update(_fields(nested, f"{prefix}{message.name}."))
    return out


def test_messages_and_methods_match_tritonclient():
    theirs = _theirs("service")
    ours = descriptor_pb2.FileDescriptorProto()
    grpc_service_pb2.DESCRIPTOR.CopyToProto(ours)
    assert ours.package == theirs.package == "inference"
    their_messages = {m.name: m for m in theirs.message_type}
    compared = 0
    for message in ours.message_type:
        mine = _fields(message)
        other = _fields(their_messages[message.name])
        assert mine == {k: v for k, v in other.items() if k in mine}, message.name
        assert set(mine) <= set(other), f"{message.name}: fields Triton does not have {set(mine) - set(other)}"
        missing = set(other) - set(mine)
        assert missing <= NOT_SERVED, f"{message.name}: Triton's fields we lack {missing - NOT_SERVED}"
        compared += 1
    assert compared >= 20

    def methods(fd):
        return {
            (m.name, m.input_type, m.output_type, m.client_streaming, m.server_streaming)
            for s in fd.service
            for m in s.method
        }

    assert ours.service[0].name == theirs.service[0].name == "GRPCInferenceService"
    assert len(methods(ours)) == 12 and methods(ours) <= methods(theirs)
    assert ("ModelStreamInfer", ".inference.ModelInferRequest", ".inference.ModelStreamInferResponse", True, True) in (
        methods(ours)
    )


def test_model_config_is_a_wire_compatible_subset_of_tritons():
    """Our model configuration leaves fields out, but every field it has is Triton's, number and type."""
    theirs, ours = _theirs("model_config"), descriptor_pb2.FileDescriptorProto()
    model_config_pb2.DESCRIPTOR.CopyToProto(ours)
    assert ours.package == theirs.package == "inference"
    their_messages = {m.name: m for m in theirs.message_type}
    for message in ours.message_type:
        mine, other = _fields(message), _fields(their_messages[message.name])
        assert mine == {k: other[k] for k in mine}, message.name
    their_types = {v.name: v.number for e in theirs.enum_type if e.name == "DataType" for v in e.value}
    assert {v.name: v.number for v in ours.enum_type[0].value} == their_types
