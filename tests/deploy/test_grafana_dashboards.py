"""The Grafana dashboards and their provisioning, checked without any service: the committed JSON
is what deploy/grafana/dashboards.py generates, every panel says what it answers and reads a
provisioned data source, and no file holds a password."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
RULES = ROOT / "deploy" / "prometheus" / "rules"
UIDS = {"tasador-service", "tasador-loop"}
# metrics labelled model_version: a panel reading them follows the dashboard's variable
VERSIONED = re.compile(r"tasador_predictions_total|tasador_live_drift_(?!last_check)\w+")
ENV_REFERENCE = re.compile(r"^\$\{?[A-Z][A-Z0-9_]*\}?$")


def generator() -> Any:
    spec = importlib.util.spec_from_file_location("grafana_dashboards", GRAFANA / "dashboards.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def boards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text())
        for path in sorted((GRAFANA / "dashboards").glob("*.json"))
    }


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["type"] != "row"]


def provisioned_sources() -> dict[str, str]:
    """uid: type of every data source Grafana is given."""
    config = yaml.safe_load((GRAFANA / "provisioning/datasources/tasador.yml").read_text())
    return {source["uid"]: source["type"] for source in config["datasources"]}


def test_the_committed_json_is_what_the_source_generates() -> None:
    generated = generator().rendered()
    committed = {path.name: path.read_text() for path in (GRAFANA / "dashboards").glob("*.json")}
    assert set(generated) == set(committed), "run `make dashboards`"
    for name, text in generated.items():
        assert committed[name] == text, f"{name} is stale: run `make dashboards`"


def test_every_panel_says_what_it_answers_and_reads_a_provisioned_source() -> None:
    sources = provisioned_sources()
    assert {board["uid"] for board in boards().values()} == UIDS
    for name, board in boards().items():
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: panel ids repeat"
        assert panels(board), name
        for panel in panels(board):
            where = f"{name}: {panel.get('title')!r}"
            assert panel.get("title"), where
            assert "?" in panel.get("description", ""), f"{where} asks no question"
            source = panel.get("datasource") or {}
            assert source.get("uid") in sources, f"{where} reads no provisioned data source"
            assert sources[source["uid"]] == source.get("type"), where
            assert panel.get("targets"), f"{where} has no query"
            refs = [t["refId"] for t in panel["targets"]]
            assert len(refs) == len(set(refs)), where
            for target in panel["targets"]:
                query = target.get("expr") or target.get("rawSql")
                assert query, where
                if "datasource" in target:
                    assert target["datasource"] == source, where


def test_the_model_version_variable_filters_the_versioned_panels() -> None:
    service = boards()["tasador-service.json"]
    variables = {v["name"]: v for v in service["templating"]["list"]}
    version = variables["model_version"]
    assert version["type"] == "query"
    assert version["datasource"] == {"type": "prometheus", "uid": "prometheus"}
    assert "label_values(tasador_predictions_total, model_version)" in str(version["query"])
    assert version["multi"] is True
    assert version["includeAll"] is True
    versioned = [
        (p["title"], t["expr"])
        for p in panels(service)
        for t in p["targets"]
        if VERSIONED.search(t["expr"])
    ]
    assert versioned
    for title, expr in versioned:
        assert 'model_version=~"$model_version"' in expr, title


def test_the_recording_rules_the_panels_read_exist() -> None:
    recorded = {
        rule["record"]
        for path in RULES.glob("*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    read = {
        name
        for board in boards().values()
        for panel in panels(board)
        for target in panel["targets"]
        for name in re.findall(r"tasador:[a-z0-9_:]+", target.get("expr", ""))
    }
    assert read, "the service dashboard reads no recording rule"
    assert read <= recorded, f"not recorded by deploy/prometheus/rules: {read - recorded}"


def test_the_provisioning_names_the_dashboards_sources() -> None:
    sources = provisioned_sources()
    used = {
        (panel["datasource"]["uid"], panel["datasource"]["type"])
        for board in boards().values()
        for panel in panels(board)
    }
    variables = {
        (v["datasource"]["uid"], v["datasource"]["type"])
        for board in boards().values()
        for v in board.get("templating", {}).get("list", [])
    }
    assert set(sources.items()) == used | variables
    config = yaml.safe_load((GRAFANA / "provisioning/datasources/tasador.yml").read_text())
    clean = next(s for s in config["datasources"] if s["uid"] == "tasador-clean")
    assert clean["url"] == "$TASADOR_GRAFANA_CLEAN_DB_HOST"
    assert clean["user"] == "$TASADOR_GRAFANA_CLEAN_DB_USER"
    assert clean["jsonData"]["database"] == "$TASADOR_GRAFANA_CLEAN_DB_NAME"
    assert clean["secureJsonData"] == {"password": "$TASADOR_GRAFANA_CLEAN_DB_PASSWORD"}
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/tasador.yml").read_text())
    [provider] = providers["providers"]
    assert provider["type"] == "file"
    assert provider["folder"] == "tasador"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def _password_values(node: Any) -> list[Any]:
    if isinstance(node, dict):
        found = [v for k, v in node.items() if "password" in str(k).lower()]
        return found + [x for v in node.values() for x in _password_values(v)]
    if isinstance(node, list):
        return [x for v in node for x in _password_values(v)]
    return []


@pytest.mark.parametrize(
    "path",
    sorted(p for p in GRAFANA.rglob("*") if p.is_file() and "__pycache__" not in p.parts),
    ids=lambda p: str(p.relative_to(GRAFANA)),
)
def test_no_password_is_written_in_deploy_grafana(path: Path) -> None:
    text = path.read_text()
    if path.suffix in (".yml", ".yaml", ".json"):
        parsed = yaml.safe_load(text) if path.suffix != ".json" else json.loads(text)
        for value in _password_values(parsed):
            assert isinstance(value, str), path.name
            assert ENV_REFERENCE.match(value), f"{path.name}: a password not from the environment"

    if path.suffix == ".sql":  # PASSWORD 'literal' (a psql variable, PASSWORD :'password', is fine)
        assert not re.search(r"PASSWORD\s+'", text, re.IGNORECASE), path.name
    else:  # password: "...", password = '...'
        assert not re.search(r"password\s*[:=]\s*[\"'][^\"'$]", text, re.IGNORECASE), path.name
