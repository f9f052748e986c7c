"""deploy/k8s: valid for a pinned Kubernetes version, internally consistent, and sized to the Kafka topics."""

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tempen_shared.topics import TOPICS, all_topic_names
from tests.deploy.promql import DEPLOY, load_catalogue
from tests.deploy.services import PIPELINE, SERVICES

K8S = DEPLOY / "k8s"
# The oldest Kubernetes minor still commonly run in managed clusters when this was written.
KUBERNETES_VERSION = "1.31.0"
# ingest serves HTTP: it scales past its intake topic's partitions (extra replicas are idle consumers).
# The portal consumes nothing at all.
HTTP_SCALED = {"ingest", "portal"}
NOT_KUBERNETES_RESOURCES = {"kustomization.yaml"}

# KafkaTopic is a Strimzi custom resource, for which kubernetes-validate has no schema. This is the
# v1beta2 openAPIV3Schema of strimzi-kafka-operator's packaging/install/cluster-operator/043-Crd-kafkatopic.yaml
# for the fields used here, made stricter: the fields tempen relies on are required.
KAFKA_TOPIC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "kafka.strimzi.io/v1beta2"},
        "kind": {"const": "KafkaTopic"},
        "metadata": {
            "type": "object",
            "required": ["name", "labels"],
            "properties": {
                "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
                "labels": {"type": "object", "required": ["strimzi.io/cluster"]},
            },
        },
        "spec": {
            "type": "object",
            "required": ["partitions", "replicas", "config"],
            "additionalProperties": False,
            "properties": {
                "partitions": {"type": "integer", "minimum": 1},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
                "config": {"type": "object"},
                "topicName": {"type": "string"},
            },
        },
    },
}


def _documents(path: Path) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return documents


def _manifest_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p.name not in NOT_KUBERNETES_RESOURCES)


def _resources() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    return [doc for name in kustomization["resources"] for doc in _documents(K8S / name)]


def _secret_templates() -> list[dict[str, Any]]:
    return [doc for path in sorted((K8S / "secrets").glob("*.yaml")) for doc in _documents(path)]


def _of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in _resources() if d["kind"] == kind}


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    [container] = containers
    return container


ALL_DOCUMENTS = [
    (f"{p.relative_to(K8S)}:{d['kind']}/{d['metadata']['name']}", d) for p in _manifest_files() for d in _documents(p)
]


