"""Write (or --check) the descriptors of TensorFlow Serving's gRPC services and everything they
import, as one FileDescriptorSet the gateway's reflection serves. The gateway never imports
TensorFlow (tensorflow-serving-api's modules do), so it reads them from this file instead."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from google.protobuf import descriptor_pb2

TARGET = Path(__file__).resolve().parent.parent / "services" / "gateway" / "tf_serving_descriptors.binpb"


def descriptor_set() -> bytes:
    from tensorflow_serving.apis import model_service_pb2, prediction_service_pb2

    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}

    def add(file_descriptor) -> None:
        if file_descriptor.name in files:
            return
        for dependency in file_descriptor.dependencies:
            add(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        file_descriptor.CopyToProto(proto)
        files[file_descriptor.name] = proto

    add(prediction_service_pb2.DESCRIPTOR)
    add(model_service_pb2.DESCRIPTOR)
    # Dependencies first, in a stable order, so the file is the same on every run.
    return descriptor_pb2.FileDescriptorSet(file=list(files.values())).SerializeToString(deterministic=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed file is stale")
    args = parser.parse_args()
    fresh = descriptor_set()
    if args.check:
        if not TARGET.is_file() or TARGET.read_bytes() != fresh:
            print(f"{TARGET} is stale; run `python tools/tf_serving_descriptors.py`")
            return 1
        print(f"{TARGET.name} is fresh")
        return 0
    TARGET.write_bytes(fresh)
    print(f"wrote {TARGET} ({len(fresh)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
