"""Validation of resource ids and names shared by the services."""

from __future__ import annotations

import base64
import json
import re

from services.common.errors import InvalidArgument

# AIP-122 style ids: lowercase letters, digits and hyphens, starting with a letter.
ID_PATTERN = r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$"
_ID = re.compile(ID_PATTERN)


def is_number(text: str) -> bool:
    """ASCII digits only: `str.isdigit` also takes '³' and other digits `int()` refuses (a 500)."""
    return text.isascii() and text.isdigit()


def check_id(value: str, field: str) -> str:
    """Validate a resource id; the message names the field and the rule."""
    if not _ID.fullmatch(value or ""):
        shown = repr(value)[:80]
        raise InvalidArgument(
            f"{field}: {shown} is not a valid id (1-63 lowercase letters, digits or '-', "
            "starting with a letter and not ending with '-')"
        )
    return value


def parse_name(name: str, pattern: tuple[str | None, ...], field: str = "name") -> list[str]:
    """Split `models/x/versions/3` along `("models", None, "versions", None)`; returns the ids."""
    parts = (name or "").split("/")
    if len(parts) != len(pattern) or any(p is not None and p != part for p, part in zip(pattern, parts)):
        expected = "/".join(p if p is not None else "{id}" for p in pattern)
        raise InvalidArgument(f"{field}: {name!r} does not match {expected}")
    return [part for p, part in zip(pattern, parts) if p is None]


def parse_dataset_name(name: str, field: str = "name") -> tuple[str, int | None]:
    """`datasets/{dataset}` (latest version: None) or `datasets/{dataset}/versions/{version}`."""
    if (name or "").count("/") == 1:
        (dataset_id,) = parse_name(name, ("datasets", None), field)
        version = None
    else:
        dataset_id, ref = parse_name(name, ("datasets", None, "versions", None), field)
        if not is_number(ref) or int(ref) <= 0:
            raise InvalidArgument(f"{field}: version {ref!r} must be a positive number")
        version = int(ref)
    return check_id(dataset_id, field), version


def page_size(value: int, default: int = 50, maximum: int = 1000) -> int:
    if value < 0:
        raise InvalidArgument("page_size: must not be negative")
    return min(value or default, maximum)


def encode_page_token(cursor: list) -> str:
    """An opaque token for keyset pagination: the sort key of the last item returned."""
    return base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode()


def decode_page_token(token: str) -> list | None:
    if not token:
        return None
    try:
        cursor = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("page_token: not a token this service returned") from None
    if not isinstance(cursor, list):
        raise InvalidArgument("page_token: not a token this service returned")
    return cursor


def parse_filter(text: str, allowed: tuple[str, ...]) -> list[tuple[str, str]]:
    """Parse `key=value AND key2=value2`; keys must be in `allowed` (a trailing `.` allows a prefix)."""
    terms: list[tuple[str, str]] = []
    for term in filter(None, (t.strip() for t in (text or "").split(" AND "))):
        key, sep, value = term.partition("=")
        key, value = key.strip(), value.strip().strip('"')
        if not sep or not key:
            raise InvalidArgument(f"filter: {term!r} is not of the form key=value")
        if not any(key == a or (a.endswith(".") and key.startswith(a) and len(key) > len(a)) for a in allowed):
            raise InvalidArgument(f"filter: unknown key {key!r}; supported: {', '.join(allowed)}")
        terms.append((key, value))
    return terms


def parse_order(order_by: str, field: str) -> bool:
    """Parse `field` or `field desc` (AIP-132); returns whether the order is descending."""
    words = (order_by or field).split()
    if not words or words[0] != field or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
        raise InvalidArgument(f"order_by: {order_by!r} is not supported; use '{field}' or '{field} desc'")
    return len(words) == 2 and words[1] == "desc"
