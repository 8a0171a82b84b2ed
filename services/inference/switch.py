"""The runtime switch: a loaded model moves from TensorFlow to LiteRT in the background when
its signature converts and computes the same outputs (see runtimes.py for why)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import structlog

from services.inference.loaded import LoadedModel
from services.inference.runtimes import LiteUnavailable, convert_to_lite

log = structlog.get_logger("maas.inference.switch")


class RuntimeSwitch:
    def __init__(
        self, executor: ThreadPoolExecutor, threads: int | None, on_switched: Callable[[LoadedModel], None]
    ) -> None:
        self._executor = executor
        self._threads = threads
        self._on_switched = on_switched

    def start(self, model: LoadedModel) -> None:
        """In the background: the model serves on TensorFlow meanwhile, so a hot swap waits for
        no conversion, and a model that does not convert loses nothing."""
        model.upgrade = asyncio.create_task(self._upgrade(model))

    async def _upgrade(self, model: LoadedModel) -> None:
        key = model.key
        fields = {"model": key.model, "version": key.version, "tenant": key.tenant}
        started = time.perf_counter()
        try:
            lite = await asyncio.get_running_loop().run_in_executor(
                self._executor, convert_to_lite, model.directory, model.signature.key, self._threads
            )
            reason = await model.adopt(lite)
        except LiteUnavailable as error:
            reason = str(error)
        except Exception:  # the model keeps serving on TensorFlow whatever happens here
            log.exception("switching to LiteRT failed", **fields)
            return
        if reason is not None:
            log.info("model stays on TensorFlow", reason=reason, **fields)
            return
        self._on_switched(model)
        log.info(
            "model runtime switched",
            runtime=model.runtime.name,
            seconds=round(time.perf_counter() - started, 3),
            on_event_loop=model.on_event_loop,
            **fields,
        )
