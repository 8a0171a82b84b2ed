"""Time helpers for the stores: aware UTC datetimes in, protobuf timestamps out."""

from __future__ import annotations

import datetime as dt

from google.protobuf import timestamp_pb2


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; they were written as UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def set_timestamp(field: timestamp_pb2.Timestamp, value: dt.datetime | None) -> None:
    if value is not None:
        field.FromDatetime(utc(value))
