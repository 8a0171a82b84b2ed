"""Finding the descriptors of MaaS's contracts, wherever their generated code registered them."""

from __future__ import annotations

from google.protobuf import descriptor, descriptor_pool

from maas.inference.v2._pool import POOL as _INFERENCE_POOL


def find_service(full_name: str) -> descriptor.ServiceDescriptor:
    """The service `full_name` (`package.Service`) from the default pool or the inference pool.

    Raises KeyError when no generated module of this process defines it.
    """
    for pool in (descriptor_pool.Default(), _INFERENCE_POOL):
        try:
            return pool.FindServiceByName(full_name)
        except KeyError:
            continue
    raise KeyError(full_name)
