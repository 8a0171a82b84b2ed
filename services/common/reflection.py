"""The descriptor pool server reflection answers from: every reflected service with all it imports,
gathered from whichever pool its generated code registered it in (see maas.descriptors)."""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

from maas.descriptors import find_service

# Always reflected: the services every server answers.
STANDARD_SERVICES = [
    health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
    reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"].full_name,
]


def reflection_pool(
    service_names: Iterable[str], shipped: descriptor_pb2.FileDescriptorSet | None = None
) -> descriptor_pool.DescriptorPool:
    """A pool holding `service_names`, the standard services and their imports: from this process's
    generated code, or from `shipped` (files of services this process has no generated code for)."""
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    shipped_files = {f.name: f for f in shipped.file} if shipped else {}

    def collect(file_descriptor) -> None:
        if file_descriptor.name in files:
            return
        for dependency in file_descriptor.dependencies:
            collect(dependency)
        files[file_descriptor.name] = descriptor_pb2.FileDescriptorProto()
        file_descriptor.CopyToProto(files[file_descriptor.name])

    for name in [*service_names, *STANDARD_SERVICES]:
        try:
            collect(find_service(name).file)
        except KeyError:
            if not any(name in {f"{f.package}.{s.name}" for s in f.service} for f in shipped_files.values()):
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
