"""The gateway killed with SIGKILL: while an inference replica meters a tenant's plan (the quota it
granted is on disk, so after its restart the plan's daily limit still holds exactly and the usage
does not go backwards), and while a long training job runs (the job trains on)."""

import signal
import time

import grpc
import numpy as np
import pytest

from maas.client import MaasClient, MaasError
from maas.inference.v2 import grpc_service_pb2 as pb
from maas.inference.v2 import grpc_service_pb2_grpc
from maas.registry.v1 import registry_pb2 as rpb
from maas.stack import socket_path, wait_serving
from maas.trainer.v1 import trainer_pb2 as tpb
from tests.e2e.conftest import gateway_down, tenant_with_digits
from tests.e2e.test_failover import start

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
LIMIT = 20
Job = tpb.TrainingJob
Version = rpb.ModelVersion


def test_gateway_sigkill_keeps_the_daily_quota_exact(stack, journey):
    key = tenant_with_digits(stack, journey, "crashy", "twenty", predictions_per_day=LIMIT)
    # A gateway of its own over the stack's data (same tenants, keys and leases), so that killing
    # it leaves the session's stack alone, and a replica that meters through it. The replica
    # reaches it on its Unix socket, the same path after each restart (its TCP port is any free one).
    gateway_address = f"unix:{socket_path(stack.log_dir, 'crashy-gateway')}"
    gateway_env = {
        "MAAS_UNIX_SOCKET": gateway_address.removeprefix("unix:"),
        "MAAS_METRICS_PORT": "-1",
        "MAAS_HTTP_PORT": "-1",
        "MAAS_ADMIN_KEY": stack.admin_key,
        "MAAS_INFERENCE_ADDR": stack.service_address("inference"),
        "MAAS_TRAINER_ADDR": stack.service_address("trainer"),
    }
    gateway = start("gateway", stack, **gateway_env)
    replica = start("inference", stack, MAAS_METRICS_PORT="-1", MAAS_GATEWAY_ADDR=gateway_address)
    processes = [gateway, replica]
    try:
        assert wait_serving(gateway_address, 60)
        inference_port = replica.bound()["port"]
        assert wait_serving(f"127.0.0.1:{inference_port}", 120)
        request = pb.ModelInferRequest(model_name="digits")
        request.inputs.add(name="features", datatype="FP32", shape=[1, 64])
        request.raw_input_contents.append(np.zeros((1, 64), np.float32).tobytes())
        metadata = (("authorization", f"Bearer {key}"),)

        with grpc.insecure_channel(f"127.0.0.1:{inference_port}") as channel:
            infer = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer

            unavailable = []

            def code() -> grpc.StatusCode:
                """The call's final code, retrying UNAVAILABLE (the gateway just came back) as a client would."""
                deadline = time.monotonic() + 20
                while True:
                    try:
                        infer(request, metadata=metadata, timeout=60)
                    except grpc.RpcError as error:
                        if error.code() == grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline:
                            unavailable.append(error.details())
                            time.sleep(0.2)
                            continue
                        return error.code()
                    return grpc.StatusCode.OK

            def kill_and_restart_gateway() -> None:
                processes[0].send_signal(signal.SIGKILL)
                processes[0].wait(10)
                processes[0] = start("gateway", stack, **gateway_env)
                assert wait_serving(gateway_address, 60)

            assert [code() for _ in range(LIMIT // 2)] == [grpc.StatusCode.OK] * (LIMIT // 2)
            kill_and_restart_gateway()  # with half the plan used, part of it leased to the replica
            assert [code() for _ in range(LIMIT // 2)] == [grpc.StatusCode.OK] * (LIMIT // 2)
            assert code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            kill_and_restart_gateway()  # with the plan used up
            assert code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # While the gateway was away, a call that needed a lease was told to retry, never that the quota was used up.
        assert all("gateway" in message for message in unavailable), unavailable
        print(f"calls answered UNAVAILABLE while the gateway restarted: {len(unavailable)}")

        # The replica reports within its report period (0.5 s); the usage reaches the limit, never past it.
        with MaasClient(stack.address("gateway"), stack.admin_key) as admin:
            deadline = time.monotonic() + 10
            while (usage := admin.get_usage("crashy")).predictions < LIMIT and time.monotonic() < deadline:
                time.sleep(0.2)
        assert usage.predictions == LIMIT
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(20)


def test_a_job_trains_to_the_end_while_the_gateway_is_down(stack, journey):
    """The gateway owns tenants, keys and plans, not jobs: with it killed mid-job, the job trains
    on and registers its one version, its caller keeps following it through the door (the trainer
    checks the key from its last credentials), and the admin API answers UNAVAILABLE until the
    gateway is back."""
    with MaasClient(stack.address("gateway"), journey.api_key) as client:
        dataset = client.get_dataset("digits").name
        job = client.create_training_job(
            dataset=dataset, label_column="label", target_model="digits-outage", epochs=60, batch_size=16
        )
        deadline = time.monotonic() + 120
        while (state := client.get_training_job(job.name).state) == Job.State.STATE_QUEUED:
            assert time.monotonic() < deadline, "the job did not start"
            time.sleep(0.2)
        assert state == Job.State.STATE_RUNNING, Job.State.Name(state)

        with gateway_down(stack):
            admin = MaasClient(stack.address("gateway"), stack.admin_key)
            with admin, pytest.raises(MaasError) as refused:
                admin.get_usage(journey.tenant)
            assert refused.value.code == grpc.StatusCode.UNAVAILABLE
            assert "cannot be reached" in refused.value.message  # the door's words, not Envoy's internals
            progress = []
            while (current := client.get_training_job(job.name)).state == Job.State.STATE_RUNNING:
                progress.append(current.epoch)
                assert time.monotonic() < deadline + 300, "the job did not end"
                time.sleep(0.5)
            assert current.state == Job.State.STATE_SUCCEEDED, (Job.State.Name(current.state), current.state_reason)
            assert len(set(progress)) > 1, progress  # it moved on while the gateway was away
        restarted = time.monotonic()
        with MaasClient(stack.address("gateway"), stack.admin_key) as admin:
            while True:
                try:
                    admin.get_usage(journey.tenant)
                    break
                except MaasError as error:
                    assert error.code == grpc.StatusCode.UNAVAILABLE and time.monotonic() < restarted + 30
                    time.sleep(0.2)
        print(f"admin API back {time.monotonic() - restarted:.1f} s after the restarted gateway served")
        versions = client.list_model_versions("digits-outage")
        assert [(v.version, v.state) for v in versions] == [(1, Version.State.STATE_READY)]
