from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from maas.api.v1 import annotations_pb2 as _annotations_pb2_1
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DatasetInput(_message.Message):
    __slots__ = ("dataset", "feature_columns", "label_column", "features_array", "labels_array")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    FEATURE_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    LABEL_COLUMN_FIELD_NUMBER: _ClassVar[int]
    FEATURES_ARRAY_FIELD_NUMBER: _ClassVar[int]
    LABELS_ARRAY_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    feature_columns: _containers.RepeatedScalarFieldContainer[str]
    label_column: str
    features_array: str
    labels_array: str
    def __init__(self, dataset: _Optional[str] = ..., feature_columns: _Optional[_Iterable[str]] = ..., label_column: _Optional[str] = ..., features_array: _Optional[str] = ..., labels_array: _Optional[str] = ...) -> None: ...

class TemplateModel(_message.Message):
    __slots__ = ("name", "parameters")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    parameters: _struct_pb2.Struct
    def __init__(self, name: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class BaseModel(_message.Message):
    __slots__ = ("model_version", "frozen_epochs")
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    FROZEN_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    model_version: str
    frozen_epochs: int
    def __init__(self, model_version: _Optional[str] = ..., frozen_epochs: _Optional[int] = ...) -> None: ...

class Hyperparameters(_message.Message):
    __slots__ = ("optimizer", "learning_rate", "epochs", "batch_size", "early_stopping_patience", "seed", "loss", "metrics")
    OPTIMIZER_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    EARLY_STOPPING_PATIENCE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    optimizer: str
    learning_rate: float
    epochs: int
    batch_size: int
    early_stopping_patience: int
    seed: int
    loss: str
    metrics: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, optimizer: _Optional[str] = ..., learning_rate: _Optional[float] = ..., epochs: _Optional[int] = ..., batch_size: _Optional[int] = ..., early_stopping_patience: _Optional[int] = ..., seed: _Optional[int] = ..., loss: _Optional[str] = ..., metrics: _Optional[_Iterable[str]] = ...) -> None: ...

class Resources(_message.Message):
    __slots__ = ("cpu", "gpu", "workers")
    CPU_FIELD_NUMBER: _ClassVar[int]
    GPU_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    cpu: int
    gpu: int
    workers: int
    def __init__(self, cpu: _Optional[int] = ..., gpu: _Optional[int] = ..., workers: _Optional[int] = ...) -> None: ...

class TrainingJobSpec(_message.Message):
    __slots__ = ("dataset", "validation_split", "validation_dataset", "template", "keras_model_json", "base_model", "hyperparameters", "resources", "target_model")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_SPLIT_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_DATASET_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    KERAS_MODEL_JSON_FIELD_NUMBER: _ClassVar[int]
    BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    TARGET_MODEL_FIELD_NUMBER: _ClassVar[int]
    dataset: DatasetInput
    validation_split: float
    validation_dataset: DatasetInput
    template: TemplateModel
    keras_model_json: str
    base_model: BaseModel
    hyperparameters: Hyperparameters
    resources: Resources
    target_model: str
    def __init__(self, dataset: _Optional[_Union[DatasetInput, _Mapping]] = ..., validation_split: _Optional[float] = ..., validation_dataset: _Optional[_Union[DatasetInput, _Mapping]] = ..., template: _Optional[_Union[TemplateModel, _Mapping]] = ..., keras_model_json: _Optional[str] = ..., base_model: _Optional[_Union[BaseModel, _Mapping]] = ..., hyperparameters: _Optional[_Union[Hyperparameters, _Mapping]] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., target_model: _Optional[str] = ...) -> None: ...

class TrainingJob(_message.Message):
    __slots__ = ("name", "display_name", "spec", "state", "state_reason", "create_time", "start_time", "end_time", "epoch", "total_epochs", "metrics", "evaluation", "model_version", "attempt", "failure_kind")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[TrainingJob.State]
        STATE_QUEUED: _ClassVar[TrainingJob.State]
        STATE_RUNNING: _ClassVar[TrainingJob.State]
        STATE_SUCCEEDED: _ClassVar[TrainingJob.State]
        STATE_FAILED: _ClassVar[TrainingJob.State]
        STATE_CANCELLED: _ClassVar[TrainingJob.State]
    STATE_UNSPECIFIED: TrainingJob.State
    STATE_QUEUED: TrainingJob.State
    STATE_RUNNING: TrainingJob.State
    STATE_SUCCEEDED: TrainingJob.State
    STATE_FAILED: TrainingJob.State
    STATE_CANCELLED: TrainingJob.State
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class EvaluationEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    TOTAL_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_KIND_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    spec: TrainingJobSpec
    state: TrainingJob.State
    state_reason: str
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    epoch: int
    total_epochs: int
    metrics: _containers.ScalarMap[str, float]
    evaluation: _containers.ScalarMap[str, float]
    model_version: str
    attempt: int
    failure_kind: str
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., spec: _Optional[_Union[TrainingJobSpec, _Mapping]] = ..., state: _Optional[_Union[TrainingJob.State, str]] = ..., state_reason: _Optional[str] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., epoch: _Optional[int] = ..., total_epochs: _Optional[int] = ..., metrics: _Optional[_Mapping[str, float]] = ..., evaluation: _Optional[_Mapping[str, float]] = ..., model_version: _Optional[str] = ..., attempt: _Optional[int] = ..., failure_kind: _Optional[str] = ...) -> None: ...

