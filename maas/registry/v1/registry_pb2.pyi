from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from maas.api.v1 import annotations_pb2 as _annotations_pb2_1
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_TYPE_UNSPECIFIED: _ClassVar[TaskType]
    TASK_TYPE_CLASSIFICATION: _ClassVar[TaskType]
    TASK_TYPE_REGRESSION: _ClassVar[TaskType]

class DatasetFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATASET_FORMAT_UNSPECIFIED: _ClassVar[DatasetFormat]
    DATASET_FORMAT_CSV: _ClassVar[DatasetFormat]
    DATASET_FORMAT_NPZ: _ClassVar[DatasetFormat]
    DATASET_FORMAT_JSONL: _ClassVar[DatasetFormat]
    DATASET_FORMAT_ARCHIVE: _ClassVar[DatasetFormat]

class DatasetKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATASET_KIND_UNSPECIFIED: _ClassVar[DatasetKind]
    DATASET_KIND_TABULAR: _ClassVar[DatasetKind]
    DATASET_KIND_IMAGE: _ClassVar[DatasetKind]
    DATASET_KIND_TEXT: _ClassVar[DatasetKind]
TASK_TYPE_UNSPECIFIED: TaskType
TASK_TYPE_CLASSIFICATION: TaskType
TASK_TYPE_REGRESSION: TaskType
DATASET_FORMAT_UNSPECIFIED: DatasetFormat
DATASET_FORMAT_CSV: DatasetFormat
DATASET_FORMAT_NPZ: DatasetFormat
DATASET_FORMAT_JSONL: DatasetFormat
DATASET_FORMAT_ARCHIVE: DatasetFormat
DATASET_KIND_UNSPECIFIED: DatasetKind
DATASET_KIND_TABULAR: DatasetKind
DATASET_KIND_IMAGE: DatasetKind
DATASET_KIND_TEXT: DatasetKind

class Model(_message.Message):
    __slots__ = ("name", "description", "labels", "task_type", "create_time", "update_time", "latest_version", "etag")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LATEST_VERSION_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    labels: _containers.ScalarMap[str, str]
    task_type: TaskType
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    latest_version: int
    etag: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., task_type: _Optional[_Union[TaskType, str]] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., latest_version: _Optional[int] = ..., etag: _Optional[str] = ...) -> None: ...

class TensorSpec(_message.Message):
    __slots__ = ("name", "datatype", "shape")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATATYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    datatype: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., datatype: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ...) -> None: ...

class Signature(_message.Message):
    __slots__ = ("method_name", "inputs", "outputs", "accepts_non_finite")
    METHOD_NAME_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTS_NON_FINITE_FIELD_NUMBER: _ClassVar[int]
    method_name: str
    inputs: _containers.RepeatedCompositeFieldContainer[TensorSpec]
    outputs: _containers.RepeatedCompositeFieldContainer[TensorSpec]
    accepts_non_finite: bool
    def __init__(self, method_name: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[TensorSpec, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[TensorSpec, _Mapping]]] = ..., accepts_non_finite: bool = ...) -> None: ...

class Lineage(_message.Message):
    __slots__ = ("training_job", "dataset", "dataset_sha256", "hyperparameters", "base_model_version")
    class HyperparametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TRAINING_JOB_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    DATASET_SHA256_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    BASE_MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    training_job: str
    dataset: str
    dataset_sha256: str
    hyperparameters: _containers.ScalarMap[str, str]
    base_model_version: str
    def __init__(self, training_job: _Optional[str] = ..., dataset: _Optional[str] = ..., dataset_sha256: _Optional[str] = ..., hyperparameters: _Optional[_Mapping[str, str]] = ..., base_model_version: _Optional[str] = ...) -> None: ...

