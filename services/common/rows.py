"""Rows (instances of a batch) of a prediction request: the unit predictions are counted and billed in,
as the clouds count them. A call of 10,000 rows is 10,000 predictions, not one."""

from __future__ import annotations


def _examples(request) -> int:
    examples = request.input.example_list.examples or request.input.example_list_with_context.examples
    return len(examples)


def prediction_rows(request) -> int:
    """The batch dimension of the request's first input (KServe v2, TF Serving `Predict`) or its
    examples (`Classify`, `Regress`, `MultiInference`); 1 for a request without one."""
    name = request.DESCRIPTOR.full_name
    rows = 1
    if name == "inference.ModelInferRequest" and request.inputs:
        shape = request.inputs[0].shape
        rows = shape[0] if shape else 1
    elif name == "tensorflow.serving.PredictRequest" and request.inputs:
        dims = request.inputs[min(request.inputs)].tensor_shape.dim
        rows = dims[0].size if dims else 1
    elif name in (
        "tensorflow.serving.ClassificationRequest",
        "tensorflow.serving.RegressionRequest",
        "tensorflow.serving.MultiInferenceRequest",
    ):
        rows = _examples(request)
    # An empty or malformed batch is still a call: the handler answers it, and it costs one row.
    return max(1, rows)


def failed_answer(response) -> bool:
    """An answer of a stream of predictions that is an error instead (ModelStreamInfer's
    `error_message`, as Triton answers a bad request without ending the stream): its rows are refunded."""
    return bool(getattr(response, "error_message", ""))
