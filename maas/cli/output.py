"""Rendering for people (aligned tables, `key: value` blocks) and for scripts (`--output json`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message


def to_dict(message: Message) -> dict[str, Any]:
    """A message as JSON-ready data, with the .proto field names and zero values left out."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def print_json(data: Any) -> None:
    if isinstance(data, Message):
        data = to_dict(data)
    elif isinstance(data, list):
        data = [to_dict(d) if isinstance(d, Message) else d for d in data]
    print(json.dumps(data, indent=2))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned."""
    cells = [[str(h).upper() for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    numeric = [all(is_number(row[i]) for row in cells[1:] if row[i]) and len(cells) > 1 for i in range(len(headers))]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [
            cell.rjust(width) if is_num and row is not cells[0] else cell.ljust(width)
            for cell, width, is_num in zip(row, widths, numeric)
        ]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def fields(pairs: Iterable[tuple[str, Any]]) -> str:
    """A `key: value` block; empty values are left out."""
    pairs = [(k, v) for k, v in pairs if v not in (None, "", [], {})]
    width = max((len(k) for k, _ in pairs), default=0)
    return "\n".join(f"{k + ':':<{width + 1}} {v}" for k, v in pairs)


def timestamp(value: timestamp_pb2.Timestamp) -> str:
    """Local time to the second, '' when unset."""
    if not value.seconds and not value.nanos:
        return ""
    return value.ToDatetime().astimezone().strftime("%Y-%m-%d %H:%M:%S")


def metrics(values: Mapping[str, float]) -> str:
    """`loss 0.1234  accuracy 0.9500`: loss first, then the rest by name."""
    names = sorted(values, key=lambda n: (n != "loss", n))
    return "  ".join(f"{n} {values[n]:.4f}" for n in names)


def size(num_bytes: int) -> str:
    units = ("B", "KiB", "MiB", "GiB")
    value, index = float(num_bytes), 0
    while value >= 1024 and index < len(units) - 1:
        value, index = value / 1024, index + 1
    return f"{num_bytes} B" if index == 0 else f"{value:.1f} {units[index]}"


def emit(args, data: Message | list | dict, human: str) -> None:
    """Print `data` as JSON under `--output json`, else the human rendering."""
    if args.output == "json":
        print_json(data)
    else:
        print(human)


def note(message: str) -> None:
    """A side remark for people, on stderr so that stdout stays parseable."""
    print(message, file=sys.stderr, flush=True)