class ClassificationReport(_message.Message):
    __slots__ = ("class_names", "precision", "recall", "support", "confusion_matrix", "samples")
    CLASS_NAMES_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    RECALL_FIELD_NUMBER: _ClassVar[int]
    SUPPORT_FIELD_NUMBER: _ClassVar[int]
    CONFUSION_MATRIX_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    class_names: _containers.RepeatedScalarFieldContainer[str]
    precision: _containers.RepeatedScalarFieldContainer[float]
    recall: _containers.RepeatedScalarFieldContainer[float]
    support: _containers.RepeatedScalarFieldContainer[int]
    confusion_matrix: _containers.RepeatedScalarFieldContainer[int]
    samples: _containers.RepeatedCompositeFieldContainer[PredictionSample]
    def __init__(self, class_names: _Optional[_Iterable[str]] = ..., precision: _Optional[_Iterable[float]] = ..., recall: _Optional[_Iterable[float]] = ..., support: _Optional[_Iterable[int]] = ..., confusion_matrix: _Optional[_Iterable[int]] = ..., samples: _Optional[_Iterable[_Union[PredictionSample, _Mapping]]] = ...) -> None: ...

class PredictionSample(_message.Message):
    __slots__ = ("true_label", "predicted_label", "confidence", "text", "thumbnail_png")
    TRUE_LABEL_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_LABEL_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    THUMBNAIL_PNG_FIELD_NUMBER: _ClassVar[int]
    true_label: str
    predicted_label: str
    confidence: float
    text: str
    thumbnail_png: bytes
    def __init__(self, true_label: _Optional[str] = ..., predicted_label: _Optional[str] = ..., confidence: _Optional[float] = ..., text: _Optional[str] = ..., thumbnail_png: _Optional[bytes] = ...) -> None: ...

class ModelVersion(_message.Message):
    __slots__ = ("name", "version", "artifact", "format", "signature", "metrics", "lineage", "state", "description", "create_time", "aliases", "artifact_size_bytes", "state_reason", "classification_report", "reference_statistics", "drift")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[ModelVersion.State]
        STATE_READY: _ClassVar[ModelVersion.State]
        STATE_FAILED: _ClassVar[ModelVersion.State]
        STATE_ARCHIVED: _ClassVar[ModelVersion.State]
        STATE_PENDING: _ClassVar[ModelVersion.State]
    STATE_UNSPECIFIED: ModelVersion.State
    STATE_READY: ModelVersion.State
    STATE_FAILED: ModelVersion.State
    STATE_ARCHIVED: ModelVersion.State
    STATE_PENDING: ModelVersion.State
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_REPORT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_STATISTICS_FIELD_NUMBER: _ClassVar[int]
    DRIFT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    artifact: str
    format: str
    signature: Signature
    metrics: _containers.ScalarMap[str, float]
    lineage: Lineage
    state: ModelVersion.State
    description: str
    create_time: _timestamp_pb2.Timestamp
    aliases: _containers.RepeatedScalarFieldContainer[str]
    artifact_size_bytes: int
    state_reason: str
    classification_report: ClassificationReport
    reference_statistics: ReferenceStatistics
    drift: DriftReport
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., artifact: _Optional[str] = ..., format: _Optional[str] = ..., signature: _Optional[_Union[Signature, _Mapping]] = ..., metrics: _Optional[_Mapping[str, float]] = ..., lineage: _Optional[_Union[Lineage, _Mapping]] = ..., state: _Optional[_Union[ModelVersion.State, str]] = ..., description: _Optional[str] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., aliases: _Optional[_Iterable[str]] = ..., artifact_size_bytes: _Optional[int] = ..., state_reason: _Optional[str] = ..., classification_report: _Optional[_Union[ClassificationReport, _Mapping]] = ..., reference_statistics: _Optional[_Union[ReferenceStatistics, _Mapping]] = ..., drift: _Optional[_Union[DriftReport, _Mapping]] = ...) -> None: ...

class ReferenceStatistics(_message.Message):
    __slots__ = ("input", "features", "row_count", "prediction_output", "prediction_shares")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_SHARES_FIELD_NUMBER: _ClassVar[int]
    input: str
    features: _containers.RepeatedCompositeFieldContainer[FeatureStatistics]
    row_count: int
    prediction_output: str
    prediction_shares: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, input: _Optional[str] = ..., features: _Optional[_Iterable[_Union[FeatureStatistics, _Mapping]]] = ..., row_count: _Optional[int] = ..., prediction_output: _Optional[str] = ..., prediction_shares: _Optional[_Iterable[float]] = ...) -> None: ...

