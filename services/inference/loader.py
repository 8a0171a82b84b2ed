"""From a registry version to a warm `LoadedModel`, validating what is not yet known good.

A version the registry has as PENDING (an uploaded model) first goes through the sandbox
process (`sandbox.py`); every version, validated or not, is then op-checked again, loaded, its
signature derived from the model and compared with the registry's, and warmed. The outcome of
a PENDING version is reported to the registry: READY with the derived signature, or FAILED with
the reason, which is also what the caller gets (FAILED_PRECONDITION, never INTERNAL)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import structlog

from maas.registry.v1 import registry_pb2 as rpb
from services.common.errors import FailedPrecondition
from services.inference.artifact import InvalidArtifact, prepare
from services.inference.cache import ModelCache
from services.inference.config import InferenceSettings
from services.inference.loaded import LoadedModel
from services.inference.memory import ModelKey
from services.inference.metrics import InferenceMetrics
from services.inference.registry_client import RegistryClient
from services.inference.runtimes import SavedModelRuntime
from services.inference.safety import UnsafeModel
from services.inference.sandbox import check_and_derive, validate
from services.inference.signature import ModelSignature, SignatureError
from services.inference.statistics import VersionStatistics

log = structlog.get_logger("maas.inference.loader")
State = rpb.ModelVersion.State


class ModelFailed(FailedPrecondition):
    """A version that failed validation: it is never served."""

    @classmethod
    def of(cls, key: ModelKey, reason: str) -> ModelFailed:
        return cls(f"version {key.version} of model {key.model!r} failed validation: {reason}")


class _Refused(Exception):
    """The model itself is at fault (as opposed to the registry or the network)."""


class ModelLoader:
    def __init__(
        self,
        settings: InferenceSettings,
        registry: RegistryClient,
        cache: ModelCache,
        metrics: InferenceMetrics,
        executor: ThreadPoolExecutor,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._cache = cache
        self._metrics = metrics
        self._executor = executor

    async def load(self, key: ModelKey, version: rpb.ModelVersion) -> LoadedModel:
        if version.state == State.STATE_FAILED:
            raise ModelFailed.of(key, version.state_reason or "no reason recorded")
        if version.state == State.STATE_ARCHIVED:
            raise FailedPrecondition(
                f"version {key.version} of model {key.model!r} is archived; unarchive it to serve it"
            )
        started = time.perf_counter()
        try:
            directory, fmt = await self._prepared(key, version)
            saved_model, signature = await self._run(check_and_derive, directory)
        except _Refused as error:
            await self._fail(key, version, str(error))
        except (InvalidArtifact, UnsafeModel, SignatureError) as error:
            await self._fail(key, version, str(error))
        except Exception as error:  # noqa: BLE001 - TensorFlow's many errors all mean "does not load"
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            await self._fail(key, version, f"the model does not load or answer a warm-up call: {first[:300]}")
        signature = dataclasses.replace(signature, accepts_non_finite=version.signature.accepts_non_finite)
        if version.signature.inputs:
            difference = signature.differences(ModelSignature.from_proto(version.signature))
            if difference is not None:
                await self._fail(key, version, difference)
        if version.state == State.STATE_PENDING:
            version = await self._registry.report(key.tenant, version, signature.to_proto(), fmt, "")
            log.info("model version validated", model=key.model, version=key.version, tenant=key.tenant)
        statistics = VersionStatistics()
        observer = self._metrics.batch_observer(key.tenant, key.model, key.version, statistics)
        runtime = SavedModelRuntime(saved_model, signature.key)
        model = LoadedModel(key, version, signature, runtime, directory, self._settings, self._executor, observer)
        call_seconds = await model.warm_up()
        self._metrics.load_seconds.labels(key.tenant, key.model).observe(time.perf_counter() - started)
        log.info(
            "model loaded",
            model=key.model,
            version=key.version,
            tenant=key.tenant,
            seconds=round(time.perf_counter() - started, 3),
            batch_call_ms=round(call_seconds * 1000, 3),
            on_event_loop=model.on_event_loop,
            batched=model.batched,
        )
        return model

    async def _run(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def _prepared(self, key: ModelKey, version: rpb.ModelVersion) -> tuple[Path, str]:
        """The version's SavedModel directory in the cache and, when it was prepared now, the
        uploaded format: unpacked in this process for a version known good, through the
        sandbox for one that is not."""
        directory = self._cache.ready(key.tenant, version.artifact)
        if directory is not None:
            return directory, ""
        async with self._cache.staging(key.tenant, version.artifact) as (archive, staging):
            if version.state == State.STATE_READY:
                fmt = await self._run(prepare, archive, staging)
            else:
                found = await validate(
                    archive,
                    staging,
                    self._settings.validation_timeout_seconds,
                    self._settings.validation_max_bytes,
                )
                if found.reason:
                    raise _Refused(found.reason)
                fmt = found.format
            return self._cache.install(staging, key.tenant, version.artifact), fmt

    async def _fail(self, key: ModelKey, version: rpb.ModelVersion, reason: str):
        """Record the refusal with the registry (once) and raise it to the caller."""
        log.warning("model version refused", model=key.model, version=key.version, tenant=key.tenant, reason=reason)
        if version.state != State.STATE_FAILED:
            await self._registry.report(key.tenant, version, None, "", reason)
        raise ModelFailed.of(key, reason)
