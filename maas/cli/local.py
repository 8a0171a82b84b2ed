"""`maas up` and `maas demo`: the local stack and the scripted journey."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import threading
from pathlib import Path

from maas.cli.base import add_command
from maas.cli.errors import CliError


def _data_dir(args) -> Path:
    return Path(args.data_dir or os.environ.get("MAAS_DATA_DIR", ".maas"))


def _print_endpoints(stack) -> None:
    print("MaaS is up:")
    door = "Envoy" if stack.door == "envoy" else "the gateway's Python proxy (Envoy not installed)"
    print(f"  public     grpc {stack.address('gateway'):<17} the door: {door}")
    for service in ("gateway", "registry", "trainer", "inference"):
        address = stack.service_address(service)
        print(f"  {service:<10} grpc {address:<17} metrics {stack.metrics_url(service)}  (reach it through the door)")
    print(f"  console    {stack.http_url}/   REST twin {stack.http_url}/v1/..., OpenAPI {stack.http_url}/openapi.json")
    print(f"  admin key  {stack.admin_key}   (also in {stack.data_dir / 'admin-key'})")
    print(f"  logs       {stack.log_dir}/")


# What the services import beyond the SDK: the `server` and `ml` extras (`maas[all]` has both).
_SERVER_MODULES = {"grpc_health": "server", "sqlalchemy": "server", "aiohttp": "server", "tensorflow": "ml"}


def _require_server_parts() -> None:
    missing = sorted({extra for module, extra in _SERVER_MODULES.items() if importlib.util.find_spec(module) is None})
    if missing:
        raise CliError(
            "this command runs the services on this machine, and this install has the SDK and CLI only "
            f"(missing the {' and '.join(missing)} extras): pip install 'maas[all]'"
        )


def _start_stack(args):
    """Start the four services and print where they are; None (and the reason) if they do not start."""
    _require_server_parts()
    from maas.stack import LocalStack

    stack = LocalStack(_data_dir(args))
    print("starting registry, trainer, inference and gateway ...", flush=True)
    try:
        stack.start(timeout=args.timeout)
    except RuntimeError as error:
        print(f"maas up failed: {error}", file=sys.stderr)
        return None
    _print_endpoints(stack)
    return stack


def cmd_up(args) -> int:
    stack = _start_stack(args)
    if stack is None:
        return 1
    print("press Ctrl-C to stop", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        for name, process in stack.processes.items():
            if process.poll() is not None:
                print(f"{name} exited with code {process.returncode}; stopping the stack", file=sys.stderr)
                stop.set()
        stop.wait(1)
    print("stopping ...", flush=True)
    codes = stack.stop()
    print("stopped: " + ", ".join(f"{name} exit {code}" for name, code in codes.items()))
    return 0


def cmd_demo(args) -> int:
    from maas import demo
    from maas.stack import admin_key_for

    if args.write_data:
        for path in demo.write_digits(Path(args.write_data)):
            print(path)
        return 0
    if not args.with_stack:
        return demo.main(args.endpoint, args.admin_key or admin_key_for(_data_dir(args)), args.epochs)
    stack = _start_stack(args)
    if stack is None:
        return 1
    try:
        return demo.main(stack.address("gateway"), stack.admin_key, args.epochs)
    finally:
        print("stopping the stack ...", flush=True)
        stack.stop()


def register(commands) -> None:
    up = add_command(
        commands,
        "up",
        cmd_up,
        help="start the four services locally and wait for Ctrl-C",
        description="Start registry, trainer, inference and gateway as separate processes "
        "on the default ports, wait until all report SERVING, print the "
        "endpoints and the admin key, and stop them all on Ctrl-C/SIGTERM.",
        examples="  maas up\n  maas --data-dir /tmp/maas up --timeout 300\n",
        connects=False,
    )
    up.add_argument("--timeout", type=float, default=120, help="seconds to wait for SERVING (default 120)")

    demo = add_command(
        commands,
        "demo",
        cmd_demo,
        help="walk the journey on the digits data set",
        description="Create a tenant and key, upload digits, train an MLP, promote it "
        "to production and score held-out digits through inference.",
        examples="  maas demo\n  maas demo --with-stack --epochs 10\n"
        "  maas demo --write-data .          # digits.csv and digits-test.csv for the CLI journey\n",
        connects=False,
    )
    demo.add_argument("--endpoint", default="127.0.0.1:50051", help="gateway address (default 127.0.0.1:50051)")
    demo.add_argument("--admin-key", default="", help="admin key (default: $MAAS_ADMIN_KEY or the data dir's)")
    demo.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    demo.add_argument("--with-stack", action="store_true", help="start the stack first and stop it after")
    demo.add_argument("--timeout", type=float, default=120, help="seconds to wait for the stack to start")
    demo.add_argument(
        "--write-data",
        metavar="DIR",
        help="only write the demo's data into DIR: digits.csv (training) and digits-test.csv (held out)",
    )