class DriftReport(_message.Message):
    __slots__ = ("time", "row_count", "features", "prediction_shares", "prediction_psi")
    TIME_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_SHARES_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_PSI_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    row_count: int
    features: _containers.RepeatedCompositeFieldContainer[FeatureDrift]
    prediction_shares: _containers.RepeatedScalarFieldContainer[float]
    prediction_psi: float
    def __init__(self, time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., row_count: _Optional[int] = ..., features: _Optional[_Iterable[_Union[FeatureDrift, _Mapping]]] = ..., prediction_shares: _Optional[_Iterable[float]] = ..., prediction_psi: _Optional[float] = ...) -> None: ...

class FeatureDrift(_message.Message):
    __slots__ = ("name", "psi", "ks")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PSI_FIELD_NUMBER: _ClassVar[int]
    KS_FIELD_NUMBER: _ClassVar[int]
    name: str
    psi: float
    ks: float
    def __init__(self, name: _Optional[str] = ..., psi: _Optional[float] = ..., ks: _Optional[float] = ...) -> None: ...

class FeatureStatistics(_message.Message):
    __slots__ = ("name", "bin_edges", "bin_shares", "mean", "stddev")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BIN_EDGES_FIELD_NUMBER: _ClassVar[int]
    BIN_SHARES_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    STDDEV_FIELD_NUMBER: _ClassVar[int]
    name: str
    bin_edges: _containers.RepeatedScalarFieldContainer[float]
    bin_shares: _containers.RepeatedScalarFieldContainer[float]
    mean: float
    stddev: float
    def __init__(self, name: _Optional[str] = ..., bin_edges: _Optional[_Iterable[float]] = ..., bin_shares: _Optional[_Iterable[float]] = ..., mean: _Optional[float] = ..., stddev: _Optional[float] = ...) -> None: ...

class Alias(_message.Message):
    __slots__ = ("name", "version", "update_time", "revision", "targets", "shadow", "reason", "rollout", "payload_log_percent")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_LOG_PERCENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    update_time: _timestamp_pb2.Timestamp
    revision: int
    targets: _containers.RepeatedCompositeFieldContainer[AliasTarget]
    shadow: AliasShadow
    reason: str
    rollout: Rollout
    payload_log_percent: float
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., revision: _Optional[int] = ..., targets: _Optional[_Iterable[_Union[AliasTarget, _Mapping]]] = ..., shadow: _Optional[_Union[AliasShadow, _Mapping]] = ..., reason: _Optional[str] = ..., rollout: _Optional[_Union[Rollout, _Mapping]] = ..., payload_log_percent: _Optional[float] = ...) -> None: ...

