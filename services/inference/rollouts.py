"""The rollout controller: judges each step of an alias's rollout on the candidate's requests
(those it answers and those mirrored to it) and moves the alias through the registry: to the
next step, to the candidate once the last step passes, or back to the primary, with the reason,
when a limit is breached. It runs in inference because that is where each request's outcome,
latency and the shadow's comparison are known as they happen; every replica judges the traffic
it served, and a change is written with the alias's revision as `expected_revision`, so when
replicas decide at once one change lands and the others see it on their watch (see
docs/architecture.md)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

import grpc
import numpy as np
import structlog

from maas.registry.v1 import registry_pb2 as rpb
from services.common.errors import UpstreamError
from services.inference.metrics import InferenceMetrics
from services.inference.registry_client import RegistryClient
from services.inference.routing import Route
from services.inference.shadow import Comparison

log = structlog.get_logger("maas.inference.rollouts")
State = rpb.Rollout.State
LATENCY_SAMPLES = 50_000


@dataclass
class StepWindow:
    """What the candidate did since its alias entered the current step (in this process)."""

    tenant: str
    model: str
    alias: str
    route: Route
    requests: int = 0
    errors: int = 0
    rows: int = 0
    disagreeing: int = 0
    latencies: deque = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))
    decided: bool = False

    @property
    def rollout(self) -> rpb.Rollout:
        # A window is opened only for a route in a rollout (RolloutController.observe).
        assert self.route.rollout is not None
        return self.route.rollout

    def add(self, code: str, seconds: float) -> None:
        self.requests += 1
        if code == "OK":
            self.latencies.append(seconds)
        else:
            self.errors += 1

    def compared(self, comparison: Comparison) -> None:
        self.rows += comparison.rows
        self.disagreeing += comparison.disagreeing


@dataclass(frozen=True)
class Decision:
    advance: bool  # False: roll back
    reason: str


def judge(window: StepWindow, now: float) -> Decision | None:
    """The step's outcome: errors and latency are judged once the candidate has served the
    step's minimum of requests, disagreement once as many rows were compared (while the primary
    still answers some requests to compare with); the step passes when all of that is within
    the limits and it has lasted its minimum time. None while undecided."""
    plan = window.rollout.plan
    step = plan.steps[window.rollout.step]
    needed = max(1, step.min_requests)
    if window.requests < needed:
        return None
    compared = bool(plan.max_disagreement) and step.percent < 100
    error_rate = window.errors / window.requests
    p99 = float(np.percentile(np.fromiter(window.latencies, float), 99)) if window.latencies else 0.0
    disagreement = window.disagreeing / window.rows if window.rows else 0.0
    where = f"step {window.rollout.step + 1} of {len(plan.steps)} ({step.percent}% to version {plan.candidate_version})"
    figures = (
        f"{window.requests} requests, error rate {error_rate:.3f}, p99 {p99 * 1000:.1f} ms, "
        f"disagreement {disagreement:.3f} over {window.rows} rows"
    )
    max_p99 = plan.max_p99_latency.ToMicroseconds() / 1e6
    for breached, limit in (
        (plan.max_error_rate and error_rate > plan.max_error_rate, f"error rate above {plan.max_error_rate:g}"),
        (max_p99 and p99 > max_p99, f"p99 latency above {max_p99 * 1000:g} ms"),
        (
            compared and window.rows >= needed and disagreement > plan.max_disagreement,
            f"disagreement with the primary above {plan.max_disagreement:g}",
        ),
    ):
        if breached:
            return Decision(False, f"rollout rolled back at {where}: {limit} ({figures})")
    if (compared and window.rows < needed) or now - window.route.changed_at < step.min_duration.ToMicroseconds() / 1e6:
        return None
    return Decision(True, f"rollout {where} passed ({figures})")


def next_alias(window: StepWindow, decision: Decision) -> rpb.Alias:
    """The alias the decision leads to: the next step, the promoted candidate, or the primary
    (the registry routes it as the rollout's new state says)."""
    rollout = rpb.Rollout()
    rollout.CopyFrom(window.rollout)
    alias = rpb.Alias(name=f"models/{window.model}/aliases/{window.alias}", reason=decision.reason)
    if not decision.advance:
        rollout.state = State.STATE_ROLLED_BACK
    elif rollout.step + 1 < len(rollout.plan.steps):
        rollout.step += 1
    else:
        rollout.state = State.STATE_PROMOTED
        alias.reason = f"{decision.reason}; version {rollout.plan.candidate_version} promoted"
    alias.rollout.CopyFrom(rollout)
    return alias


class RolloutController:
    def __init__(self, registry: RegistryClient, metrics: InferenceMetrics, check_seconds: float) -> None:
        self._registry = registry
        self._metrics = metrics
        self._check_seconds = check_seconds
        self._windows: dict[tuple[str, str, str], StepWindow] = {}
        # (tenant, model, candidate version) -> the windows judging it: the request path's lookup.
        self._by_candidate: dict[tuple[str, str, int], list[StepWindow]] = {}
        self._task: asyncio.Task | None = None

    def observe(self, tenant: str, model: str, alias: str, route: Route | None) -> None:
        """An alias's route was set: a rollout step starts a new window; anything else ends it."""
        old = self._windows.pop((tenant, model, alias), None)
        if old is not None:
            key = (tenant, model, old.rollout.plan.candidate_version)
            self._by_candidate[key].remove(old)
            if not self._by_candidate[key]:
                del self._by_candidate[key]
        step_gauge = self._metrics.rollout_step.labels(tenant, model, alias)
        if route is None or route.rollout is None:
            step_gauge.set(0)
            return
        window = StepWindow(tenant, model, alias, route)
        self._windows[(tenant, model, alias)] = window
        self._by_candidate.setdefault((tenant, model, route.rollout.plan.candidate_version), []).append(window)
        step_gauge.set(route.rollout.step + 1)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="rollout-controller")

    def request(self, tenant: str, model: str, version: int, code: str, seconds: float) -> None:
        """A request the version answered (called for every request: one dict lookup)."""
        if self._by_candidate:
            for window in self._by_candidate.get((tenant, model, version), ()):
                window.add(code, seconds)

    def mirrored(
        self, tenant: str, model: str, primary: int, shadow: int, code: str, seconds: float, comparison
    ) -> None:
        """A mirrored request the shadow version ran (a ShadowMirror listener)."""
        for window in self._by_candidate.get((tenant, model, shadow), ()):
            window.add(code, seconds)
            if comparison is not None:
                window.compared(comparison)

    async def _run(self) -> None:
        while self._windows:
            await asyncio.sleep(self._check_seconds)
            now = time.time()
            for window in list(self._windows.values()):
                if window.decided:
                    continue
                decision = judge(window, now)
                if decision is not None:
                    await self._apply(window, decision)

    async def _apply(self, window: StepWindow, decision: Decision) -> None:
        alias = next_alias(window, decision)
        try:
            await self._registry.set_alias(window.tenant, alias, expected_revision=window.route.revision)
        except UpstreamError as error:
            if error.code == grpc.StatusCode.ABORTED:  # another replica moved it first
                window.decided = True
            else:
                log.warning("rollout step could not be recorded; trying again", error=error.message)
            return
        window.decided = True
        outcome = {State.STATE_ROLLED_BACK: "rolled_back", State.STATE_PROMOTED: "promoted"}.get(
            alias.rollout.state, "advanced"
        )
        self._metrics.rollout_changes.labels(window.tenant, window.model, window.alias, outcome).inc()
        log.info("rollout " + outcome.replace("_", " "), model=window.model, alias=window.alias, reason=alias.reason)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
