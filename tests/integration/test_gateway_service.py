"""Gateway in front of a real registry and trainer: keys, scopes, tenant isolation, routing."""

import time

import grpc
import pytest

from maas.client import MaasClient, MaasError
from maas.gateway.v1 import admin_pb2, admin_pb2_grpc
from maas.registry.v1 import registry_pb2 as pb
from services.gateway.metrics import AUTH_FAILURE_REASONS
from tests.integration.gateway_stack import ADMIN, ADMIN_KEY, bearer, gateway_stack


@pytest.fixture
def stack(data_dir):
    with gateway_stack(data_dir) as running_stack:
        yield running_stack.door


def tenant_with_key(address, tenant, scopes=()):
    with MaasClient(address, ADMIN_KEY) as admin:
        admin.create_tenant(tenant)
        return admin.create_api_key(tenant, scopes=scopes)


def code_of(fn):
    try:
        fn()
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def test_key_without_scope_is_permission_denied_and_admin_needs_admin_key(stack):
    reader = tenant_with_key(stack, "acme", scopes=("read",))
    with MaasClient(stack, reader.secret) as client:
        with pytest.raises(MaasError) as error:
            client.upload_dataset("d", b"a\n1\n")
        assert error.value.code == grpc.StatusCode.PERMISSION_DENIED
        assert "'train' scope" in error.value.message
        with pytest.raises(MaasError) as error:
            client.create_tenant("intruder")
        assert error.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_tenant_comes_from_the_key_not_from_client_metadata(stack):
    acme = tenant_with_key(stack, "acme")
    globex = tenant_with_key(stack, "globex")
    with MaasClient(stack, globex.secret) as client:
        client.registry.CreateModel(pb.CreateModelRequest(model_id="secret"), **client.call_options())
    with grpc.insecure_channel(stack) as channel:
        get = channel.unary_unary(
            "/maas.registry.v1.RegistryService/GetModel",
            request_serializer=pb.GetModelRequest.SerializeToString,
            response_deserializer=pb.Model.FromString,
        )
        spoofed = (("authorization", f"Bearer {acme.secret}"), ("x-maas-tenant", "globex"))
        assert code_of(lambda: get(pb.GetModelRequest(name="models/secret"), metadata=spoofed)) == (
            grpc.StatusCode.NOT_FOUND
        )
        own = (("authorization", f"Bearer {globex.secret}"),)
        assert get(pb.GetModelRequest(name="models/secret"), metadata=own).name == "models/secret"


def test_revoked_key_stops_working_within_the_cache_ttl(stack):
    key = tenant_with_key(stack, "acme")
    with MaasClient(stack, key.secret) as client:
        client.registry.ListModels(pb.ListModelsRequest(), **client.call_options())
    with MaasClient(stack, ADMIN_KEY) as admin:
        admin.admin.RevokeApiKey(admin_pb2.RevokeApiKeyRequest(name=key.api_key.name), **admin.call_options())
    time.sleep(0.5)
    with MaasClient(stack, key.secret) as client, pytest.raises(grpc.RpcError) as error:
        client.registry.ListModels(pb.ListModelsRequest(), **client.call_options())
    assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_backend_errors_pass_through_intact(stack):
    key = tenant_with_key(stack, "acme")
    with MaasClient(stack, key.secret) as client:
        with pytest.raises(MaasError) as error:
            client.upload_dataset("d", b"a,b\n1,2\n3\n")
        assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "CSV line 3" in error.value.message
        with pytest.raises(MaasError) as error:
            client.get_model_version("models/nope/versions/1")
        assert error.value.code == grpc.StatusCode.NOT_FOUND


def test_unreachable_backend_is_unavailable_not_internal(stack):
    key = tenant_with_key(stack, "acme")
    with MaasClient(stack, key.secret) as client, pytest.raises(MaasError) as error:
        client.predict("m", [[0.0]])
    assert error.value.code == grpc.StatusCode.UNAVAILABLE


def test_request_id_is_propagated_from_gateway_to_backend(stack):
    import structlog
    from structlog.testing import capture_logs

    key = tenant_with_key(stack, "acme")
    # Keeping the context (request_id) bound per call.
    with capture_logs([structlog.contextvars.merge_contextvars]) as logs:
        call_list_models(stack, key.secret)
    lines = [entry for entry in logs if entry.get("event") == "rpc" and entry.get("request_id") == "trace-123"]
    # One canonical line at the registry (and one at the fallback proxy, which authenticates
    # nothing, so it names no tenant), tied by the same request id.
    assert sorted(entry.get("tenant") or "" for entry in lines) in (["acme"], ["", "acme"])


