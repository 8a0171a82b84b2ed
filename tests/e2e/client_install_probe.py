"""Runs in a clean virtualenv holding only the `maas` wheel (and, when asked, tritonclient): the SDK
and, with `--triton`, the current tritonclient predict in one process through a live stack.

Usage: client_install_probe.py GATEWAY API_KEY MODEL [--triton]; prints one JSON object.
"""

import json
import sys

import google.protobuf
import numpy as np

from maas.client import MaasClient


def main() -> None:
    gateway, key, model = sys.argv[1:4]
    features = np.random.default_rng(7).uniform(0, 16, size=(5, 64)).astype(np.float32)
    with MaasClient(gateway, key) as client:
        ours = client.predict(model, features)["probabilities"]
        report = {"protobuf": google.protobuf.__version__, "models": [m.name for m in client.list_models()]}
    if "--triton" in sys.argv:
        from importlib.metadata import version

        import tritonclient.grpc as triton

        triton_client = triton.InferenceServerClient(gateway)
        tensor = triton.InferInput("features", list(features.shape), "FP32")
        tensor.set_data_from_numpy(features)
        result = triton_client.infer(model, [tensor], headers={"authorization": f"Bearer {key}"})
        theirs = result.as_numpy("probabilities")
        report["tritonclient"] = version("tritonclient")
        report["max_difference"] = float(np.abs(theirs - ours).max())
    report["argmax"] = ours.argmax(axis=1).tolist()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
