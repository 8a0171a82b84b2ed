"""What every command shares: the connection and output options, and `--help` with examples.

Help texts keep their line breaks (the examples are laid out by hand), so descriptions are
wrapped here.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable

CONNECTION = argparse.ArgumentParser(add_help=False)
_options = CONNECTION.add_argument_group("connection and output")
_options.add_argument(
    "--endpoint",
    help="gateway host:port, https://host:port for TLS (default: $MAAS_ENDPOINT, the saved login, or 127.0.0.1:50051)",
)
_options.add_argument("--api-key", help="API key (default: $MAAS_API_KEY or the saved login)")
_options.add_argument(
    "--ca-cert", help="PEM file of the CA of a TLS gateway (default: $MAAS_CA_CERT or the saved login)"
)
_options.add_argument(
    "-o", "--output", choices=("table", "json"), default="table", help="table for people (default), json for scripts"
)
_options.add_argument("--timeout", type=float, default=60, help="seconds to wait for each call (default 60)")


def group(commands, name: str, help: str, examples: str) -> argparse._SubParsersAction:
    """A command with subcommands (`maas jobs list`)."""
    parser = commands.add_parser(
        name,
        help=help,
        description=textwrap.fill(help, 100),
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="command")


def add_command(
    commands,
    name: str,
    func: Callable,
    help: str,
    examples: str,
    description: str = "",
    connects: bool = True,
) -> argparse.ArgumentParser:
    """A leaf command; `func(args, client)` runs it, or `func(args)` when it does not `connect`."""
    parser = commands.add_parser(
        name,
        help=help,
        description=textwrap.fill(description or help, 100),
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[CONNECTION] if connects else [],
    )
    parser.set_defaults(func=func, connects=connects)
    return parser
