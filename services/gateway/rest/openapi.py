"""The OpenAPI 3.1 document of the REST twin, generated from the same descriptors and
`google.api.http` rules the transcoder uses, plus the KServe v2 REST paths."""

from __future__ import annotations

import re
from collections.abc import Sequence

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from services.common.validation import ID_PATTERN
from services.gateway.rest.openapi_links import add_links
from services.gateway.rest.transcoding import PATH_VARIABLE, HttpRoute, is_repeated

# On every operation that is one RPC through the gateway's gRPC port: that RPC's path, so a reader (and
# the auth matrix test) knows which method's scope and roles the REST path has.
GRPC_METHOD = "x-grpc-method"
_INT32 = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_FIXED32,
}
# 64-bit integers are strings in proto3 JSON (JavaScript numbers lose precision past 2^53).
_INT64 = {
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_SFIXED64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_FIXED64,
}
_WELL_KNOWN = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "description": "seconds with an 's' suffix, e.g. '1.5s'"},
    "google.protobuf.FieldMask": {"type": "string", "description": "comma-separated field paths"},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array"},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Any": {"type": "object", "properties": {"@type": {"type": "string"}}},
}
_STATUS = {
    "type": "object",
    "description": "google.rpc.Status: the gRPC status code, its message and typed details.",
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "details": {"type": "array", "items": {"type": "object"}},
    },
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _scalar_schema(field: FieldDescriptor, schemas: dict) -> dict:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        assert field.message_type is not None  # set on every message field
        name = field.message_type.full_name
        if name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[name])
        _add_schema(field.message_type, schemas)
        return _ref(name)
    if field.type == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None  # set on every enum field
        return {"type": "string", "enum": [v.name for v in field.enum_type.values]}
    if field.type in _INT32:
        return {"type": "integer", "format": "int32"}
    if field.type in _INT64:
        return {"type": "string", "format": "int64", "pattern": "^-?[0-9]{1,19}$"}
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return {"type": "number"}
    if field.type == FieldDescriptor.TYPE_BOOL:
        return {"type": "boolean"}
    if field.type == FieldDescriptor.TYPE_BYTES:
        return {"type": "string", "format": "byte"}
    return {"type": "string"}


def _field_schema(field: FieldDescriptor, schemas: dict) -> dict:
    if not is_repeated(field):
        return _scalar_schema(field, schemas)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value = field.message_type.fields_by_name["value"]
        return {"type": "object", "additionalProperties": _scalar_schema(value, schemas)}
    return {"type": "array", "items": _scalar_schema(field, schemas)}


def _add_schema(message: Descriptor, schemas: dict) -> None:
    if message.full_name in schemas:
        return
    schemas[message.full_name] = {}  # placeholder first: messages may refer to themselves
    schemas[message.full_name] = {
        "type": "object",
        "properties": {field.json_name: _field_schema(field, schemas) for field in message.fields},
        # The proto3 JSON parser refuses unknown fields (its snake_case names are accepted too).
        "additionalProperties": False,
    }


def _singular(word: str) -> str:
    for plural, single in (("ies", "y"), ("ses", "s"), ("s", "")):
        if word.endswith(plural):
            return word[: -len(plural)] + single
    return word


def openapi_path(template: str) -> tuple[str, list[str]]:
    """`/v1/{name=models/*/versions/*}` -> `/v1/models/{model}/versions/{version}` and its parameters.

    OpenAPI path parameters cannot hold '/', so each wildcard of a resource name becomes a
    parameter named after the collection before it (`**` takes the rest of the path, encoded)."""
    parameters: list[str] = []

    def expand(found: re.Match) -> str:
        segments = (found.group(2) or "*").split("/")
        out = []
        for i, segment in enumerate(segments):
            if segment in ("*", "**"):
                name = _singular(segments[i - 1]) if i else found.group(1).replace(".", "_")
                parameters.append(name)
                out.append(f"{{{name}}}")
            else:
                out.append(segment)
        return "/".join(out)

    return PATH_VARIABLE.sub(expand, template), parameters


def _query_parameters(route: HttpRoute, bound: set[str], schemas: dict) -> list[dict]:
    if route.body == "*":
        return []
    params = []
    for field in route.method.input_type.fields:
        if field.name in bound or field.name == route.body or field.type == FieldDescriptor.TYPE_MESSAGE:
            continue
        schema = _field_schema(field, schemas)
        if field.name.endswith("_id") and field.name != "request_id":  # request_id: any idempotency key
            schema["pattern"] = ID_PATTERN  # a resource id (AIP-122), checked by check_id
        params.append({"name": field.name, "in": "query", "schema": schema})
    return params


