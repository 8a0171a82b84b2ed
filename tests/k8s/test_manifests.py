"""Every overlay renders with kustomize, validates against the Kubernetes schemas, and follows
the platform's policy: probes, limits, non-root read-only containers, disruption budgets and
network policies on every workload."""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests import system

K8S = Path(__file__).resolve().parents[2] / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
# Custom resources of the Prometheus operator: not in the Kubernetes schemas.
CUSTOM_KINDS = {"PodMonitor", "ServiceMonitor", "PrometheusRule"}
KUBERNETES_VERSION = "1.32.0"


def render(overlay: str) -> list[dict]:
    kubectl = system.require("kubectl")
    out = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)], check=True, capture_output=True, text=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def objects(request) -> list[dict]:
    return render(request.param)


def workloads(objects):
    return [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]


def test_all_overlays_exist():
    assert set(OVERLAYS) == {"dev", "gpu", "prod"}


def test_every_object_validates_against_the_kubernetes_schema(objects):
    import kubernetes_validate

    checked = 0
    for obj in objects:
        if obj["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked >= 20


def test_every_container_has_probes_limits_and_a_locked_down_security_context(objects):
    for workload in workloads(objects):
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in pod["containers"]:
            assert "readinessProbe" in container and "livenessProbe" in container, name
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) and {"cpu", "memory"} <= set(resources["limits"])
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert not container["image"].endswith(":latest") and ":" in container["image"], name