def call_list_models(address, secret):
    with grpc.insecure_channel(address) as channel:
        list_models = channel.unary_unary(
            "/maas.registry.v1.RegistryService/ListModels",
            request_serializer=pb.ListModelsRequest.SerializeToString,
            response_deserializer=pb.ListModelsResponse.FromString,
        )
        list_models(
            pb.ListModelsRequest(), metadata=(("authorization", f"Bearer {secret}"), ("x-request-id", "trace-123"))
        )


def test_rate_limit_of_the_plan_answers_resource_exhausted_with_retry_info(stack):
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    with MaasClient(stack, ADMIN_KEY) as admin:
        admin.admin.CreatePlan(
            admin_pb2.CreatePlanRequest(plan_id="tiny", plan=admin_pb2.Plan(requests_per_second=0.5, burst=2)),
            **admin.call_options(),
        )
        plans = admin.admin.ListPlans(admin_pb2.ListPlansRequest(), **admin.call_options())
        assert {p.name for p in plans.plans} >= {"plans/free", "plans/pro", "plans/tiny"}
        admin.create_tenant("slow", plan="plans/tiny")
        with pytest.raises(MaasError) as error:
            admin.create_tenant("nowhere", plan="plans/missing")
        assert error.value.code == grpc.StatusCode.NOT_FOUND
        key = admin.create_api_key("slow").secret
    with MaasClient(stack, key) as client:
        for _ in range(2):
            client.registry.ListModels(pb.ListModelsRequest(), **client.call_options())
        with pytest.raises(grpc.RpcError) as error:
            client.registry.ListModels(pb.ListModelsRequest(), **client.call_options())
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    status = rpc_status.from_call(error.value)
    kinds = {detail.type_url.rsplit(".", 1)[-1] for detail in status.details}
    assert kinds == {"RetryInfo", "QuotaFailure"}
    retry = error_details_pb2.RetryInfo()
    next(d for d in status.details if d.Is(retry.DESCRIPTOR)).Unpack(retry)
    assert 0 < retry.retry_delay.ToTimedelta().total_seconds() <= 2


def test_usage_is_readable_by_the_tenant_and_the_admin_only(stack):
    key = tenant_with_key(stack, "acme")
    other = tenant_with_key(stack, "globex")
    with MaasClient(stack, key.secret) as client:
        for _ in range(3):
            client.registry.ListModels(pb.ListModelsRequest(), **client.call_options())
        time.sleep(0.5)  # the registry reports its counts every 0.2 s here
        usage = client.admin.GetUsage(admin_pb2.GetUsageRequest(name="tenants/acme/usage"), **client.call_options())
        assert (usage.requests, usage.predictions, usage.plan.name) == (3, 0, "plans/free")
    with MaasClient(stack, other.secret) as client, pytest.raises(grpc.RpcError) as error:
        client.admin.GetUsage(admin_pb2.GetUsageRequest(name="tenants/acme/usage"), **client.call_options())
    assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with MaasClient(stack, ADMIN_KEY) as admin:
        assert (
            admin.admin.GetUsage(admin_pb2.GetUsageRequest(name="tenants/acme/usage"), **admin.call_options()).requests
            == 3
        )


def test_health_and_reflection_through_the_door_list_every_routed_service(stack):
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    from services.gateway.routes import routed_services

    with grpc.insecure_channel(stack) as channel:
        # What grpc_health_probe asks.
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        (answer,) = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(iter([request]), timeout=5)
    listed = {service.name for service in answer.list_services_response.service}
    assert set(routed_services()) | {"maas.gateway.v1.AdminService", "grpc.health.v1.Health"} <= listed


def test_refused_credentials_are_counted_by_reason(data_dir):
    with gateway_stack(data_dir) as running_stack, grpc.insecure_channel(running_stack.gateway.address) as channel:
        metrics = running_stack.gateway.server.registry
        admin = admin_pb2_grpc.AdminServiceStub(channel)

        def failures(reason):
            return metrics.get_sample_value("maas_gateway_auth_failures_total", {"reason": reason})

        assert {r: failures(r) for r in AUTH_FAILURE_REASONS} == dict.fromkeys(AUTH_FAILURE_REASONS, 0.0)
        list_tenants = admin_pb2.ListTenantsRequest()
        calls = {
            "missing_key": lambda: admin.ListTenants(list_tenants),
            "unknown_key": lambda: admin.ListTenants(list_tenants, metadata=bearer("maas_not-a-key")),
            # An internal method, with a valid key that is not a service's.
            "not_a_service": lambda: admin.LookupCredential(admin_pb2.LookupCredentialRequest(), metadata=ADMIN),
        }
        for reason, call in calls.items():
            assert code_of(call) == grpc.StatusCode.UNAUTHENTICATED, reason
        assert {r: failures(r) for r in AUTH_FAILURE_REASONS} == {**dict.fromkeys(calls, 1.0), "expired_key": 0.0}
        # A valid key counts nothing.
        admin.ListTenants(list_tenants, metadata=ADMIN)
        assert failures("unknown_key") == 1.0
