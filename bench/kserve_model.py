"""KServe's Python ModelServer serving a SavedModel's `serving_default` over gRPC (bench baseline):
every input by name, every output back, whatever the datatypes (FP32 features, UINT8 images,
BYTES strings).

Run in its own virtual environment (bench/inference.py creates it):
python kserve_model.py SAVED_MODEL_DIR MODEL_NAME GRPC_PORT HTTP_PORT --configure_logging false
(KServe reads its own flags, such as --configure_logging, from the command line.)
"""

import sys

import kserve
import tensorflow as tf
from kserve import InferOutput, InferRequest, InferResponse

DATATYPES = {"float32": "FP32", "float64": "FP64", "int64": "INT64", "int32": "INT32", "uint8": "UINT8", "bool": "BOOL"}


class SavedModel(kserve.Model):
    def __init__(self, name: str, path: str) -> None:
        super().__init__(name)
        self.path = path
        self.load()

    def load(self) -> bool:
        self.function = tf.saved_model.load(self.path).signatures["serving_default"]
        self.dtypes = {name: spec.dtype for name, spec in self.function.structured_input_signature[1].items()}
        self.ready = True
        return self.ready

    def predict(self, payload: InferRequest, headers=None) -> InferResponse:
        inputs = {t.name: tf.constant(t.as_numpy(), dtype=self.dtypes[t.name]) for t in payload.inputs}
        outputs = []
        for name, tensor in self.function(**inputs).items():
            result = tensor.numpy()
            datatype = "BYTES" if result.dtype == object else DATATYPES[result.dtype.name]
            output = InferOutput(name=name, shape=list(result.shape), datatype=datatype)
            output.set_data_from_numpy(result, binary_data=True)
            outputs.append(output)
        return InferResponse(model_name=self.name, infer_outputs=outputs, response_id=payload.id)


if __name__ == "__main__":
    path, name, grpc_port, http_port = sys.argv[1:5]
    kserve.ModelServer(
        grpc_port=int(grpc_port), http_port=int(http_port), workers=1, enable_latency_logging=False
    ).start([SavedModel(name, path)])
