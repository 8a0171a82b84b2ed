"""Training jobs and their events: persistence, the queue with leases, and the state machine.
Shared by the API, the workers and the job processes (all the trainer's own)."""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from google.protobuf import json_format
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from maas.trainer.v1 import trainer_pb2 as pb
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.common.timeutil import now, utc
from services.common.validation import decode_page_token, encode_page_token, parse_filter
from services.trainer import tables as t

State = pb.TrainingJob.State
TERMINAL = frozenset({State.STATE_SUCCEEDED, State.STATE_FAILED, State.STATE_CANCELLED})


class LeaseLost(Exception):
    """The job is no longer this attempt's: cancelled, ended, or taken over by another worker."""


class JobStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------- messages
    @staticmethod
    def _job_message(row) -> pb.TrainingJob:
        job = pb.TrainingJob(
            name=f"trainingJobs/{row.job_id}",
            display_name=row.display_name,
            state=row.state,
            state_reason=row.state_reason,
            epoch=row.epoch,
            total_epochs=row.total_epochs,
            metrics=row.metrics,
            evaluation=row.evaluation,
            model_version=row.model_version,
            attempt=row.attempt,
            failure_kind=row.failure_kind or "",
        )
        json_format.Parse(row.spec, job.spec)
        for field, value in (
            ("create_time", row.create_time),
            ("start_time", row.start_time),
            ("end_time", row.end_time),
        ):
            if value is not None:
                getattr(job, field).FromDatetime(utc(value))
        return job

    def _row(self, conn, tenant: str | None, job_id: str):
        query = sa.select(t.jobs).where(t.jobs.c.job_id == job_id)
        if tenant is not None:
            query = query.where(t.jobs.c.tenant == tenant)
        row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"training job {job_id!r} not found")
        return row

    # ------------------------------------------------------------------ API
    def create(
        self, tenant: str, job: pb.TrainingJob, target_model: str, request_id: str, traceparent: str = ""
    ) -> pb.TrainingJob:
        if request_id:
            with self.engine.connect() as conn:
                existing = conn.execute(
                    sa.select(t.jobs).where(t.jobs.c.tenant == tenant, t.jobs.c.request_id == request_id)
                ).first()
            if existing is not None:
                return self._job_message(existing)
        job_id = f"job-{secrets.token_hex(6)}"
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    t.jobs.insert().values(
                        job_id=job_id,
                        tenant=tenant,
                        display_name=job.display_name or job_id,
                        spec=json_format.MessageToJson(job.spec, indent=None),
                        target_model=target_model,
                        state=State.STATE_QUEUED,
                        state_reason="waiting for a worker",
                        request_id=request_id or None,
                        create_time=now(),
                        epoch=0,
                        total_epochs=job.spec.hyperparameters.epochs,
                        metrics={},
                        evaluation={},
                        model_version="",
                        attempt=0,
                        cancel_requested=False,
                        traceparent=traceparent or None,
                    )
                )
                self._append(
                    conn,
                    job_id,
                    pb.TrainingJobEvent(
                        state_change=pb.TrainingJobEvent.StateChange(
                            state=State.STATE_QUEUED, reason="waiting for a worker"
                        )
                    ),
                )
        except IntegrityError:
            # The same request id raced us: return the job that won.
            return self.create(tenant, job, target_model, request_id, traceparent)
        return self.get(tenant, job_id)

    def get(self, tenant: str | None, job_id: str) -> pb.TrainingJob:
        with self.engine.connect() as conn:
            return self._job_message(self._row(conn, tenant, job_id))

    def list(self, tenant: str, page_size: int, page_token: str, filter_text: str):
        terms = parse_filter(filter_text, ("state", "target_model"))
        cursor = decode_page_token(page_token)
        query = (
            sa.select(t.jobs)
            .where(t.jobs.c.tenant == tenant)
            .order_by(t.jobs.c.create_time.desc(), t.jobs.c.job_id.desc())
        )
        for key, value in terms:
            if key == "state":
                name = f"STATE_{value.upper()}"
                if name not in State.DESCRIPTOR.values_by_name:
                    raise InvalidArgument(f"filter: unknown state {value!r}")
                query = query.where(t.jobs.c.state == State.Value(name))
            else:
                query = query.where(t.jobs.c.target_model == value.removeprefix("models/"))
        if cursor:
            created = dt.datetime.fromisoformat(cursor[0])
            query = query.where(
                sa.or_(
                    t.jobs.c.create_time < created,
                    sa.and_(t.jobs.c.create_time == created, t.jobs.c.job_id < cursor[1]),
                )
            )
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(page_size + 1)).all()
        last = rows[page_size - 1] if len(rows) > page_size else None
        token = encode_page_token([utc(last.create_time).isoformat(), last.job_id]) if last else ""
        return [self._job_message(r) for r in rows[:page_size]], token

    def cancel(self, tenant: str, job_id: str) -> pb.TrainingJob:
        with self.engine.begin() as conn:
            row = self._row(conn, tenant, job_id)
            if row.state in TERMINAL:
                raise FailedPrecondition(f"training job {job_id!r} has already ended ({State.Name(row.state)})")
            if row.state == State.STATE_QUEUED:
                self._transition(conn, job_id, State.STATE_CANCELLED, "cancelled by the user before it started")
            else:
                conn.execute(t.jobs.update().where(t.jobs.c.job_id == job_id).values(cancel_requested=True))
        return self.get(tenant, job_id)

    # --------------------------------------------------------------- events
    @staticmethod
    def _append(conn, job_id: str, event: pb.TrainingJobEvent) -> None:
        if not event.HasField("event_time"):
            event.event_time.FromDatetime(now())
        conn.execute(t.job_events.insert().values(job_id=job_id, event=json_format.MessageToJson(event, indent=None)))

    def append_event(self, job_id: str, event: pb.TrainingJobEvent) -> None:
        with self.engine.begin() as conn:
            self._append(conn, job_id, event)

    def events_after(self, tenant: str, job_id: str, after: int, limit: int = 500):
        """Events after a sequence number, and the job's state when they were read."""
        with self.engine.connect() as conn:
            row = self._row(conn, tenant, job_id)
            rows = conn.execute(
                sa.select(t.job_events)
                .where(t.job_events.c.job_id == job_id, t.job_events.c.sequence > after)
                .order_by(t.job_events.c.sequence)
                .limit(limit)
            ).all()
        events = []
        for r in rows:
            event = json_format.Parse(r.event, pb.TrainingJobEvent())
            event.sequence = r.sequence
            events.append(event)
        return events, row.state

    # ---------------------------------------------------------- state machine
    def _transition(self, conn, job_id: str, state: State, reason: str, **values) -> None:
        current = now()
        if state in TERMINAL:
            values.update(end_time=current, lease_owner=None, lease_expires=None)
        conn.execute(
            t.jobs.update().where(t.jobs.c.job_id == job_id).values(state=state, state_reason=reason, **values)
        )
        # Every change ends the job's open run and a change to RUNNING opens the next, so the
        # runs add up to the time the job spent RUNNING: its tenant's training time.
        conn.execute(
            t.runs.update().where(t.runs.c.job_id == job_id, t.runs.c.end_time.is_(None)).values(end_time=current)
        )
        if state == State.STATE_RUNNING:
            row = conn.execute(sa.select(t.jobs.c.tenant, t.jobs.c.attempt).where(t.jobs.c.job_id == job_id)).one()
            conn.execute(
                t.runs.insert().values(job_id=job_id, attempt=row.attempt, tenant=row.tenant, start_time=current)
            )
        self._append(
            conn, job_id, pb.TrainingJobEvent(state_change=pb.TrainingJobEvent.StateChange(state=state, reason=reason))
        )

    def finish(self, job_id: str, state: State, reason: str, attempt: int | None = None, **values) -> bool:
        """Move a job to a terminal state unless it is already in one (or, given `attempt`,
        unless another attempt owns it now). Returns whether it moved."""
        with self.engine.begin() as conn:
            row = self._row(conn, None, job_id)
            if row.state in TERMINAL or (attempt is not None and row.attempt != attempt):
                return False
            self._transition(conn, job_id, state, reason, **values)
            return True

    def requeue(self, job_id: str, reason: str) -> None:
        """Put a running job whose process died back in the queue; the next attempt resumes
        from its last checkpoint (the claim fails it once its attempts are used up)."""
        with self.engine.begin() as conn:
            row = self._row(conn, None, job_id)
            if row.state == State.STATE_RUNNING:
                self._transition(conn, job_id, State.STATE_QUEUED, reason, lease_owner=None, lease_expires=None)

    def save_checkpoint(
        self,
        job_id: str,
        attempt: int,
        epoch: int,
        total: int,
        metrics: dict[str, float],
        seconds: float,
        artifact: str,
    ) -> str | None:
        """Record an epoch and its checkpoint together; returns the checkpoint it replaces.

        Raises LeaseLost if this attempt no longer owns the job.
        """
        with self.engine.begin() as conn:
            row = self._row(conn, None, job_id)
            if row.state != State.STATE_RUNNING or row.attempt != attempt:
                raise LeaseLost(job_id)
            conn.execute(
                t.jobs.update()
                .where(t.jobs.c.job_id == job_id)
                .values(
                    epoch=epoch,
                    total_epochs=total,
                    metrics=metrics,
                    checkpoint_artifact=artifact,
                    checkpoint_epoch=epoch,
                )
            )
            self._append(
                conn,
                job_id,
                pb.TrainingJobEvent(
                    epoch_end=pb.TrainingJobEvent.EpochEnd(
                        epoch=epoch, total_epochs=total, metrics=metrics, duration_seconds=seconds
                    )
                ),
            )
            return row.checkpoint_artifact

    def checkpoint(self, job_id: str) -> tuple[str | None, int]:
        with self.engine.connect() as conn:
            row = self._row(conn, None, job_id)
        return row.checkpoint_artifact, row.checkpoint_epoch

    def claim(
        self, worker: str, lease_seconds: float, max_attempts: int, max_per_tenant: int = 0
    ) -> pb.TrainingJob | None:
        """Take the oldest queued job, or a running one whose lease expired (its worker died),
        skipping tenants that already run `max_per_tenant` jobs."""
        current = now()
        with self.engine.begin() as conn:
            query = (
                sa.select(t.jobs.c.job_id, t.jobs.c.attempt, t.jobs.c.state)
                .where(
                    sa.or_(
                        t.jobs.c.state == State.STATE_QUEUED,
                        sa.and_(t.jobs.c.state == State.STATE_RUNNING, t.jobs.c.lease_expires < current),
                    )
                )
                .order_by(t.jobs.c.create_time)
                .limit(1)
            )
            if max_per_tenant > 0:
                busy = (
                    sa.select(t.jobs.c.tenant)
                    .where(t.jobs.c.state == State.STATE_RUNNING, t.jobs.c.lease_expires >= current)
                    .group_by(t.jobs.c.tenant)
                    .having(sa.func.count() >= max_per_tenant)
                )
                query = query.where(t.jobs.c.tenant.not_in(busy))
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = conn.execute(query).first()
            if row is None:
                return None
            if row.attempt >= max_attempts:
                self._transition(
                    conn,
                    row.job_id,
                    State.STATE_FAILED,
                    f"gave up after {row.attempt} attempts: the job's process stopped each time",
                    failure_kind="crashed",
                )
                return None
            reason = "running" if row.state == State.STATE_QUEUED else "resumed after its worker stopped"
            self._transition(
                conn,
                row.job_id,
                State.STATE_RUNNING,
                reason,
                attempt=row.attempt + 1,
                lease_owner=worker,
                lease_expires=current + dt.timedelta(seconds=lease_seconds),
                start_time=current,
            )
        return self.get(None, row.job_id)

    def renew(self, job_id: str, worker: str, lease_seconds: float) -> bool:
        """Extend the lease; returns whether cancellation was requested."""
        with self.engine.begin() as conn:
            conn.execute(
                t.jobs.update()
                .where(t.jobs.c.job_id == job_id, t.jobs.c.lease_owner == worker)
                .values(lease_expires=now() + dt.timedelta(seconds=lease_seconds))
            )
            return bool(conn.execute(sa.select(t.jobs.c.cancel_requested).where(t.jobs.c.job_id == job_id)).scalar())

    def training_seconds(self, tenant: str, since: dt.datetime) -> float:
        """Seconds the tenant's jobs spent RUNNING from `since` until now."""
        until = now()
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.runs.c.start_time, t.runs.c.end_time).where(
                    t.runs.c.tenant == tenant, sa.or_(t.runs.c.end_time.is_(None), t.runs.c.end_time > since)
                )
            ).all()
        return sum(max(0.0, ((utc(end) or until) - max(utc(start), since)).total_seconds()) for start, end in rows)

    def tenant_of(self, job_id: str) -> str:
        with self.engine.connect() as conn:
            return self._row(conn, None, job_id).tenant

    def traceparent_of(self, job_id: str) -> str:
        """The trace context of the call that created the job ("" when it was not traced)."""
        with self.engine.connect() as conn:
            return self._row(conn, None, job_id).traceparent or ""
