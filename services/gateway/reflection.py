"""Server reflection for the gateway: every service a client can call through it (its own admin
service, the routed registry, trainer, inference and TensorFlow Serving services, health), so
`grpcurl` and other reflection clients see the whole public API at the one endpoint."""

from __future__ import annotations

from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool

from services.common import reflection

# TensorFlow Serving's descriptors, written by tools/tf_serving_descriptors.py (the gateway does
# not import TensorFlow, which tensorflow-serving-api's generated modules do).
TF_SERVING_DESCRIPTORS = Path(__file__).with_name("tf_serving_descriptors.binpb")


def reflection_pool(service_names: list[str]) -> descriptor_pool.DescriptorPool:
    """The pool of `service_names` (and the standard services), TensorFlow Serving's from the shipped set."""
    shipped = descriptor_pb2.FileDescriptorSet.FromString(TF_SERVING_DESCRIPTORS.read_bytes())
    return reflection.reflection_pool(service_names, shipped)
