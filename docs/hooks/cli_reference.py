"""mkdocs hook: replaces `<!-- cli-reference -->` with the `--help` of `maas` and of every subcommand,
taken from the CLI's own parser, so the reference cannot drift from the code."""

from __future__ import annotations

import argparse

from maas.cli import build_parser

MARKER = "<!-- cli-reference -->"


def _commands(parser: argparse.ArgumentParser, prefix: str):
    yield prefix, parser
    for action in parser._actions:  # argparse keeps subcommands only here
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _commands(child, f"{prefix} {name}")


def on_page_markdown(markdown: str, **_) -> str:
    if MARKER not in markdown:
        return markdown
    sections = []
    for name, parser in _commands(build_parser(), "maas"):
        level = "#" * min(2 + name.count(" "), 4)
        sections.append(f"{level} `{name}`\n\n```text\n{parser.format_help().rstrip()}\n```\n")
    return markdown.replace(MARKER, "\n".join(sections))
