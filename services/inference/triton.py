"""Triton's model configuration and statistics messages, from a signature, the batcher's
settings and a version's statistics."""

from __future__ import annotations

from maas.inference.v2 import grpc_service_pb2 as pb
from maas.inference.v2 import model_config_pb2 as config_pb
from services.inference.signature import ModelSignature
from services.inference.statistics import Duration, VersionStatistics

PLATFORM = "tensorflow_savedmodel"
_DATA_TYPES = {"BYTES": config_pb.TYPE_STRING}


def data_type(datatype: str) -> int:
    """The configuration's DataType of a protocol datatype (`FP32` -> TYPE_FP32, BYTES -> TYPE_STRING)."""
    return _DATA_TYPES.get(datatype) or config_pb.DataType.Value(f"TYPE_{datatype}")


def model_config(
    name: str, signature: ModelSignature, batched: bool, max_batch_size: int, max_queue_delay: float
) -> config_pb.ModelConfig:
    """What Triton would report for this model: with a batch dimension and the batcher on,
    `max_batch_size` > 0 and dims without the batch; otherwise 0 and the full shape."""
    batching = max_batch_size if batched else 0
    config = config_pb.ModelConfig(name=name, platform=PLATFORM, backend="tensorflow", max_batch_size=batching)
    for spec in signature.inputs.values():
        config.input.add(
            name=spec.name, data_type=data_type(spec.datatype), dims=spec.shape[1:] if batching else spec.shape
        )
    for spec in signature.outputs.values():
        config.output.add(
            name=spec.name, data_type=data_type(spec.datatype), dims=spec.shape[1:] if batching else spec.shape
        )
    if batching:
        config.dynamic_batching.max_queue_delay_microseconds = int(max_queue_delay * 1e6)
    return config


def _duration(target: pb.StatisticDuration, value: Duration) -> None:
    target.count, target.ns = value.count, value.ns


def model_statistics(name: str, version: int, stats: VersionStatistics) -> pb.ModelStatistics:
    message = pb.ModelStatistics(
        name=name,
        version=str(version),
        last_inference=stats.last_inference_ms,
        inference_count=stats.inference_count,
        execution_count=stats.execution_count,
    )
    infer = message.inference_stats
    _duration(infer.success, stats.success)
    _duration(infer.fail, stats.fail)
    _duration(infer.queue, stats.queue)
    _duration(infer.compute_infer, stats.compute_infer)
    for size, duration in sorted(stats.batches.items()):
        _duration(message.batch_stats.add(batch_size=size).compute_infer, duration)
    return message
