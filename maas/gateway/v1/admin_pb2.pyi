from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from maas.api.v1 import annotations_pb2 as _annotations_pb2_1
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PlanKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLAN_KIND_UNSPECIFIED: _ClassVar[PlanKind]
    PLAN_KIND_FREE: _ClassVar[PlanKind]
    PLAN_KIND_PAID: _ClassVar[PlanKind]
    PLAN_KIND_MIXED: _ClassVar[PlanKind]

class Meter(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    METER_UNSPECIFIED: _ClassVar[Meter]
    METER_PREDICTION_ROWS: _ClassVar[Meter]
    METER_TRAINING_SECONDS: _ClassVar[Meter]
    METER_STORED_GB_DAYS: _ClassVar[Meter]

class InvoiceState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INVOICE_STATE_UNSPECIFIED: _ClassVar[InvoiceState]
    INVOICE_STATE_DRAFT: _ClassVar[InvoiceState]
    INVOICE_STATE_ISSUED: _ClassVar[InvoiceState]
PLAN_KIND_UNSPECIFIED: PlanKind
PLAN_KIND_FREE: PlanKind
PLAN_KIND_PAID: PlanKind
PLAN_KIND_MIXED: PlanKind
METER_UNSPECIFIED: Meter
METER_PREDICTION_ROWS: Meter
METER_TRAINING_SECONDS: Meter
METER_STORED_GB_DAYS: Meter
INVOICE_STATE_UNSPECIFIED: InvoiceState
INVOICE_STATE_DRAFT: InvoiceState
INVOICE_STATE_ISSUED: InvoiceState

class Plan(_message.Message):
    __slots__ = ("name", "display_name", "predictions_per_day", "requests_per_second", "burst", "training_seconds_per_month", "stored_bytes", "kind", "currency", "monthly_fee", "prices")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    BURST_FIELD_NUMBER: _ClassVar[int]
    TRAINING_SECONDS_PER_MONTH_FIELD_NUMBER: _ClassVar[int]
    STORED_BYTES_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_FEE_FIELD_NUMBER: _ClassVar[int]
    PRICES_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    predictions_per_day: int
    requests_per_second: float
    burst: int
    training_seconds_per_month: int
    stored_bytes: int
    kind: PlanKind
    currency: str
    monthly_fee: int
    prices: _containers.RepeatedCompositeFieldContainer[Price]
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., predictions_per_day: _Optional[int] = ..., requests_per_second: _Optional[float] = ..., burst: _Optional[int] = ..., training_seconds_per_month: _Optional[int] = ..., stored_bytes: _Optional[int] = ..., kind: _Optional[_Union[PlanKind, str]] = ..., currency: _Optional[str] = ..., monthly_fee: _Optional[int] = ..., prices: _Optional[_Iterable[_Union[Price, _Mapping]]] = ...) -> None: ...

class Price(_message.Message):
    __slots__ = ("meter", "included", "unit_amount", "per_units")
    METER_FIELD_NUMBER: _ClassVar[int]
    INCLUDED_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PER_UNITS_FIELD_NUMBER: _ClassVar[int]
    meter: Meter
    included: int
    unit_amount: int
    per_units: int
    def __init__(self, meter: _Optional[_Union[Meter, str]] = ..., included: _Optional[int] = ..., unit_amount: _Optional[int] = ..., per_units: _Optional[int] = ...) -> None: ...

class CreatePlanRequest(_message.Message):
    __slots__ = ("plan_id", "plan")
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    plan: Plan
    def __init__(self, plan_id: _Optional[str] = ..., plan: _Optional[_Union[Plan, _Mapping]] = ...) -> None: ...

class ListPlansRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPlansResponse(_message.Message):
    __slots__ = ("plans",)
    PLANS_FIELD_NUMBER: _ClassVar[int]
    plans: _containers.RepeatedCompositeFieldContainer[Plan]
    def __init__(self, plans: _Optional[_Iterable[_Union[Plan, _Mapping]]] = ...) -> None: ...

