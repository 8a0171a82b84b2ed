"""Multi-worker jobs in Kubernetes (`MAAS_JOB_LAUNCHER=kubernetes`).

Each attempt of a job with N workers becomes an Indexed Job of N pods and a headless Service
named alike, so that pod i is `<name>-<i>.<name>` in DNS and every pod's `TF_CONFIG` lists them
all (its own index comes from the pod's completion index). The pods run the image, environment
and security settings of the worker pod that launched them, which owns the Job (deleting the
worker deletes its jobs, as a local job process dies with its worker); the Job owns the Service.
The Job succeeds when the chief (index 0) does and fails as soon as any pod fails
(`backoffLimit: 0`): the job scheduler then retries the attempt from the last checkpoint.

The manifests are plain dicts built here without the Kubernetes client, which only
`KubernetesLauncher` needs (the `k8s` extra).
"""

from __future__ import annotations

import asyncio
import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from maas.trainer.v1 import trainer_pb2 as pb
from services.trainer.config import TrainerSettings
from services.trainer.supervisor import tf_config

log = structlog.get_logger("maas.trainer.kube")
PORT = 2222  # TensorFlow's collective gRPC port in every training pod
TASK_INDEX_ENV = "MAAS_TASK_INDEX"
COMPLETION_INDEX = "metadata.annotations['batch.kubernetes.io/job-completion-index']"
FINISHED_JOB_TTL_SECONDS = 600
GPU = "nvidia.com/gpu"
# Reading a Job's status every poll_seconds (0.5 s) would be noise for the API server.
STATUS_POLL_SECONDS = 2.0
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@dataclass(frozen=True)
class PodBase:
    """What the training pods take over from the worker's own pod (camelCase API dicts)."""

    image: str
    env: list[dict[str, Any]] = field(default_factory=list)
    env_from: list[dict[str, Any]] = field(default_factory=list)
    resources: dict[str, Any] = field(default_factory=dict)
    pod_security_context: dict[str, Any] = field(default_factory=dict)
    security_context: dict[str, Any] = field(default_factory=dict)
    # ownerReference to the worker pod, or None outside a pod.
    owner: dict[str, Any] | None = None


def resource_name(job: pb.TrainingJob) -> str:
    """The Job's and the Service's name: one per attempt, so a new attempt never waits for the
    previous attempt's objects to be gone (`maas-job-0123456789ab-a2`, a DNS label)."""
    return f"maas-{job.name.split('/')[1]}-a{job.attempt}"


def labels(job: pb.TrainingJob) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "maas-training-job",
        "app.kubernetes.io/component": "training-job",
        "app.kubernetes.io/part-of": "maas",
        "app.kubernetes.io/managed-by": "maas-trainer",
        "maas.io/job": job.name.split("/")[1],
        "maas.io/attempt": str(job.attempt),
    }


def job_manifest(job: pb.TrainingJob, base: PodBase) -> dict[str, Any]:
    """The Indexed Job of one attempt of a multi-worker job."""
    name = resource_name(job)
    workers = job.spec.resources.workers
    hosts = [f"{name}-{index}.{name}:{PORT}" for index in range(workers)]
    env = [e for e in base.env if e["name"] not in ("TF_CONFIG", TASK_INDEX_ENV)]
    # Kubernetes expands $(MAAS_TASK_INDEX) in TF_CONFIG since it is defined before it.
    env.append({"name": TASK_INDEX_ENV, "valueFrom": {"fieldRef": {"fieldPath": COMPLETION_INDEX}}})
    env.append({"name": "TF_CONFIG", "value": tf_config(hosts, f"$({TASK_INDEX_ENV})")})
    resources = {kind: dict(values) for kind, values in base.resources.items()}
    for values in resources.values():
        values.pop(GPU, None)
    if job.spec.resources.cpu:
        for kind in ("requests", "limits"):
            resources.setdefault(kind, {})["cpu"] = str(job.spec.resources.cpu)
    pod: dict[str, Any] = {
        "subdomain": name,
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "containers": [
            {
                "name": "worker",
                "image": base.image,
                "command": ["python", "-m", "services.trainer.runner", job.name.split("/")[1]],
                "ports": [{"name": "collective", "containerPort": PORT}],
                "envFrom": list(base.env_from),
                "env": env,
                "resources": resources,
                "securityContext": dict(base.security_context),
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, {"name": "data", "mountPath": "/data"}],
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "data", "emptyDir": {}}],
    }
    if base.pod_security_context:
        pod["securityContext"] = dict(base.pod_security_context)
    if job.spec.resources.gpu:
        resources.setdefault("limits", {})[GPU] = job.spec.resources.gpu
        pod["tolerations"] = [{"key": GPU, "operator": "Exists", "effect": "NoSchedule"}]
    metadata: dict[str, Any] = {"name": name, "labels": labels(job)}
    if base.owner:
        metadata["ownerReferences"] = [base.owner]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "completionMode": "Indexed",
            "completions": workers,
            "parallelism": workers,
            # Any failed pod fails the attempt; the trainer retries it from the last checkpoint.
            "backoffLimit": 0,
            # The chief's end is the job's end: the other pods are then stopped.
            "successPolicy": {"rules": [{"succeededIndexes": "0"}]},
            "ttlSecondsAfterFinished": FINISHED_JOB_TTL_SECONDS,
            "template": {"metadata": {"labels": labels(job)}, "spec": pod},
        },
    }


