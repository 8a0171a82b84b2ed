"""HTTP/JSON <-> protobuf transcoding driven by the `google.api.http` annotations.

Every annotated method becomes an `HttpRoute`: the path template compiles to a regular expression,
its variables fill fields of the request message, the body fills the field the rule names (or the
whole message for `*`), and the query string fills the rest. Nothing here is written per RPC.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from google.api import annotations_pb2 as http_annotations
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from services.common.errors import InvalidArgument
from services.common.validation import is_number

# A path segment matched by `*`: ids never hold ':' so a custom verb (`:cancel`) stays out of it.
_SEGMENT = r"[^/:]+"
PATH_VARIABLE = re.compile(r"\{([a-zA-Z0-9_.]+)(?:=([^}]*))?\}")
_HTTP_METHODS = ("get", "put", "post", "delete", "patch")
_STRING_FORM_TYPES = {"google.protobuf.FieldMask", "google.protobuf.Timestamp", "google.protobuf.Duration"}


@dataclass(frozen=True)
class HttpRoute:
    """One HTTP binding of one RPC."""

    http_method: str
    template: str
    pattern: re.Pattern[str]
    # Path variable group names -> request field paths (`model.name`).
    variables: Mapping[str, str]
    body: str
    method: MethodDescriptor

    @property
    def grpc_path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def request_class(self) -> type[Message]:
        return GetMessageClass(self.method.input_type)

    @property
    def response_class(self) -> type[Message]:
        return GetMessageClass(self.method.output_type)

    def match(self, http_method: str, path: str) -> dict[str, str] | None:
        if http_method.lower() != self.http_method:
            return None
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {self.variables[group]: value for group, value in found.groupdict().items()}


def _segments_regex(segments: str) -> str:
    parts = []
    for segment in segments.split("/"):
        if segment == "**":
            parts.append(r"[^:]+")
        elif segment == "*":
            parts.append(_SEGMENT)
        else:
            parts.append(re.escape(segment))
    return "/".join(parts)


def compile_template(template: str) -> tuple[re.Pattern[str], dict[str, str]]:
    """`/v1/{name=models/*}:cancel` -> a regex with one group per variable, and group -> field path."""
    head, colon, tail = template.rpartition(":")
    path, verb = (head, tail) if colon and "}" not in tail and "/" not in tail else (template, "")
    variables: dict[str, str] = {}
    regex, position = [], 0
    for i, found in enumerate(PATH_VARIABLE.finditer(path)):
        regex.append(_segments_regex(path[position : found.start()]))
        group = f"v{i}"
        variables[group] = found.group(1)
        regex.append(f"(?P<{group}>{_segments_regex(found.group(2) or '*')})")
        position = found.end()
    regex.append(_segments_regex(path[position:]))
    if verb:
        regex.append(re.escape(":" + verb))
    return re.compile("".join(regex)), variables


def _bindings(rule) -> Iterable:
    yield rule
    yield from rule.additional_bindings


def routes_for(services: Iterable[ServiceDescriptor]) -> list[HttpRoute]:
    """The HTTP routes of every annotated method; templates with custom verbs first, then longest first."""
    routes = []
    for service in services:
        for method in service.methods:
            options = method.GetOptions()
            if not options.HasExtension(http_annotations.http):  # pyright: ignore[reportArgumentType] - the generated stub types it FieldDescriptor
                continue
            for binding in _bindings(options.Extensions[http_annotations.http]):  # pyright: ignore[reportArgumentType] - the generated stub types it FieldDescriptor
                kind = binding.WhichOneof("pattern")
                if kind not in _HTTP_METHODS:
                    continue
                template = getattr(binding, kind)
                pattern, variables = compile_template(template)
                routes.append(HttpRoute(kind, template, pattern, variables, binding.body, method))
    return sorted(routes, key=lambda r: (":" not in r.template.rpartition("}")[2], -len(r.template)))


def _field(descriptor: Descriptor, name: str) -> FieldDescriptor:
    field = descriptor.fields_by_name.get(name) or next((f for f in descriptor.fields if f.json_name == name), None)
    if field is None:
        raise InvalidArgument(f"{descriptor.name} has no field {name!r}")
    return field


_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_INTEGER_RANGES = {
    **dict.fromkeys((FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32), _INT32),
    **dict.fromkeys((FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64), _INT64),
    **dict.fromkeys((FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32), (0, 2**32 - 1)),
    **dict.fromkeys((FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64), (0, 2**64 - 1)),
}


def _scalar(field: FieldDescriptor, value: str, where: str):
    try:
        if field.type == FieldDescriptor.TYPE_ENUM:
            enum = field.enum_type
            assert enum is not None  # set on every enum field
            if is_number(value.removeprefix("-")):
                return int(value)
            if value not in enum.values_by_name:
                raise ValueError(f"one of {sorted(enum.values_by_name)}")
            return enum.values_by_name[value].number
        if field.type == FieldDescriptor.TYPE_BOOL:
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError("true or false")
            return value.lower() in ("true", "1")
        if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            return float(value)
        if field.type == FieldDescriptor.TYPE_STRING:
            return value
        if field.type == FieldDescriptor.TYPE_BYTES:
            return value.encode()
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            raise ValueError("a message, which a path or query parameter cannot set")
        number = int(value)
        low, high = _INTEGER_RANGES[field.type]
        if not low <= number <= high:
            raise ValueError(f"out of range: {low} to {high}")
        return number
    except ValueError as error:
        raise InvalidArgument(f"{where}: {value!r} is not a valid value ({error})") from None


def is_repeated(field: FieldDescriptor) -> bool:
    """Whether a field is repeated, on every protobuf runtime the services support: 5.x has only
    `label`, 7.x only `is_repeated` (6.x both)."""
    repeated = getattr(field, "is_repeated", None)
    if repeated is not None:
        return bool(repeated)
    return field.label == FieldDescriptor.LABEL_REPEATED  # pyright: ignore[reportAttributeAccessIssue] - 5.x only; not in the stubs


def set_field(message: Message, path: str, value: str, where: str) -> None:
    """Set `a.b.c` on a message from a string (path variable or query parameter)."""
    *parents, leaf = path.split(".")
    for name in parents:
        field = _field(message.DESCRIPTOR, name)  # pyright: ignore[reportArgumentType] - upb's Descriptor in the stubs, one class at runtime
        if field.type != FieldDescriptor.TYPE_MESSAGE or is_repeated(field):
            raise InvalidArgument(f"{where}: {name!r} is not a message field")
        message = getattr(message, field.name)
    field = _field(message.DESCRIPTOR, leaf)  # pyright: ignore[reportArgumentType] - upb's Descriptor in the stubs, one class at runtime
    if field.message_type is not None and field.message_type.full_name in _STRING_FORM_TYPES:
        # Well-known types whose JSON form is a string: `update_mask=a,b`, `t=2026-01-01T00:00:00Z`.
        try:
            json_format.Parse(json.dumps(value), getattr(message, field.name))
        except json_format.ParseError as error:
            raise InvalidArgument(f"{where}: {value!r} is not a valid value ({error})") from None
        return
    if is_repeated(field):
        getattr(message, field.name).append(_scalar(field, value, where))
    else:
        setattr(message, field.name, _scalar(field, value, where))


def decode_json(text: bytes | str, where: str = "body"):
    """A JSON document as Python values; malformed, non-UTF-8 or absurdly deep JSON is INVALID_ARGUMENT."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidArgument(f"{where}: not valid JSON ({error})") from None
    except RecursionError:
        raise InvalidArgument(f"{where}: JSON nested too deeply") from None


