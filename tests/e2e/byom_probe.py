"""Calls uploaded models through the gateway with the unmodified standard clients:
`tritonclient.grpc`, `tritonclient.http` (binary tensor extension, its default) and
`tensorflow_serving.apis` stubs. Run as its own process, as a user's program would: only the
standard clients loaded.

Usage: byom_probe.py GRPC_ADDRESS HTTP_ADDRESS API_KEY CASES.json OUT_DIR
CASES.json: [{"model": ..., "inputs": {name: [datatype, "file.npy"]}}]; writes OUT_DIR/<model>-<client>.npy
per output and prints one JSON object with what the clients report (config, statistics, stream)."""

import json
import queue
import sys
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc


def load_inputs(case: dict, folder: Path) -> dict[str, tuple[str, np.ndarray]]:
    return {name: (dtype, np.load(folder / file, allow_pickle=True)) for name, (dtype, file) in case["inputs"].items()}


def triton_inputs(module, inputs):
    tensors = []
    for name, (datatype, array) in inputs.items():
        tensor = module.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array)
        tensors.append(tensor)
    return tensors


def main() -> None:
    grpc_address, http_address, key, cases_file, out = sys.argv[1:6]
    out_dir, cases = Path(out), json.loads(Path(cases_file).read_text())
    metadata = (("authorization", f"Bearer {key}"),)
    headers = dict(metadata)  # tritonclient.http adds its own to the dict it is given: a copy each call
    grpc_client = triton_grpc.InferenceServerClient(grpc_address)
    http_client = triton_http.InferenceServerClient(http_address)
    channel = grpc.insecure_channel(grpc_address)
    tf_serving = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    report: dict = {}
    for case in cases:
        model, inputs = case["model"], load_inputs(case, Path(cases_file).parent)
        by_grpc = grpc_client.infer(model, triton_inputs(triton_grpc, inputs), headers=headers)
        by_http = http_client.infer(model, triton_inputs(triton_http, inputs), headers=dict(metadata))
        request = predict_pb2.PredictRequest()
        request.model_spec.name = model
        for name, (_, array) in inputs.items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(array))
        by_tf_serving = tf_serving.Predict(request, metadata=metadata, timeout=60)
        outputs = [o.name for o in by_grpc.get_response().outputs]
        for name in outputs:
            np.save(out_dir / f"{model}-{name}-grpc.npy", by_grpc.as_numpy(name))
            np.save(out_dir / f"{model}-{name}-http.npy", by_http.as_numpy(name))
            np.save(out_dir / f"{model}-{name}-tfserving.npy", tf.make_ndarray(by_tf_serving.outputs[name]))
        config = grpc_client.get_model_config(model, headers=headers, as_json=True)["config"]
        http_config = http_client.get_model_config(model, headers=headers)
        stats = grpc_client.get_inference_statistics(model, headers=headers, as_json=True)
        http_stats = http_client.get_inference_statistics(model, headers=headers)

        answers: queue.Queue = queue.Queue()
        grpc_client.start_stream(callback=lambda result, error, q=answers: q.put((result, error)), headers=headers)
        for i in range(3):
            grpc_client.async_stream_infer(model, triton_inputs(triton_grpc, inputs), request_id=f"s{i}")
        streamed = [answers.get(timeout=60) for _ in range(3)]
        grpc_client.stop_stream()
        for result, _ in streamed:
            if result is not None:
                np.save(
                    out_dir / f"{model}-{outputs[0]}-stream-{result.get_response().id}.npy", result.as_numpy(outputs[0])
                )
        report[model] = {
            "outputs": outputs,
            "ready": grpc_client.is_model_ready(model, headers=headers),
            "http_ready": http_client.is_model_ready(model, headers=headers),
            "config": config,
            "http_config": http_config,
            "stats": stats["model_stats"],
            "http_stats": http_stats["model_stats"],
            "stream_errors": [str(error) for _, error in streamed if error is not None],
            "stream_ids": sorted(r.get_response().id for r, _ in streamed if r is not None),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
