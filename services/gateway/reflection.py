"""Server reflection for the gateway: every service a client can call through it (its own admin
service, the routed registry, trainer, inference and TensorFlow Serving services, health), so
`grpcurl` and other reflection clients see the whole public API at the one endpoint."""

from __future__ import annotations

from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

# Always reflected: the services every server answers.
STANDARD_SERVICES = [
    health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
    reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"].full_name,
]

# TensorFlow Serving's descriptors, written by tools/tf_serving_descriptors.py (the gateway does
# not import TensorFlow, which tensorflow-serving-api's generated modules do).
TF_SERVING_DESCRIPTORS = Path(__file__).with_name("tf_serving_descriptors.binpb")


def reflection_pool(service_names: list[str]) -> descriptor_pool.DescriptorPool:
    """A descriptor pool holding `service_names` with all they import: the ones this process has
    generated code for, and TensorFlow Serving's from the shipped descriptor set."""
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}

    def collect(file_descriptor) -> None:
        if file_descriptor.name in files:
            return
        for dependency in file_descriptor.dependencies:
            collect(dependency)
        files[file_descriptor.name] = descriptor_pb2.FileDescriptorProto()
        file_descriptor.CopyToProto(files[file_descriptor.name])

    shipped = descriptor_pb2.FileDescriptorSet.FromString(TF_SERVING_DESCRIPTORS.read_bytes())
    shipped_files = {f.name: f for f in shipped.file}
    default = descriptor_pool.Default()
    for name in [*service_names, *STANDARD_SERVICES]:
        try:
            collect(default.FindServiceByName(name).file)
        except KeyError:
            if not any(name in {f"{f.package}.{s.name}" for s in f.service} for f in shipped.file):
                raise
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()

    def add(name: str) -> None:
        if name in added:
            return
        proto = files.get(name) or shipped_files[name]
        for dependency in proto.dependency:
            add(dependency)
        pool.Add(proto)
        added.add(name)

    for name in [*files, *shipped_files]:
        add(name)
    return pool
