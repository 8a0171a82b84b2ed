"""gRPC servicer of the trainer's job API (no TensorFlow in this process)."""

from __future__ import annotations

import asyncio

import grpc

from maas.trainer.v1 import trainer_pb2 as pb
from maas.trainer.v1 import trainer_pb2_grpc
from services.common import tracing
from services.common.errors import InvalidArgument
from services.common.metadata import tenant_of
from services.common.timeutil import month_start, now
from services.common.validation import page_size, parse_name
from services.trainer.spec import validate_spec
from services.trainer.store import JobStore

_JOB = ("trainingJobs", None)
# How often a watch looks for new events of a job.
WATCH_POLL_SECONDS = 0.25


class TrainerServicer(trainer_pb2_grpc.TrainerServiceServicer):
    def __init__(self, store: JobStore) -> None:
        self.store = store

    async def CreateTrainingJob(self, request, context):
        tenant = tenant_of(context)
        if len(request.request_id) > 128:
            raise InvalidArgument("request_id: at most 128 characters")
        job = pb.TrainingJob()
        job.CopyFrom(request.training_job)
        target_model = validate_spec(job.spec)
        # The job's process continues this call's trace (`tracing.continued` in the runner).
        traceparent = tracing.traceparent()
        return await asyncio.to_thread(self.store.create, tenant, job, target_model, request.request_id, traceparent)

    async def GetTrainingJob(self, request, context):
        (job_id,) = parse_name(request.name, _JOB)
        return await asyncio.to_thread(self.store.get, tenant_of(context), job_id)

    async def ListTrainingJobs(self, request, context):
        jobs, token = await asyncio.to_thread(
            self.store.list, tenant_of(context), page_size(request.page_size), request.page_token, request.filter
        )
        return pb.ListTrainingJobsResponse(training_jobs=jobs, next_page_token=token)

    async def CancelTrainingJob(self, request, context):
        (job_id,) = parse_name(request.name, _JOB)
        return await asyncio.to_thread(self.store.cancel, tenant_of(context), job_id)

    async def WatchTrainingJob(self, request, context):
        tenant = tenant_of(context)
        (job_id,) = parse_name(request.name, _JOB)
        after = request.after_sequence
        while True:
            events, state = await asyncio.to_thread(self.store.events_after, tenant, job_id, after)
            for event in events:
                yield event
                after = event.sequence
            if not events:
                if state in (
                    pb.TrainingJob.State.STATE_SUCCEEDED,
                    pb.TrainingJob.State.STATE_FAILED,
                    pb.TrainingJob.State.STATE_CANCELLED,
                ):
                    # Read once more: the final events are written with the terminal state.
                    events, _ = await asyncio.to_thread(self.store.events_after, tenant, job_id, after)
                    for event in events:
                        yield event
                    return
                await asyncio.sleep(WATCH_POLL_SECONDS)

    async def GetTrainingUsage(self, request, context):
        start = month_start(now())
        usage = pb.TrainingUsage(
            training_seconds=await asyncio.to_thread(self.store.training_seconds, tenant_of(context), start)
        )
        usage.period_start.FromDatetime(start)
        return usage


def register(servicer: TrainerServicer, server: grpc.aio.Server) -> None:
    trainer_pb2_grpc.add_TrainerServiceServicer_to_server(servicer, server)
