"""`MaasClient`: one authenticated channel to the gateway and typed calls for the user's journey."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import grpc
import numpy as np
from google.protobuf import json_format
from google.rpc import error_details_pb2  # pyright: ignore[reportMissingTypeStubs]
from grpc_status import rpc_status

from maas.api.v1 import annotations_pb2 as api_pb
from maas.client import uploads
from maas.descriptors import find_service
from maas.gateway.v1 import admin_pb2, admin_pb2_grpc
from maas.inference.v2 import grpc_service_pb2 as infer_pb
from maas.inference.v2 import grpc_service_pb2_grpc as infer_grpc
from maas.registry.v1 import registry_pb2, registry_pb2_grpc
from maas.trainer.v1 import trainer_pb2, trainer_pb2_grpc

CHUNK_BYTES = 1024 * 1024
Progress = Callable[[int, int], None]
_SERVICES = {
    "admin": "maas.gateway.v1.AdminService",
    "registry": "maas.registry.v1.RegistryService",
    "trainer": "maas.trainer.v1.TrainerService",
    "inference": "inference.GRPCInferenceService",
}
# How often a broken watch or download stream is reopened from where it stopped.
_STREAM_RESUMES = 5
_DTYPES = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "INT32": np.int32, "BOOL": np.bool_}


def required_scope(method: str) -> str:
    """The scope (`read`, `predict`, `train`, `admin`) that `package.Service/Method` needs, per its contract.

    Methods without the option (the standard inference API) need `predict`, as at the gateway.
    """
    service, _, name = method.partition("/")
    descriptor = find_service(service).methods_by_name[name]
    options = descriptor.GetOptions()
    # The custom option's stub is left out of the check (pyrightconfig.json): its value is untyped.
    extensions: Any = options.Extensions
    scope = int(extensions[api_pb.required_scope] or api_pb.Scope.SCOPE_PREDICT)
    return api_pb.Scope.Name(scope).removeprefix("SCOPE_").lower()


def _service_config() -> str:
    """Retry on UNAVAILABLE every call that changes nothing: read-scoped methods and inference."""
    names = [
        {"service": service, "method": method}
        for service in _SERVICES.values()
        for method in find_service(service).methods_by_name
        if required_scope(f"{service}/{method}") in ("read", "predict")
    ]
    policy = {
        "maxAttempts": 4,
        "initialBackoff": "0.2s",
        "maxBackoff": "2s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE"],
    }
    return json.dumps({"methodConfig": [{"name": names, "retryPolicy": policy}]})


@dataclass(frozen=True)
class Prediction:
    """A model's answer: the version that gave it (an alias resolved) and its outputs by name."""

    version: int
    outputs: dict[str, np.ndarray]


class MaasError(Exception):
    """A call failed: `code` is the gRPC status, `message` the service's explanation.

    `method` is the RPC that failed; `retry_after` (seconds) and `violations` come from the
    `google.rpc` details the gateway attaches (RetryInfo, QuotaFailure, BadRequest).
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        method: str = "",
        retry_after: float | None = None,
        violations: tuple[str, ...] = (),
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.method = method
        self.retry_after = retry_after
        self.violations = violations

    @property
    def scope(self) -> str:
        """The scope the failed method needs ('' when unknown)."""
        try:
            return required_scope(self.method)
        except (KeyError, ValueError):
            return ""

    @classmethod
    def from_rpc(cls, error: grpc.RpcError, method: str) -> MaasError:
        retry_after, violations = None, list[str]()
        try:
            status = cast(Any, rpc_status).from_call(error)  # untyped; an RpcError is a Call
        except ValueError:  # details that contradict the status line: ignore them
            status = None
        for detail in status.details if status else ():
            if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                retry_after = info.retry_delay.ToTimedelta().total_seconds()
            elif detail.Is(error_details_pb2.QuotaFailure.DESCRIPTOR):
                quota = error_details_pb2.QuotaFailure()
                detail.Unpack(quota)
                violations += [v.description or v.subject for v in quota.violations]
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations += [f"{v.field}: {v.description}" for v in bad.field_violations]
        return cls(
            error.code(), error.details() or "", method=method, retry_after=retry_after, violations=tuple(violations)
        )


def resource_name(collection: str, name: str) -> str:
    """`digits` -> `models/digits`; a name already under `collection/` is kept."""
    return name if name.startswith(f"{collection}/") else f"{collection}/{name}"


def dataset_name(name: str, version: int | None = None) -> str:
    """`datasets/{id}` for an id or name, with `/versions/{version}` when one is given."""
    name = resource_name("datasets", name)
    return f"{name}/versions/{version}" if version is not None else name


def _spec_names(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Accept short names in a spec dict (`digits` for `datasets/digits`, `models/digits`)."""
    spec = dict(spec)
    for key in ("dataset", "validation_dataset"):
        if isinstance(spec.get(key), Mapping) and isinstance(spec[key].get("dataset"), str):
            spec[key] = {**spec[key], "dataset": resource_name("datasets", spec[key]["dataset"])}
    for key in ("target_model", "targetModel"):
        if isinstance(spec.get(key), str):
            spec[key] = resource_name("models", spec[key])
    return spec