def parse_json(data, message: Message, where: str) -> None:
    if not isinstance(data, dict):
        raise InvalidArgument(f"{where}: a JSON object is required, not {type(data).__name__}")
    try:
        json_format.ParseDict(data, message)
    except json_format.ParseError as error:
        raise InvalidArgument(f"{where}: {error}") from None
    except RecursionError:
        raise InvalidArgument(f"{where}: JSON nested too deeply") from None


def build_request(route: HttpRoute, path_values: Mapping[str, str], query: Iterable[tuple[str, str]], body) -> Message:
    """The request message of one HTTP call. `body` is the decoded JSON body (None when absent)."""
    try:
        return _build_request(route, path_values, query, body)
    except (ValueError, TypeError, UnicodeError) as error:
        # A value protobuf refuses (a string with lone surrogates, say): the client's, not ours.
        raise InvalidArgument(f"request: a value the message cannot hold ({error})") from None


def _build_request(route: HttpRoute, path_values: Mapping[str, str], query: Iterable[tuple[str, str]], body):
    request = route.request_class()
    if route.body == "*":
        parse_json(body if body is not None else {}, request, "body")
    elif route.body and body is not None:
        field = _field(request.DESCRIPTOR, route.body)  # pyright: ignore[reportArgumentType] - upb's Descriptor in the stubs, one class at runtime
        parse_json({field.json_name: body}, request, "body")
    for name, value in query:
        if route.body == "*":
            raise InvalidArgument(f"query parameter {name!r}: this call takes every field in the body")
        set_field(request, name, value, f"query parameter {name!r}")
    for path, value in path_values.items():
        set_field(request, path, value, f"path variable {path!r}")
    return request


def message_to_json(message: Message) -> dict:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