def service_manifest(job: pb.TrainingJob, job_uid: str) -> dict[str, Any]:
    """The headless Service that gives each pod of the attempt its DNS name; owned by the Job."""
    name = resource_name(job)
    selected = labels(job)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "labels": selected,
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": job_uid}],
        },
        "spec": {
            "clusterIP": "None",
            # Workers look each other up while starting, before any is ready.
            "publishNotReadyAddresses": True,
            "selector": {k: selected[k] for k in ("maas.io/job", "maas.io/attempt")},
            "ports": [{"name": "collective", "port": PORT, "targetPort": PORT}],
        },
    }


class KubernetesLauncher:
    """Creates and follows the Kubernetes objects of multi-worker attempts."""

    def __init__(self, settings: TrainerSettings, batch=None, core=None) -> None:
        if batch is None or core is None:
            # The optional `k8s` extra, outside the dev environment pyright checks against.
            from kubernetes import client, config  # pyright: ignore[reportMissingImports]

            config.load_incluster_config()
            batch, core = client.BatchV1Api(), client.CoreV1Api()
        self.batch, self.core = batch, core
        self.namespace = settings.kube_namespace or SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
        self.pod_name = settings.pod_name or socket.gethostname()
        self._base: PodBase | None = None

    def pod_base(self) -> PodBase:
        """This worker's pod, read once: its first container is what the training pods run."""
        if self._base is None:
            pod = self.core.api_client.sanitize_for_serialization(
                self.core.read_namespaced_pod(self.pod_name, self.namespace)
            )
            container = pod["spec"]["containers"][0]
            self._base = PodBase(
                image=container["image"],
                env=container.get("env", []),
                env_from=container.get("envFrom", []),
                resources=container.get("resources", {}),
                pod_security_context=pod["spec"].get("securityContext", {}),
                security_context=container.get("securityContext", {}),
                owner={
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": pod["metadata"]["name"],
                    "uid": pod["metadata"]["uid"],
                },
            )
        return self._base

    def create(self, job: pb.TrainingJob) -> str:
        job_id = job.name.split("/")[1]
        # An earlier attempt's pods (its worker died) would only wait on peers that are gone.
        for old in self.batch.list_namespaced_job(self.namespace, label_selector=f"maas.io/job={job_id}").items:
            self.delete(old.metadata.name, grace_seconds=0)
        created = self.batch.create_namespaced_job(self.namespace, job_manifest(job, self.pod_base()))
        self.core.create_namespaced_service(self.namespace, service_manifest(job, created.metadata.uid))
        return created.metadata.name

    def exit_code(self, name: str) -> int | None:
        """The attempt's outcome as a process exit code: None while it runs, 0 when the chief
        succeeded, 1 when a pod failed, -SIGKILL when the Job is gone (deleted with its owner)."""
        try:
            job = self.batch.read_namespaced_job(name, self.namespace)
        except Exception as error:
            if getattr(error, "status", None) == 404:
                return -signal.SIGKILL
            raise
        conditions = {c.type for c in (job.status.conditions or []) if c.status == "True"}
        if conditions & {"Complete", "SuccessCriteriaMet"}:
            return 0
        if conditions & {"Failed", "FailureTarget"}:
            return 1
        return None

    def delete(self, name: str, grace_seconds: int | None = None) -> None:
        """Delete the Job; its pods and its Service go with it."""
        try:
            self.batch.delete_namespaced_job(
                name, self.namespace, propagation_policy="Background", grace_period_seconds=grace_seconds
            )
        except Exception as error:
            if getattr(error, "status", None) != 404:
                raise

    async def launch(self, job: pb.TrainingJob) -> KubernetesRun:
        name = await asyncio.to_thread(self.create, job)
        log.info("training pods created", job=job.name, kubernetes_job=name, workers=job.spec.resources.workers)
        return KubernetesRun(self, name)


class KubernetesRun:
    """One attempt's Indexed Job, seen by the job scheduler as it sees a job process:
    `returncode`, `send_signal` (delete the Job; SIGKILL without grace) and `wait`."""

    def __init__(self, launcher: KubernetesLauncher, name: str) -> None:
        self.launcher = launcher
        self.pid = name
        self.returncode: int | None = None
        self._deletions: set[asyncio.Task] = set()
        self._follow = asyncio.create_task(self._follow_status(), name=f"follow-{name}")

    async def _follow_status(self) -> None:
        while self.returncode is None:
            await asyncio.sleep(STATUS_POLL_SECONDS)
            try:
                code = await asyncio.to_thread(self.launcher.exit_code, self.pid)
            except Exception:
                log.exception("could not read the training job's status", kubernetes_job=self.pid)
                continue
            if self.returncode is None:
                self.returncode = code

    def send_signal(self, sig: int) -> None:
        task = asyncio.create_task(self._delete(sig))
        self._deletions.add(task)  # held until done: the loop keeps only weak references to tasks
        task.add_done_callback(self._deletions.discard)

    async def _delete(self, sig: int) -> None:
        await asyncio.to_thread(self.launcher.delete, self.pid, 0 if sig == signal.SIGKILL else None)
        if self.returncode is None:
            self.returncode = -sig

    async def wait(self) -> int:
        await self._follow
        assert self.returncode is not None  # following ends once it is set
        return self.returncode
