"""What a job registers: the trained version with its lineage (job, dataset, settings, base
version), made idempotent by the job's name."""

from __future__ import annotations

import json

from google.protobuf import json_format

from maas.registry.v1 import registry_pb2 as rpb
from maas.trainer.v1 import trainer_pb2 as pb
from services.trainer.phases import Phases
from services.trainer.registry_client import RegistryClient
from services.trainer.spec import template_parameters


def register_trained(
    client: RegistryClient,
    job: pb.TrainingJob,
    phases: Phases,
    archive: bytes,
    version: rpb.ModelVersion,
    dataset: rpb.Dataset,
    values: dict[str, object],
    base: rpb.ModelVersion | None = None,
    **fields,
) -> rpb.ModelVersion:
    """Upload a job's exported SavedModel tar and register it in the target model (`version`:
    its signature and metrics, plus `fields`), with the lineage to its dataset, settings and base
    version. The job name makes registration idempotent: a retry after a crash returns the same version."""
    with phases.timed("upload"):
        artifact = client.upload(archive)
    version.MergeFrom(
        rpb.ModelVersion(
            artifact=artifact.name,
            format="tf_saved_model",
            lineage=rpb.Lineage(
                training_job=job.name,
                dataset=dataset.name,
                dataset_sha256=dataset.sha256,
                hyperparameters={k: json.dumps(v) for k, v in values.items()},
                base_model_version=base.name if base else "",
            ),
            description=f"trained by {job.name}" + (f" from {base.name}" if base else ""),
            **fields,
        )
    )
    with phases.timed("registration"):
        return client.register(job.spec.target_model, version, request_id=job.name)


def hyperparameters(spec: pb.TrainingJobSpec) -> dict[str, object]:
    values = json_format.MessageToDict(spec.hyperparameters, preserving_proto_field_name=True)
    if spec.WhichOneof("model") == "template":
        values["template"] = spec.template.name
        values.update({f"template.{k}": v for k, v in template_parameters(spec.template).items()})
    values["validation_split"] = spec.validation_split
    return values
