"""The floor of Python gRPC here: a bare grpc.aio server that parses a ModelInferRequest and
returns a fixed ModelInferResponse. Usage: python -m bench.floor_server PORT (0: any free port,
written to $MAAS_PORTS_FILE as {"port": N} once it listens)."""

import asyncio
import os
import sys
from pathlib import Path

import grpc
import numpy as np

from maas.inference.v2 import grpc_service_pb2 as pb
from services.common.ports import PORTS_FILE_ENV, write_ports_file


def fixed_response() -> bytes:
    response = pb.ModelInferResponse(model_name="digits", model_version="1")
    response.outputs.add(name="probabilities", datatype="FP32", shape=[1, 10])
    response.raw_output_contents.append(np.full((1, 10), 0.1, np.float32).tobytes())
    return response.SerializeToString()


async def serve(port: int) -> None:
    answer = fixed_response()

    async def model_infer(request: pb.ModelInferRequest, context) -> bytes:
        return answer

    handler = grpc.method_handlers_generic_handler(
        "inference.GRPCInferenceService",
        {
            "ModelInfer": grpc.unary_unary_rpc_method_handler(
                model_infer, request_deserializer=pb.ModelInferRequest.FromString, response_serializer=None
            )
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    if os.environ.get(PORTS_FILE_ENV):
        write_ports_file(Path(os.environ[PORTS_FILE_ENV]), {"port": bound})
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
