"""The floor of Python gRPC here: a bare grpc.aio server that parses a ModelInferRequest and
returns a fixed ModelInferResponse. Usage: python -m bench.floor_server PORT"""

import asyncio
import sys

import grpc
import numpy as np

from maas.inference.v2 import grpc_service_pb2 as pb


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
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
