"""The model repository: resolves (tenant, model, version or alias) through the registry and
keeps each version loaded once, under the memory budget, following alias moves."""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import structlog

from maas.registry.v1 import registry_pb2 as rpb
from services.common import tracing
from services.common.errors import NotFound, UpstreamError
from services.common.validation import is_number
from services.inference.aliases import AliasFollower
from services.inference.cache import ModelCache
from services.inference.config import InferenceSettings
from services.inference.drift import DriftMonitor
from services.inference.loaded import LoadedModel
from services.inference.loader import ModelFailed, ModelLoader
from services.inference.memory import ModelKey, ModelMemory, return_freed_memory
from services.inference.metrics import InferenceMetrics
from services.inference.payload_log import PayloadLogger
from services.inference.registry_client import RegistryClient
from services.inference.rollouts import RolloutController
from services.inference.routing import Route
from services.inference.shadow import ShadowMirror
from services.inference.switch import RuntimeSwitch

log = structlog.get_logger("maas.inference.repository")
DEFAULT_ALIAS = "production"


class ModelRepository:
    def __init__(
        self, settings: InferenceSettings, registry: RegistryClient, metrics: InferenceMetrics, device: str = "CPU"
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._registry = registry
        self._executor = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="model")
        self._loader = ModelLoader(
            settings, registry, ModelCache(settings.model_cache, registry), metrics, self._executor
        )
        # LiteRT runs on the CPU only: a GPU pod keeps TensorFlow.
        self._switch = (
            RuntimeSwitch(self._executor, settings.intra_op_threads or None, self._switched)
            if settings.runtime == "auto" and device == "CPU"
            else None
        )
        self._memory: ModelMemory[LoadedModel] = ModelMemory(settings.memory_budget_bytes)
        self._loading: dict[ModelKey, asyncio.Task] = {}
        self._idle_sweeper: asyncio.Task | None = None
        # Routes of numbered references: versions are immutable once validated.
        self._numbered: dict[tuple[str, str, str], Route] = {}
        # Versions that failed validation here: refused at once instead of validated again.
        self._failed: dict[ModelKey, ModelFailed] = {}
        self.rollouts = RolloutController(registry, metrics, settings.rollout_check_seconds)
        self.aliases = AliasFollower(registry, self._preload, self._retire, self.rollouts.observe)
        self.shadows = ShadowMirror(self.load_version, metrics, settings.shadow_max_in_flight)
        self.shadows.listeners.append(self.rollouts.mirrored)
        self.payloads = PayloadLogger(
            registry,
            metrics,
            settings.payload_log_batch_rows,
            settings.payload_log_flush_seconds,
            lambda f, *a: asyncio.get_running_loop().run_in_executor(self._executor, f, *a),
        )
        self.drift = DriftMonitor(
            metrics,
            settings.drift_sample_percent,
            settings.drift_interval_seconds,
            settings.drift_window_rows,
            lambda key, report: registry.report_drift(key.tenant, key.model, key.version, report),
        )

    async def route(self, tenant: str, model: str, ref: str) -> Route:
        """Where a number or alias (empty: `production`) sends requests."""
        ref = ref or DEFAULT_ALIAS
        try:
            if is_number(ref):
                route = Route.single(await self._registry.version(tenant, model, int(ref)))
                if route.primary.state != rpb.ModelVersion.State.STATE_PENDING:
                    self._numbered[(tenant, model, ref)] = route
                return route
            return await self.aliases.resolve(tenant, model, ref)
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise NotFound(f"model {model!r} version {ref!r} not found") from None
            raise UpstreamError.from_rpc_error(error, "the registry") from None

    def cached_route(self, tenant: str, model: str, ref: str) -> Route | None:
        """The route of a reference when no lookup is needed (the hot path)."""
        ref = ref or DEFAULT_ALIAS
        if is_number(ref):
            return self._numbered.get((tenant, model, ref))
        return self.aliases.cached(tenant, model, ref)

    async def resolve(self, tenant: str, model: str, ref: str) -> rpb.ModelVersion:
        """The registry's version for a number or alias: for a split, its primary."""
        return (await self.route(tenant, model, ref)).primary

    async def _preload(self, tenant: str, model: str, old: Route, new: Route) -> None:
        """Before an alias changes: if its versions serve traffic here, load and warm the ones the
        new route adds, so that no request waits for a load when the route switches."""
        if not any(ModelKey(tenant, model, n) in self._memory for n in old.versions):
            return
        added = [v for v, _ in new.targets] + ([new.shadow] if new.shadow is not None else [])
        await asyncio.gather(
            *(self._load_once(ModelKey(tenant, model, v.version), v) for v in added if v.version not in old.versions)
        )

    async def _retire(self, tenant: str, model: str, old: Route, new: Route) -> None:
        """After an alias changed: let each version it dropped finish its requests, then unload it
        unless another alias still sends traffic to it."""
        await asyncio.gather(*(self._retire_version(tenant, model, n) for n in old.versions - new.versions))

    async def _retire_version(self, tenant: str, model: str, number: int) -> None:
        key = ModelKey(tenant, model, number)
        model_in_memory = self._memory.peek(key)
        if model_in_memory is None or number in self.aliases.versions_in_use(tenant, model):
            return
        try:
            async with asyncio.timeout(self.settings.grace_seconds):
                await model_in_memory.drained()
        except TimeoutError:
            log.warning("old version still busy after the grace period; unloading", version=number)
        if number not in self.aliases.versions_in_use(tenant, model):
            await self._evict(key)

    def loaded(self, tenant: str) -> list[LoadedModel]:
        return [m for k, m in self._memory.items() if k.tenant == tenant]

    def get_loaded(self, key: ModelKey) -> LoadedModel | None:
        return self._memory.peek(key)

    def hot(self, key: ModelKey) -> LoadedModel | None:
        """The loaded model of a version, counted as used (the hot path)."""
        return self._memory.get(key)

    async def load_version(self, tenant: str, model: str, version: rpb.ModelVersion) -> LoadedModel:
        """The loaded model of a resolved version, loading it first if needed."""
        return await self._load_once(ModelKey(tenant, model, version.version), version)

    async def get(self, tenant: str, model: str, ref: str) -> LoadedModel:
        """The loaded model for a reference, loading it first if needed (one load per version)."""
        version = await self.resolve(tenant, model, ref)
        return await self._load_once(ModelKey(tenant, model, version.version), version)

    def start_loading(self, tenant: str, version: rpb.ModelVersion) -> None:
        """Load a version in the background (a readiness probe asked for it)."""
        key = ModelKey(tenant, version.name.split("/")[1], version.version)
        if key not in self._memory and key not in self._failed:
            task = self._load_task(key, version)
            # Its failure is the next request's answer; nobody awaits this one.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def _load_task(self, key: ModelKey, version: rpb.ModelVersion) -> asyncio.Task:
        task = self._loading.get(key)
        if task is None:
            task = asyncio.create_task(self._load(key, version))
            self._loading[key] = task
            task.add_done_callback(lambda _t: self._loading.pop(key, None))
        return task

    async def _load_once(self, key: ModelKey, version: rpb.ModelVersion) -> LoadedModel:
        loaded = self._memory.get(key)
        if loaded is not None:
            return loaded
        return await asyncio.shield(self._load_task(key, version))

    def _is_idle(self, key: ModelKey) -> bool:
        # A method, not a walrus in the sweeper's comprehension: that name would outlive the
        # comprehension in the sweeper's frame and keep the last model it saw from being freed.
        model = self._memory.peek(key)
        return model is not None and model.idle

    async def _unload_idle(self) -> None:
        """Unload the versions nobody called for `idle_unload_seconds` (none with a request in
        flight), then return the freed memory to the operating system."""
        idle = self.settings.idle_unload_seconds
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(idle / 4, 5.0))
            unused = [k for k in self._memory.unused_since(time.monotonic() - idle) if self._is_idle(k)]
            for key in unused:
                await self._evict(key)
                self.metrics.idle_unloads.labels(key.tenant, key.model).inc()
            if unused:
                await loop.run_in_executor(self._executor, return_freed_memory)

    async def _load(self, key: ModelKey, version: rpb.ModelVersion) -> LoadedModel:
        if self.settings.idle_unload_seconds and self._idle_sweeper is None:
            self._idle_sweeper = asyncio.create_task(self._unload_idle(), name="idle-unload")
        failed = self._failed.get(key)
        if failed is not None:
            raise failed
        try:
            with tracing.span("model load", model=key.model, version=key.version):
                model = await self._loader.load(key, version)
        except ModelFailed as error:
            self._failed[key] = error
            raise
        self._memory.put(key, model)
        for evicted in self._memory.over_budget(keep=key):
            await self._evict(evicted)
        self._update_gauges()
        self.metrics.set_runtime(key.tenant, key.model, key.version, model.runtime.name)
        if self._switch is not None:
            self._switch.start(model)
        return model

    def _switched(self, model: LoadedModel) -> None:
        key = model.key
        if self._memory.peek(key) is model:
            self.metrics.set_runtime(key.tenant, key.model, key.version, model.runtime.name)

    async def unload(self, tenant: str, model: str) -> int:
        keys = [k for k in self._memory if k.tenant == tenant and k.model == model]
        for key in keys:
            await self._evict(key)
        return len(keys)

    async def _evict(self, key: ModelKey) -> None:
        model = self._memory.pop(key)
        if model is not None:
            self.drift.forget(key)
            await model.close()
            self._update_gauges()
            self.metrics.set_runtime(key.tenant, key.model, key.version, None)
            log.info("model unloaded", model=key.model, version=key.version, tenant=key.tenant)

    def _update_gauges(self) -> None:
        self.metrics.loaded.set(len(self._memory))
        self.metrics.memory_bytes.set(self._memory.total_bytes)

    async def close(self) -> None:
        if self._idle_sweeper is not None:
            self._idle_sweeper.cancel()
        await self.aliases.close()
        await self.rollouts.close()
        await self.drift.close()
        await self.payloads.close()
        await self.shadows.close()
        for key in self._memory:
            await self._evict(key)
        self._executor.shutdown(wait=False, cancel_futures=True)
