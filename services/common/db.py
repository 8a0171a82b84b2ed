"""Database plumbing shared by the services that own tables: engines and Alembic migrations."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

from services.common.errors import Unavailable, unavailable

_ALEMBIC_ENV = Path(__file__).parent / "alembic"


def create_engine(url: str) -> Engine:
    """An engine with the settings the platform relies on for SQLite and PostgreSQL."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            # WAL lets readers run beside the one writer; busy_timeout waits instead of failing.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


# How long a caller is told to wait before retrying while the database is unreachable.
STORE_RETRY_SECONDS = 1


def store_outage(error: BaseException) -> Unavailable | None:
    """UNAVAILABLE with a retry hint when `error` means the database could not be reached (down,
    restarting, connection lost); None for any other error. Connections come back by themselves
    (the pool pings each before use), so the caller's retry is all recovery needs."""
    if isinstance(error, exc.DBAPIError) and (
        error.connection_invalidated or isinstance(error, (exc.OperationalError, exc.InterfaceError))
    ):
        return unavailable("the metadata database is unreachable; retry shortly", STORE_RETRY_SECONDS)
    if isinstance(error, exc.TimeoutError):  # every pooled connection busy or hung
        return unavailable("the metadata database is not answering; retry shortly", STORE_RETRY_SECONDS)
    return None


def migrate(engine: Engine, service: str, versions_dir: Path) -> None:
    """Upgrade the service's schema to the newest Alembic revision.

    Each service keeps its revisions in its own folder and its own version table, so
    services can share one database server without touching each other's tables.
    """
    # Imported here: every server loads this module (the error interceptor maps database outages),
    # but only the services that own tables migrate, and inference should not pay for Alembic.
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_ALEMBIC_ENV))
    config.set_main_option("version_locations", str(versions_dir))
    config.set_main_option("path_separator", "os")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["version_table"] = f"alembic_version_{service}"
        command.upgrade(config, "head")
