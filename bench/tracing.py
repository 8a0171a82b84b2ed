"""What tracing costs per call in the shared interceptor, and what it costs while off.

Runs the interceptor's wrapper of a trivial unary handler in a loop (no network: the figure is
the interceptor's own CPU per call) in three ways: (a) tracing off, the default; (b) tracing on,
spans going to an exporter that drops them (the SDK's span, context and processor work, not the
export); and (c) the bare handler without the interceptor, the floor. Then the cost of an inner
span helper (`tracing.span`) off and on. CPU time of this process (`time.process_time`), the
median of rounds: steadier than wall time on a shared machine.

`--baseline FILE` also measures another revision's `interceptors.py` (before tracing:
`git show f7483b5:services/common/interceptors.py > /tmp/interceptors_before.py`) in the same
rounds, which is what tracing costs while off.

    .venv/bin/python -m bench.tracing [--calls 200000] [--rounds 5] [--baseline FILE] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import time

import grpc
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from prometheus_client import CollectorRegistry

from services.common import tracing
from services.common.interceptors import ObservabilityInterceptor
from services.common.logging import configure_logging
from services.common.metrics import GrpcServerMetrics

METHOD = "/maas.bench.v1.Bench/Echo"


class _Dropping(SpanExporter):
    def export(self, spans):
        return SpanExportResult.SUCCESS


class _Context:
    """The little of a ServicerContext the interceptor reads on a successful call."""

    def invocation_metadata(self):
        return (("x-request-id", "bench"), ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))


async def _echo(request, context):
    return request


def _wrapped(interceptor_class=ObservabilityInterceptor):
    interceptor = interceptor_class(GrpcServerMetrics(CollectorRegistry()), log_successful_calls=False)
    handler = grpc.unary_unary_rpc_method_handler(_echo)
    return interceptor._wrap(handler, METHOD).unary_unary


async def _per_call_us(behavior, calls: int) -> float:
    context = _Context()
    started = time.process_time()
    for _ in range(calls):
        await behavior(b"x", context)
    return (time.process_time() - started) / calls * 1e6


def _span_us(calls: int) -> float:
    started = time.process_time()
    for _ in range(calls):
        with tracing.span("model call", model="m", version=1):
            pass
    return (time.process_time() - started) / calls * 1e6


def _baseline_class(path: str):
    spec = importlib.util.spec_from_file_location("baseline_interceptors", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ObservabilityInterceptor


async def _round(calls: int, baseline) -> dict[str, float]:
    figures = {}
    tracing.uninstall()
    figures["bare"] = await _per_call_us(_echo, calls)
    if baseline is not None:
        figures["baseline"] = await _per_call_us(_wrapped(baseline), calls)
    figures["off"] = await _per_call_us(_wrapped(), calls)
    figures["span off"] = _span_us(calls)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_Dropping()))
    tracing.install(provider)
    figures["on"] = await _per_call_us(_wrapped(), calls)
    figures["span on"] = _span_us(calls)
    tracing.uninstall()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", help="another revision's services/common/interceptors.py to compare with")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks it runs, figures meaningless")
    args = parser.parse_args()
    calls, rounds = (2_000, 1) if args.smoke else (args.calls, args.rounds)
    configure_logging("bench", level="warning")
    baseline = _baseline_class(args.baseline) if args.baseline else None
    rounds_figures = [asyncio.run(_round(calls, baseline)) for _ in range(rounds)]
    median = {key: statistics.median(r[key] for r in rounds_figures) for key in rounds_figures[0]}
    print(f"{calls} calls per way, median of {rounds} rounds, us of CPU per call:")
    bare, off, on = median["bare"], median["off"], median["on"]
    print(f"  (c) bare handler               {bare:6.2f}")
    print(f"  (a) interceptor, tracing off   {off:6.2f}  (+{off - bare:.2f} over the bare handler)")
    if baseline is not None:
        before = median["baseline"]
        print(f"  (d) baseline interceptor       {before:6.2f}  (a)-(d) = {off - before:+.2f} us: tracing while off")
    print(f"  (b) interceptor, tracing on    {on:6.2f}  (+{on - off:.2f} for the span)")
    print(f"  inner span helper: off {median['span off']:.3f}, on {median['span on']:.2f}")
    print(f"tracing on/off per call = {median['on'] / median['off']:.2f}")


if __name__ == "__main__":
    main()
