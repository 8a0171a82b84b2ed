"""The `maas` command line: the local stack, and the whole user journey against a gateway."""

from __future__ import annotations

import argparse
import sys

from maas.cli import account, admin, billing, config, datasets, jobs, local, members, models, predict
from maas.cli.errors import EXIT_INTERRUPTED, CliError, describe, status_exit_code
from maas.client import MaasError

EXAMPLES = """examples:
  maas up                          start the stack on the default ports (Ctrl-C stops it)
  maas demo                        walk the journey against a running stack
  maas demo --with-stack           start the stack, run the demo, stop the stack

  maas login --tenant acme --api-key maas_...      then, as in docs/cli.md:
  maas datasets upload digits.csv
  maas train --dataset digits --label-column label --model digits --epochs 10
  maas alias set digits production latest
  maas predict digits digits-test.csv --label-column label

Add -o json to any command for scripts. A failed call exits with 10 + its gRPC status code
(UNAUTHENTICATED 26, PERMISSION_DENIED 17, NOT_FOUND 15, INVALID_ARGUMENT 13, RESOURCE_EXHAUSTED 18,
UNAVAILABLE 24); 1 means a training job failed, 2 bad arguments, 3 a local file or setting problem.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maas",
        description="MaaS: train, version and serve Keras models behind one gateway.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data-dir", help="local state directory (default: $MAAS_DATA_DIR or ./.maas)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    for module in (local, account, billing, datasets, jobs, models, predict, members, admin):
        module.register(commands)
    return parser


def _endpoint(args) -> str:
    connection = getattr(args, "connection", None)
    return connection.endpoint if connection else config.DEFAULT_ENDPOINT


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not args.connects:
            return args.func(args)
        args.connection = config.resolve(args.endpoint, args.api_key, getattr(args, "tenant", None), args.ca_cert)
        with args.connection.client(args.timeout) as client:
            return args.func(args, client)
    except MaasError as error:
        print(f"maas: {describe(error, _endpoint(args))}", file=sys.stderr)
        return status_exit_code(error.code)
    except CliError as error:
        print(f"maas: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("maas: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
