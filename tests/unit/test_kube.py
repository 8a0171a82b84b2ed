"""The Kubernetes objects the trainer creates for a multi-worker job (validated against the
Kubernetes schemas), and the launcher's calls, against a fake API."""

import asyncio
import json
import signal
from types import SimpleNamespace

import kubernetes_validate
import pytest

from maas.trainer.v1 import trainer_pb2 as pb
from services.trainer import kube
from services.trainer.config import TrainerSettings
from services.trainer.supervisor import tf_config

KUBERNETES_VERSION = "1.32.0"
WORKER_POD = {"apiVersion": "v1", "kind": "Pod", "name": "maas-trainer-worker-7d9f", "uid": "1111-2222"}
BASE = kube.PodBase(
    image="ghcr.io/maas-platform/maas-trainer:0.1.0",
    env=[
        {"name": "MAAS_DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "maas-database", "key": "trainer-url"}}},
        {"name": "MAAS_JOB_LAUNCHER", "value": "kubernetes"},
    ],
    env_from=[{"configMapRef": {"name": "maas-config"}}],
    resources={"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"cpu": "4", "memory": "8Gi", kube.GPU: 1}},
    pod_security_context={"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
    security_context={"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
    owner=WORKER_POD,
)


def training_job(workers=3, gpu=0, cpu=0, attempt=1) -> pb.TrainingJob:
    return pb.TrainingJob(
        name="trainingJobs/job-0123456789ab",
        attempt=attempt,
        spec=pb.TrainingJobSpec(resources=pb.Resources(workers=workers, gpu=gpu, cpu=cpu)),
    )


def container(manifest) -> dict:
    return manifest["spec"]["template"]["spec"]["containers"][0]


def env(manifest) -> dict:
    return {e["name"]: e for e in container(manifest)["env"]}


def test_the_job_and_the_service_validate_against_the_kubernetes_schema():
    job = training_job(gpu=1)
    kubernetes_validate.validate(kube.job_manifest(job, BASE), KUBERNETES_VERSION, strict=True)
    kubernetes_validate.validate(kube.service_manifest(job, "3333-4444"), KUBERNETES_VERSION, strict=True)


def test_an_indexed_job_runs_one_pod_per_worker_and_fails_on_the_first_failed_pod():
    manifest = kube.job_manifest(training_job(workers=3), BASE)
    spec = manifest["spec"]
    assert manifest["metadata"]["name"] == "maas-job-0123456789ab-a1"
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 3)
    assert spec["backoffLimit"] == 0
    assert spec["successPolicy"] == {"rules": [{"succeededIndexes": "0"}]}
    assert spec["ttlSecondsAfterFinished"] > 0
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert container(manifest)["command"] == ["python", "-m", "services.trainer.runner", "job-0123456789ab"]


def test_every_pod_is_told_all_workers_by_dns_name_and_its_own_index():
    manifest = kube.job_manifest(training_job(workers=3), BASE)
    name = manifest["metadata"]["name"]
    variables = [e["name"] for e in container(manifest)["env"]]
    # A $(VAR) reference expands only to variables defined before it.
    assert variables.index(kube.TASK_INDEX_ENV) < variables.index("TF_CONFIG")
    index_source = env(manifest)[kube.TASK_INDEX_ENV]["valueFrom"]["fieldRef"]["fieldPath"]
    assert index_source == "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    # Pod i of an Indexed Job is named <job>-<i>; with `subdomain` it resolves as <job>-<i>.<service>.
    assert manifest["spec"]["template"]["spec"]["subdomain"] == name
    hosts = [f"{name}-{i}.{name}:2222" for i in range(3)]
    template = env(manifest)["TF_CONFIG"]["value"]
    for index in range(3):
        expanded = template.replace(f"$({kube.TASK_INDEX_ENV})", str(index))
        assert json.loads(expanded) == json.loads(tf_config(hosts, index))


def test_pods_take_the_workers_image_environment_and_security_and_are_owned_by_it():
    manifest = kube.job_manifest(training_job(), BASE)
    assert container(manifest)["image"] == BASE.image
    assert container(manifest)["envFrom"] == [{"configMapRef": {"name": "maas-config"}}]
    assert env(manifest)["MAAS_DATABASE_URL"] == BASE.env[0]
    assert container(manifest)["securityContext"]["readOnlyRootFilesystem"] is True
    assert manifest["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert manifest["metadata"]["ownerReferences"] == [WORKER_POD]
    assert manifest["metadata"]["labels"]["maas.io/job"] == "job-0123456789ab"


def test_gpus_are_limits_only_when_the_spec_asks_for_them():
    without = kube.job_manifest(training_job(gpu=0), BASE)
    assert kube.GPU not in container(without)["resources"]["limits"]  # the worker's own GPU is not inherited
    assert "tolerations" not in without["spec"]["template"]["spec"]
    with_gpus = kube.job_manifest(training_job(gpu=2), BASE)
    assert container(with_gpus)["resources"]["limits"][kube.GPU] == 2
    assert with_gpus["spec"]["template"]["spec"]["tolerations"][0]["key"] == kube.GPU
    assert container(with_gpus)["resources"]["requests"] == {"cpu": "2", "memory": "4Gi"}


def test_cpus_of_the_spec_replace_the_workers_own():
    resources = container(kube.job_manifest(training_job(cpu=6), BASE))["resources"]
    assert resources["requests"]["cpu"] == resources["limits"]["cpu"] == "6"
    assert resources["limits"]["memory"] == "8Gi"


def test_the_headless_service_selects_exactly_this_attempts_pods_and_is_owned_by_the_job():
    job = training_job(attempt=2)
    service = kube.service_manifest(job, "3333-4444")
    pod_labels = kube.job_manifest(job, BASE)["spec"]["template"]["metadata"]["labels"]
    assert service["metadata"]["name"] == "maas-job-0123456789ab-a2"
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
    assert service["spec"]["selector"] == {"maas.io/job": "job-0123456789ab", "maas.io/attempt": "2"}
    assert all(pod_labels[k] == v for k, v in service["spec"]["selector"].items())
    assert service["metadata"]["ownerReferences"] == [
        {"apiVersion": "batch/v1", "kind": "Job", "name": "maas-job-0123456789ab-a2", "uid": "3333-4444"}
    ]


class NotFound(Exception):
    status = 404


class FakeBatch:
    def __init__(self):
        self.jobs: dict[str, dict] = {}
        self.conditions: list = []
        self.deleted: list[tuple[str, int | None]] = []

    def list_namespaced_job(self, namespace, label_selector):
        assert label_selector == "maas.io/job=job-0123456789ab"
        return SimpleNamespace(items=[SimpleNamespace(metadata=SimpleNamespace(name=n)) for n in self.jobs])

    def create_namespaced_job(self, namespace, body):
        self.jobs[body["metadata"]["name"]] = body
        return SimpleNamespace(metadata=SimpleNamespace(name=body["metadata"]["name"], uid="3333-4444"))

    def read_namespaced_job(self, name, namespace):
        if name not in self.jobs:
            raise NotFound()
        return SimpleNamespace(status=SimpleNamespace(conditions=self.conditions))

    def delete_namespaced_job(self, name, namespace, propagation_policy, grace_period_seconds):
        assert propagation_policy == "Background"  # the pods and the Service go too
        self.deleted.append((name, grace_period_seconds))
        if self.jobs.pop(name, None) is None:
            raise NotFound()


class FakeCore:
    def __init__(self):
        self.services: list[dict] = []
        self.api_client = SimpleNamespace(sanitize_for_serialization=lambda pod: pod)

    def read_namespaced_pod(self, name, namespace):
        return {
            "metadata": {"name": name, "uid": "1111-2222"},
            "spec": {"containers": [{"image": BASE.image, "env": BASE.env, "envFrom": BASE.env_from}]},
        }

    def create_namespaced_service(self, namespace, body):
        self.services.append(body)


@pytest.fixture
def launcher():
    settings = TrainerSettings(kube_namespace="maas", pod_name="maas-trainer-worker-7d9f")
    return kube.KubernetesLauncher(settings, batch=FakeBatch(), core=FakeCore())


def test_the_launcher_replaces_an_earlier_attempt_and_creates_the_job_then_its_service(launcher):
    launcher.batch.jobs["maas-job-0123456789ab-a1"] = {}  # left by the attempt of a worker that died
    name = launcher.create(training_job(attempt=2))
    assert name == "maas-job-0123456789ab-a2"
    assert launcher.batch.deleted == [("maas-job-0123456789ab-a1", 0)]
    created = launcher.batch.jobs[name]
    assert created["metadata"]["ownerReferences"] == [WORKER_POD]
    assert container(created)["image"] == BASE.image
    (service,) = launcher.core.services
    assert service["metadata"]["name"] == name
    assert service["metadata"]["ownerReferences"][0]["uid"] == "3333-4444"


def test_the_jobs_conditions_read_as_exit_codes(launcher):
    name = launcher.create(training_job())
    assert launcher.exit_code(name) is None
    launcher.batch.conditions = [SimpleNamespace(type="SuccessCriteriaMet", status="True")]
    assert launcher.exit_code(name) == 0
    launcher.batch.conditions = [SimpleNamespace(type="Failed", status="True")]
    assert launcher.exit_code(name) == 1
    launcher.batch.conditions = [SimpleNamespace(type="Failed", status="False")]
    assert launcher.exit_code(name) is None
    launcher.delete(name)
    assert launcher.exit_code(name) == -signal.SIGKILL


def test_a_cancelled_run_deletes_its_job_and_ends(launcher):
    async def scenario():
        run = await launcher.launch(training_job())
        assert run.returncode is None
        run.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(run.wait(), 5) == -signal.SIGKILL

    asyncio.run(scenario())
    assert launcher.batch.deleted == [("maas-job-0123456789ab-a1", 0)]
    assert not launcher.batch.jobs
