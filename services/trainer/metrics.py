"""Trainer metrics: jobs by state read from the database at scrape time (so every replica
reports the same truth), plus queue wait and job duration observed by the workers."""

from __future__ import annotations

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from maas.trainer.v1 import trainer_pb2 as pb
from services.trainer import tables as t

State = pb.TrainingJob.State
DURATION_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)


class JobStateCollector(Collector):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self):
        family = GaugeMetricFamily("maas_training_jobs", "Training jobs by state.", labels=["state"])
        with self._engine.connect() as conn:
            counts = dict(conn.execute(sa.select(t.jobs.c.state, sa.func.count()).group_by(t.jobs.c.state)).all())
            failures = conn.execute(
                sa.select(t.jobs.c.failure_kind, sa.func.count())
                .where(t.jobs.c.state == State.STATE_FAILED)
                .group_by(t.jobs.c.failure_kind)
            ).all()
        for name, value in State.items():
            if value != State.STATE_UNSPECIFIED:
                family.add_metric([name.removeprefix("STATE_").lower()], counts.get(value, 0))
        yield family
        by_reason = GaugeMetricFamily(
            "maas_training_job_failures", "Failed training jobs by reason.", labels=["reason"]
        )
        for kind, count in failures:
            by_reason.add_metric([kind or "unknown"], count)
        yield by_reason


class TrainerMetrics:
    def __init__(self, registry: CollectorRegistry, engine: Engine) -> None:
        registry.register(JobStateCollector(engine))
        self.queue_wait = Histogram(
            "maas_training_queue_wait_seconds",
            "Time from submission (or lease expiry) to a worker's claim.",
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.job_seconds = Histogram(
            "maas_training_job_seconds",
            "Run time of one attempt of a job, by how it ended.",
            ["outcome"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
