"""What every inference protocol shares: resolve and load the model, decode and check the
inputs, run them (batched), and keep the request metrics."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from services.common.errors import DomainError
from services.inference.metrics import InferenceMetrics
from services.inference.repository import LoadedModel, ModelRepository

Decode = Callable[[LoadedModel], dict[str, np.ndarray]]


class Predictor:
    def __init__(self, repository: ModelRepository, metrics: InferenceMetrics) -> None:
        self.repository = repository
        self.metrics = metrics

    async def predict(
        self, tenant: str, model_id: str, ref: str, decode: Decode, time_remaining: float | None
    ) -> tuple[LoadedModel, dict[str, np.ndarray]]:
        """Run one request; `decode` turns the request's inputs into arrays checked against the model."""
        started = time.perf_counter()
        deadline = time.monotonic() + time_remaining if time_remaining is not None else None
        version = ref or "production"
        code = "INTERNAL"
        self.metrics.in_flight.inc()
        try:
            model = self.repository.loaded_for(tenant, model_id, ref) or await self.repository.get(
                tenant, model_id, ref
            )
            version = str(model.key.version)
            outputs = await model.infer(decode(model), deadline)
            code = "OK"
            return model, outputs
        except DomainError as error:
            code = error.code.name
            raise
        finally:
            self.metrics.in_flight.dec()
            counters = self.metrics.for_version(tenant, model_id, version)
            counters.requests(code).inc()
            if code == "OK":
                counters.latency.observe(time.perf_counter() - started)