class GetUsageRequest(_message.Message):
    __slots__ = ("name", "day")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    name: str
    day: str
    def __init__(self, name: _Optional[str] = ..., day: _Optional[str] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("name", "day", "predictions", "requests", "plan", "training_seconds", "stored_bytes", "prediction_calls", "month_predictions")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    TRAINING_SECONDS_FIELD_NUMBER: _ClassVar[int]
    STORED_BYTES_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_CALLS_FIELD_NUMBER: _ClassVar[int]
    MONTH_PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    day: str
    predictions: int
    requests: int
    plan: Plan
    training_seconds: int
    stored_bytes: int
    prediction_calls: int
    month_predictions: int
    def __init__(self, name: _Optional[str] = ..., day: _Optional[str] = ..., predictions: _Optional[int] = ..., requests: _Optional[int] = ..., plan: _Optional[_Union[Plan, _Mapping]] = ..., training_seconds: _Optional[int] = ..., stored_bytes: _Optional[int] = ..., prediction_calls: _Optional[int] = ..., month_predictions: _Optional[int] = ...) -> None: ...

class GetUsageHistoryRequest(_message.Message):
    __slots__ = ("name", "days")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    name: str
    days: int
    def __init__(self, name: _Optional[str] = ..., days: _Optional[int] = ...) -> None: ...

class DailyUsage(_message.Message):
    __slots__ = ("day", "predictions", "prediction_calls", "requests")
    DAY_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_CALLS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    day: str
    predictions: int
    prediction_calls: int
    requests: int
    def __init__(self, day: _Optional[str] = ..., predictions: _Optional[int] = ..., prediction_calls: _Optional[int] = ..., requests: _Optional[int] = ...) -> None: ...

class UsageHistory(_message.Message):
    __slots__ = ("name", "days")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    name: str
    days: _containers.RepeatedCompositeFieldContainer[DailyUsage]
    def __init__(self, name: _Optional[str] = ..., days: _Optional[_Iterable[_Union[DailyUsage, _Mapping]]] = ...) -> None: ...

class InvoiceLine(_message.Message):
    __slots__ = ("description", "plan", "meter", "start_day", "end_day", "quantity", "included", "unit_amount", "per_units", "amount")
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    METER_FIELD_NUMBER: _ClassVar[int]
    START_DAY_FIELD_NUMBER: _ClassVar[int]
    END_DAY_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    INCLUDED_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PER_UNITS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    description: str
    plan: str
    meter: Meter
    start_day: str
    end_day: str
    quantity: int
    included: int
    unit_amount: int
    per_units: int
    amount: int
    def __init__(self, description: _Optional[str] = ..., plan: _Optional[str] = ..., meter: _Optional[_Union[Meter, str]] = ..., start_day: _Optional[str] = ..., end_day: _Optional[str] = ..., quantity: _Optional[int] = ..., included: _Optional[int] = ..., unit_amount: _Optional[int] = ..., per_units: _Optional[int] = ..., amount: _Optional[int] = ...) -> None: ...

class Invoice(_message.Message):
    __slots__ = ("name", "month", "state", "currency", "lines", "total", "issue_time", "budget")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ISSUE_TIME_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    name: str
    month: str
    state: InvoiceState
    currency: str
    lines: _containers.RepeatedCompositeFieldContainer[InvoiceLine]
    total: int
    issue_time: _timestamp_pb2.Timestamp
    budget: Budget
    def __init__(self, name: _Optional[str] = ..., month: _Optional[str] = ..., state: _Optional[_Union[InvoiceState, str]] = ..., currency: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[InvoiceLine, _Mapping]]] = ..., total: _Optional[int] = ..., issue_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., budget: _Optional[_Union[Budget, _Mapping]] = ...) -> None: ...

class Budget(_message.Message):
    __slots__ = ("name", "monthly_amount", "reached_percent")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REACHED_PERCENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    monthly_amount: int
    reached_percent: int
    def __init__(self, name: _Optional[str] = ..., monthly_amount: _Optional[int] = ..., reached_percent: _Optional[int] = ...) -> None: ...

class SetBudgetRequest(_message.Message):
    __slots__ = ("budget",)
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    budget: Budget
    def __init__(self, budget: _Optional[_Union[Budget, _Mapping]] = ...) -> None: ...

class GetInvoiceRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListInvoicesRequest(_message.Message):
    __slots__ = ("parent",)
    PARENT_FIELD_NUMBER: _ClassVar[int]
    parent: str
    def __init__(self, parent: _Optional[str] = ...) -> None: ...