@pytest.mark.parametrize(("where", "resource"), ALL_DOCUMENTS, ids=[w for w, _ in ALL_DOCUMENTS])
def test_manifest_is_valid_for_the_pinned_kubernetes_version(where: str, resource: dict[str, Any]) -> None:
    if resource["apiVersion"].startswith("kafka.strimzi.io/"):
        jsonschema.validate(resource, KAFKA_TOPIC_SCHEMA)
        return
    # strict: unknown or misplaced fields are errors. A kind without a schema raises, never passes.
    kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_strict_validation_rejects_a_misplaced_field() -> None:
    deployment = copy.deepcopy(_of_kind("Deployment")["scoring"])
    _container(deployment)["envFrm"] = _container(deployment).pop("envFrom")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_kafka_topic_schema_rejects_a_topic_without_replicas() -> None:
    topic = copy.deepcopy(next(iter(_of_kind("KafkaTopic").values())))
    del topic["spec"]["replicas"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(topic, KAFKA_TOPIC_SCHEMA)


def test_kustomization_lists_every_manifest_except_the_secret_templates() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - NOT_KUBERNETES_RESOURCES
    assert listed == on_disk
    assert kustomization["namespace"] == "tempen"
    assert {i["name"] for i in kustomization["images"]} == {
        _container(d)["image"] for d in _of_kind("Deployment").values()
    }


def test_secret_templates_hold_no_values() -> None:
    templates = _secret_templates()
    assert templates
    for secret in templates:
        assert secret["kind"] == "Secret"
        assert "data" not in secret
        assert all(value == "" for value in secret["stringData"].values()), secret["metadata"]["name"]
    applied = [d for d in _resources() if d["kind"] == "Secret"]
    assert applied == [], "a Secret applied by kustomize would overwrite the real one"


@pytest.mark.parametrize(("name", "port"), SERVICES.items())
def test_deployment_runs_its_module_non_root_with_probes_resources_and_config(name: str, port: int) -> None:
    deployment = _of_kind("Deployment")[name]
    pod = deployment["spec"]["template"]["spec"]
    container = _container(deployment)
    assert container["command"] == ["python", "-m", f"tempen_{name}"]
    assert {"name": "http", "containerPort": port, "protocol": "TCP"} in container["ports"]
    assert {"name": f"TEMPEN_{name.upper()}_PORT", "value": str(port)} in container["env"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == _dockerfile_uid()
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    sources = [next(iter(s.values()))["name"] for s in container["envFrom"]]
    if name in PIPELINE:
        assert sources[:2] == ["tempen-env", "tempen-database"]
    else:  # the portal: no broker; the database only for its sign-in-link API's tokens
        assert sources == ["tempen-env", "tempen-portal-env", "tempen-link", "tempen-portal", "tempen-database"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert {"/config/tenants", "/config/models", "/config/instruments", "/config/org"} <= set(mounts)
    if name in ("alerts", "portal"):  # tenant secrets by {file:}: SMTP and webhook secrets, OIDC client secrets
        assert mounts["/run/secrets/tempen"] == "tenant-secrets"


def _dockerfile_uid() -> int:
    users = re.findall(r"^USER\s+(\d+)", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert users, "the Dockerfile must switch to a numeric non-root USER"
    return int(users[-1].split(":")[0])


def test_every_configmap_and_secret_a_pod_refers_to_is_defined() -> None:
    configmaps = set(_of_kind("ConfigMap"))
    secrets = {s["metadata"]["name"] for s in _secret_templates()}
    for name, deployment in _of_kind("Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        for source in _container(deployment)["envFrom"]:
            if "configMapRef" in source:
                assert source["configMapRef"]["name"] in configmaps, name
            else:
                assert source["secretRef"]["name"] in secrets, name
        for volume in pod["volumes"]:
            if "configMap" in volume:
                assert volume["configMap"]["name"] in configmaps, name
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets, name
        mounted = {m["name"] for m in _container(deployment)["volumeMounts"]}
        assert mounted == {v["name"] for v in pod["volumes"]}, name


def test_the_shared_configmap_points_the_services_at_the_mounted_config_and_replication_3() -> None:
    env = _of_kind("ConfigMap")["tempen-env"]["data"]
    assert env["TEMPEN_CONFIG_DIR"] == "/config"
    assert env["TEMPEN_HTTP_HOST"] == "0.0.0.0"
    assert env["TEMPEN_KAFKA_REPLICATION_FACTOR"] == "3"
    assert "DATABASE_URL" not in env


def test_services_select_their_deployment_s_pods_and_the_headless_ones_publish_not_ready_pods() -> None:
    services = _of_kind("Service")
    for name, port in SERVICES.items():
        labels = _of_kind("Deployment")[name]["spec"]["template"]["metadata"]["labels"]
        for service_name in (name, f"{name}-pods"):
            service = services[service_name]["spec"]
            assert service["selector"].items() <= labels.items()
            assert service["ports"] == [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}]
        assert services[f"{name}-pods"]["spec"]["clusterIP"] == "None"
        assert services[f"{name}-pods"]["spec"]["publishNotReadyAddresses"] is True


def test_each_deployment_has_an_hpa_and_a_pdb_that_target_it() -> None:
    deployments = _of_kind("Deployment")
    hpas = _of_kind("HorizontalPodAutoscaler")
    pdbs = _of_kind("PodDisruptionBudget")
    for name, deployment in deployments.items():
        target = hpas[name]["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name)
        assert hpas[name]["spec"]["minReplicas"] <= hpas[name]["spec"]["maxReplicas"]
        assert deployment["spec"]["replicas"] == hpas[name]["spec"]["minReplicas"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert pdbs[name]["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert pdbs[name]["spec"]["maxUnavailable"] == 1


def test_consumers_never_scale_past_the_partitions_of_the_topic_they_consume() -> None:
    partitions = {
        t["spec"].get("topicName", name): t["spec"]["partitions"] for name, t in _of_kind("KafkaTopic").items()
    }
    # A service's main topic is the first it consumes in the registry; side streams (tempen.org) are small.
    consumed: dict[str, str] = {}
    for topic in TOPICS:
        for consumer in topic.consumers:
            if consumer in SERVICES:
                consumed.setdefault(consumer, topic.name)
    assert set(consumed) == set(PIPELINE)
    for name, hpa in _of_kind("HorizontalPodAutoscaler").items():
        if name not in PIPELINE:
            assert "tempen/consumes-topic" not in hpa["metadata"].get("annotations", {})
            continue
        assert hpa["metadata"]["annotations"]["tempen/consumes-topic"] == consumed[name]
        if name in HTTP_SCALED:
            continue
        assert hpa["spec"]["maxReplicas"] <= partitions[consumed[name]], (
            f"{name} would scale to {hpa['spec']['maxReplicas']} replicas but {consumed[name]} has "
            f"{partitions[consumed[name]]} partitions: the extra replicas would idle"
        )


def test_there_is_a_kafka_topic_for_every_topic_and_dead_letter_topic_of_the_registry() -> None:
    topics = {t["spec"].get("topicName", name): t["spec"] for name, t in _of_kind("KafkaTopic").items()}
    assert {name: spec["partitions"] for name, spec in topics.items()} == all_topic_names()
    for name, spec in topics.items():
        assert spec["replicas"] == 3, name
        assert int(spec["config"]["min.insync.replicas"]) == 2, name


def test_every_topic_the_metric_catalogue_names_has_a_kafka_topic() -> None:
    topics = {t["spec"].get("topicName", name) for name, t in _of_kind("KafkaTopic").items()}
    named = {v for m in load_catalogue()["metrics"] for v in (m.get("values") or {}).get("topic", [])}
    assert named
    assert named <= topics


def test_prometheus_k8s_config_scrapes_the_headless_services() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.k8s.yml").read_text(encoding="utf-8"))
    services = _of_kind("Service")
    for job in config["scrape_configs"]:
        [sd] = job["dns_sd_configs"]
        [host] = sd["names"]
        service, namespace = host.split(".")[:2]
        assert namespace == "tempen"
        assert services[service]["spec"]["clusterIP"] == "None"
        assert sd["port"] == SERVICES[job["job_name"]]


def test_alerts_asks_scoring_s_service_for_backtests() -> None:
    alerts_env = _of_kind("ConfigMap")["tempen-alerts-env"]
    assert alerts_env["data"]["TEMPEN_ALERTS_SCORING_URL"] == "http://scoring:8002"


def test_alerts_and_the_portal_read_one_link_secret_and_one_portal_address() -> None:
    deployments = _of_kind("Deployment")
    for name in ("alerts", "portal"):
        sources = _container(deployments[name])["envFrom"]
        link = [s["secretRef"] for s in sources if s.get("secretRef", {}).get("name") == "tempen-link"]
        assert link == [{"name": "tempen-link"}], f"{name} must not start without the link secret"
    link_template = next(t for t in _secret_templates() if t["metadata"]["name"] == "tempen-link")
    assert set(link_template["stringData"]) == {"TEMPEN_LINK_SECRET"}
    shared = _of_kind("ConfigMap")["tempen-env"]["data"]
    assert shared["TEMPEN_PORTAL_URL"].startswith("https://"), "people reach the portal over https"
    portal = _of_kind("ConfigMap")["tempen-portal-env"]["data"]
    assert portal["TEMPEN_PORTAL_ALERTS_URL"] == f"http://alerts:{SERVICES['alerts']}"
    assert portal["TEMPEN_PORTAL_SCORING_URL"] == f"http://scoring:{SERVICES['scoring']}"
