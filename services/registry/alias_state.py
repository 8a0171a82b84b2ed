"""What an alias routes to: weighted targets and an optional shadow, as stored in its row and in
its history's events, and as read from and written to the contract's messages."""

from __future__ import annotations

from dataclasses import dataclass

from maas.registry.v1 import registry_pb2 as pb
from services.common.errors import InvalidArgument

MAX_TARGETS = 10
MAX_WEIGHT = 10_000
MAX_REASON = 1_000


@dataclass(frozen=True)
class AliasState:
    targets: tuple[tuple[int, int], ...]  # (version, weight), by version
    shadow: tuple[int, float] | None = None  # (version, percent)
    reason: str = ""

    @property
    def primary(self) -> int:
        """The target with the largest weight; the lower version on a tie."""
        return min(self.targets, key=lambda t: (-t[1], t[0]))[0]

    @property
    def versions(self) -> set[int]:
        """Every version the alias sends traffic to, the shadow included."""
        return {v for v, _ in self.targets} | ({self.shadow[0]} if self.shadow else set())

    @classmethod
    def from_message(cls, alias: pb.Alias) -> AliasState:
        """Validated: a bare `version` is all traffic to it; weights 1 to 10000, distinct versions."""
        if alias.targets:
            if len(alias.targets) > MAX_TARGETS:
                raise InvalidArgument(f"alias.targets: at most {MAX_TARGETS} versions")
            targets = []
            for i, target in enumerate(alias.targets):
                if target.version <= 0:
                    raise InvalidArgument(f"alias.targets[{i}].version: must be a positive version number")
                if not 1 <= target.weight <= MAX_WEIGHT:
                    raise InvalidArgument(f"alias.targets[{i}].weight: must be 1 to {MAX_WEIGHT}")
                targets.append((target.version, target.weight))
            if len({v for v, _ in targets}) != len(targets):
                raise InvalidArgument("alias.targets: a version appears twice")
            state_targets = tuple(sorted(targets))
            if alias.version and alias.version not in {v for v, _ in targets}:
                raise InvalidArgument(f"alias.version: {alias.version} is not one of the targets")
        elif alias.version > 0:
            state_targets = ((alias.version, 100),)
        else:
            raise InvalidArgument("alias.version: must be a positive version number (or give targets)")
        shadow = None
        if alias.HasField("shadow") and alias.shadow.version:
            if alias.shadow.version < 0:
                raise InvalidArgument("alias.shadow.version: must be a positive version number")
            if not 0 < alias.shadow.percent <= 100:
                raise InvalidArgument("alias.shadow.percent: must be more than 0 and at most 100")
            if alias.shadow.version in {v for v, _ in state_targets}:
                raise InvalidArgument(f"alias.shadow.version: {alias.shadow.version} already answers the alias")
            shadow = (alias.shadow.version, alias.shadow.percent)
        if len(alias.reason) > MAX_REASON:
            raise InvalidArgument(f"alias.reason: at most {MAX_REASON} characters")
        return cls(state_targets, shadow, alias.reason)

    @classmethod
    def from_row(cls, version: int, targets, shadow, reason: str) -> AliasState:
        """From stored columns; NULL targets (an alias from before splits) mean all traffic to `version`."""
        stored = tuple((int(v), int(w)) for v, w in targets) if targets else ((version, 100),)
        return cls(stored, (int(shadow[0]), float(shadow[1])) if shadow else None, reason or "")

    @classmethod
    def from_event(cls, version: int, stored: dict | None) -> AliasState:
        if stored is None:
            return cls(((version, 100),))
        return cls.from_row(version, stored.get("targets"), stored.get("shadow"), stored.get("reason", ""))

    def columns(self) -> dict:
        return {
            "version": self.primary,
            "targets": [list(t) for t in self.targets],
            "shadow": list(self.shadow) if self.shadow else None,
            "reason": self.reason,
        }

    def event_state(self) -> dict:
        columns = self.columns()
        del columns["version"]
        return columns

    def fill(self, message: pb.Alias | pb.RegistryEvent) -> None:
        """Set the targets, shadow and reason fields of an alias or an alias event."""
        message.version = self.primary
        del message.targets[:]
        message.targets.extend(pb.AliasTarget(version=v, weight=w) for v, w in self.targets)
        if self.shadow:
            message.shadow.version, message.shadow.percent = self.shadow
        else:
            message.ClearField("shadow")
        message.reason = self.reason
