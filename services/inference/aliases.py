"""Alias resolution that follows the registry's watch stream, so a moved alias swaps the
served version without any polling on the request path. One stream per tenant, opened when
the tenant's first alias is resolved and resumed from its last revision if it breaks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
import structlog

from maas.registry.v1 import registry_pb2 as rpb
from services.inference.registry_client import RegistryClient

log = structlog.get_logger("maas.inference.aliases")
Kind = rpb.RegistryEvent.Kind
# Called with (tenant, model, old version, new version): before the switch (load and warm the
# new one) and after it (drain and unload the old one).
SwapHook = Callable[[str, str, rpb.ModelVersion, rpb.ModelVersion], Awaitable[None]]
RECONNECT_SECONDS = (0.2, 0.5, 1, 2, 5)


@dataclass
class AliasEntry:
    version: rpb.ModelVersion
    revision: int


class AliasFollower:
    def __init__(self, registry: RegistryClient, before_swap: SwapHook, after_swap: SwapHook) -> None:
        self._registry = registry
        self._before_swap = before_swap
        self._after_swap = after_swap
        self._entries: dict[tuple[str, str, str], AliasEntry] = {}
        self._watchers: dict[str, asyncio.Task] = {}
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}

    def cached(self, tenant: str, model: str, alias: str) -> int | None:
        """The version an alias points at, if it is followed already (no I/O)."""
        entry = self._entries.get((tenant, model, alias))
        return entry.version.version if entry is not None else None

    def versions_in_use(self, tenant: str, model: str) -> set[int]:
        return {e.version.version for (t, m, _), e in self._entries.items() if (t, m) == (tenant, model)}

    async def resolve(self, tenant: str, model: str, alias: str) -> rpb.ModelVersion:
        entry = self._entries.get((tenant, model, alias))
        if entry is not None:
            return entry.version
        lock = self._locks.setdefault((tenant, model, alias), asyncio.Lock())
        async with lock:
            entry = self._entries.get((tenant, model, alias))
            if entry is None:
                current = await self._registry.alias(tenant, model, alias)
                version = await self._registry.version(tenant, model, current.version)
                entry = AliasEntry(version, current.revision)
                self._entries[(tenant, model, alias)] = entry
                if tenant not in self._watchers:
                    self._watchers[tenant] = asyncio.create_task(
                        self._watch(tenant, current.revision), name=f"alias-watch-{tenant}"
                    )
        return entry.version

    async def _watch(self, tenant: str, after: int) -> None:
        failures = 0
        while True:
            try:
                async for event in self._registry.watch(tenant, after):
                    failures = 0
                    after = event.revision
                    await self._apply(tenant, event)
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as error:
                delay = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
                failures += 1
                log.warning("registry watch broke; resuming", tenant=tenant, code=error.code().name, after=after)
                await asyncio.sleep(delay)
            except Exception:
                log.exception("applying a registry event failed", tenant=tenant, after=after)
                await asyncio.sleep(RECONNECT_SECONDS[-1])

    async def _apply(self, tenant: str, event: rpb.RegistryEvent) -> None:
        model = event.model.removeprefix("models/")
        if event.kind == Kind.KIND_ALIAS_SET:
            key = (tenant, model, event.alias)
            entry = self._entries.get(key)
            if entry is None or event.revision <= entry.revision or event.version == entry.version.version:
                return
            new = await self._registry.version(tenant, model, event.version)
            old = entry.version
            await self._before_swap(tenant, model, old, new)
            entry.version, entry.revision = new, event.revision  # traffic moves here, in one step
            log.info("alias moved", tenant=tenant, model=model, alias=event.alias, old=old.version, new=new.version)
            await self._after_swap(tenant, model, old, new)
        elif event.kind in (Kind.KIND_ALIAS_DELETED, Kind.KIND_MODEL_DELETED):
            for key in [k for k in self._entries if k[:2] == (tenant, model)]:
                if event.kind == Kind.KIND_MODEL_DELETED or key[2] == event.alias:
                    del self._entries[key]

    async def close(self) -> None:
        for task in self._watchers.values():
            task.cancel()
        await asyncio.gather(*self._watchers.values(), return_exceptions=True)
        self._watchers.clear()