class CreateTrainingJobRequest(_message.Message):
    __slots__ = ("training_job", "request_id")
    TRAINING_JOB_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    training_job: TrainingJob
    request_id: str
    def __init__(self, training_job: _Optional[_Union[TrainingJob, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetTrainingJobRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListTrainingJobsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "filter")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    filter: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[str] = ...) -> None: ...

class ListTrainingJobsResponse(_message.Message):
    __slots__ = ("training_jobs", "next_page_token")
    TRAINING_JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    training_jobs: _containers.RepeatedCompositeFieldContainer[TrainingJob]
    next_page_token: str
    def __init__(self, training_jobs: _Optional[_Iterable[_Union[TrainingJob, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelTrainingJobRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class WatchTrainingJobRequest(_message.Message):
    __slots__ = ("name", "after_sequence")
    NAME_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    after_sequence: int
    def __init__(self, name: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class TrainingJobEvent(_message.Message):
    __slots__ = ("sequence", "event_time", "state_change", "epoch_end", "log", "evaluation")
    class StateChange(_message.Message):
        __slots__ = ("state", "reason")
        STATE_FIELD_NUMBER: _ClassVar[int]
        REASON_FIELD_NUMBER: _ClassVar[int]
        state: TrainingJob.State
        reason: str
        def __init__(self, state: _Optional[_Union[TrainingJob.State, str]] = ..., reason: _Optional[str] = ...) -> None: ...
    class EpochEnd(_message.Message):
        __slots__ = ("epoch", "total_epochs", "metrics", "duration_seconds")
        class MetricsEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: float
            def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
        EPOCH_FIELD_NUMBER: _ClassVar[int]
        TOTAL_EPOCHS_FIELD_NUMBER: _ClassVar[int]
        METRICS_FIELD_NUMBER: _ClassVar[int]
        DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
        epoch: int
        total_epochs: int
        metrics: _containers.ScalarMap[str, float]
        duration_seconds: float
        def __init__(self, epoch: _Optional[int] = ..., total_epochs: _Optional[int] = ..., metrics: _Optional[_Mapping[str, float]] = ..., duration_seconds: _Optional[float] = ...) -> None: ...
    class LogLine(_message.Message):
        __slots__ = ("message",)
        MESSAGE_FIELD_NUMBER: _ClassVar[int]
        message: str
        def __init__(self, message: _Optional[str] = ...) -> None: ...
    class Evaluation(_message.Message):
        __slots__ = ("metrics", "model_version")
        class MetricsEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: float
            def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
        METRICS_FIELD_NUMBER: _ClassVar[int]
        MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
        metrics: _containers.ScalarMap[str, float]
        model_version: str
        def __init__(self, metrics: _Optional[_Mapping[str, float]] = ..., model_version: _Optional[str] = ...) -> None: ...
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_CHANGE_FIELD_NUMBER: _ClassVar[int]
    EPOCH_END_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    event_time: _timestamp_pb2.Timestamp
    state_change: TrainingJobEvent.StateChange
    epoch_end: TrainingJobEvent.EpochEnd
    log: TrainingJobEvent.LogLine
    evaluation: TrainingJobEvent.Evaluation
    def __init__(self, sequence: _Optional[int] = ..., event_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., state_change: _Optional[_Union[TrainingJobEvent.StateChange, _Mapping]] = ..., epoch_end: _Optional[_Union[TrainingJobEvent.EpochEnd, _Mapping]] = ..., log: _Optional[_Union[TrainingJobEvent.LogLine, _Mapping]] = ..., evaluation: _Optional[_Union[TrainingJobEvent.Evaluation, _Mapping]] = ...) -> None: ...

class GetTrainingUsageRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TrainingUsage(_message.Message):
    __slots__ = ("period_start", "training_seconds")
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    TRAINING_SECONDS_FIELD_NUMBER: _ClassVar[int]
    period_start: _timestamp_pb2.Timestamp
    training_seconds: float
    def __init__(self, period_start: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., training_seconds: _Optional[float] = ...) -> None: ...
