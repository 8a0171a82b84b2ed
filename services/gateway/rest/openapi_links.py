"""OpenAPI links of the REST twin: what an operation that creates or sets a resource returns leads to
the operations on that resource (create a model -> get, update, delete it, add versions, infer ...).

Clients and stateful fuzzers (schemathesis) follow them. A resource name such as
`models/m/versions/3` fills several path parameters, so each parameter takes its part of the name
with a regex extractor (`$response.body#/name#regex:...`, schemathesis' extension of the runtime
expression); a plain OpenAPI tool sees a well-formed link expression."""

from __future__ import annotations

import re

# The message of each resource and the pattern of its name (`**` takes the rest of the path).
RESOURCES = {
    "maas.registry.v1.Model": "models/*",
    "maas.registry.v1.ModelVersion": "models/*/versions/*",
    "maas.registry.v1.Alias": "models/*/aliases/*",
    "maas.registry.v1.Dataset": "datasets/**",
    "maas.trainer.v1.TrainingJob": "trainingJobs/*",
    "maas.gateway.v1.Tenant": "tenants/*",
    "maas.gateway.v1.ApiKey": "tenants/*/apiKeys/*",
}
# Responses that carry the resource in a field rather than as the whole body.
_WRAPPED = {"maas.gateway.v1.CreateApiKeyResponse": ("apiKey", "maas.gateway.v1.ApiKey")}
_SOURCE_METHODS = ("post", "put", "patch")
_PREFIX = "#/components/schemas/"


def _extractors(pattern: str) -> list[str]:
    """One regex per wildcard of `pattern`, capturing that wildcard's part of a name."""
    segments = pattern.split("/")
    wildcards = [i for i, s in enumerate(segments) if s in ("*", "**")]
    out = []
    for chosen in wildcards:
        parts = []
        for i, segment in enumerate(segments):
            if i == chosen:
                parts.append("(.+)" if segment == "**" else "([^/]+)")
            elif segment in ("*", "**"):
                parts.append("[^/]+" if segment == "*" else ".+")
            else:
                parts.append(segment)
        out.append("^" + "/".join(parts) + "$")
    return out


def _resource_of(operation: dict) -> tuple[str, str] | None:
    """(JSON pointer of the resource's name in the answer, its name pattern), if it returns one."""
    schema = operation.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {})
    ref = schema.get("schema", {}).get("$ref", "")
    message = ref.removeprefix(_PREFIX)
    if message in RESOURCES:
        return "/name", RESOURCES[message]
    if message in _WRAPPED:
        field, inner = _WRAPPED[message]
        return f"/{field}/name", RESOURCES[inner]
    return None


def _path_parameters(path: str) -> set[str]:
    return {segment.split("}")[0] for segment in path.split("{")[1:]}


def _targets(paths: dict, resource_path: str, names: set[str]):
    """(path, method, operation) on the resource or below it whose path parameters the name fills;
    the KServe v2 twin (`/v2/models/{model}`) counts. Streams are left out: they need not end."""
    prefixes = (resource_path, "/v2" + resource_path.removeprefix("/v1"))
    for path, operations in paths.items():
        if not path.startswith(prefixes) or not _path_parameters(path) <= names:
            continue
        for method, operation in operations.items():
            if method == "parameters":
                continue
            content = operation.get("responses", {}).get("200", {}).get("content", {"application/json": {}})
            if "application/json" in content:
                yield path, method, operation


def _ref_to(path: str, method: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def add_links(paths: dict) -> None:
    """Add to every create/set operation's 200 answer the links to the operations on what it made."""
    from services.gateway.rest.openapi import openapi_path  # openapi.py calls this module

    for path, operations in paths.items():
        for method in _SOURCE_METHODS:
            operation = operations.get(method)
            found = _resource_of(operation) if operation else None
            if not found:
                continue
            pointer, pattern = found
            resource_path, names = openapi_path("/v1/{name=" + pattern + "}")
            expressions = {
                f"path.{name}": f"$response.body#{pointer}#regex:{regex}"
                for name, regex in zip(names, _extractors(pattern), strict=True)
            }
            links = {}
            for target_path, target_method, target in _targets(paths, resource_path, set(names)):
                if (target_path, target_method) == (path, method):
                    continue
                wanted = _path_parameters(target_path)
                link_id = target.get("operationId") or re.sub(
                    r"[^A-Za-z0-9._-]+", "_", target_method + target_path
                ).strip("_")
                link: dict[str, object] = {"operationRef": _ref_to(target_path, target_method)}
                if "operationId" in target:
                    link = {"operationId": target["operationId"]}
                link["parameters"] = {k: v for k, v in expressions.items() if k.removeprefix("path.") in wanted}
                links[link_id] = link
            if links:
                operation["responses"]["200"]["links"] = links
