"""`maas predict`: rows from a CSV, JSON or NPZ file through a model, as a table or JSON."""

from __future__ import annotations

import csv
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

from maas.cli.base import add_command
from maas.cli.errors import CliError
from maas.cli.output import is_number, print_json, table
from maas.client import MaasClient

FORMATS = ("csv", "json", "npz")


def _number_row(cells: list, where: str) -> list[float]:
    try:
        return [float(c) for c in cells]
    except (TypeError, ValueError):
        raise CliError(f"{where}: every feature must be a number") from None


def _split_label(names: list[str], rows: list[list], label: str | None, source: str):
    """Feature rows without the label column, and the labels (None without a label column)."""
    if not label:
        return rows, None
    if label not in names:
        raise CliError(f"{source}: no column {label!r} (columns: {', '.join(names[:8])}{' ...' * (len(names) > 8)})")
    index = names.index(label)
    return [r[:index] + r[index + 1 :] for r in rows], [r[index] for r in rows]


def read_csv(text: str, label: str | None, source: str):
    rows = [row for row in csv.reader(io.StringIO(text)) if row]
    if not rows:
        raise CliError(f"{source}: no rows")
    # A first row that is not all numbers is the header.
    names: list[str] = []
    if not all(is_number(c) for c in rows[0]):
        names, rows = rows[0], rows[1:]
    if label and not names:
        raise CliError(f"{source}: --label-column needs a header row")
    features, labels = _split_label(names, rows, label, source)
    return [_number_row(r, f"{source} line {i + 1 + bool(names)}") for i, r in enumerate(features)], labels


