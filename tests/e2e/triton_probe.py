"""Calls MaaS through the gateway with the unmodified `tritonclient.grpc` client.

Run as its own process, as a backend team's program would: only the standard client loaded.
Usage: triton_probe.py URL HEADER=VALUE MODEL INPUT.npy OUTPUT.npy
(HEADER=VALUE: `authorization=Bearer <key>`, through the door or directly to inference.)
"""

import json
import sys

import numpy as np
import tritonclient.grpc as triton


def main() -> None:
    url, header, model, input_path, output_path = sys.argv[1:6]
    name, _, value = header.partition("=")
    headers = {name: value}
    client = triton.InferenceServerClient(url)
    client.unload_model(model, headers=headers)
    unloaded_ready = client.is_model_ready(model, headers=headers)
    client.load_model(model, headers=headers)
    features = np.load(input_path).astype(np.float32)
    tensor = triton.InferInput("features", list(features.shape), "FP32")
    tensor.set_data_from_numpy(features)
    result = client.infer(
        model, [tensor], outputs=[triton.InferRequestedOutput("probabilities")], headers=headers, request_id="probe-1"
    )
    probabilities = result.as_numpy("probabilities")
    np.save(output_path, probabilities)
    metadata = client.get_model_metadata(model, headers=headers)
    print(
        json.dumps(
            {
                "live": client.is_server_live(headers=headers),
                "ready": client.is_model_ready(model, headers=headers),
                "ready_after_unload": unloaded_ready,
                "inputs": [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs],
                "outputs": [(t.name, t.datatype, list(t.shape)) for t in metadata.outputs],
                "model_version": result.get_response().model_version,
                "id": result.get_response().id,
                "shape": list(probabilities.shape),
            }
        )
    )


if __name__ == "__main__":
    main()
