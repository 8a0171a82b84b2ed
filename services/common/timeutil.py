"""Time helpers for the stores: aware UTC datetimes in, protobuf timestamps out."""

from __future__ import annotations

import datetime as dt
from typing import overload

from google.protobuf import timestamp_pb2


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@overload
def utc(value: dt.datetime) -> dt.datetime: ...
@overload
def utc(value: None) -> None: ...
def utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; they were written as UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def set_timestamp(field: timestamp_pb2.Timestamp, value: dt.datetime | None) -> None:
    if value is not None:
        field.FromDatetime(utc(value))


def month_start(at: dt.datetime) -> dt.datetime:
    """00:00 UTC on the first day of `at`'s month: where monthly quotas begin."""
    return at.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(at: dt.datetime) -> dt.datetime:
    start = month_start(at)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
