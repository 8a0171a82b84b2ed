"""Metered usage per tenant and UTC day (rows and calls, as the replicas report them, and samples of
training time and storage), and the prediction leases granted out of a tenant's daily quota."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import sqlalchemy as sa

from maas.gateway.v1 import admin_pb2 as pb
from services.common.timeutil import now, utc
from services.gateway import tables as t


class DayUsage(NamedTuple):
    predictions: int
    requests: int
    prediction_calls: int = 0
    training_seconds: int = 0
    stored_bytes: int = 0


class UsageStore:
    """Mixed into `GatewayStore` (which holds `engine`)."""

    engine: sa.engine.Engine

    def usage(self, tenant_id: str, day: str) -> DayUsage:
        """What was recorded for a tenant and day (prediction rows first)."""
        return self.usage_between(tenant_id, day, day).get(day, DayUsage(0, 0))

    def usage_between(self, tenant_id: str, first: str, last: str) -> dict[str, DayUsage]:
        """Each recorded day from `first` to `last` (YYYY-MM-DD, both included)."""
        u = t.usage.c
        query = sa.select(t.usage).where(u.tenant_id == tenant_id, u.day >= first, u.day <= last)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {
            row.day: DayUsage(
                row.predictions, row.requests, row.prediction_calls, row.training_seconds, row.stored_bytes
            )
            for row in rows
        }

    def add_usage(self, deltas: dict[tuple[str, str], tuple[int, int, int]]) -> None:
        """Add counted (rows, requests, prediction calls); replicas add, never overwrite, so their counts sum up."""
        with self.engine.begin() as conn:
            for (tenant_id, day), (predictions, requests, calls) in deltas.items():
                updated = conn.execute(
                    t.usage.update()
                    .where(t.usage.c.tenant_id == tenant_id, t.usage.c.day == day)
                    .values(
                        predictions=t.usage.c.predictions + predictions,
                        requests=t.usage.c.requests + requests,
                        prediction_calls=t.usage.c.prediction_calls + calls,
                    )
                ).rowcount
                if not updated:
                    conn.execute(
                        t.usage.insert().values(
                            tenant_id=tenant_id,
                            day=day,
                            predictions=predictions,
                            requests=requests,
                            prediction_calls=calls,
                            training_seconds=0,
                            stored_bytes=0,
                        )
                    )

    def sample_figures(self, tenant_id: str, day: str, training_seconds: int, stored_bytes: int) -> None:
        """Keep the trainer's month-to-date training seconds and the most bytes stored on `day`."""
        u = t.usage.c
        # SQLite's max() of two arguments is PostgreSQL's greatest().
        greatest = sa.func.max if self.engine.dialect.name == "sqlite" else sa.func.greatest
        with self.engine.begin() as conn:
            updated = conn.execute(
                t.usage.update()
                .where(u.tenant_id == tenant_id, u.day == day)
                .values(
                    training_seconds=greatest(u.training_seconds, training_seconds),
                    stored_bytes=greatest(u.stored_bytes, stored_bytes),
                )
            ).rowcount
            if not updated:
                conn.execute(
                    t.usage.insert().values(
                        tenant_id=tenant_id,
                        day=day,
                        predictions=0,
                        requests=0,
                        prediction_calls=0,
                        training_seconds=training_seconds,
                        stored_bytes=stored_bytes,
                    )
                )

    def lease_predictions(
        self, replica: str, entries: list[pb.TenantUsage], valid_for: dt.timedelta
    ) -> list[pb.PredictionLease]:
        """Add a replica's counts to the usage table and renew its leases, in one transaction.

        A lease is granted from what is neither used nor held by another replica's live lease, so
        the leases of a tenant's day never add up to more than its plan; one replica gets at most
        a fair share of what is left while others hold leases or wait for one, so the last
        predictions spread out, but never less than the rows of a call waiting for it
        (`lease_needed`) when they are free. A replica whose call waits keeps a lease of what it
        got (maybe none) until its next ask: the holders' next renewals then leave it its share,
        where they would otherwise keep the rest of the day while they stay busy.
        """
        self.add_usage(
            {
                (e.tenant, e.day): (e.predictions, e.requests, e.prediction_calls)
                for e in entries
                if e.predictions or e.requests or e.prediction_calls
            }
        )
        leases = []
        moment = now()
        leased = t.prediction_leases.c
        with self.engine.begin() as conn:
            conn.execute(t.prediction_leases.delete().where(leased.expire_time <= moment))
            for entry in entries:
                mine = (leased.tenant_id == entry.tenant, leased.day == entry.day)
                if entry.lease_wanted <= 0:
                    conn.execute(t.prediction_leases.delete().where(*mine, leased.replica == replica))
                    continue
                limit = self._daily_predictions(conn, entry.tenant)
                # Row lock on PostgreSQL: replicas of the gateway grant one tenant's day one at a time.
                usage = conn.execute(
                    sa.select(t.usage.c.predictions)
                    .where(t.usage.c.tenant_id == entry.tenant, t.usage.c.day == entry.day)
                    .with_for_update()
                ).first()
                others = conn.execute(
                    sa.select(leased.held, leased.expire_time).where(*mine, leased.replica != replica)
                ).all()
                held = sum(row.held for row in others)
                free = max(0, limit - (usage.predictions if usage else 0) - held)
                if not limit:  # the plan changed to unlimited: no lease is needed any more
                    free = entry.lease_wanted
                share = free if not others else max(1, free // (len(others) + 1)) if free else 0
                if entry.lease_needed and free >= entry.lease_needed:
                    share = max(share, entry.lease_needed)
                granted = min(entry.lease_wanted, share)
                short = granted < max(1, entry.lease_needed)
                conn.execute(t.prediction_leases.delete().where(*mine, leased.replica == replica))
                if granted or (entry.lease_needed and short):
                    conn.execute(
                        t.prediction_leases.insert().values(
                            tenant_id=entry.tenant,
                            day=entry.day,
                            replica=replica,
                            held=granted,
                            expire_time=moment + valid_for,
                        )
                    )
                lease = pb.PredictionLease(tenant=entry.tenant, day=entry.day, granted=granted)
                if short and held:
                    soonest = min(utc(row.expire_time) for row in others if row.held)
                    lease.retry_after.FromTimedelta(max(dt.timedelta(milliseconds=50), soonest - moment))
                leases.append(lease)
        return leases

    def _daily_predictions(self, conn, tenant_id: str) -> int:
        plan = conn.execute(
            sa.select(t.plans.c.predictions_per_day)
            .select_from(t.tenants.join(t.plans, t.plans.c.plan_id == sa.func.substr(t.tenants.c.plan, 7)))
            .where(t.tenants.c.tenant_id == tenant_id)
        ).first()
        return plan.predictions_per_day if plan else 0
