"""Reading and checking the dataset formats (CSV with a header row, NPZ), shared by the
registry (schema on upload) and the trainer (loading for training)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from services.common.errors import InvalidArgument

INT64, FP64, BYTES = "INT64", "FP64", "BYTES"


@dataclass
class ColumnInfo:
    name: str
    datatype: str
    shape: list[int] = field(default_factory=list)


@dataclass
class TableInfo:
    columns: list[ColumnInfo]
    row_count: int


def _decoded_lines(raw: io.BufferedReader) -> Iterator[str]:
    for number, line in enumerate(raw, start=1):
        try:
            yield line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            raise InvalidArgument(f"CSV line {number}: not valid UTF-8 ({error.reason})") from None


def _classify(value: str, current: str) -> str:
    if current == BYTES or value == "":
        return current
    if current == INT64:
        try:
            int(value)
            return INT64
        except ValueError:
            pass
    try:
        float(value)
        return FP64
    except ValueError:
        return BYTES


def csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Yields (line number, fields) for each data row; checks field counts and quoting."""
    with path.open("rb") as raw:
        reader = csv.reader(_decoded_lines(raw), strict=True)
        try:
            header = next(reader, None)
            if not header or all(not name.strip() for name in header):
                raise InvalidArgument("CSV line 1: expected a header row naming the columns")
            names = [name.strip() for name in header]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise InvalidArgument(f"CSV line 1: duplicate column names {duplicates}")
            if any(not n for n in names):
                raise InvalidArgument("CSV line 1: every column needs a name")
            yield 1, names
            for fields in reader:
                if not fields:
                    continue
                if len(fields) != len(names):
                    raise InvalidArgument(
                        f"CSV line {reader.line_num}: expected {len(names)} fields, found {len(fields)}"
                    )
                yield reader.line_num, fields
        except csv.Error as error:
            raise InvalidArgument(f"CSV line {reader.line_num}: {error}") from None


def inspect_csv(path: Path) -> TableInfo:
    """Check a CSV file and infer its schema: INT64, FP64 or BYTES per column."""
    rows = csv_rows(path)
    _, names = next(rows)
    types = [INT64] * len(names)
    seen = [False] * len(names)
    count = 0
    for _, fields in rows:
        count += 1
        for i, value in enumerate(fields):
            value = value.strip()
            if value:
                seen[i] = True
            types[i] = _classify(value, types[i])
    if count == 0:
        raise InvalidArgument("CSV has a header but no data rows")
    columns = [ColumnInfo(n, t if s else FP64) for n, t, s in zip(names, types, seen)]
    return TableInfo(columns=columns, row_count=count)


def load_csv_numeric(path: Path, columns: list[str]) -> dict[str, np.ndarray]:
    """Load the named columns of a CSV file as float64 arrays (empty cells become NaN)."""
    rows = csv_rows(path)
    _, names = next(rows)
    index = {name: i for i, name in enumerate(names)}
    missing = [c for c in columns if c not in index]
    if missing:
        raise InvalidArgument(f"column {missing[0]!r} not found; the dataset has columns {names}")
    values: dict[str, list[float]] = {c: [] for c in columns}
    for line, fields in rows:
        for c in columns:
            cell = fields[index[c]].strip()
            try:
                values[c].append(float(cell) if cell else float("nan"))
            except ValueError:
                raise InvalidArgument(f"CSV line {line}: column {c!r} holds {cell[:40]!r}, not a number") from None
    return {c: np.asarray(v, dtype=np.float64) for c, v in values.items()}


def csv_header(path: Path) -> list[str]:
    return next(csv_rows(path))[1]


_NP_TO_DATATYPE = {"b": "BOOL", "i": "INT", "u": "UINT", "f": "FP", "U": "BYTES", "S": "BYTES"}


def inspect_npz(path: Path) -> TableInfo:
    """Check an NPZ file (no pickled objects) and describe its arrays."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise InvalidArgument(f"NPZ: not a readable .npz archive ({error})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise InvalidArgument("NPZ: the file holds a single array, not an .npz archive")
    columns = []
    rows = None
    with archive:
        for name in archive.files:
            try:
                array = archive[name]
            except (ValueError, OSError, zipfile.BadZipFile) as error:
                raise InvalidArgument(f"NPZ array {name!r}: cannot be read ({error})") from None
            kind = _NP_TO_DATATYPE.get(array.dtype.kind)
            if kind is None:
                raise InvalidArgument(f"NPZ array {name!r}: dtype {array.dtype} is not supported")
            datatype = kind if kind in ("BOOL", "BYTES") else f"{kind}{array.dtype.itemsize * 8}"
            columns.append(ColumnInfo(name, datatype, list(array.shape)))
            if array.ndim > 0:
                rows = array.shape[0] if rows is None else rows
    if not columns:
        raise InvalidArgument("NPZ: the archive holds no arrays")
    return TableInfo(columns=columns, row_count=rows or 0)
