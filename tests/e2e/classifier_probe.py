"""Asks an image or text classifier through the gateway with the unmodified `tritonclient.grpc`
client, in batches. Run as its own process, as a user's program would: only the standard client
loaded.

Usage: classifier_probe.py GRPC_ADDRESS API_KEY MODEL INPUT_NAME DATATYPE INPUT.npy OUT_PREFIX
Writes OUT_PREFIX-probabilities.npy and OUT_PREFIX-label.npy and prints the model's metadata as JSON.
"""

import json
import sys

import numpy as np
import tritonclient.grpc as triton

BATCH = 64


def main() -> None:
    address, key, model, input_name, datatype, input_path, out_prefix = sys.argv[1:8]
    headers = {"authorization": f"Bearer {key}"}
    client = triton.InferenceServerClient(address)
    inputs = np.load(input_path, allow_pickle=True)
    probabilities, labels = [], []
    for start in range(0, len(inputs), BATCH):
        batch = inputs[start : start + BATCH]
        tensor = triton.InferInput(input_name, list(batch.shape), datatype)
        tensor.set_data_from_numpy(batch)
        result = client.infer(model, [tensor], headers=headers)
        probabilities.append(result.as_numpy("probabilities"))
        labels.append(result.as_numpy("label"))
    np.save(f"{out_prefix}-probabilities.npy", np.concatenate(probabilities))
    np.save(f"{out_prefix}-label.npy", np.concatenate(labels), allow_pickle=True)
    metadata = client.get_model_metadata(model, headers=headers)
    print(
        json.dumps(
            {
                "inputs": [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs],
                "outputs": [(t.name, t.datatype, list(t.shape)) for t in metadata.outputs],
            }
        )
    )


if __name__ == "__main__":
    main()
