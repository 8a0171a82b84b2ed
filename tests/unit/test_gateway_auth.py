import datetime as dt

import pytest

from maas.api.v1 import annotations_pb2 as api_pb
from services.common.credentials import Principal, authorize, secret_from_metadata
from services.common.errors import PermissionDenied, Unauthenticated
from services.gateway.routes import build_routes

Scope = api_pb.Scope


def test_secret_from_bearer_or_api_key_header():
    assert secret_from_metadata((("authorization", "Bearer abc"),)) == "abc"
    assert secret_from_metadata((("x-api-key", "xyz"),)) == "xyz"
    assert secret_from_metadata(()) is None
    with pytest.raises(Unauthenticated, match="Bearer"):
        secret_from_metadata((("authorization", "Basic abc"),))


def test_authorize_checks_scope_and_keeps_admin_key_out_of_tenants():
    reader = Principal("k", "acme", frozenset({Scope.SCOPE_READ}), None)
    authorize(reader, Scope.SCOPE_READ, "Get")
    with pytest.raises(PermissionDenied, match="'predict' scope"):
        authorize(reader, Scope.SCOPE_PREDICT, "ModelInfer")
    admin = Principal("admin", None, frozenset(Scope.values()), dt.datetime.now(dt.UTC))
    with pytest.raises(PermissionDenied, match="tenant"):
        authorize(admin, Scope.SCOPE_READ, "ListModels")
    authorize(admin, Scope.SCOPE_ADMIN, "CreateTenant")
    # An admin-scoped method that acts inside a tenant (a backend's) is closed to the admin key too.
    with pytest.raises(PermissionDenied, match="tenant"):
        authorize(admin, Scope.SCOPE_ADMIN, "HandleReloadConfigRequest", in_tenant=True)


def test_a_tenants_key_never_uses_admin_methods_whatever_scopes_it_holds():
    # Admin methods reach every tenant; a key stored with the admin scope before tenants' keys were
    # refused it must not manage other tenants.
    tenant_admin = Principal("k", "acme", frozenset(Scope.values()), None)
    with pytest.raises(PermissionDenied, match="platform's admin key"):
        authorize(tenant_admin, Scope.SCOPE_ADMIN, "CreateApiKey")


def test_every_backend_method_has_a_route_with_a_scope():
    routes = build_routes()
    assert routes["/maas.registry.v1.RegistryService/GetModel"].scope == Scope.SCOPE_READ
    assert routes["/maas.registry.v1.RegistryService/CreateDataset"].client_streaming
    assert routes["/maas.trainer.v1.TrainerService/WatchTrainingJob"].server_streaming
    assert routes["/inference.GRPCInferenceService/ModelInfer"].scope == Scope.SCOPE_PREDICT
    assert all(route.scope != Scope.SCOPE_UNSPECIFIED for route in routes.values())
