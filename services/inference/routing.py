"""Which version answers a request to an alias: a weighted choice, sticky for a routing key
(the same key lands on the same version while the weights stay, and moves as little as
possible when they change) and random otherwise; plus the share mirrored to a shadow."""

from __future__ import annotations

import bisect
import hashlib
import random
from dataclasses import dataclass, field

from maas.registry.v1 import registry_pb2 as rpb

ROUTING_KEY_HEADER = "maas-routing-key"
ROUTING_KEY_PARAMETER = "routing_key"
_SCALE = float(2**64)


def key_point(routing_key: str) -> float:
    """A stable point in [0, 1) for a key (the same in every process and replica)."""
    return int.from_bytes(hashlib.blake2b(routing_key.encode(), digest_size=8).digest(), "big") / _SCALE


def routing_key_of(metadata, parameters=None) -> str | None:
    """The request's routing key: the `routing_key` parameter, else the `maas-routing-key` header."""
    if parameters is not None and ROUTING_KEY_PARAMETER in parameters:
        return parameters[ROUTING_KEY_PARAMETER].string_param or None
    for key, value in metadata or ():
        if key == ROUTING_KEY_HEADER:
            return value or None
    return None


@dataclass(frozen=True)
class Route:
    """An alias's targets (by version number, so a key's place stays put as weights move) and shadow."""

    targets: tuple[tuple[rpb.ModelVersion, int], ...]
    shadow: rpb.ModelVersion | None = None
    shadow_share: float = 0.0  # 0 to 1
    revision: int = 0
    # The rollout the alias is in (None when it is in none), and when the alias last changed
    # (seconds since the epoch, the registry's clock: a rollout step starts then).
    rollout: rpb.Rollout | None = None
    changed_at: float = 0.0
    payload_log_share: float = 0.0  # 0 to 1
    _bounds: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        total = sum(w for _, w in self.targets)
        bounds, running = [], 0
        for _, weight in self.targets[:-1]:
            running += weight
            bounds.append(running / total)
        object.__setattr__(self, "_bounds", tuple(bounds))

    @classmethod
    def single(cls, version: rpb.ModelVersion, revision: int = 0) -> Route:
        return cls(((version, 1),), revision=revision)

    @property
    def primary(self) -> rpb.ModelVersion:
        """The version with the most weight (the lower on a tie): what metadata answers describe."""
        return min(self.targets, key=lambda t: (-t[1], t[0].version))[0]

    @property
    def versions(self) -> set[int]:
        numbers = {v.version for v, _ in self.targets}
        return numbers | {self.shadow.version} if self.shadow is not None else numbers

    def weights(self) -> tuple[tuple[int, int], ...]:
        return tuple((v.version, w) for v, w in self.targets)

    def choose(self, routing_key: str | None) -> rpb.ModelVersion:
        if not self._bounds:
            return self.targets[0][0]
        point = key_point(routing_key) if routing_key else random.random()
        return self.targets[bisect.bisect_right(self._bounds, point)][0]

    def logs_payload(self) -> bool:
        """Whether this request is one of the share written to the payload logs."""
        return self.payload_log_share > 0 and random.random() < self.payload_log_share

    def mirror(self, chosen: rpb.ModelVersion) -> rpb.ModelVersion | None:
        """The shadow version if this request is one of the mirrored share (a shadow that also
        answers, a rollout's candidate, is compared only on the requests others answered)."""
        shadow = self.shadow
        if shadow is not None and shadow.version != chosen.version and random.random() < self.shadow_share:
            return shadow
        return None
