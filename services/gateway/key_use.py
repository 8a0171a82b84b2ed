"""When each API key was last used: noted in memory on every call the gateway authenticates and
from the services' usage reports (the calls they admitted), with no database write per call;
written every `period` seconds with one UPDATE per key used since the last write, and once more
when the gateway stops. A key's time only moves forward, so replicas flushing in any order never
move it back."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping

import structlog
from google.protobuf import timestamp_pb2

from services.common.periodic import Periodic
from services.common.timeutil import now
from services.gateway.store import GatewayStore

log = structlog.get_logger(__name__)


class KeyUseRecorder:
    """A companion of the gateway's gRPC server: started with it; `stop()` writes what is left."""

    needs_loopback = False

    def __init__(self, store: GatewayStore, period: float, clock: Callable[[], dt.datetime] = now) -> None:
        self.store = store
        self.clock = clock
        self._pending: dict[str, dt.datetime] = {}
        self._rounds = Periodic(period, self.flush, log, "key use flush failed")

    def note(self, key_id: str, at: dt.datetime | None = None) -> None:
        """The key was used now, or `at` (a service's report; never later than now, so a replica
        whose clock runs ahead cannot move the time past everyone's). Cheap: a dict write, the
        latest time per key kept."""
        moment = self.clock() if at is None else min(at, self.clock())
        earlier = self._pending.get(key_id)
        if earlier is None or earlier < moment:
            self._pending[key_id] = moment

    def note_reported(self, uses: Mapping[str, timestamp_pb2.Timestamp]) -> None:
        """A service's report (`LeaseUsageRequest.key_use`); a time no datetime holds is ignored."""
        for key_id, at in uses.items():
            try:
                moment = at.ToDatetime(tzinfo=dt.UTC)
            except (ValueError, OverflowError):
                continue
            self.note(key_id, moment)

    async def flush(self) -> int:
        """Write the uses noted since the last flush; returns how many keys' times moved. Uses a
        failed write had taken are put back (unless newer ones came meanwhile) for the next round."""
        if not self._pending:
            return 0
        uses, self._pending = self._pending, {}
        try:
            return await asyncio.to_thread(self.store.record_key_use, uses)
        except BaseException:
            for key_id, moment in uses.items():
                self._pending.setdefault(key_id, moment)
            raise

    async def start(self) -> None:
        await self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()
        await self.flush()