def test_maas_services_use_native_grpc_probes(objects):
    for workload in workloads(objects):
        # Envoy is probed on its admin port's /ready (it is not a gRPC server of ours).
        if workload["kind"] != "Deployment" or workload["metadata"]["name"] == "maas-envoy":
            continue
        container = workload["spec"]["template"]["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        # With mTLS on the gRPC port (prod) the probes ask the plaintext health-only port.
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        probed = int(env["MAAS_HEALTH_PORT"]) if "MAAS_HEALTH_PORT" in env else ports["grpc"]
        assert probed in ports.values(), workload["metadata"]["name"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"]["port"] == probed, workload["metadata"]["name"]


def test_every_workload_has_a_disruption_budget(objects):
    budgets = [o["spec"]["selector"]["matchLabels"] for o in objects if o["kind"] == "PodDisruptionBudget"]
    for workload in workloads(objects):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert any(all(labels.get(k) == v for k, v in b.items()) for b in budgets), workload["metadata"]["name"]


def _selected(policy: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in policy["spec"]["podSelector"].get("matchLabels", {}).items())


def test_network_policies_deny_by_default_and_let_only_the_door_and_peers_reach_backends(objects):
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    for workload in workloads(objects):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        name = workload["metadata"]["name"]
        applying = [p for p in policies if _selected(p, labels)]
        assert any(not p["spec"].get("ingress") for p in applying), f"{name}: no default deny"
        if labels.get("maas.io/tier") != "backend":
            continue
        sources = [peer for p in applying for rule in p["spec"].get("ingress", []) for peer in rule.get("from", [])]
        allowed_pods = {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in sources if "podSelector" in peer
        }
        assert {"maas-envoy", "maas-gateway"} <= allowed_pods, name
        peers = {"maas-trainer-worker", "maas-training-job", "maas-inference"}
        assert allowed_pods <= {"maas-envoy", "maas-gateway", *peers}, name
        # Every rule restricts its sources: no rule is open to all.
        for p in applying:
            for rule in p["spec"].get("ingress", []):
                assert rule.get("from"), f"{name}: {p['metadata']['name']} admits any source"


def test_inference_scales_on_load_and_is_reachable_through_a_headless_service(objects):
    hpa = next(o for o in objects if o["kind"] == "HorizontalPodAutoscaler")
    kinds = {m["type"] for m in hpa["spec"]["metrics"]}
    assert kinds == {"Pods", "Resource"}
    headless = [
        o
        for o in objects
        if o["kind"] == "Service"
        and o["spec"].get("clusterIP") == "None"
        and o["spec"]["selector"].get("app.kubernetes.io/name") == "maas-inference"
    ]
    assert headless
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "maas-config")
    assert headless[0]["metadata"]["name"] in config["data"]["MAAS_INFERENCE_ADDR"]


def test_secrets_are_referenced_never_committed(objects):
    assert not [o for o in objects if o["kind"] == "Secret"]


def test_gpu_overlay_requests_gpus_for_inference_and_workers_only():
    objects = render("gpu")
    for workload in workloads(objects):
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        limits = pod["containers"][0]["resources"]["limits"]
        if name in ("maas-inference", "maas-trainer-worker"):
            assert limits["nvidia.com/gpu"] == 1 and pod["tolerations"] and pod["nodeSelector"], name
            if name == "maas-inference":
                env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
                assert env["MAAS_DEVICE"] == "gpu"
        else:
            assert "nvidia.com/gpu" not in limits, name


def test_dev_overlay_runs_postgresql_in_cluster_and_prod_uses_object_storage():
    dev = render("dev")
    assert any(o["kind"] == "StatefulSet" and o["metadata"]["name"] == "maas-postgres" for o in dev)
    prod = render("prod")
    assert not [o for o in prod if o["kind"] == "PersistentVolumeClaim"]
    registry = next(o for o in prod if o["kind"] == "Deployment" and o["metadata"]["name"] == "maas-registry")
    env = {e["name"]: e for e in registry["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MAAS_ARTIFACT_STORE"]["value"] == "s3"


def test_gateway_serves_http_and_prod_terminates_tls_from_a_secret():
    dev = {(o["kind"], o["metadata"]["name"]): o for o in render("dev")}
    ports = {p["name"]: p["port"] for p in dev[("Service", "maas-gateway")]["spec"]["ports"]}
    assert ports["http"] == 8080
    prod = {(o["kind"], o["metadata"]["name"]): o for o in render("prod")}
    pod = prod[("Deployment", "maas-gateway")]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["MAAS_HTTP_TLS_CERT_FILE"].startswith("/etc/maas/tls/")
    assert {"name": "tls", "secret": {"secretName": "maas-gateway-tls"}} in pod["volumes"]


def test_prod_speaks_tls_at_the_door_and_mtls_from_envoy_to_every_service():
    from maas.door import render_configmap

    assert (K8S / "overlays" / "prod" / "envoy-config.yaml").read_text() == render_configmap(prod=True)
    prod = render("prod")
    configmap = next(o for o in prod if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "maas-envoy")
    config = yaml.safe_load(configmap["data"]["envoy.yaml"])
    (listener,) = config["static_resources"]["listeners"]
    assert listener["filter_chains"][0]["transport_socket"]["name"] == "envoy.transport_sockets.tls"
    for cluster in config["static_resources"]["clusters"]:
        tls = cluster["transport_socket"]["typed_config"]["common_tls_context"]
        assert tls["tls_certificates"] and tls["validation_context"]["trusted_ca"], cluster["name"]
    envoy = next(o for o in workloads(prod) if o["metadata"]["name"] == "maas-envoy")
    volumes = {
        v["name"]: v["secret"]["secretName"] for v in envoy["spec"]["template"]["spec"]["volumes"] if "secret" in v
    }
    assert set(volumes.values()) == {"maas-door-tls", "maas-envoy-mtls"}
    for workload in workloads(prod):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        if labels.get("maas.io/tier") != "backend" and workload["metadata"]["name"] != "maas-gateway":
            continue
        env = {e["name"]: e.get("value") for e in workload["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["MAAS_TLS_CLIENT_CA_FILE"] and env["MAAS_PEER_CA_FILE"], workload["metadata"]["name"]


def test_trainer_workers_may_create_the_jobs_and_services_of_multi_worker_training(objects):
    """What services/trainer/kube.py calls, allowed by the workers' service account, and the
    network paths its pods need: each other, the registry."""
    worker = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "maas-trainer-worker")
    pod = worker["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["MAAS_JOB_LAUNCHER"]["value"] == "kubernetes"
    assert env["MAAS_POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    binding = next(
        o
        for o in objects
        if o["kind"] == "RoleBinding" and pod["serviceAccountName"] in [s["name"] for s in o["subjects"]]
    )
    role = next(o for o in objects if o["kind"] == "Role" and o["metadata"]["name"] == binding["roleRef"]["name"])
    allowed = {
        (g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]
    }
    needed = {("batch", "jobs", v) for v in ("create", "get", "list", "delete")}
    needed |= {("", "services", "create"), ("", "pods", "get")}
    assert needed <= allowed
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    training = {"app.kubernetes.io/name": "maas-training-job", "app.kubernetes.io/part-of": "maas"}
    sources = [
        peer["podSelector"]["matchLabels"]
        for p in policies
        if _selected(p, training)
        for rule in p["spec"].get("ingress", [])
        for peer in rule.get("from", [])
        if "podSelector" in peer
    ]
    assert {"app.kubernetes.io/name": "maas-training-job"} in sources
    registry = next(p for p in policies if p["metadata"]["name"] == "maas-registry-from-services")
    assert {"app.kubernetes.io/name": "maas-training-job"} in [
        f["podSelector"]["matchLabels"] for f in registry["spec"]["ingress"][0]["from"]
    ]


def test_envoy_is_the_door_with_the_generated_configuration(objects):
    """The ConfigMap in k8s/base is what maas/door.py generates (one source for `maas up` and
    Kubernetes), and the official Envoy image mounts it."""
    from maas.door import render_configmap

    assert (K8S / "base" / "envoy-config.yaml").read_text() == render_configmap()
    envoy = next(o for o in workloads(objects) if o["metadata"]["name"] == "maas-envoy")
    container = envoy["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].startswith("envoyproxy/envoy:")
    configmap = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "maas-envoy")
    config = yaml.safe_load(configmap["data"]["envoy.yaml"])
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    assert set(clusters) == {"gateway", "registry", "trainer", "inference"}
    # Every inference pod is an endpoint (the headless Service), health-checked over gRPC.
    inference = clusters["inference"]
    address = inference["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
    assert address["socket_address"]["address"] == "maas-inference-headless"
    assert inference["type"] == "STRICT_DNS" and "grpc_health_check" in inference["health_checks"][0]


_TRACED = {"maas-gateway", "maas-registry", "maas-trainer", "maas-trainer-worker", "maas-inference"}


def _with_tracing(overlay: str, tmp_path: Path) -> list[dict]:
    """The overlay with the optional tracing component, as a user's kustomization would add it."""
    kubectl = system.require("kubectl")
    root = tmp_path / "with-tracing"
    root.mkdir()
    relative = lambda p: os.path.relpath(p, root)  # noqa: E731 (kustomize wants relative paths)
    (root / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [relative(K8S / "overlays" / overlay)],
                "components": [relative(K8S / "components" / "tracing")],
            }
        )
    )
    out = subprocess.run([kubectl, "kustomize", str(root)], check=True, capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_tracing_component_exports_otlp_from_every_service_under_its_own_name(overlay, tmp_path):
    import kubernetes_validate

    plain = {(o["kind"], o["metadata"]["name"]): o for o in render(overlay)}
    objects = _with_tracing(overlay, tmp_path)
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "maas-tracing")
    assert config["data"]["OTEL_TRACES_EXPORTER"] == "otlp"
    assert config["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http")
    names = set()
    for workload in workloads(objects):
        name = workload["metadata"]["name"]
        container = workload["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in container.get("env", [])}
        if name not in _TRACED:  # not ours (Envoy, dev's PostgreSQL): traced by their own settings
            assert "OTEL_SERVICE_NAME" not in env, name
            continue
        assert env["OTEL_SERVICE_NAME"]["value"] == name
        names.add(name)
        for key in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT"):
            assert env[key]["valueFrom"]["configMapKeyRef"] == {"name": "maas-tracing", "key": key}, name
        # The overlay's own settings survive the patch (the env entries merge by name).
        before = plain[(workload["kind"], name)]["spec"]["template"]["spec"]["containers"][0]
        assert {e["name"] for e in before.get("env", [])} < set(env), name
        kubernetes_validate.validate(workload, KUBERNETES_VERSION, strict=True)
    assert names == _TRACED


def test_tracing_is_off_without_the_component(objects):
    for workload in workloads(objects):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            assert not any(e["name"].startswith("OTEL_") for e in container.get("env", [])), workload["metadata"][
                "name"
            ]
