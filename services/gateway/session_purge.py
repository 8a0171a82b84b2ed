"""Deletes ended sessions (signed out, expired, idle) every `period` seconds, so the sessions table
holds live sessions and recent ones only. Their tokens are refused either way; this keeps the
table, and the snapshot query over it, small."""

from __future__ import annotations

import asyncio

import structlog

from services.common.periodic import Periodic
from services.gateway.account_store import AccountStore

log = structlog.get_logger(__name__)


class SessionPurger(Periodic):
    """A companion of the gateway's gRPC server: started with it, stopped when it drains."""

    def __init__(self, store: AccountStore, period: float) -> None:
        self.store = store
        super().__init__(period, self.purge_once, log, "session purge failed")

    async def purge_once(self) -> int:
        purged = await asyncio.to_thread(self.store.purge_sessions)
        if purged:
            log.info("sessions purged", count=purged)
        return purged