_FORMAT_BY_SUFFIX = {".npz": "npz", ".jsonl": "jsonl", ".ndjson": "jsonl", ".zip": "archive", ".tar": "archive"}


def _guess_format(data: bytes | Path) -> str:
    if isinstance(data, Path):
        suffixes = "".join(data.suffixes[-2:]).lower()
        if suffixes.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
            return "archive"
        return _FORMAT_BY_SUFFIX.get(data.suffix.lower(), "csv")
    if data[:2] == b"PK":  # NPZ files are zip archives of .npy arrays
        with zipfile.ZipFile(io.BytesIO(data)) as zipped:
            names = zipped.namelist()
        return "npz" if names and all(n.endswith(".npy") for n in names) else "archive"
    return "csv"


def _trace_metadata() -> tuple[tuple[str, str], ...]:
    """The caller's W3C trace context (`traceparent`, `tracestate`) while the caller traces with
    OpenTelemetry, so the platform's spans join its trace. The SDK does not depend on OpenTelemetry:
    it only looks whether the caller has loaded it."""
    if "opentelemetry.trace" not in sys.modules:
        return ()
    from opentelemetry import propagate  # the caller's own installation

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return tuple((key, value) for key, value in carrier.items() if key in ("traceparent", "tracestate"))


class MaasClient:
    """Talks to the gateway with an API key. Use as a context manager or call `close()`.

    `https://host:port` connects with TLS, verified against the system's roots or `ca_cert` (PEM
    bytes of a private CA, which also implies TLS); a bare `host:port` connects in plaintext.
    """

    def __init__(self, endpoint: str, api_key: str, timeout: float = 60.0, *, ca_cert: bytes | None = None) -> None:
        self.endpoint = endpoint
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self._timeout = timeout
        options = [
            ("grpc.max_receive_message_length", 64 << 20),
            ("grpc.max_send_message_length", 64 << 20),
            ("grpc.enable_retries", 1),
            ("grpc.service_config", _service_config()),
        ]
        target = endpoint.removeprefix("https://")
        if endpoint.startswith("https://") or ca_cert:
            credentials = grpc.ssl_channel_credentials(root_certificates=ca_cert)
            self._channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        # The generated gRPC stubs carry no types (only the messages have .pyi stubs).
        self.admin: Any = admin_pb2_grpc.AdminServiceStub(self._channel)
        self.registry: Any = registry_pb2_grpc.RegistryServiceStub(self._channel)
        self.trainer: Any = trainer_pb2_grpc.TrainerServiceStub(self._channel)
        self.inference: Any = infer_grpc.GRPCInferenceServiceStub(self._channel)

    def __enter__(self) -> MaasClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel (also on leaving a `with` block)."""
        self._channel.close()

    def call_options(self, timeout: float | None = None) -> dict[str, Any]:
        """The metadata (key, trace context) and deadline this client sends, for calling one of its
        stubs directly: `client.registry.GetModel(request, **client.call_options())`."""
        return {"metadata": (*self._metadata, *_trace_metadata()), "timeout": timeout or self._timeout}

    def _call(self, service: str, method: str, request: Any, timeout: float | None = None) -> Any:
        """One unary (or client-streaming) call; failures become `MaasError`."""
        try:
            return getattr(getattr(self, service), method)(request, **self.call_options(timeout))
        except grpc.RpcError as error:
            raise MaasError.from_rpc(error, f"{_SERVICES[service]}/{method}") from None

    def _list(self, service: str, method: str, request: Any, field: str, limit: int | None) -> list[Any]:
        """Every item of a paginated list (at most `limit`), following `next_page_token`."""
        items: list[Any] = []
        if limit:
            request.page_size = min(limit, 1000)
        while True:
            response = self._call(service, method, request)
            items.extend(getattr(response, field))
            if not response.next_page_token or (limit and len(items) >= limit):
                return items[:limit] if limit else items
            request.page_token = response.next_page_token

    # admin
    def create_tenant(self, tenant_id: str, display_name: str = "", plan: str = "") -> admin_pb2.Tenant:
        """A new tenant (operator only), on `plans/{plan}` or the default plan."""
        request = admin_pb2.CreateTenantRequest(
            tenant_id=tenant_id, tenant=admin_pb2.Tenant(display_name=display_name, plan=plan)
        )
        return self._call("admin", "CreateTenant", request)

    def create_api_key(
        self, tenant_id: str, display_name: str = "", scopes: tuple[str, ...] = ()
    ) -> admin_pb2.CreateApiKeyResponse:
        """Returns the key record and its secret (shown only once); no scopes means all but admin."""
        key = admin_pb2.ApiKey(
            display_name=display_name,
            scopes=[api_pb.Scope.Name(api_pb.Scope.Value(f"SCOPE_{s.upper()}")) for s in scopes],
        )
        request = admin_pb2.CreateApiKeyRequest(parent=resource_name("tenants", tenant_id), api_key=key)
        return self._call("admin", "CreateApiKey", request)

    def create_invitation(self, tenant_id: str, role: str) -> admin_pb2.CreateInvitationResponse:
        """An invitation to the tenant with `role` (owner, developer, viewer, billing); its token is
        shown only once, and the invitee registers with it on the console."""
        request = admin_pb2.CreateInvitationRequest(parent=resource_name("tenants", tenant_id), role=role)
        return self._call("admin", "CreateInvitation", request)

    def create_password_reset(self, email: str) -> admin_pb2.CreatePasswordResetResponse:
        """A one-use token that sets a new password for the account of `email` (shown only once)."""
        return self._call("admin", "CreatePasswordReset", admin_pb2.CreatePasswordResetRequest(email=email))

    def create_plan(
        self,
        plan_id: str,
        *,
        predictions_per_day: int = 0,
        requests_per_second: float = 0,
        burst: int = 0,
        training_seconds_per_month: int = 0,
        stored_bytes: int = 0,
        display_name: str = "",
        monthly_fee: int = 0,
        currency: str = "",
        prices: Sequence[admin_pb2.Price] = (),
    ) -> admin_pb2.Plan:
        """A plan of quotas and rate limits (0 means unlimited) and what it bills: a monthly fee and
        prices per meter beyond an allowance, in the currency's smallest unit (cents)."""
        plan = admin_pb2.Plan(
            display_name=display_name,
            predictions_per_day=predictions_per_day,
            requests_per_second=requests_per_second,
            burst=burst,
            training_seconds_per_month=training_seconds_per_month,
            stored_bytes=stored_bytes,
            monthly_fee=monthly_fee,
            currency=currency,
            prices=prices,
        )
        return self._call("admin", "CreatePlan", admin_pb2.CreatePlanRequest(plan_id=plan_id, plan=plan))

    def list_members(self, tenant_id: str) -> list[admin_pb2.Member]:
        """A tenant's members and their roles (the admin key, or the tenant's owners)."""
        request = admin_pb2.ListMembersRequest(parent=resource_name("tenants", tenant_id))
        return list(self._call("admin", "ListMembers", request).members)

    def set_member_role(self, tenant_id: str, user: str, role: str) -> admin_pb2.Member:
        """A member's new role; the tenant's last owner cannot be demoted (FAILED_PRECONDITION)."""
        name = f"{resource_name('tenants', tenant_id)}/members/{user.removeprefix('users/')}"
        member = admin_pb2.Member(name=name, role=role)
        return self._call("admin", "UpdateMember", admin_pb2.UpdateMemberRequest(member=member))

    def remove_member(self, tenant_id: str, user: str) -> admin_pb2.Member:
        """Removes a member (their sessions end, the keys they created for the tenant are revoked)."""
        name = f"{resource_name('tenants', tenant_id)}/members/{user.removeprefix('users/')}"
        return self._call("admin", "DeleteMember", admin_pb2.DeleteMemberRequest(name=name))

    def list_audit_events(
        self, tenant_id: str = "-", kind: str = "", since: dt.datetime | None = None, limit: int | None = None
    ) -> list[admin_pb2.AuditEvent]:
        """A tenant's audit events, newest first; `-` lists every tenant's (the admin key only)."""
        request = admin_pb2.ListAuditEventsRequest(parent=resource_name("tenants", tenant_id), kind=kind)
        if since is not None:
            request.since.FromDatetime(since)
        return self._list("admin", "ListAuditEvents", request, "events", limit)

    def get_usage(self, tenant: str = "-", day: str = "") -> admin_pb2.Usage:
        """A tenant's metered usage of one UTC day (today by default) and its plan; `-` is the key's own tenant."""
        name = f"{resource_name('tenants', tenant)}/usage"
        return self._call("admin", "GetUsage", admin_pb2.GetUsageRequest(name=name, day=day))

    def get_usage_history(self, tenant: str = "-", days: int = 0) -> admin_pb2.UsageHistory:
        """A tenant's usage per UTC day for the last `days` days (30 by default), oldest first."""
        name = f"{resource_name('tenants', tenant)}/usage"
        return self._call("admin", "GetUsageHistory", admin_pb2.GetUsageHistoryRequest(name=name, days=days))

    def get_invoice(self, tenant: str = "-", month: str = "current") -> admin_pb2.Invoice:
        """A tenant's invoice of a UTC month (YYYY-MM; `current`: the running month's draft)."""
        name = f"{resource_name('tenants', tenant)}/invoices/{month}"
        return self._call("admin", "GetInvoice", admin_pb2.GetInvoiceRequest(name=name))

    def list_invoices(self, tenant: str) -> list[admin_pb2.Invoice]:
        """A tenant's invoices, the running month's draft first."""
        request = admin_pb2.ListInvoicesRequest(parent=resource_name("tenants", tenant))
        return list(self._call("admin", "ListInvoices", request).invoices)

    def change_plan(self, tenant: str, plan: str) -> admin_pb2.Tenant:
        """Move a tenant to `plan` from today (UTC); this month's invoice prorates both by day."""
        request = admin_pb2.ChangePlanRequest(name=resource_name("tenants", tenant), plan=resource_name("plans", plan))
        return self._call("admin", "ChangePlan", request)

    def set_budget(self, tenant: str, monthly_amount: int) -> admin_pb2.Budget:
        """A tenant's monthly budget in the smallest currency unit (0: none); 80 % and 100 % of it are events."""
        budget = admin_pb2.Budget(name=f"{resource_name('tenants', tenant)}/budget", monthly_amount=monthly_amount)
        return self._call("admin", "SetBudget", admin_pb2.SetBudgetRequest(budget=budget))

    # datasets
    def upload_dataset(
        self,
        dataset_id: str,
        data: bytes | str | os.PathLike[str],
        fmt: str = "",
        description: str = "",
        progress: Progress | None = None,
        labels: Mapping[str, str] | None = None,
        kind: str = "",
        text_column: str = "",
        label_column: str = "",
    ) -> registry_pb2.Dataset:
        """Stream a CSV, NPZ, JSON lines file or image archive (bytes or a file) in chunks as a
        new dataset version.

        `fmt` (`csv`, `npz`, `jsonl`, `archive`) is guessed from the file name or content when
        empty; `kind="text"` marks a CSV of texts (`text_column`, `label_column` default to
        `text` and `label`); `progress(sent, total)` is called after each chunk.
        """
        source = data if isinstance(data, bytes) else Path(data)
        if isinstance(source, Path):
            total = source.stat().st_size
            digest = hashlib.sha256()
            with source.open("rb") as file:
                for block in iter(lambda: file.read(CHUNK_BYTES), b""):
                    digest.update(block)
            sha256 = digest.hexdigest()
        else:
            total, sha256 = len(source), hashlib.sha256(source).hexdigest()
        header = registry_pb2.CreateDatasetRequest.Header(
            dataset_id=dataset_id,
            description=description,
            labels=labels or {},
            sha256=sha256,
            format=registry_pb2.DatasetFormat.Name(
                registry_pb2.DatasetFormat.Value(f"DATASET_FORMAT_{(fmt or _guess_format(source)).upper()}")
            ),
            kind=registry_pb2.DatasetKind.Name(
                registry_pb2.DatasetKind.Value(f"DATASET_KIND_{kind.upper()}") if kind else 0
            ),
            text_column=text_column,
            label_column=label_column,
        )

        def chunks() -> Iterator[bytes]:
            if isinstance(source, bytes):
                for offset in range(0, total, CHUNK_BYTES):
                    yield source[offset : offset + CHUNK_BYTES]
            else:
                with source.open("rb") as file:
                    yield from iter(lambda: file.read(CHUNK_BYTES), b"")

        def messages() -> Iterator[registry_pb2.CreateDatasetRequest]:
            yield registry_pb2.CreateDatasetRequest(header=header)
            sent = 0
            for chunk in chunks():
                yield registry_pb2.CreateDatasetRequest(chunk=chunk)
                sent += len(chunk)
                if progress:
                    progress(sent, total)

        return self._call("registry", "CreateDataset", messages(), timeout=600)

    def get_dataset(self, name: str, version: int | None = None) -> registry_pb2.Dataset:
        """`digits` (latest version), `datasets/digits/versions/2`, or `digits` with `version=2`."""
        request = registry_pb2.GetDatasetRequest(name=dataset_name(name, version))
        return self._call("registry", "GetDataset", request)

    def delete_dataset(self, name: str, version: int | None = None) -> int:
        """Delete one version (`version=2`, or `datasets/digits/versions/2`) or, given only the
        dataset, every version; returns how many versions went."""
        request = registry_pb2.DeleteDatasetRequest(name=dataset_name(name, version))
        return self._call("registry", "DeleteDataset", request).deleted_versions

    def list_datasets(self, dataset_id: str = "", limit: int | None = None) -> list[registry_pb2.Dataset]:
        """Dataset versions, of one dataset id or all."""
        request = registry_pb2.ListDatasetsRequest(dataset_id=dataset_id.removeprefix("datasets/"))
        return self._list("registry", "ListDatasets", request, "datasets", limit)

    # training
    def create_training_job(
        self,
        *,
        dataset: str,
        label_column: str,
        target_model: str,
        template: str = "mlp",
        parameters: Mapping[str, Any] | None = None,
        epochs: int = 20,
        batch_size: int = 32,
        learning_rate: float = 0.001,
        validation_split: float = 0.2,
        seed: int = 0,
        optimizer: str = "",
        feature_columns: tuple[str, ...] = (),
        display_name: str = "",
        request_id: str = "",
    ) -> trainer_pb2.TrainingJob:
        """Queue a job that trains a template on a dataset into `target_model`."""
        spec = {
            "dataset": {"dataset": dataset, "label_column": label_column, "feature_columns": list(feature_columns)},
            "validation_split": validation_split,
            "template": {"name": template, "parameters": parameters or {}},
            "hyperparameters": {
                "epochs": epochs,
                "batch_size": batch_size,
                "learning_rate": learning_rate,
                "seed": seed,
                "optimizer": optimizer,
            },
            "target_model": target_model,
        }
        return self.create_training_job_from_spec(spec, display_name=display_name, request_id=request_id)

    def create_training_job_from_spec(
        self,
        spec: Mapping[str, Any] | trainer_pb2.TrainingJobSpec,
        *,
        display_name: str = "",
        request_id: str = "",
    ) -> trainer_pb2.TrainingJob:
        """Queue a job from a `TrainingJobSpec` or its JSON form as a dict (short names allowed).

        Raises ValueError when the dict does not fit the spec's schema.
        """
        if not isinstance(spec, trainer_pb2.TrainingJobSpec):
            try:
                spec = json_format.ParseDict(_spec_names(dict(spec)), trainer_pb2.TrainingJobSpec())
            except json_format.ParseError as error:
                raise ValueError(f"training job spec: {error}") from None
        job = trainer_pb2.TrainingJob(spec=spec, display_name=display_name)
        request = trainer_pb2.CreateTrainingJobRequest(training_job=job, request_id=request_id)
        return self._call("trainer", "CreateTrainingJob", request)

    def get_training_job(self, name: str) -> trainer_pb2.TrainingJob:
        """A job's state, progress, metrics and, once it succeeded, the version it registered."""
        request = trainer_pb2.GetTrainingJobRequest(name=resource_name("trainingJobs", name))
        return self._call("trainer", "GetTrainingJob", request)

    def list_training_jobs(self, filter: str = "", limit: int | None = None) -> list[trainer_pb2.TrainingJob]:
        """Jobs newest first; `filter` like `state=RUNNING AND target_model=models/digits`."""
        request = trainer_pb2.ListTrainingJobsRequest(filter=filter)
        return self._list("trainer", "ListTrainingJobs", request, "training_jobs", limit)

    def cancel_training_job(self, name: str) -> trainer_pb2.TrainingJob:
        """Cancel a queued or running job; returns the job as it stands."""
        request = trainer_pb2.CancelTrainingJobRequest(name=resource_name("trainingJobs", name))
        return self._call("trainer", "CancelTrainingJob", request)

    def watch_training_job(
        self, name: str, after_sequence: int = 0, timeout: float | None = 3600
    ) -> Iterator[trainer_pb2.TrainingJobEvent]:
        """Yield the job's events until it ends, from `after_sequence` on (0: the whole history).

        A stream broken by UNAVAILABLE is reopened after the last event seen; `timeout` (None for
        none) bounds each stream.
        """
        name = resource_name("trainingJobs", name)
        resumes = 0
        while True:
            request = trainer_pb2.WatchTrainingJobRequest(name=name, after_sequence=after_sequence)
            metadata = (*self._metadata, *_trace_metadata())
            stream = self.trainer.WatchTrainingJob(request, metadata=metadata, timeout=timeout)
            try:
                for event in stream:
                    after_sequence, resumes = event.sequence, 0
                    yield event
                return
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE or resumes >= _STREAM_RESUMES:
                    raise MaasError.from_rpc(error, f"{_SERVICES['trainer']}/WatchTrainingJob") from None
                resumes += 1
                time.sleep(0.2 * 2**resumes)
            finally:
                stream.cancel()

    # models, versions, aliases
    def get_model(self, name: str) -> registry_pb2.Model:
        """A model (`digits` or `models/digits`): its description, labels, task and latest version."""
        return self._call("registry", "GetModel", registry_pb2.GetModelRequest(name=resource_name("models", name)))

    def list_models(self, filter: str = "", limit: int | None = None) -> list[registry_pb2.Model]:
        """Models by name; `filter` like `labels.team=vision`."""
        return self._list("registry", "ListModels", registry_pb2.ListModelsRequest(filter=filter), "models", limit)

    def get_model_version(self, name: str, version: int | str | None = None) -> registry_pb2.ModelVersion:
        """`models/digits/versions/3`, or a model with `version` a number or an alias (`production`)."""
        name = resource_name("models", name)
        if version is not None:
            name = f"{name}/versions/{version}"
        return self._call("registry", "GetModelVersion", registry_pb2.GetModelVersionRequest(name=name))

    def list_model_versions(
        self, model: str, filter: str = "", limit: int | None = None
    ) -> list[registry_pb2.ModelVersion]:
        """A model's versions, newest first; `filter` like `state=READY`."""
        request = registry_pb2.ListModelVersionsRequest(parent=resource_name("models", model), filter=filter)
        return self._list("registry", "ListModelVersions", request, "model_versions", limit)

    def set_alias(
        self,
        model: str,
        alias: str,
        version: int | None = None,
        *,
        weights: dict[int, int] | None = None,
        shadow: tuple[int, float] | None = None,
        reason: str = "",
        expected_revision: int = 0,
        payload_log_percent: float = 0.0,
    ) -> registry_pb2.Alias:
        """Point `alias` of `model` at a version number, or split it: `weights={3: 90, 4: 10}`
        (sticky per routing key, random otherwise). `shadow=(5, 10)` mirrors 10 % of the traffic
        to version 5, which answers nobody. `expected_revision` makes the change conditional;
        `payload_log_percent` of the requests are written to the model's payload logs."""
        name = f"{resource_name('models', model)}/aliases/{alias}"
        message = registry_pb2.Alias(
            name=name, version=version or 0, reason=reason, payload_log_percent=payload_log_percent
        )
        for number, weight in (weights or {}).items():
            message.targets.add(version=number, weight=weight)
        if shadow:
            message.shadow.version, message.shadow.percent = shadow
        request = registry_pb2.SetAliasRequest(alias=message, expected_revision=expected_revision)
        return self._call("registry", "SetAlias", request)

    def start_rollout(
        self,
        model: str,
        alias: str,
        candidate: int,
        steps: list[tuple[int, int, float]],
        *,
        max_error_rate: float = 0.0,
        max_p99_seconds: float = 0.0,
        max_disagreement: float = 0.0,
        mirror_percent: float = 0.0,
        reason: str = "",
    ) -> registry_pb2.Alias:
        """Move `alias` from the version it points at to `candidate` in `steps` of (percent,
        minimum requests, minimum seconds); inference promotes the candidate after the last step,
        or rolls back as soon as a step breaches a limit (0: not checked). `mirror_percent` of
        the primary's requests are also run on the candidate to measure disagreement."""
        current = self.get_alias(model, alias)
        if len(current.targets) > 1:
            raise ValueError(f"alias {alias!r} splits its traffic already; point it at one version first")
        plan = registry_pb2.RolloutPlan(
            candidate_version=candidate,
            max_error_rate=max_error_rate,
            max_disagreement=max_disagreement,
            mirror_percent=mirror_percent,
        )
        plan.max_p99_latency.FromMicroseconds(round(max_p99_seconds * 1e6))
        for percent, min_requests, min_seconds in steps:
            step = plan.steps.add(percent=percent, min_requests=min_requests)
            step.min_duration.FromMicroseconds(round(min_seconds * 1e6))
        rollout = registry_pb2.Rollout(
            plan=plan, primary_version=current.version, state=registry_pb2.Rollout.State.STATE_RUNNING
        )
        message = registry_pb2.Alias(name=current.name, rollout=rollout, reason=reason or f"rollout of {candidate}")
        request = registry_pb2.SetAliasRequest(alias=message, expected_revision=current.revision)
        return self._call("registry", "SetAlias", request)

    def list_payload_logs(self, model: str, version: int = 0, day: str = "") -> list[registry_pb2.PayloadLog]:
        """The model's payload log files, newest first (of one version, one `YYYY-MM-DD` day)."""
        request = registry_pb2.ListPayloadLogsRequest(parent=resource_name("models", model), version=version, day=day)
        return self._list("registry", "ListPayloadLogs", request, "payload_logs", None)

    def read_payload_log(self, log: registry_pb2.PayloadLog, directory: str | os.PathLike[str]) -> Any:
        """One payload log file, downloaded into `directory` and read as a pyarrow Table
        (pip install pyarrow): `time`, `request_id`, then `input.<name>` and `output.<name>`."""
        import pyarrow.parquet as pq  # pyright: ignore[reportMissingTypeStubs]

        Path(directory).mkdir(parents=True, exist_ok=True)
        path = Path(directory) / f"{log.name.rsplit('/', 1)[-1]}.parquet"
        return cast(Any, pq).read_table(  # pyarrow is untyped
            self.download_artifact(log.artifact, path)
        )

    def delete_payload_logs(self, model: str, version: int = 0, day: str = "") -> int:
        """Delete a model's logged requests and answers (one version and one UTC day when given,
        `YYYY-MM-DD`); returns how many records went."""
        request = registry_pb2.DeletePayloadLogsRequest(parent=resource_name("models", model), version=version, day=day)
        return self._call("registry", "DeletePayloadLogs", request).deleted_count

    def alias_history(self, model: str, alias: str, limit: int | None = None) -> list[registry_pb2.AliasRevision]:
        """Every change of an alias, newest first (with its revision and reason)."""
        name = f"{resource_name('models', model)}/aliases/{alias}"
        request = registry_pb2.ListAliasRevisionsRequest(name=name)
        return self._list("registry", "ListAliasRevisions", request, "revisions", limit)

    def rollback_alias(self, model: str, alias: str, revision: int, reason: str = "") -> registry_pb2.Alias:
        """Set an alias back to what it was at `revision` of its history."""
        name = f"{resource_name('models', model)}/aliases/{alias}"
        request = registry_pb2.RollbackAliasRequest(name=name, revision=revision, reason=reason)
        return self._call("registry", "RollbackAlias", request)

    def get_alias(self, model: str, alias: str) -> registry_pb2.Alias:
        """Where an alias (`production`, `staging`, ...) of a model points now."""
        name = f"{resource_name('models', model)}/aliases/{alias}"
        return self._call("registry", "GetAlias", registry_pb2.GetAliasRequest(name=name))

    def list_aliases(self, model: str) -> list[registry_pb2.Alias]:
        """Every alias of a model, with the version each points at."""
        request = registry_pb2.ListAliasesRequest(parent=resource_name("models", model))
        return list(self._call("registry", "ListAliases", request).aliases)

    def upload_model(
        self,
        model: str,
        path: str | os.PathLike[str],
        alias: str | None = None,
        description: str = "",
        progress: Progress | None = None,
        accepts_non_finite: bool = False,
    ) -> registry_pb2.ModelVersion:
        """Upload a SavedModel directory, a `.keras` file or a tar/zip of either as a new version
        of `model`, and wait until inference has validated it (derived its signature, loaded it,
        answered a warm-up call). Returns the READY version; with `alias`, points the alias at it.
        With `accepts_non_finite`, inputs may hold NaN and infinities (refused by default).

        The bytes stream in chunks and resume after a broken connection from what the registry
        holds, also when an earlier call died half-way; `progress(sent, total)` follows them. A
        model that fails validation raises MaasError (FAILED_PRECONDITION) with the reason.
        """
        with uploads.temporary_workdir() as workdir:
            archive, fmt = uploads.pack_model(path, Path(workdir))
            artifact = self.upload_artifact(archive, progress)
        request = registry_pb2.CreateModelVersionRequest(
            parent=resource_name("models", model),
            model_version=registry_pb2.ModelVersion(
                artifact=artifact.name,
                format=fmt,
                description=description,
                signature=registry_pb2.Signature(accepts_non_finite=accepts_non_finite),
            ),
            request_id=uuid.uuid4().hex,
        )
        version = self._call("registry", "CreateModelVersion", request)
        load = infer_pb.RepositoryModelLoadRequest(model_name=model.removeprefix("models/"))
        load.parameters["version"].string_param = str(version.version)
        # Inference validates the version as it loads it; a refusal raises here with its reason.
        self._call("inference", "RepositoryModelLoad", load, timeout=900)
        version = self.get_model_version(version.name)
        if alias:
            self.set_alias(model, alias, version.version)
            version = self.get_model_version(version.name)
        return version

    # artifacts
    def upload_artifact(self, path: str | os.PathLike[str], progress: Progress | None = None) -> registry_pb2.Artifact:
        """Stream a file as a content-addressed artifact, resumably: a broken stream (or an earlier
        call that died) goes on from the bytes the registry acknowledged; the sha256 is checked by
        the registry against the file's. Memory stays at one chunk whatever the file's size."""
        try:
            return uploads.upload_resumable(self.registry, self.call_options, Path(path), progress)
        except grpc.RpcError as error:
            raise MaasError.from_rpc(error, f"{_SERVICES['registry']}/UploadArtifact") from None

    def download_artifact(self, name: str, path: str | os.PathLike[str], progress: Progress | None = None) -> Path:
        """Stream an artifact into `path`, resuming a broken stream from its offset; checks the sha256.

        `progress(received, total)` is called after each chunk.
        """
        name, path = resource_name("artifacts", name), Path(path)
        partial = path.with_name(path.name + ".partial")
        digest, received, resumes = hashlib.sha256(), 0, 0
        expected = ""
        with partial.open("wb") as file:
            while True:
                request = registry_pb2.DownloadArtifactRequest(name=name, offset=received)
                try:
                    for response in self.registry.DownloadArtifact(request, **self.call_options(600)):
                        file.write(response.chunk)
                        digest.update(response.chunk)
                        received += len(response.chunk)
                        expected, resumes = response.sha256, 0
                        if progress:
                            progress(received, response.size_bytes)
                    break
                except grpc.RpcError as error:
                    if error.code() != grpc.StatusCode.UNAVAILABLE or resumes >= _STREAM_RESUMES:
                        partial.unlink()
                        raise MaasError.from_rpc(error, f"{_SERVICES['registry']}/DownloadArtifact") from None
                    resumes += 1
                    time.sleep(0.2 * 2**resumes)
        if expected and digest.hexdigest() != expected:
            partial.unlink()
            raise MaasError(grpc.StatusCode.DATA_LOSS, f"{name}: downloaded bytes do not match sha256 {expected}")
        partial.replace(path)
        return path

    # predictions
    def predict(
        self,
        model: str,
        features: np.ndarray,
        version: str = "",
        input_name: str = "features",
        routing_key: str = "",
    ) -> dict[str, np.ndarray]:
        """Run inference on a float32 batch; returns the outputs by name as numpy arrays.

        `version` is a number or an alias; empty means `production`. For an alias that splits
        its traffic, the same `routing_key` (a user id, say) always gets the same version.
        """
        return self.infer(model, features, version, input_name, routing_key).outputs

    def infer(
        self,
        model: str,
        features: np.ndarray,
        version: str = "",
        input_name: str = "features",
        routing_key: str = "",
    ) -> Prediction:
        """`predict`, also saying which version answered (the one an alias's split chose)."""
        array = np.ascontiguousarray(features, dtype=np.float32)
        request = infer_pb.ModelInferRequest(model_name=model, model_version=str(version))
        if routing_key:
            request.parameters["routing_key"].string_param = routing_key
        request.inputs.add(name=input_name, datatype="FP32", shape=array.shape)
        request.raw_input_contents.append(array.tobytes())
        response = self._call("inference", "ModelInfer", request)
        outputs = {
            out.name: np.frombuffer(raw, dtype=_DTYPES[out.datatype]).reshape(tuple(out.shape))
            for out, raw in zip(response.outputs, response.raw_output_contents)
        }
        version = response.model_version
        return Prediction(int(version) if version.isascii() and version.isdigit() else 0, outputs)