class PayloadLog(_message.Message):
    __slots__ = ("name", "version", "day", "row_count", "artifact", "size_bytes", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    day: str
    row_count: int
    artifact: str
    size_bytes: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., day: _Optional[str] = ..., row_count: _Optional[int] = ..., artifact: _Optional[str] = ..., size_bytes: _Optional[int] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreatePayloadLogRequest(_message.Message):
    __slots__ = ("parent", "payload_log")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_LOG_FIELD_NUMBER: _ClassVar[int]
    parent: str
    payload_log: PayloadLog
    def __init__(self, parent: _Optional[str] = ..., payload_log: _Optional[_Union[PayloadLog, _Mapping]] = ...) -> None: ...

class ListPayloadLogsRequest(_message.Message):
    __slots__ = ("parent", "version", "day", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    version: int
    day: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., version: _Optional[int] = ..., day: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPayloadLogsResponse(_message.Message):
    __slots__ = ("payload_logs", "next_page_token")
    PAYLOAD_LOGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    payload_logs: _containers.RepeatedCompositeFieldContainer[PayloadLog]
    next_page_token: str
    def __init__(self, payload_logs: _Optional[_Iterable[_Union[PayloadLog, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeletePayloadLogsRequest(_message.Message):
    __slots__ = ("parent", "version", "day")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    parent: str
    version: int
    day: str
    def __init__(self, parent: _Optional[str] = ..., version: _Optional[int] = ..., day: _Optional[str] = ...) -> None: ...

class DeletePayloadLogsResponse(_message.Message):
    __slots__ = ("deleted_count",)
    DELETED_COUNT_FIELD_NUMBER: _ClassVar[int]
    deleted_count: int
    def __init__(self, deleted_count: _Optional[int] = ...) -> None: ...

class RolloutPlan(_message.Message):
    __slots__ = ("candidate_version", "steps", "max_error_rate", "max_p99_latency", "max_disagreement", "mirror_percent")
    class Step(_message.Message):
        __slots__ = ("percent", "min_requests", "min_duration")
        PERCENT_FIELD_NUMBER: _ClassVar[int]
        MIN_REQUESTS_FIELD_NUMBER: _ClassVar[int]
        MIN_DURATION_FIELD_NUMBER: _ClassVar[int]
        percent: int
        min_requests: int
        min_duration: _duration_pb2.Duration
        def __init__(self, percent: _Optional[int] = ..., min_requests: _Optional[int] = ..., min_duration: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...
    CANDIDATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    MAX_ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    MAX_P99_LATENCY_FIELD_NUMBER: _ClassVar[int]
    MAX_DISAGREEMENT_FIELD_NUMBER: _ClassVar[int]
    MIRROR_PERCENT_FIELD_NUMBER: _ClassVar[int]
    candidate_version: int
    steps: _containers.RepeatedCompositeFieldContainer[RolloutPlan.Step]
    max_error_rate: float
    max_p99_latency: _duration_pb2.Duration
    max_disagreement: float
    mirror_percent: float
    def __init__(self, candidate_version: _Optional[int] = ..., steps: _Optional[_Iterable[_Union[RolloutPlan.Step, _Mapping]]] = ..., max_error_rate: _Optional[float] = ..., max_p99_latency: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., max_disagreement: _Optional[float] = ..., mirror_percent: _Optional[float] = ...) -> None: ...

class Rollout(_message.Message):
    __slots__ = ("plan", "primary_version", "step", "state")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[Rollout.State]
        STATE_RUNNING: _ClassVar[Rollout.State]
        STATE_PROMOTED: _ClassVar[Rollout.State]
        STATE_ROLLED_BACK: _ClassVar[Rollout.State]
    STATE_UNSPECIFIED: Rollout.State
    STATE_RUNNING: Rollout.State
    STATE_PROMOTED: Rollout.State
    STATE_ROLLED_BACK: Rollout.State
    PLAN_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    plan: RolloutPlan
    primary_version: int
    step: int
    state: Rollout.State
    def __init__(self, plan: _Optional[_Union[RolloutPlan, _Mapping]] = ..., primary_version: _Optional[int] = ..., step: _Optional[int] = ..., state: _Optional[_Union[Rollout.State, str]] = ...) -> None: ...

class AliasTarget(_message.Message):
    __slots__ = ("version", "weight")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    version: int
    weight: int
    def __init__(self, version: _Optional[int] = ..., weight: _Optional[int] = ...) -> None: ...

class AliasShadow(_message.Message):
    __slots__ = ("version", "percent")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    version: int
    percent: float
    def __init__(self, version: _Optional[int] = ..., percent: _Optional[float] = ...) -> None: ...

class AliasRevision(_message.Message):
    __slots__ = ("alias", "deleted")
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    alias: Alias
    deleted: bool
    def __init__(self, alias: _Optional[_Union[Alias, _Mapping]] = ..., deleted: bool = ...) -> None: ...

class ClassCount(_message.Message):
    __slots__ = ("name", "count")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    count: int
    def __init__(self, name: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class ImageStats(_message.Message):
    __slots__ = ("min_width", "min_height", "max_width", "max_height", "channels")
    MIN_WIDTH_FIELD_NUMBER: _ClassVar[int]
    MIN_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    MAX_WIDTH_FIELD_NUMBER: _ClassVar[int]
    MAX_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    min_width: int
    min_height: int
    max_width: int
    max_height: int
    channels: int
    def __init__(self, min_width: _Optional[int] = ..., min_height: _Optional[int] = ..., max_width: _Optional[int] = ..., max_height: _Optional[int] = ..., channels: _Optional[int] = ...) -> None: ...

class TextStats(_message.Message):
    __slots__ = ("min_chars", "max_chars", "mean_chars")
    MIN_CHARS_FIELD_NUMBER: _ClassVar[int]
    MAX_CHARS_FIELD_NUMBER: _ClassVar[int]
    MEAN_CHARS_FIELD_NUMBER: _ClassVar[int]
    min_chars: int
    max_chars: int
    mean_chars: float
    def __init__(self, min_chars: _Optional[int] = ..., max_chars: _Optional[int] = ..., mean_chars: _Optional[float] = ...) -> None: ...

class DatasetSample(_message.Message):
    __slots__ = ("label", "text", "thumbnail_png", "file")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    THUMBNAIL_PNG_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    label: str
    text: str
    thumbnail_png: bytes
    file: str
    def __init__(self, label: _Optional[str] = ..., text: _Optional[str] = ..., thumbnail_png: _Optional[bytes] = ..., file: _Optional[str] = ...) -> None: ...

class InvalidExample(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Column(_message.Message):
    __slots__ = ("name", "datatype", "shape")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATATYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    datatype: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., datatype: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ...) -> None: ...

class Dataset(_message.Message):
    __slots__ = ("name", "dataset_id", "version", "format", "columns", "row_count", "sha256", "size_bytes", "artifact", "description", "labels", "create_time", "kind", "classes", "image_stats", "text_stats", "samples", "invalid_count", "invalid_examples", "text_column", "label_column", "unchanged")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_STATS_FIELD_NUMBER: _ClassVar[int]
    TEXT_STATS_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    INVALID_COUNT_FIELD_NUMBER: _ClassVar[int]
    INVALID_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    TEXT_COLUMN_FIELD_NUMBER: _ClassVar[int]
    LABEL_COLUMN_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    name: str
    dataset_id: str
    version: int
    format: DatasetFormat
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    row_count: int
    sha256: str
    size_bytes: int
    artifact: str
    description: str
    labels: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    kind: DatasetKind
    classes: _containers.RepeatedCompositeFieldContainer[ClassCount]
    image_stats: ImageStats
    text_stats: TextStats
    samples: _containers.RepeatedCompositeFieldContainer[DatasetSample]
    invalid_count: int
    invalid_examples: _containers.RepeatedCompositeFieldContainer[InvalidExample]
    text_column: str
    label_column: str
    unchanged: bool
    def __init__(self, name: _Optional[str] = ..., dataset_id: _Optional[str] = ..., version: _Optional[int] = ..., format: _Optional[_Union[DatasetFormat, str]] = ..., columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ..., row_count: _Optional[int] = ..., sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ..., artifact: _Optional[str] = ..., description: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[_Union[DatasetKind, str]] = ..., classes: _Optional[_Iterable[_Union[ClassCount, _Mapping]]] = ..., image_stats: _Optional[_Union[ImageStats, _Mapping]] = ..., text_stats: _Optional[_Union[TextStats, _Mapping]] = ..., samples: _Optional[_Iterable[_Union[DatasetSample, _Mapping]]] = ..., invalid_count: _Optional[int] = ..., invalid_examples: _Optional[_Iterable[_Union[InvalidExample, _Mapping]]] = ..., text_column: _Optional[str] = ..., label_column: _Optional[str] = ..., unchanged: bool = ...) -> None: ...

class Artifact(_message.Message):
    __slots__ = ("name", "sha256", "size_bytes", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    sha256: str
    size_bytes: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateModelRequest(_message.Message):
    __slots__ = ("model_id", "model")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    model: Model
    def __init__(self, model_id: _Optional[str] = ..., model: _Optional[_Union[Model, _Mapping]] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "filter", "order_by")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    filter: str
    order_by: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[str] = ..., order_by: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "next_page_token")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[Model]
    next_page_token: str
    def __init__(self, models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateModelRequest(_message.Message):
    __slots__ = ("model", "update_mask")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    model: Model
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteModelRequest(_message.Message):
    __slots__ = ("name", "etag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    etag: str
    def __init__(self, name: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class DeleteModelResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateModelVersionRequest(_message.Message):
    __slots__ = ("parent", "model_version", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    model_version: ModelVersion
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., model_version: _Optional[_Union[ModelVersion, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetModelVersionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListModelVersionsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token", "filter", "order_by")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    filter: str
    order_by: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[str] = ..., order_by: _Optional[str] = ...) -> None: ...

class ListModelVersionsResponse(_message.Message):
    __slots__ = ("model_versions", "next_page_token")
    MODEL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    model_versions: _containers.RepeatedCompositeFieldContainer[ModelVersion]
    next_page_token: str
    def __init__(self, model_versions: _Optional[_Iterable[_Union[ModelVersion, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteModelVersionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteModelVersionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ArchiveModelVersionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class UnarchiveModelVersionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class SetAliasRequest(_message.Message):
    __slots__ = ("alias", "expected_revision")
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    alias: Alias
    expected_revision: int
    def __init__(self, alias: _Optional[_Union[Alias, _Mapping]] = ..., expected_revision: _Optional[int] = ...) -> None: ...

class GetAliasRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListAliasesRequest(_message.Message):
    __slots__ = ("parent",)
    PARENT_FIELD_NUMBER: _ClassVar[int]
    parent: str
    def __init__(self, parent: _Optional[str] = ...) -> None: ...

class ListAliasesResponse(_message.Message):
    __slots__ = ("aliases",)
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    aliases: _containers.RepeatedCompositeFieldContainer[Alias]
    def __init__(self, aliases: _Optional[_Iterable[_Union[Alias, _Mapping]]] = ...) -> None: ...

class DeleteAliasRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteAliasResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAliasRevisionsRequest(_message.Message):
    __slots__ = ("name", "page_size", "page_token")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    page_size: int
    page_token: str
    def __init__(self, name: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAliasRevisionsResponse(_message.Message):
    __slots__ = ("revisions", "next_page_token")
    REVISIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    revisions: _containers.RepeatedCompositeFieldContainer[AliasRevision]
    next_page_token: str
    def __init__(self, revisions: _Optional[_Iterable[_Union[AliasRevision, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RollbackAliasRequest(_message.Message):
    __slots__ = ("name", "revision", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    revision: int
    reason: str
    def __init__(self, name: _Optional[str] = ..., revision: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class CreateDatasetRequest(_message.Message):
    __slots__ = ("header", "chunk")
    class Header(_message.Message):
        __slots__ = ("dataset_id", "format", "description", "labels", "sha256", "kind", "text_column", "label_column")
        class LabelsEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: str
            def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
        DATASET_ID_FIELD_NUMBER: _ClassVar[int]
        FORMAT_FIELD_NUMBER: _ClassVar[int]
        DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
        LABELS_FIELD_NUMBER: _ClassVar[int]
        SHA256_FIELD_NUMBER: _ClassVar[int]
        KIND_FIELD_NUMBER: _ClassVar[int]
        TEXT_COLUMN_FIELD_NUMBER: _ClassVar[int]
        LABEL_COLUMN_FIELD_NUMBER: _ClassVar[int]
        dataset_id: str
        format: DatasetFormat
        description: str
        labels: _containers.ScalarMap[str, str]
        sha256: str
        kind: DatasetKind
        text_column: str
        label_column: str
        def __init__(self, dataset_id: _Optional[str] = ..., format: _Optional[_Union[DatasetFormat, str]] = ..., description: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., sha256: _Optional[str] = ..., kind: _Optional[_Union[DatasetKind, str]] = ..., text_column: _Optional[str] = ..., label_column: _Optional[str] = ...) -> None: ...
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: CreateDatasetRequest.Header
    chunk: bytes
    def __init__(self, header: _Optional[_Union[CreateDatasetRequest.Header, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class GetDatasetRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteDatasetRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteDatasetResponse(_message.Message):
    __slots__ = ("deleted_versions",)
    DELETED_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    deleted_versions: int
    def __init__(self, deleted_versions: _Optional[int] = ...) -> None: ...

class ListDatasetsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "dataset_id")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    dataset_id: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., dataset_id: _Optional[str] = ...) -> None: ...

class ListDatasetsResponse(_message.Message):
    __slots__ = ("datasets", "next_page_token")
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    datasets: _containers.RepeatedCompositeFieldContainer[Dataset]
    next_page_token: str
    def __init__(self, datasets: _Optional[_Iterable[_Union[Dataset, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UploadArtifactRequest(_message.Message):
    __slots__ = ("header", "chunk")
    class Header(_message.Message):
        __slots__ = ("sha256", "size_bytes", "resumable", "offset")
        SHA256_FIELD_NUMBER: _ClassVar[int]
        SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
        RESUMABLE_FIELD_NUMBER: _ClassVar[int]
        OFFSET_FIELD_NUMBER: _ClassVar[int]
        sha256: str
        size_bytes: int
        resumable: bool
        offset: int
        def __init__(self, sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ..., resumable: bool = ..., offset: _Optional[int] = ...) -> None: ...
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: UploadArtifactRequest.Header
    chunk: bytes
    def __init__(self, header: _Optional[_Union[UploadArtifactRequest.Header, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class ReportModelVersionValidationRequest(_message.Message):
    __slots__ = ("name", "state", "signature", "reason", "format")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: ModelVersion.State
    signature: Signature
    reason: str
    format: str
    def __init__(self, name: _Optional[str] = ..., state: _Optional[_Union[ModelVersion.State, str]] = ..., signature: _Optional[_Union[Signature, _Mapping]] = ..., reason: _Optional[str] = ..., format: _Optional[str] = ...) -> None: ...

class ReportModelVersionDriftRequest(_message.Message):
    __slots__ = ("name", "drift")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DRIFT_FIELD_NUMBER: _ClassVar[int]
    name: str
    drift: DriftReport
    def __init__(self, name: _Optional[str] = ..., drift: _Optional[_Union[DriftReport, _Mapping]] = ...) -> None: ...

class GetUploadStatusRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class UploadStatus(_message.Message):
    __slots__ = ("name", "received_bytes", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_BYTES_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    received_bytes: int
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., received_bytes: _Optional[int] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DownloadArtifactRequest(_message.Message):
    __slots__ = ("name", "offset")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    name: str
    offset: int
    def __init__(self, name: _Optional[str] = ..., offset: _Optional[int] = ...) -> None: ...

class DownloadArtifactResponse(_message.Message):
    __slots__ = ("chunk", "offset", "size_bytes", "sha256")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    chunk: bytes
    offset: int
    size_bytes: int
    sha256: str
    def __init__(self, chunk: _Optional[bytes] = ..., offset: _Optional[int] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class DeleteArtifactRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteArtifactResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchRegistryEventsRequest(_message.Message):
    __slots__ = ("model", "after_revision")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    AFTER_REVISION_FIELD_NUMBER: _ClassVar[int]
    model: str
    after_revision: int
    def __init__(self, model: _Optional[str] = ..., after_revision: _Optional[int] = ...) -> None: ...

class RegistryEvent(_message.Message):
    __slots__ = ("revision", "kind", "model", "version", "alias", "event_time", "targets", "shadow", "reason", "rollout", "payload_log_percent")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[RegistryEvent.Kind]
        KIND_VERSION_CREATED: _ClassVar[RegistryEvent.Kind]
        KIND_VERSION_DELETED: _ClassVar[RegistryEvent.Kind]
        KIND_ALIAS_SET: _ClassVar[RegistryEvent.Kind]
        KIND_ALIAS_DELETED: _ClassVar[RegistryEvent.Kind]
        KIND_MODEL_DELETED: _ClassVar[RegistryEvent.Kind]
    KIND_UNSPECIFIED: RegistryEvent.Kind
    KIND_VERSION_CREATED: RegistryEvent.Kind
    KIND_VERSION_DELETED: RegistryEvent.Kind
    KIND_ALIAS_SET: RegistryEvent.Kind
    KIND_ALIAS_DELETED: RegistryEvent.Kind
    KIND_MODEL_DELETED: RegistryEvent.Kind
    REVISION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_LOG_PERCENT_FIELD_NUMBER: _ClassVar[int]
    revision: int
    kind: RegistryEvent.Kind
    model: str
    version: int
    alias: str
    event_time: _timestamp_pb2.Timestamp
    targets: _containers.RepeatedCompositeFieldContainer[AliasTarget]
    shadow: AliasShadow
    reason: str
    rollout: Rollout
    payload_log_percent: float
    def __init__(self, revision: _Optional[int] = ..., kind: _Optional[_Union[RegistryEvent.Kind, str]] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., alias: _Optional[str] = ..., event_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., targets: _Optional[_Iterable[_Union[AliasTarget, _Mapping]]] = ..., shadow: _Optional[_Union[AliasShadow, _Mapping]] = ..., reason: _Optional[str] = ..., rollout: _Optional[_Union[Rollout, _Mapping]] = ..., payload_log_percent: _Optional[float] = ...) -> None: ...

class GetStorageUsageRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StorageUsage(_message.Message):
    __slots__ = ("stored_bytes", "artifact_count")
    STORED_BYTES_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_COUNT_FIELD_NUMBER: _ClassVar[int]
    stored_bytes: int
    artifact_count: int
    def __init__(self, stored_bytes: _Optional[int] = ..., artifact_count: _Optional[int] = ...) -> None: ...
