"""What an alias routes to: weighted targets and an optional shadow, as stored in its row and in
its history's events, and as read from and written to the contract's messages."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import json_format

from maas.registry.v1 import registry_pb2 as pb
from services.common.errors import InvalidArgument

MAX_TARGETS = 10
MAX_WEIGHT = 10_000
MAX_REASON = 1_000
MAX_STEPS = 20
RolloutState = pb.Rollout.State


def check_rollout(rollout: pb.Rollout, targets: tuple[tuple[int, int], ...]) -> None:
    """A valid plan, and for a running rollout, targets that are what its step says."""
    plan = rollout.plan
    if plan.candidate_version <= 0:
        raise InvalidArgument("alias.rollout.plan.candidate_version: must be a positive version number")
    if rollout.primary_version <= 0 or rollout.primary_version == plan.candidate_version:
        raise InvalidArgument("alias.rollout.primary_version: must be a version other than the candidate")
    if not 1 <= len(plan.steps) <= MAX_STEPS:
        raise InvalidArgument(f"alias.rollout.plan.steps: 1 to {MAX_STEPS} steps")
    previous = 0
    for i, step in enumerate(plan.steps):
        if not previous <= step.percent <= 100 or step.percent < 1:
            raise InvalidArgument(f"alias.rollout.plan.steps[{i}].percent: 1 to 100, never less than the step before")
        if step.min_requests < 0 or step.min_duration.seconds < 0:
            raise InvalidArgument(f"alias.rollout.plan.steps[{i}]: minimums must not be negative")
        previous = step.percent
    if not 0 <= plan.max_error_rate <= 1 or not 0 <= plan.max_disagreement <= 1:
        raise InvalidArgument("alias.rollout.plan: max_error_rate and max_disagreement are shares, 0 to 1")
    if plan.max_p99_latency.seconds < 0 or not 0 <= plan.mirror_percent <= 100:
        raise InvalidArgument("alias.rollout.plan: max_p99_latency >= 0 and mirror_percent 0 to 100")
    if plan.max_disagreement and not plan.mirror_percent:
        raise InvalidArgument("alias.rollout.plan.max_disagreement: needs mirror_percent (what is compared)")
    if rollout.state == RolloutState.STATE_RUNNING and not 0 <= rollout.step < len(plan.steps):
        raise InvalidArgument(f"alias.rollout.step: {rollout.step} is not a step of the plan")
    if targets:
        expected = rollout_targets(rollout)
        if targets != expected:
            wanted = " ".join(f"{v}={w}" for v, w in expected)
            raise InvalidArgument(f"alias.targets: the rollout's state means {wanted} (or leave targets out)")


def rollout_targets(rollout: pb.Rollout) -> tuple[tuple[int, int], ...]:
    """What a rollout's state routes to: its step's split while it runs, the candidate once
    promoted, the primary once rolled back."""
    plan = rollout.plan
    if rollout.state == RolloutState.STATE_PROMOTED:
        return ((plan.candidate_version, 100),)
    if rollout.state != RolloutState.STATE_RUNNING:
        return ((rollout.primary_version, 100),)
    percent = plan.steps[rollout.step].percent
    split = {plan.candidate_version: percent, rollout.primary_version: 100 - percent}
    return tuple(sorted((v, w) for v, w in split.items() if w))


def rollout_shadow(rollout: pb.Rollout) -> tuple[int, float] | None:
    """A running rollout that limits disagreement mirrors the primary's requests to the candidate."""
    plan = rollout.plan
    if rollout.state == RolloutState.STATE_RUNNING and plan.mirror_percent and plan.steps[rollout.step].percent < 100:
        return plan.candidate_version, plan.mirror_percent
    return None


@dataclass(frozen=True)
class AliasState:
    targets: tuple[tuple[int, int], ...]  # (version, weight), by version
    shadow: tuple[int, float] | None = None  # (version, percent)
    reason: str = ""
    rollout: dict | None = None  # the Rollout message as JSON
    payload_log_percent: float = 0.0

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
        """Validated: a bare `version` is all traffic to it; weights 1 to 10000, distinct versions;
        a rollout without targets routes as its state says."""
        if not 0 <= alias.payload_log_percent <= 100:
            raise InvalidArgument("alias.payload_log_percent: 0 to 100")
        state = cls._routing(alias)
        return cls(state.targets, state.shadow, state.reason, state.rollout, alias.payload_log_percent)

    @classmethod
    def _routing(cls, alias: pb.Alias) -> AliasState:
        if alias.HasField("rollout") and alias.rollout.state == RolloutState.STATE_UNSPECIFIED:
            raise InvalidArgument("alias.rollout.state: required (STATE_RUNNING to start one)")
        if alias.HasField("rollout") and not alias.targets and not alias.version:
            check_rollout(alias.rollout, ())
            if len(alias.reason) > MAX_REASON:
                raise InvalidArgument(f"alias.reason: at most {MAX_REASON} characters")
            rollout = alias.rollout
            return cls(
                rollout_targets(rollout), rollout_shadow(rollout), alias.reason, json_format.MessageToDict(rollout)
            )
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
            shadow = (alias.shadow.version, alias.shadow.percent)
        if len(alias.reason) > MAX_REASON:
            raise InvalidArgument(f"alias.reason: at most {MAX_REASON} characters")
        rollout = None
        if alias.HasField("rollout"):
            check_rollout(alias.rollout, state_targets)
            rollout = json_format.MessageToDict(alias.rollout)
        return cls(state_targets, shadow, alias.reason, rollout)

    @classmethod
    def from_row(
        cls, version: int, targets, shadow, reason: str, rollout: dict | None = None, payload_log_percent: float = 0
    ) -> AliasState:
        """From stored columns; NULL targets (an alias from before splits) mean all traffic to `version`."""
        stored = tuple((int(v), int(w)) for v, w in targets) if targets else ((version, 100),)
        shadow_state = (int(shadow[0]), float(shadow[1])) if shadow else None
        return cls(stored, shadow_state, reason or "", rollout, float(payload_log_percent or 0))

    @classmethod
    def from_event(cls, version: int, stored: dict | None) -> AliasState:
        if stored is None:
            return cls(((version, 100),))
        return cls.from_row(
            version,
            stored.get("targets"),
            stored.get("shadow"),
            stored.get("reason", ""),
            stored.get("rollout"),
            stored.get("payload_log_percent", 0),
        )

    def columns(self) -> dict:
        return {
            "version": self.primary,
            "targets": [list(t) for t in self.targets],
            "shadow": list(self.shadow) if self.shadow else None,
            "reason": self.reason,
            "rollout": self.rollout,
            "payload_log_percent": self.payload_log_percent,
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
        if self.rollout is not None:
            json_format.ParseDict(self.rollout, message.rollout)
        else:
            message.ClearField("rollout")
        message.payload_log_percent = self.payload_log_percent
