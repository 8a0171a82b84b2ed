"""The loaded models of one process, least recently used first, under a memory budget."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


@dataclass(frozen=True)
class ModelKey:
    tenant: str
    model: str
    version: int


class Sized(Protocol):
    size_bytes: int


M = TypeVar("M", bound=Sized)


class ModelMemory(Generic[M]):
    """An LRU map of loaded models; `over_budget` says which to evict to stay under the budget."""

    def __init__(self, budget_bytes: int) -> None:
        self._budget = budget_bytes
        self._models: OrderedDict[ModelKey, M] = OrderedDict()
        self._used: dict[ModelKey, float] = {}

    def get(self, key: ModelKey) -> M | None:
        """The model, marked as just used."""
        model = self._models.get(key)
        if model is not None:
            self._models.move_to_end(key)
            self._used[key] = time.monotonic()
        return model

    def unused_since(self, moment: float) -> list[ModelKey]:
        """The models not used since `moment` (time.monotonic())."""
        return [k for k in self._models if self._used.get(k, 0.0) < moment]

    def peek(self, key: ModelKey) -> M | None:
        """The model, without marking it used."""
        return self._models.get(key)

    def __contains__(self, key: ModelKey) -> bool:
        return key in self._models

    def __iter__(self) -> Iterator[ModelKey]:
        return iter(list(self._models))

    def __len__(self) -> int:
        return len(self._models)

    def items(self) -> list[tuple[ModelKey, M]]:
        return list(self._models.items())

    def put(self, key: ModelKey, model: M) -> None:
        self._models[key] = model
        self._used[key] = time.monotonic()

    def pop(self, key: ModelKey) -> M | None:
        self._used.pop(key, None)
        return self._models.pop(key, None)

    @property
    def total_bytes(self) -> int:
        return sum(m.size_bytes for m in self._models.values())

    def over_budget(self, keep: ModelKey) -> list[ModelKey]:
        """The least recently used models to evict so the rest fit the budget (never `keep`)."""
        total = self.total_bytes
        evict = []
        for key, model in self._models.items():
            if total <= self._budget:
                break
            if key != keep:
                total -= model.size_bytes
                evict.append(key)
        return evict


def return_freed_memory() -> None:
    """Hand what unloaded models freed back to the operating system: collect their reference
    cycles, then ask glibc to release the free pages of its heaps (it keeps them otherwise)."""
    gc.collect()
    libc = ctypes.util.find_library("c")
    if libc:
        trim = getattr(ctypes.CDLL(libc), "malloc_trim", None)
        if trim is not None:
            trim(0)
