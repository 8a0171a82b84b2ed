"""Alias resolution that follows the registry's watch stream, so a moved alias (or a changed
split or shadow) swaps the served versions without any polling on the request path. One stream
per tenant, opened when the tenant's first alias is resolved and resumed from its last revision
if it breaks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import grpc
import structlog

from maas.registry.v1 import registry_pb2 as rpb
from services.inference.registry_client import RegistryClient
from services.inference.routing import Route

log = structlog.get_logger("maas.inference.aliases")
Kind = rpb.RegistryEvent.Kind
# Called with (tenant, model, old route, new route): before the switch (load and warm what the
# new route adds) and after it (drain and unload what it dropped).
SwapHook = Callable[[str, str, Route, Route], Awaitable[None]]
# Called with (tenant, model, alias, route or None once deleted) whenever an alias's route is set.
RouteListener = Callable[[str, str, str, "Route | None"], None]
RECONNECT_SECONDS = (0.2, 0.5, 1, 2, 5)


class AliasFollower:
    def __init__(
        self, registry: RegistryClient, before_swap: SwapHook, after_swap: SwapHook, on_route: RouteListener
    ) -> None:
        self._registry = registry
        self._before_swap = before_swap
        self._after_swap = after_swap
        self._on_route = on_route
        self._routes: dict[tuple[str, str, str], Route] = {}
        self._watchers: dict[str, asyncio.Task] = {}
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}

    def cached(self, tenant: str, model: str, alias: str) -> Route | None:
        """The alias's route, if it is followed already (no I/O)."""
        return self._routes.get((tenant, model, alias))

    def versions_in_use(self, tenant: str, model: str) -> set[int]:
        return {n for (t, m, _), r in self._routes.items() if (t, m) == (tenant, model) for n in r.versions}

    async def _route(self, tenant: str, model: str, state: rpb.Alias | rpb.RegistryEvent, changed_at: float) -> Route:
        """The route of an alias (or an alias event), with its versions looked up."""
        targets = state.targets or [rpb.AliasTarget(version=state.version, weight=1)]
        versions = [(await self._registry.version(tenant, model, t.version), t.weight) for t in targets]
        shadow = state.shadow
        shadow_version = await self._registry.version(tenant, model, shadow.version) if shadow.version else None
        running = state.HasField("rollout") and state.rollout.state == rpb.Rollout.State.STATE_RUNNING
        return Route(
            tuple(versions),
            shadow_version,
            shadow.percent / 100 if shadow_version else 0.0,
            state.revision,
            state.rollout if running else None,
            changed_at,
            state.payload_log_percent / 100,
        )

    async def resolve(self, tenant: str, model: str, alias: str) -> Route:
        route = self._routes.get((tenant, model, alias))
        if route is not None:
            return route
        lock = self._locks.setdefault((tenant, model, alias), asyncio.Lock())
        async with lock:
            route = self._routes.get((tenant, model, alias))
            if route is None:
                current = await self._registry.alias(tenant, model, alias)
                route = await self._route(tenant, model, current, current.update_time.ToMicroseconds() / 1e6)
                self._routes[(tenant, model, alias)] = route
                self._on_route(tenant, model, alias, route)
                if tenant not in self._watchers:
                    self._watchers[tenant] = asyncio.create_task(
                        self._watch(tenant, current.revision), name=f"alias-watch-{tenant}"
                    )
        return route

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
            old = self._routes.get(key)
            if old is None or event.revision <= old.revision:
                return
            new = await self._route(tenant, model, event, event.event_time.ToMicroseconds() / 1e6)
            await self._before_swap(tenant, model, old, new)
            self._routes[key] = new  # traffic moves here, in one step
            self._on_route(tenant, model, event.alias, new)
            log.info(
                "alias changed",
                tenant=tenant,
                model=model,
                alias=event.alias,
                old=old.weights(),
                new=new.weights(),
                shadow=new.shadow.version if new.shadow else None,
                reason=event.reason,
            )
            await self._after_swap(tenant, model, old, new)
        elif event.kind in (Kind.KIND_ALIAS_DELETED, Kind.KIND_MODEL_DELETED):
            for key in [k for k in self._routes if k[:2] == (tenant, model)]:
                if event.kind == Kind.KIND_MODEL_DELETED or key[2] == event.alias:
                    del self._routes[key]
                    self._on_route(*key, None)

    async def close(self) -> None:
        for task in self._watchers.values():
            task.cancel()
        await asyncio.gather(*self._watchers.values(), return_exceptions=True)
        self._watchers.clear()
