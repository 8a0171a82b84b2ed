"""Secrets in clear where they must not be: in a database (every column of every table it holds) or
in a stack's log files. Tests that handle passwords, session tokens and keys look here after the
journey; each finding names what leaked and where."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa


def _text(value: object) -> str:
    if isinstance(value, memoryview):  # PostgreSQL's bytea
        value = bytes(value)
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def database_values(engine: sa.Engine) -> list[str]:
    """Every value in every column of every table the database holds, as text. The tables are read
    from the database itself, not from a service's metadata, so a table no code names is read too."""
    tables = sa.MetaData()
    tables.reflect(engine)
    with engine.connect() as conn:
        return [
            _text(value) for table in tables.sorted_tables for row in conn.execute(sa.select(table)) for value in row
        ]


def in_database(engine: sa.Engine, secrets: Iterable[str]) -> list[str]:
    """The secrets found in clear in the database."""
    values = database_values(engine)
    return [secret for secret in secrets if any(secret in value for value in values)]


def in_logs(log_dir: Path, secrets: Iterable[str]) -> dict[str, list[str]]:
    """Each secret found in clear in a file under `log_dir` -> the files it is in."""
    files = [path for path in sorted(log_dir.rglob("*")) if path.is_file()]
    assert files, f"no log file under {log_dir}"
    texts = {path.relative_to(log_dir).as_posix(): path.read_bytes().decode(errors="replace") for path in files}
    found = {secret: [name for name, text in texts.items() if secret in text] for secret in secrets}
    return {secret: names for secret, names in found.items() if names}