def _operation(route: HttpRoute, parameters: list[str], schemas: dict) -> dict:
    method = route.method
    service = method.containing_service
    _add_schema(method.input_type, schemas)
    _add_schema(method.output_type, schemas)
    bound = {path.split(".")[0] for path in route.variables.values()}
    operation = {
        "operationId": f"{service.name}_{method.name}",
        "tags": [service.name],
        "summary": f"{service.full_name}.{method.name}",
        GRPC_METHOD: route.grpc_path,
        "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in parameters]
        + _query_parameters(route, bound, schemas),
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": _ref(method.output_type.full_name)}},
            },
            "default": {"description": "An error", "content": {"application/json": {"schema": _ref("Error")}}},
        },
    }
    if method.server_streaming:
        line = {
            "type": "object",
            "properties": {"result": _ref(method.output_type.full_name), "error": _ref("google.rpc.Status")},
        }
        operation["responses"]["200"] = {
            "description": "A stream: one JSON object per line, or server-sent events with Accept: text/event-stream",
            "content": {"application/x-ndjson": {"schema": line}, "text/event-stream": {"schema": {"type": "string"}}},
        }
    if route.body:
        if route.body == "*":
            body_schema = _ref(method.input_type.full_name)
        else:
            body_schema = _field_schema(method.input_type.fields_by_name[route.body], schemas)
        media = "application/x-ndjson" if method.client_streaming else "application/json"
        operation["requestBody"] = {"required": True, "content": {media: {"schema": body_schema}}}
        if method.client_streaming:
            operation["requestBody"]["description"] = "One request message per line (newline-delimited JSON)."
    return operation


_KSERVE_TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer"}},
        "datatype": {"type": "string"},
        "parameters": {"type": "object"},
        "data": {"type": "array"},
    },
}


def _kserve_paths() -> dict:
    def op(rpc: str, summary: str, response: dict, body: dict | None = None) -> dict:
        operation = {
            "tags": ["KServe v2"],
            "summary": summary,
            GRPC_METHOD: f"/inference.GRPCInferenceService/{rpc}",
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": response}}},
                "default": {
                    "description": "An error",
                    "content": {"application/json": {"schema": {"properties": {"error": {"type": "string"}}}}},
                },
            },
        }
        if body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        return operation

    model_param = {"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}
    version_param = {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}
    infer_request = {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "inputs": {"type": "array", "items": _KSERVE_TENSOR},
            "outputs": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
        },
    }
    infer_response = {
        "type": "object",
        "properties": {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "outputs": {"type": "array", "items": _KSERVE_TENSOR},
        },
    }
    paths: dict[str, dict] = {
        "/v2/health/live": {"get": op("ServerLive", "Server liveness (200 live, 400 not)", {"type": "object"})},
        "/v2/health/ready": {"get": op("ServerReady", "Server readiness (200 ready, 400 not)", {"type": "object"})},
        "/v2": {"get": op("ServerMetadata", "Server metadata", {"type": "object"})},
        "/v2/models/stats": {"get": op("ModelStatistics", "Statistics of every model", {"type": "object"})},
        "/v2/repository/index": {
            "post": op("RepositoryIndex", "Models of the tenant's repository", {"type": "array"}, {})
        },
    }
    for prefix, params in (
        ("/v2/models/{model}", [model_param]),
        ("/v2/models/{model}/versions/{version}", [model_param, version_param]),
    ):
        paths[prefix] = {"get": op("ModelMetadata", "Model metadata", {"type": "object"}), "parameters": params}
        paths[prefix + "/ready"] = {
            "get": op("ModelReady", "Model readiness (200 ready, 400 not)", {}),
            "parameters": params,
        }
        paths[prefix + "/config"] = {
            "get": op("ModelConfig", "Model configuration (Triton's)", {"type": "object"}),
            "parameters": params,
        }
        paths[prefix + "/stats"] = {
            "get": op("ModelStatistics", "Model statistics (Triton's)", {"type": "object"}),
            "parameters": params,
        }
        paths[prefix + "/infer"] = {
            "post": op("ModelInfer", "Inference", infer_response, infer_request),
            "parameters": params,
        }
    for action, rpc in (("load", "RepositoryModelLoad"), ("unload", "RepositoryModelUnload")):
        paths[f"/v2/repository/models/{{model}}/{action}"] = {
            "post": op(rpc, f"Repository: {action} a model", {"type": "object"}),
            "parameters": [model_param],
        }
    return paths


def openapi_document(routes: Sequence[HttpRoute], extra_paths: dict | None = None) -> dict:
    """The document of the transcoded routes, the KServe v2 paths and `extra_paths` (the accounts'),
    with links from what creates a resource to the operations on it."""
    schemas: dict = {"google.rpc.Status": _STATUS}
    schemas["Error"] = {"type": "object", "properties": {"error": _ref("google.rpc.Status")}}
    paths: dict = {}
    for route in routes:
        path, parameters = openapi_path(route.template)
        paths.setdefault(path, {})[route.http_method] = _operation(route, parameters, schemas)
    paths.update(_kserve_paths())
    paths.update(extra_paths or {})
    add_links(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "MaaS API",
            "version": "v1",
            "description": "The REST twin of the MaaS gRPC API, transcoded from its google.api.http annotations.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"apiKey": []}, {"session": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <api key>"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "maas_session",
                    "description": "The console's session (POST /v1/sessions); state-changing requests also "
                    "send its x-csrf-token",
                },
            },
        },
    }
