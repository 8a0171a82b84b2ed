"""The model repository: resolves (tenant, model, version or alias) through the registry,
fetches SavedModels by streaming (sha256-verified, cached on disk), loads and warms them,
and keeps them in memory under a budget, least recently used first out."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tarfile
import tempfile
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import structlog

from maas.registry.v1 import registry_pb2 as rpb
from maas.registry.v1 import registry_pb2_grpc
from services.common.archives import extract_tar
from services.common.errors import DataLoss, InvalidArgument, NotFound, UpstreamError
from services.common.interceptors import request_id_var
from services.common.metadata import REQUEST_ID_KEY, TENANT_KEY
from services.inference.aliases import AliasFollower
from services.inference.batcher import DynamicBatcher
from services.inference.codec import DATATYPES, TensorSpec
from services.inference.config import InferenceSettings
from services.inference.metrics import BatchObserver, InferenceMetrics
from services.inference.runtimes import (
    LiteUnavailable,
    ModelRuntime,
    SavedModelRuntime,
    convert_to_lite,
    disagreement,
)

log = structlog.get_logger("maas.inference.repository")
DEFAULT_ALIAS = "production"


@dataclass(frozen=True)
class ModelKey:
    tenant: str
    model: str
    version: int


class LoadedModel:
    """One model version in memory with its signature, runtime and batcher."""

    def __init__(
        self,
        key: ModelKey,
        version: rpb.ModelVersion,
        runtime: ModelRuntime,
        settings: InferenceSettings,
        executor: ThreadPoolExecutor,
        size_bytes: int,
        observer: BatchObserver,
    ) -> None:
        self.key = key
        self.version = version
        self.size_bytes = size_bytes
        self.runtime = runtime
        # The background switch to a faster runtime, if one was tried (see ModelRepository._upgrade).
        self.upgrade: asyncio.Task | None = None
        self._batch_rows = settings.max_batch_size if settings.batching else 1
        self._executor = executor
        self.inputs = {t.name: TensorSpec(t.name, t.datatype, tuple(t.shape)) for t in version.signature.inputs}
        self.outputs = {t.name: TensorSpec(t.name, t.datatype, tuple(t.shape)) for t in version.signature.outputs}
        self._observer = observer
        self._inline_max_seconds = settings.inline_call_max_ms / 1000
        self.on_event_loop = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._batcher = (
            DynamicBatcher(
                self.call,
                settings.max_batch_size,
                settings.max_queue_delay_ms / 1000,
                settings.queue_capacity,
                observer,
            )
            if settings.batching
            else None
        )

    def probe_inputs(self, seed: int | None = None) -> dict[str, np.ndarray]:
        """A full batch of inputs: zeros, or seeded random values for comparing runtimes."""
        rng = np.random.default_rng(seed)
        inputs = {}
        for name, spec in self.inputs.items():
            shape = [self._batch_rows if i == 0 and d == -1 else max(d, 1) for i, d in enumerate(spec.shape)]
            dtype = DATATYPES[spec.datatype][0]
            if seed is None:
                inputs[name] = np.zeros(shape, dtype)
            elif dtype.kind == "f":
                inputs[name] = rng.standard_normal(shape).astype(dtype)
            else:
                inputs[name] = rng.integers(0, 2 if dtype.kind == "b" else 10, shape).astype(dtype)
        return inputs

    async def warm_up(self) -> float:
        """Warm the runtime (the first call traces and allocates; no request should pay for that),
        then time a call of the largest batch and choose where calls run: a call on a thread costs
        a hand-off of Python's GIL with the event loop, which for a small model costs more than the
        call, so calls that fast run on the loop itself. Returns the timed call's seconds."""
        inputs = self.probe_inputs()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self.runtime, inputs)
        started = time.perf_counter()
        await loop.run_in_executor(self._executor, self.runtime, inputs)
        elapsed = time.perf_counter() - started
        self.on_event_loop = elapsed <= self._inline_max_seconds
        return elapsed

    async def adopt(self, candidate: ModelRuntime) -> str | None:
        """Switch to `candidate` if it computes what the current runtime does on a probe batch
        (which also warms it). Returns why not, or None once switched."""
        inputs = self.probe_inputs(seed=0)
        loop = asyncio.get_running_loop()
        expected = await loop.run_in_executor(self._executor, self.runtime, inputs)
        try:
            got = await loop.run_in_executor(self._executor, candidate, inputs)
        except Exception as error:  # noqa: BLE001 - a candidate that cannot run is not adopted
            return f"the converted model failed on the probe batch: {error}"
        reason = disagreement(expected, got)
        if reason is None:
            self.runtime = candidate
            await self.warm_up()  # times the new runtime, to choose again where its calls run
        return reason

    async def call(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One model call, on the event loop or a thread as `warm_up` chose."""
        if self.on_event_loop:
            return self.runtime(inputs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.runtime, inputs)

    async def infer(self, inputs: dict[str, np.ndarray], deadline: float | None) -> dict[str, np.ndarray]:
        self._in_flight += 1
        try:
            if self._batcher is not None:
                return await self._batcher.infer(inputs, deadline)
            self._observer.batch(next(iter(inputs.values())).shape[0], [0.0])
            return await self.call(inputs)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def drained(self) -> None:
        """Wait until no request is running on this version."""
        while self._in_flight:
            self._idle.clear()
            await self._idle.wait()

    async def close(self) -> None:
        if self.upgrade is not None:
            self.upgrade.cancel()
        if self._batcher is not None:
            await self._batcher.close()


def _validate_signature(version: rpb.ModelVersion) -> None:
    for tensor in [*version.signature.inputs, *version.signature.outputs]:
        if tensor.datatype not in DATATYPES:
            raise InvalidArgument(f"{version.name}: signature datatype {tensor.datatype!r} is not servable")


class ModelRepository:
    def __init__(
        self, settings: InferenceSettings, channel: grpc.aio.Channel, metrics: InferenceMetrics, device: str = "CPU"
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        # LiteRT runs on the CPU only: a GPU pod keeps TensorFlow.
        self._try_lite = settings.runtime == "auto" and device == "CPU"
        self._registry = registry_pb2_grpc.RegistryServiceStub(channel)
        self._executor = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="model")
        self._loaded: OrderedDict[ModelKey, LoadedModel] = OrderedDict()
        self._loading: dict[ModelKey, asyncio.Task] = {}
        # Versions never change once registered, so their lookups are kept.
        self._versions: dict[tuple[str, str, int], rpb.ModelVersion] = {}
        self.aliases = AliasFollower(self._registry, self._metadata, self._version, self._preload, self._retire)
        settings.model_cache.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _metadata(tenant: str) -> tuple[tuple[str, str], ...]:
        return ((TENANT_KEY, tenant), (REQUEST_ID_KEY, request_id_var.get()))

    async def resolve(self, tenant: str, model: str, ref: str) -> rpb.ModelVersion:
        """The registry's version for a number or alias (empty: `production`)."""
        ref = ref or DEFAULT_ALIAS
        try:
            if ref.isdigit():
                return await self._version(tenant, model, ref)
            return await self.aliases.resolve(tenant, model, ref)
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise NotFound(f"model {model!r} version {ref!r} not found") from None
            raise UpstreamError.from_rpc_error(error) from None

    async def _version(self, tenant: str, model: str, number: str) -> rpb.ModelVersion:
        key = (tenant, model, int(number))
        version = self._versions.get(key)
        if version is None:
            version = await self._registry.GetModelVersion(
                rpb.GetModelVersionRequest(name=f"models/{model}/versions/{number}"),
                metadata=self._metadata(tenant),
                timeout=30,
            )
            self._versions[key] = version
        return version

    async def _preload(self, tenant: str, model: str, old: rpb.ModelVersion, new: rpb.ModelVersion) -> None:
        """Before an alias moves: if the old version serves traffic here, load and warm the new one."""
        if ModelKey(tenant, model, old.version) in self._loaded:
            await self._load_once(ModelKey(tenant, model, new.version), new)

    async def _retire(self, tenant: str, model: str, old: rpb.ModelVersion, new: rpb.ModelVersion) -> None:
        """After an alias moved: let the old version finish its requests, then unload it unless
        another alias still points at it."""
        key = ModelKey(tenant, model, old.version)
        model_in_memory = self._loaded.get(key)
        if model_in_memory is None or old.version in self.aliases.versions_in_use(tenant, model):
            return
        try:
            async with asyncio.timeout(self.settings.grace_seconds):
                await model_in_memory.drained()
        except TimeoutError:
            log.warning("old version still busy after the grace period; unloading", version=old.version)
        if old.version not in self.aliases.versions_in_use(tenant, model):
            await self._evict(key)

    def loaded(self, tenant: str) -> list[LoadedModel]:
        return [m for k, m in self._loaded.items() if k.tenant == tenant]

    def get_loaded(self, key: ModelKey) -> LoadedModel | None:
        return self._loaded.get(key)

    def loaded_for(self, tenant: str, model: str, ref: str) -> LoadedModel | None:
        """The loaded model for a reference when no lookup or load is needed (the hot path)."""
        ref = ref or DEFAULT_ALIAS
        number = int(ref) if ref.isdigit() else self.aliases.cached(tenant, model, ref)
        if number is None:
            return None
        loaded = self._loaded.get(ModelKey(tenant, model, number))
        if loaded is not None:
            self._loaded.move_to_end(loaded.key)
        return loaded

    async def get(self, tenant: str, model: str, ref: str) -> LoadedModel:
        """The loaded model for a reference, loading it first if needed (one load per version)."""
        version = await self.resolve(tenant, model, ref)
        return await self._load_once(ModelKey(tenant, model, version.version), version)

    async def _load_once(self, key: ModelKey, version: rpb.ModelVersion) -> LoadedModel:
        loaded = self._loaded.get(key)
        if loaded is not None:
            self._loaded.move_to_end(key)
            return loaded
        task = self._loading.get(key)
        if task is None:
            task = asyncio.create_task(self._load(key, version))
            self._loading[key] = task
            task.add_done_callback(lambda _t: self._loading.pop(key, None))
        return await asyncio.shield(task)

    async def unload(self, tenant: str, model: str) -> int:
        keys = [k for k in self._loaded if k.tenant == tenant and k.model == model]
        for key in keys:
            await self._evict(key)
        return len(keys)

    async def _evict(self, key: ModelKey) -> None:
        model = self._loaded.pop(key, None)
        if model is not None:
            await model.close()
            self._update_gauges()
            self.metrics.set_runtime(key.tenant, key.model, key.version, None)
            log.info("model unloaded", model=key.model, version=key.version, tenant=key.tenant)

    async def _load(self, key: ModelKey, version: rpb.ModelVersion) -> LoadedModel:
        _validate_signature(version)
        started = time.perf_counter()
        sha256 = version.artifact.removeprefix("artifacts/")
        directory = await self._fetch(key.tenant, version.artifact, sha256)
        signature = version.signature.method_name or "serving_default"
        saved_model = await asyncio.get_running_loop().run_in_executor(
            self._executor, _load_saved_model, directory, signature
        )
        observer = self.metrics.batch_observer(key.tenant, key.model, key.version)
        model = LoadedModel(
            key,
            version,
            SavedModelRuntime(saved_model, signature),
            self.settings,
            self._executor,
            version.artifact_size_bytes,
            observer,
        )
        call_seconds = await model.warm_up()
        self._loaded[key] = model
        await self._enforce_budget(keep=key)
        self._update_gauges()
        self.metrics.set_runtime(key.tenant, key.model, key.version, model.runtime.name)
        self.metrics.load_seconds.labels(key.tenant, key.model).observe(time.perf_counter() - started)
        log.info(
            "model loaded",
            model=key.model,
            version=key.version,
            tenant=key.tenant,
            seconds=round(time.perf_counter() - started, 3),
            batch_call_ms=round(call_seconds * 1000, 3),
            on_event_loop=model.on_event_loop,
        )
        if self._try_lite:
            # In the background: the model serves on TensorFlow meanwhile, so a hot swap waits for
            # no conversion, and a model that does not convert loses nothing.
            model.upgrade = asyncio.create_task(self._upgrade(model, directory, signature))
        return model

    async def _upgrade(self, model: LoadedModel, directory: Path, signature: str) -> None:
        """Move a loaded model to LiteRT when its signature converts and computes the same outputs."""
        key = model.key
        started = time.perf_counter()
        try:
            lite = await asyncio.get_running_loop().run_in_executor(
                self._executor, convert_to_lite, directory, signature, self.settings.intra_op_threads or None
            )
            reason = await model.adopt(lite)
        except LiteUnavailable as error:
            reason = str(error)
        except Exception:  # the model keeps serving on TensorFlow whatever happens here
            log.exception("switching to LiteRT failed", model=key.model, version=key.version, tenant=key.tenant)
            return
        fields = {"model": key.model, "version": key.version, "tenant": key.tenant}
        if reason is not None:
            log.info("model stays on TensorFlow", reason=reason, **fields)
            return
        if self._loaded.get(key) is model:
            self.metrics.set_runtime(key.tenant, key.model, key.version, model.runtime.name)
        log.info(
            "model runtime switched",
            runtime=model.runtime.name,
            seconds=round(time.perf_counter() - started, 3),
            on_event_loop=model.on_event_loop,
            **fields,
        )

    def _update_gauges(self) -> None:
        self.metrics.loaded.set(len(self._loaded))
        self.metrics.memory_bytes.set(sum(m.size_bytes for m in self._loaded.values()))

    async def _enforce_budget(self, keep: ModelKey) -> None:
        total = sum(m.size_bytes for m in self._loaded.values())
        for key in list(self._loaded):
            if total <= self.settings.memory_budget_bytes:
                break
            if key != keep:
                total -= self._loaded[key].size_bytes
                await self._evict(key)

    async def _fetch(self, tenant: str, artifact: str, sha256: str) -> Path:
        """The SavedModel directory for an artifact, downloaded and verified once per cache."""
        base = self.settings.model_cache / tenant
        directory = base / sha256
        if (directory / "saved_model.pb").is_file():
            return directory
        base.mkdir(parents=True, exist_ok=True)
        # Unique names: replicas may share the cache volume and fetch the same version at once.
        partial = base / f"{sha256}.{uuid.uuid4().hex}.partial"
        digest = hashlib.sha256()
        try:
            with partial.open("wb") as file:
                async for response in self._registry.DownloadArtifact(
                    rpb.DownloadArtifactRequest(name=artifact), metadata=self._metadata(tenant), timeout=600
                ):
                    file.write(response.chunk)
                    digest.update(response.chunk)
        except grpc.aio.AioRpcError as error:
            partial.unlink(missing_ok=True)
            raise UpstreamError.from_rpc_error(error) from None
        if digest.hexdigest() != sha256:
            partial.unlink(missing_ok=True)
            raise DataLoss(f"{artifact}: downloaded bytes fail the sha256 check")
        await asyncio.get_running_loop().run_in_executor(self._executor, _extract, partial, directory)
        partial.unlink(missing_ok=True)
        return directory

    async def close(self) -> None:
        await self.aliases.close()
        for key in list(self._loaded):
            await self._evict(key)
        self._executor.shutdown(wait=False, cancel_futures=True)


def _extract(archive: Path, directory: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f"{directory.name}.", suffix=".staging", dir=directory.parent))
    try:
        with tarfile.open(archive) as tar:
            extract_tar(tar, staging)
        try:
            os.rename(staging, directory)
        except OSError:
            # Another process finished the same version first; its copy is identical (same sha256).
            if not (directory / "saved_model.pb").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _load_saved_model(directory: Path, signature: str):
    import tensorflow as tf

    loaded = tf.saved_model.load(str(directory))
    if signature not in loaded.signatures:
        raise InvalidArgument(f"the SavedModel has no signature {signature!r}")
    return loaded
