"""KServe's Python ModelServer serving a SavedModel's `serving_default` over gRPC (bench baseline).

Run in its own virtual environment (bench/inference.py creates it):
python kserve_model.py SAVED_MODEL_DIR MODEL_NAME GRPC_PORT HTTP_PORT --configure_logging false
(KServe reads its own flags, such as --configure_logging, from the command line.)
"""

import sys

import kserve
import numpy as np
import tensorflow as tf
from kserve import InferOutput, InferRequest, InferResponse


class SavedModel(kserve.Model):
    def __init__(self, name: str, path: str) -> None:
        super().__init__(name)
        self.path = path
        self.load()

    def load(self) -> bool:
        self.function = tf.saved_model.load(self.path).signatures["serving_default"]
        self.ready = True
        return self.ready

    def predict(self, payload: InferRequest, headers=None) -> InferResponse:
        features = payload.inputs[0].as_numpy().astype(np.float32)
        result = self.function(features=tf.constant(features))["probabilities"].numpy()
        output = InferOutput(name="probabilities", shape=list(result.shape), datatype="FP32")
        output.set_data_from_numpy(result, binary_data=True)
        return InferResponse(model_name=self.name, infer_outputs=[output], response_id=payload.id)


if __name__ == "__main__":
    path, name, grpc_port, http_port = sys.argv[1:5]
    kserve.ModelServer(
        grpc_port=int(grpc_port), http_port=int(http_port), workers=1, enable_latency_logging=False
    ).start([SavedModel(name, path)])
