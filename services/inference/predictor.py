"""The servicers' only way into inference, whatever the protocol: resolve a model reference to
a loaded version, then run inputs on it; plus what the protocols ask about models (readiness,
signature, configuration, statistics, load and unload). Request metrics are labelled by the
resolved version only, so no string a client sends becomes a time series."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from grpc import StatusCode

from maas.registry.v1 import registry_pb2 as rpb
from services.common.errors import DomainError
from services.inference.loaded import LoadedModel
from services.inference.memory import ModelKey
from services.inference.metrics import InferenceMetrics
from services.inference.repository import ModelRepository
from services.inference.signature import ModelSignature


@dataclass
class Call:
    """One inference request on a resolved model: `infer` runs it; the metrics are kept on exit."""

    predictor: Predictor
    model: LoadedModel
    deadline: float | None
    # The alias's shadow version when this request is one it mirrors.
    shadow: rpb.ModelVersion | None = None
    # Whether this request is one of the share the alias writes to its payload logs.
    log_payload: bool = False
    started: float = field(default_factory=time.perf_counter)
    rows: int = 0

    async def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.rows = self.model.rows(inputs)
        outputs = await self.model.infer(inputs, self.deadline)
        if self.shadow is not None:
            self.predictor.mirror(self, inputs, outputs)
        if self.model.reference is not None:
            self.predictor.observe(self.model, inputs, outputs)
        if self.log_payload:
            self.predictor.log_payload(self.model, inputs, outputs)
        return outputs

    async def __aenter__(self) -> Call:
        return self

    async def __aexit__(self, kind, error, traceback) -> None:
        if error is None:
            code = "OK"
        elif isinstance(error, DomainError):
            code = error.code.name
        else:
            code = StatusCode.INTERNAL.name
        self.predictor.record(self, code)


class Predictor:
    def __init__(self, repository: ModelRepository, metrics: InferenceMetrics) -> None:
        self._repository = repository
        self._metrics = metrics

    async def call(
        self, tenant: str, model_id: str, ref: str, time_remaining: float | None, routing_key: str | None = None
    ) -> Call:
        """Resolve and, if needed, load the model for one request (`async with` the result). An
        alias that splits traffic picks a version by `routing_key` (sticky), or at random."""
        deadline = time.monotonic() + time_remaining if time_remaining is not None else None
        self._metrics.in_flight.inc()
        repository = self._repository
        try:
            route = repository.cached_route(tenant, model_id, ref) or await repository.route(tenant, model_id, ref)
            version = route.choose(routing_key)
            model = repository.hot(ModelKey(tenant, model_id, version.version)) or await repository.load_version(
                tenant, model_id, version
            )
        except BaseException:
            self._metrics.in_flight.dec()
            raise
        return Call(self, model, deadline, route.mirror(version), route.logs_payload())

    def log_payload(self, model: LoadedModel, inputs: dict[str, np.ndarray], outputs: dict[str, np.ndarray]) -> None:
        self._repository.payloads.record(model.key, inputs, outputs)

    def observe(self, model: LoadedModel, inputs: dict[str, np.ndarray], outputs: dict[str, np.ndarray]) -> None:
        self._repository.drift.observe(model, inputs, outputs)

    def mirror(self, call: Call, inputs: dict[str, np.ndarray], outputs: dict[str, np.ndarray]) -> None:
        if call.shadow is not None:
            self._repository.shadows.mirror(call.model, call.shadow, inputs, outputs)

    def record(self, call: Call, code: str) -> None:
        self._metrics.in_flight.dec()
        seconds = time.perf_counter() - call.started
        key = call.model.key
        counters = self._metrics.for_version(key.tenant, key.model, key.version)
        counters.requests(code).inc()
        self._repository.rollouts.request(key.tenant, key.model, key.version, code, seconds)
        call.model.statistics.request(seconds, code == "OK", call.rows)
        if code == "OK":
            counters.latency.observe(seconds)

    async def version(self, tenant: str, model_id: str, ref: str) -> rpb.ModelVersion:
        """The registry's version for a reference, without loading it."""
        return await self._repository.resolve(tenant, model_id, ref)

    async def signature(self, tenant: str, model_id: str, ref: str) -> tuple[int, ModelSignature, bool]:
        """(version number, signature, whether it has a batch dimension) for the metadata answers.
        The signature is the registry's (derived at validation); a version not yet validated is
        loaded (validated) first, since its signature is not known before."""
        version = await self.version(tenant, model_id, ref)
        if version.state == rpb.ModelVersion.State.STATE_PENDING or not version.signature.inputs:
            model = await self._repository.get(tenant, model_id, str(version.version))
            return version.version, model.signature, model.batched
        signature = ModelSignature.from_proto(version.signature)
        return version.version, signature, signature.batched

    async def ready(self, tenant: str, model_id: str, ref: str) -> bool:
        """Whether the version is loaded; if not, it starts loading, so that a client waiting
        for readiness (of an alias, say) does not wait forever."""
        version = await self.version(tenant, model_id, ref)
        if self._repository.get_loaded(ModelKey(tenant, model_id, version.version)) is not None:
            return True
        if version.state != rpb.ModelVersion.State.STATE_FAILED:
            self._repository.start_loading(tenant, version)
        return False

    def loaded_version(self, tenant: str, model_id: str, number: int) -> LoadedModel | None:
        return self._repository.get_loaded(ModelKey(tenant, model_id, number))

    def loaded(self, tenant: str) -> list[LoadedModel]:
        return self._repository.loaded(tenant)

    @property
    def batching(self) -> tuple[int, float]:
        """(max batch size, max queue delay in seconds) of the dynamic batcher; 0 when it is off."""
        settings = self._repository.settings
        return (settings.max_batch_size if settings.batching else 0), settings.max_queue_delay_ms / 1000

    async def load(self, tenant: str, model_id: str, ref: str) -> LoadedModel:
        return await self._repository.get(tenant, model_id, ref)

    async def unload(self, tenant: str, model_id: str) -> int:
        return await self._repository.unload(tenant, model_id)
