"""A tenant's data never reaches a log line: marker values sent as features, strings, dataset rows
and request bodies (accepted and refused ones, over gRPC and REST) appear in no service's log."""

import httpx
import numpy as np
import pytest

from maas.client import MaasClient, MaasError
from maas.inference.v2 import grpc_service_pb2 as infer_pb

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FEATURE = 7364.8125  # exactly representable in float32, so its text is what a log would show
TEXT = "zebra-quartz-payload-5521"


def test_marker_values_appear_in_no_log(stack, journey):
    features = np.zeros((3, 64), np.float32)
    features[1, 7] = FEATURE
    with MaasClient(stack.address("gateway"), journey.api_key) as client:
        client.predict("digits", features)
        with pytest.raises(MaasError):
            client.predict("digits", features[:, :10])  # refused: wrong shape
        bad = infer_pb.ModelInferRequest(model_name="digits")
        tensor = bad.inputs.add(name="features", datatype="BYTES", shape=[1])
        tensor.contents.bytes_contents.append(TEXT.encode())
        with pytest.raises(MaasError):
            client._call("inference", "ModelInfer", bad)  # refused: wrong datatype
        rows = "a,b,label\n" + f"{FEATURE},{TEXT},1\n" * 20
        client.upload_dataset("markers", rows.encode(), "csv", description="rows with markers")
        with pytest.raises(MaasError):
            client.upload_dataset("markers-bad", f"{TEXT}\n\x00\x01".encode(), "npz")
    body = {"inputs": [{"name": "features", "shape": [1, 64], "datatype": "FP32", "data": [FEATURE] * 64}]}
    headers = {"authorization": f"Bearer {journey.api_key}"}
    with httpx.Client(base_url=stack.http_url, timeout=30) as http:
        assert http.post("/v2/models/digits/infer", json=body, headers=headers).status_code == 200
        assert http.post("/v2/models/digits/infer", content=f'{{"x": "{TEXT}"', headers=headers).status_code == 400
        assert http.post("/v1/models", json={"description": TEXT}, headers=headers).status_code < 500
    markers = [TEXT, repr(FEATURE), str(FEATURE).rstrip("0"), "7364.81"]
    logs = sorted(stack.log_dir.glob("*.log"))
    assert logs, "the stack writes its logs under log_dir"
    for log in logs:
        text = log.read_text(errors="replace")
        for marker in markers:
            assert marker not in text, f"{marker!r} in {log.name}"
