"""The Helm chart (deploy/helm/tasador), checked without a cluster: it renders through Helm's own Go
SDK (helm-python-sdk) with the default and the production values, `helm lint` finds nothing,
values.schema.json refuses a bad values file, every rendered object validates against the
Kubernetes API schemas (kubernetes-validate, strict) of the oldest version the chart supports and
of the one the local cluster runs, the Prometheus Operator objects are checked field by field, every
pod is locked down, and the chart's copies of the dashboards and rules equal their sources."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "tasador"
RELEASE, NAMESPACE = "tasador", "tasador"
# the oldest Kubernetes the chart accepts (Chart.yaml kubeVersion), and the local cluster's
KUBE_VERSIONS = ("1.31.0", "1.36.0")
OUR_IMAGES = {"inference-api", "ui", "datasource", "mlflow"}
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
VALUES_FILES = {"default": None, "production": CHART / "values-production.yaml"}


def load_values(path: Path | None) -> dict[str, Any]:
    return {} if path is None else yaml.safe_load(path.read_text())


def render(values: dict[str, Any] | None = None) -> dict[str, str]:
    with helm.Chart.load(CHART) as chart:
        return chart.render(values or {}, name=RELEASE, namespace=NAMESPACE)


def objects(rendered: dict[str, str]) -> list[dict[str, Any]]:
    """Every Kubernetes object the templates render (NOTES.txt is not one)."""
    return [
        doc
        for path, text in sorted(rendered.items())
        if path.endswith((".yaml", ".yml"))
        for doc in yaml.safe_load_all(text)
        if doc
    ]


@pytest.fixture(scope="module", params=sorted(VALUES_FILES))
def manifests(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return objects(render(load_values(VALUES_FILES[request.param])))


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [doc for doc in of_kind(docs, kind) if doc["metadata"]["name"] == name]
    return found


def pod_specs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"])
        for doc in docs
        if doc["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}
    ]


def test_the_chart_is_a_pinned_v2_chart() -> None:
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["apiVersion"] == "v2"
    assert meta["kubeVersion"] == ">=1.31.0-0"
    assert meta["appVersion"] == project["version"], "appVersion names the tasador release"
    assert meta["version"].count(".") == 2


def test_it_renders_every_component_with_the_default_values() -> None:
    docs = objects(render())
    deployments = {doc["metadata"]["name"] for doc in of_kind(docs, "Deployment")}
    assert deployments == {f"tasador-{name}" for name in OUR_IMAGES}
    assert {doc["metadata"]["name"] for doc in of_kind(docs, "Service")} == deployments
    for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget", "ServiceAccount", "Job"):
        assert of_kind(docs, kind), kind
    selectors = [
        doc["spec"]["podSelector"]["matchLabels"] for doc in of_kind(docs, "NetworkPolicy")
    ]
    for doc in docs:
        if doc["kind"] in {"Deployment", "Job"}:
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert any(sel.items() <= labels.items() for sel in selectors), doc["metadata"]["name"]
    assert not of_kind(docs, "Secret"), "the chart names secrets, it never holds one"
    assert {doc["metadata"].get("namespace") for doc in docs} == {NAMESPACE}
    # the Prometheus Operator's objects are opt-in (their CRDs may be missing)
    assert not [doc for doc in docs if doc["kind"] in CRD_KINDS]


def test_the_production_values_add_replicas_monitoring_and_an_ingress() -> None:
    docs = objects(render(load_values(VALUES_FILES["production"])))
    assert {doc["kind"] for doc in docs} >= CRD_KINDS | {"Ingress"}
    hpa = named(docs, "HorizontalPodAutoscaler", "tasador-inference-api")
    assert hpa["spec"]["minReplicas"] >= 3
    assert named(docs, "PodDisruptionBudget", "tasador-inference-api")["spec"]["minAvailable"] == 2


def test_the_simulator_is_optional() -> None:
    docs = objects(render({"datasource": {"enabled": False}}))
    assert "tasador-datasource" not in {doc["metadata"]["name"] for doc in docs}


@pytest.mark.parametrize("name", sorted(VALUES_FILES))
def test_helm_lint_finds_nothing(name: str) -> None:
    for version in KUBE_VERSIONS:
        report = helm.lint(
            CHART, load_values(VALUES_FILES[name]), strict=True, kube_version=f"v{version}"
        )
        assert report["errors"] == [], report
        assert report["messages"] == [], report


def test_the_schema_is_draft_07_and_the_values_files_meet_it() -> None:
    schema = yaml.safe_load((CHART / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    defaults = load_values(CHART / "values.yaml")
    jsonschema.Draft7Validator(schema).validate(defaults)
    with helm.Chart.load(CHART) as chart:
        for path in VALUES_FILES.values():
            chart.validate_schema(chart.merge_values(load_values(path)))


BAD_VALUES = {
    "replicas as a string": "ui:\n  replicas: '3'\n",
    "an unknown top-level key": "replicaCount: 3\n",
    "an unknown image key": "image:\n  name: tasador\n",
    "a floating image tag": "image:\n  tag: latest\n",
    "no memory limit": "mlflow:\n  resources:\n    limits:\n      memory: null\n",
    "no limits at all": "inferenceApi:\n  resources:\n    limits: null\n",
    "an unknown resource": "ui:\n  resources:\n    limits:\n      gpu: 1\n",
    "a secret without its name": "secrets:\n  database:\n    existingSecret: ''\n",
    "a port out of range": "inferenceApi:\n  port: 80000\n",
}


@pytest.mark.parametrize("text", BAD_VALUES.values(), ids=list(BAD_VALUES))
def test_the_schema_rejects_a_bad_values_file(text: str) -> None:
    with pytest.raises(helm.HelmValuesError):
        render(helm.values_from_yaml(text))


def test_every_manifest_validates_against_the_kubernetes_api(
    manifests: list[dict[str, Any]],
) -> None:
    for version in KUBE_VERSIONS:
        for doc in manifests:
            if doc["kind"] in CRD_KINDS:
                continue
            name = f"{doc['kind']}/{doc['metadata']['name']}"
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                pytest.fail(f"{name} against {version}: {error.path}: {error.message}")


def test_the_prometheus_operator_objects_are_well_formed() -> None:
    docs = objects(render(load_values(VALUES_FILES["production"])))
    service = named(docs, "Service", "tasador-inference-api")
    monitor = named(docs, "ServiceMonitor", "tasador-inference-api")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    spec = monitor["spec"]
    assert spec["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    # the job the alert rules name (up{job="tasador-inference"}) comes from the Service's label
    assert service["metadata"]["labels"][spec["jobLabel"]] == "tasador-inference"
    (endpoint,) = spec["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"

    rule = named(docs, "PrometheusRule", "tasador")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    groups = rule["spec"]["groups"]
    sources = [
        group
        for path in sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
    ]
    assert sorted(groups, key=lambda g: g["name"]) == sorted(sources, key=lambda g: g["name"])
    for group in groups:
        assert group["name"]
        assert group["rules"]
        for item in group["rules"]:
            assert ("alert" in item) != ("record" in item)
            assert item["expr"]


def test_every_pod_is_locked_down(manifests: list[dict[str, Any]]) -> None:
    for name, spec in pod_specs(manifests):
        assert spec["automountServiceAccountToken"] is False, name
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] > 0, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        for container in spec["containers"]:
            where = f"{name} {container['name']}"
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["runAsNonRoot"] is True, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in context["capabilities"], where
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {"cpu", "memory"}, where
            # the root file system is read-only: HOME (/tmp) and the state folder are emptyDirs
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            for folder in ("/tmp", "/var/lib/tasador"):
                assert "emptyDir" in volumes[mounts[folder]], where
            registry, owner, image = container["image"].split("/")
            assert (registry, owner) == ("ghcr.io", "OWNER"), where
            repository, tag = image.split(":")
            assert repository.removeprefix("tasador-") in OUR_IMAGES, where
            assert tag == "sha-0000000", where


def test_every_service_has_probes_and_the_api_gates_traffic_on_a_model(
    manifests: list[dict[str, Any]],
) -> None:
    for doc in of_kind(manifests, "Deployment"):
        (container,) = doc["spec"]["template"]["spec"]["containers"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["port"] == "http", doc["metadata"]["name"]
    (api,) = named(manifests, "Deployment", "tasador-inference-api")["spec"]["template"]["spec"][
        "containers"
    ]
    assert api["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert api["livenessProbe"]["httpGet"]["path"] == "/health"
    assert api["command"][:3] == ["uvicorn", "--factory", "tasador.serving.main:create_served_app"]
    assert "--workers" not in api["command"], "one worker a pod: the API scales by pods"
    ui = named(manifests, "Deployment", "tasador-ui")["spec"]["template"]["spec"]["containers"][0]
    assert ui["readinessProbe"]["httpGet"]["path"] == "/_stcore/health"
    assert "http://tasador-inference-api:8000" in ui["command"]


def test_the_api_scales_by_pods_on_cpu(manifests: list[dict[str, Any]]) -> None:
    hpa = named(manifests, "HorizontalPodAutoscaler", "tasador-inference-api")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "tasador-inference-api"
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    deployment = named(manifests, "Deployment", "tasador-inference-api")
    assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    pdb = named(manifests, "PodDisruptionBudget", "tasador-inference-api")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_secrets_are_referenced_by_name_only(manifests: list[dict[str, Any]]) -> None:
    defaults = load_values(CHART / "values.yaml")["secrets"]
    names = {ref["existingSecret"] for ref in defaults.values()}
    used = {
        env["valueFrom"]["secretKeyRef"]["name"]
        for _, spec in pod_specs(manifests)
        for container in spec["containers"]
        for env in container.get("env", [])
        if "valueFrom" in env
    }
    assert used == names
    assert not of_kind(manifests, "Secret")


def copies(folder: str, source: Path, pattern: str) -> list[tuple[Path, Path]]:
    ours = sorted((CHART / folder).glob(pattern))
    assert [path.name for path in ours] == [path.name for path in sorted(source.glob(pattern))]
    return [(source / path.name, path) for path in ours]


def test_the_charts_dashboards_equal_deploy_grafana_byte_for_byte() -> None:
    source = ROOT / "deploy" / "grafana" / "dashboards"
    fix = "cp deploy/grafana/dashboards/*.json deploy/helm/tasador/dashboards/"
    for original, copy in copies("dashboards", source, "*.json"):
        assert copy.read_bytes() == original.read_bytes(), f"{copy.name} is stale: {fix}"
    maps = {
        name: text
        for doc in of_kind(objects(render()), "ConfigMap")
        if doc["metadata"]["labels"].get("grafana_dashboard") == "1"
        for name, text in doc["data"].items()
    }
    assert maps == {path.name: path.read_text() for path in sorted(source.glob("*.json"))}


def test_the_charts_rules_equal_deploy_prometheus_byte_for_byte() -> None:
    source = ROOT / "deploy" / "prometheus" / "rules"
    fix = "cp deploy/prometheus/rules/*.yml deploy/helm/tasador/rules/"
    for original, copy in copies("rules", source, "*.yml"):
        assert copy.read_bytes() == original.read_bytes(), f"{copy.name} is stale: {fix}"