def read_json(text: str, label: str | None, source: str):
    """A list of rows (lists of numbers, or objects of column: value), or `{"instances": [...]}`."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise CliError(f"{source}: not valid JSON ({error})") from None
    if isinstance(data, dict):
        data = data.get("instances", data.get("inputs"))
    if not isinstance(data, list) or not data:
        raise CliError(f'{source}: expected a non-empty list of rows, or {{"instances": [...]}}')
    if isinstance(data[0], dict):
        names = list(data[0])
        rows = [[row.get(n) for n in names] for row in data]
    else:
        if label:
            raise CliError(f"{source}: --label-column needs rows that are objects of column: value")
        names, rows = [], data
    features, labels = _split_label(names, rows, label, source)
    return [_number_row(r if isinstance(r, list) else [r], f"{source} row {i}") for i, r in enumerate(features)], labels


def read_npz(data: bytes, label: str | None, array: str | None, source: str):
    try:
        arrays = dict(np.load(io.BytesIO(data), allow_pickle=False))
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise CliError(f"{source}: not an NPZ file ({error})") from None
    labels = arrays.pop(label) if label and label in arrays else None
    if label and labels is None:
        raise CliError(f"{source}: no array {label!r} (arrays: {', '.join(arrays)})")
    name = array or ("features" if "features" in arrays or len(arrays) != 1 else next(iter(arrays)))
    if name not in arrays:
        raise CliError(f"{source}: no array {name!r}; pick one with --array (arrays: {', '.join(arrays)})")
    return arrays[name], None if labels is None else labels.tolist()


def read_features(path: str, fmt: str | None, label: str | None, array: str | None):
    """The feature matrix (float32) and the labels, if a label column was named."""
    source = "stdin" if path == "-" else path
    fmt = fmt or (Path(path).suffix.lower().lstrip(".") if path != "-" else "json")
    if fmt not in FORMATS:
        raise CliError(f"{source}: cannot tell the format; pass --format ({', '.join(FORMATS)})")
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as error:
        raise CliError(f"{source}: {error.strerror}") from None
    if fmt == "npz":
        features, labels = read_npz(data, label, array, source)
    else:
        reader = read_csv if fmt == "csv" else read_json
        features, labels = reader(data.decode("utf-8-sig"), label, source)
    try:
        matrix = np.asarray(features, dtype=np.float32)
    except ValueError:
        raise CliError(f"{source}: rows have different numbers of features") from None
    return matrix.reshape(len(matrix), -1) if matrix.ndim == 1 else matrix, labels


def _same(label, predicted: int) -> bool:
    try:
        return int(float(label)) == predicted
    except (TypeError, ValueError):
        return str(label) == str(predicted)


def render(outputs: dict[str, np.ndarray], labels: list | None) -> tuple[dict, str]:
    """The outputs as JSON data and as a table; class probabilities get their argmax and accuracy."""
    data: dict = {"outputs": {name: value.tolist() for name, value in outputs.items()}}
    headers: list[str] = ["row"]
    columns: list[list] = []
    footer = ""
    for name, value in outputs.items():
        value = value.reshape(len(value), -1)
        if name == "probabilities":
            classes = value.argmax(axis=1)
            data["classes"] = classes.tolist()
            headers += ["class", "probability"]
            columns += [classes.tolist(), [f"{p:.4f}" for p in value.max(axis=1)]]
            if labels is not None:
                hits = sum(_same(t, int(c)) for t, c in zip(labels, classes))
                data["accuracy"] = hits / len(labels)
                footer = f"\naccuracy {data['accuracy']:.4f} ({hits} of {len(labels)} rows)"
        else:
            headers.append(name)
            columns.append([" ".join(f"{v:.6g}" for v in row) for row in value])
    if labels is not None:
        data["labels"] = labels
        headers.append("label")
        columns.append(labels)
    rows = [[i, *(column[i] for column in columns)] for i in range(len(columns[0]) if columns else 0)]
    return data, table(headers, rows) + footer


def cmd_predict(args, client: MaasClient) -> int:
    features, labels = read_features(args.input, args.format, args.label_column, args.array)
    prediction = client.infer(
        args.model, features, version=args.version or "", input_name=args.input_name, routing_key=args.routing_key
    )
    data, human = render(prediction.outputs, labels)
    data["version"] = prediction.version
    human = f"version {prediction.version}\n{human}"
    if args.output == "json":
        print_json(data)
    else:
        print(human)
    return 0


def register(commands) -> None:
    predict = add_command(
        commands,
        "predict",
        cmd_predict,
        help="send rows to a model and print its predictions",
        description="Read feature rows from a CSV (header row optional), JSON (a list of rows or of objects, "
        'or {"instances": [...]}) or NPZ file, or JSON on stdin (-), run them through a model (its '
        "`production` alias unless --version says otherwise) and print the outputs. With --label-column "
        "the named column is left out of the features and compared with the predicted class. The version "
        "that answered is printed; with --routing-key an alias that splits its traffic sends the same key to "
        "the same version every time (random otherwise).",
        examples="  maas predict digits digits-test.csv --label-column label\n"
        "  maas predict digits rows.json --version 3 -o json\n"
        "  maas predict digits rows.json --routing-key user-42\n"
        "  echo '[[0, 1, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4, 12, 0, 0, 8, "
        "8, 0, 0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5, 10, 12, 0, 0, 0, 0, 6, 13, 10, 0, 0, "
        "0]]' | maas predict digits -\n",
    )
    predict.add_argument("model", help="model id")
    predict.add_argument("input", help="CSV, JSON or NPZ file, or - for JSON on stdin")
    predict.add_argument("--version", help="version number or alias (default: production)")
    predict.add_argument("--format", choices=FORMATS, help="input format (default: from the file name)")
    predict.add_argument("--label-column", help="a column (or NPZ array) of true labels to leave out and compare")
    predict.add_argument("--array", help="NPZ: the array of features (default: features, or the only one)")
    predict.add_argument("--input-name", default="features", help="the model's input tensor (default features)")
    predict.add_argument(
        "--routing-key",
        default="",
        help="a key (a user id, say) that always lands on the same version of an alias that splits traffic",
    )