class ListInvoicesResponse(_message.Message):
    __slots__ = ("invoices",)
    INVOICES_FIELD_NUMBER: _ClassVar[int]
    invoices: _containers.RepeatedCompositeFieldContainer[Invoice]
    def __init__(self, invoices: _Optional[_Iterable[_Union[Invoice, _Mapping]]] = ...) -> None: ...

class ChangePlanRequest(_message.Message):
    __slots__ = ("name", "plan")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    name: str
    plan: str
    def __init__(self, name: _Optional[str] = ..., plan: _Optional[str] = ...) -> None: ...

class Tenant(_message.Message):
    __slots__ = ("name", "display_name", "plan", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    plan: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., plan: _Optional[str] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApiKey(_message.Message):
    __slots__ = ("name", "display_name", "prefix", "scopes", "create_time", "expire_time", "revoke_time", "owner", "last_use_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    REVOKE_TIME_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    LAST_USE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    prefix: str
    scopes: _containers.RepeatedScalarFieldContainer[_annotations_pb2_1.Scope]
    create_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    revoke_time: _timestamp_pb2.Timestamp
    owner: str
    last_use_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., prefix: _Optional[str] = ..., scopes: _Optional[_Iterable[_Union[_annotations_pb2_1.Scope, str]]] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., revoke_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., owner: _Optional[str] = ..., last_use_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateInvitationRequest(_message.Message):
    __slots__ = ("parent", "role")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    parent: str
    role: str
    def __init__(self, parent: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class CreateInvitationResponse(_message.Message):
    __slots__ = ("token", "role", "expire_time")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    token: str
    role: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, token: _Optional[str] = ..., role: _Optional[str] = ..., expire_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreatePasswordResetRequest(_message.Message):
    __slots__ = ("email",)
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    email: str
    def __init__(self, email: _Optional[str] = ...) -> None: ...

class CreatePasswordResetResponse(_message.Message):
    __slots__ = ("token", "expire_time")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    token: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, token: _Optional[str] = ..., expire_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateTenantRequest(_message.Message):
    __slots__ = ("tenant_id", "tenant")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    tenant: Tenant
    def __init__(self, tenant_id: _Optional[str] = ..., tenant: _Optional[_Union[Tenant, _Mapping]] = ...) -> None: ...

class GetTenantRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListTenantsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTenantsResponse(_message.Message):
    __slots__ = ("tenants", "next_page_token")
    TENANTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenants: _containers.RepeatedCompositeFieldContainer[Tenant]
    next_page_token: str
    def __init__(self, tenants: _Optional[_Iterable[_Union[Tenant, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateApiKeyRequest(_message.Message):
    __slots__ = ("parent", "api_key")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    parent: str
    api_key: ApiKey
    def __init__(self, parent: _Optional[str] = ..., api_key: _Optional[_Union[ApiKey, _Mapping]] = ...) -> None: ...

class CreateApiKeyResponse(_message.Message):
    __slots__ = ("api_key", "secret")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    api_key: ApiKey
    secret: str
    def __init__(self, api_key: _Optional[_Union[ApiKey, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class ListApiKeysRequest(_message.Message):
    __slots__ = ("parent",)
    PARENT_FIELD_NUMBER: _ClassVar[int]
    parent: str
    def __init__(self, parent: _Optional[str] = ...) -> None: ...

class ListApiKeysResponse(_message.Message):
    __slots__ = ("api_keys",)
    API_KEYS_FIELD_NUMBER: _ClassVar[int]
    api_keys: _containers.RepeatedCompositeFieldContainer[ApiKey]
    def __init__(self, api_keys: _Optional[_Iterable[_Union[ApiKey, _Mapping]]] = ...) -> None: ...

class RevokeApiKeyRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class WatchCredentialsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Credential(_message.Message):
    __slots__ = ("secret_sha256", "name", "tenant", "scopes", "expire_time", "plan")
    SECRET_SHA256_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    secret_sha256: str
    name: str
    tenant: str
    scopes: _containers.RepeatedScalarFieldContainer[_annotations_pb2_1.Scope]
    expire_time: _timestamp_pb2.Timestamp
    plan: Plan
    def __init__(self, secret_sha256: _Optional[str] = ..., name: _Optional[str] = ..., tenant: _Optional[str] = ..., scopes: _Optional[_Iterable[_Union[_annotations_pb2_1.Scope, str]]] = ..., expire_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., plan: _Optional[_Union[Plan, _Mapping]] = ...) -> None: ...

class LookupCredentialRequest(_message.Message):
    __slots__ = ("secret_sha256",)
    SECRET_SHA256_FIELD_NUMBER: _ClassVar[int]
    secret_sha256: str
    def __init__(self, secret_sha256: _Optional[str] = ...) -> None: ...

class CredentialSnapshot(_message.Message):
    __slots__ = ("credentials", "plans")
    class PlansEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Plan
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Plan, _Mapping]] = ...) -> None: ...
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    PLANS_FIELD_NUMBER: _ClassVar[int]
    credentials: _containers.RepeatedCompositeFieldContainer[Credential]
    plans: _containers.MessageMap[str, Plan]
    def __init__(self, credentials: _Optional[_Iterable[_Union[Credential, _Mapping]]] = ..., plans: _Optional[_Mapping[str, Plan]] = ...) -> None: ...

class TenantUsage(_message.Message):
    __slots__ = ("tenant", "day", "predictions", "requests", "lease_wanted", "prediction_calls", "lease_needed")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    LEASE_WANTED_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_CALLS_FIELD_NUMBER: _ClassVar[int]
    LEASE_NEEDED_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    day: str
    predictions: int
    requests: int
    lease_wanted: int
    prediction_calls: int
    lease_needed: int
    def __init__(self, tenant: _Optional[str] = ..., day: _Optional[str] = ..., predictions: _Optional[int] = ..., requests: _Optional[int] = ..., lease_wanted: _Optional[int] = ..., prediction_calls: _Optional[int] = ..., lease_needed: _Optional[int] = ...) -> None: ...

class LeaseUsageRequest(_message.Message):
    __slots__ = ("replica", "usage", "key_use")
    class KeyUseEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _timestamp_pb2.Timestamp
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    KEY_USE_FIELD_NUMBER: _ClassVar[int]
    replica: str
    usage: _containers.RepeatedCompositeFieldContainer[TenantUsage]
    key_use: _containers.MessageMap[str, _timestamp_pb2.Timestamp]
    def __init__(self, replica: _Optional[str] = ..., usage: _Optional[_Iterable[_Union[TenantUsage, _Mapping]]] = ..., key_use: _Optional[_Mapping[str, _timestamp_pb2.Timestamp]] = ...) -> None: ...

class PredictionLease(_message.Message):
    __slots__ = ("tenant", "day", "granted", "retry_after")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    day: str
    granted: int
    retry_after: _duration_pb2.Duration
    def __init__(self, tenant: _Optional[str] = ..., day: _Optional[str] = ..., granted: _Optional[int] = ..., retry_after: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class LeaseUsageResponse(_message.Message):
    __slots__ = ("leases", "valid_for", "replicas")
    LEASES_FIELD_NUMBER: _ClassVar[int]
    VALID_FOR_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    leases: _containers.RepeatedCompositeFieldContainer[PredictionLease]
    valid_for: _duration_pb2.Duration
    replicas: int
    def __init__(self, leases: _Optional[_Iterable[_Union[PredictionLease, _Mapping]]] = ..., valid_for: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., replicas: _Optional[int] = ...) -> None: ...

class Member(_message.Message):
    __slots__ = ("name", "email", "role", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    email: str
    role: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., email: _Optional[str] = ..., role: _Optional[str] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListMembersRequest(_message.Message):
    __slots__ = ("parent",)
    PARENT_FIELD_NUMBER: _ClassVar[int]
    parent: str
    def __init__(self, parent: _Optional[str] = ...) -> None: ...

class ListMembersResponse(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[Member]
    def __init__(self, members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ...) -> None: ...

class UpdateMemberRequest(_message.Message):
    __slots__ = ("member",)
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    member: Member
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ...) -> None: ...

class DeleteMemberRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class AuditEvent(_message.Message):
    __slots__ = ("name", "kind", "tenant", "actor", "target", "details", "create_time")
    class DetailsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    tenant: str
    actor: str
    target: str
    details: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., tenant: _Optional[str] = ..., actor: _Optional[str] = ..., target: _Optional[str] = ..., details: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListAuditEventsRequest(_message.Message):
    __slots__ = ("parent", "kind", "since", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    kind: str
    since: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., kind: _Optional[str] = ..., since: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAuditEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AuditEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[AuditEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
