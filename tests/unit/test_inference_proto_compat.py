"""Our Open Inference Protocol proto must match tritonclient's on the wire: same package,
service, method, message and field names, numbers and types. tritonclient registers the same
full names in protobuf's default pool, so its descriptor is read in a separate process."""

import subprocess
import sys

from google.protobuf import descriptor_pb2

from maas.inference.v2 import grpc_service_pb2

DUMP = """
from google.protobuf import descriptor_pb2
from tritonclient.grpc import service_pb2
fd = descriptor_pb2.FileDescriptorProto()
service_pb2.DESCRIPTOR.CopyToProto(fd)
print(fd.SerializeToString().hex())
"""


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
    hexed = subprocess.run([sys.executable, "-c", DUMP], check=True, capture_output=True, text=True).stdout
    theirs = descriptor_pb2.FileDescriptorProto.FromString(bytes.fromhex(hexed.strip()))
    ours = descriptor_pb2.FileDescriptorProto()
    grpc_service_pb2.DESCRIPTOR.CopyToProto(ours)
    assert ours.package == theirs.package == "inference"
    their_messages = {m.name: m for m in theirs.message_type}
    compared = 0
    for message in ours.message_type:
        mine = _fields(message)
        other = _fields(their_messages[message.name])
        assert mine == {k: v for k, v in other.items() if k in mine}, message.name
        assert set(mine) == set(other), f"{message.name}: fields differ {set(mine) ^ set(other)}"
        compared += 1
    assert compared >= 20
    their_methods = {(m.name, m.input_type, m.output_type) for s in theirs.service for m in s.method}
    our_methods = {(m.name, m.input_type, m.output_type) for s in ours.service for m in s.method}
    assert ours.service[0].name == theirs.service[0].name == "GRPCInferenceService"
    assert len(our_methods) == 9 and our_methods <= their_methods
