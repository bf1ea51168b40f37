"""Applying promotion decisions to a real MLflow registry: alias moves and version tags."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from tasador.platform.mlflow_server import MlflowServer
from tasador.registry.aliases import (
    PRODUCTION,
    StaleDecisionError,
    apply_decision,
    get_production,
)
from tasador.registry.models import ensure_experiment, ensure_registered_model
from tasador.registry.promotion import PromotionDecision, decide_promotion
from tasador.training.metrics import Metrics

pytestmark = pytest.mark.integration


def metrics(rmse_log: float) -> Metrics:
    return Metrics(rmse=1.0, mae=1.0, mape=0.1, r2=0.5, rmse_log=rmse_log, r2_log=0.7, n=10)


@pytest.fixture
def client(mlflow_server: MlflowServer) -> MlflowClient:
    return MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)


@pytest.fixture
def versions(client: MlflowClient, model_name: str) -> list[str]:
    """Three registered versions (the decision logic needs no model files)."""
    ensure_registered_model(client, model_name)
    experiment_id = ensure_experiment(client, model_name)
    out = []
    for _ in range(3):
        run = client.create_run(experiment_id)
        source = f"{run.info.artifact_uri}/model"
        out.append(str(client.create_model_version(model_name, source, run.info.run_id).version))
    return out


def decide(challenger: str, rmse: float, champion: str | None, champion_rmse: float | None):
    return decide_promotion(
        challenger_version=challenger,
        challenger=metrics(rmse),
        champion_version=champion,
        champion=None if champion_rmse is None else metrics(champion_rmse),
        margin=0.01,
        baseline=Metrics(rmse=1.0, mae=1.0, mape=1.0, r2=0.0, rmse_log=2.0, r2_log=0.0, n=10),
        baseline_margin=0.05,
    )


def tags(client: MlflowClient, name: str, version: str) -> dict[str, str]:
    return dict(client.get_model_version(name, version).tags)


def test_no_production_before_any_promotion(
    client: MlflowClient, model_name: str, versions: list[str]
) -> None:
    assert get_production(client, model_name) is None
    assert get_production(client, f"{model_name}-missing") is None


def test_promotions_move_the_alias_and_tag_both_versions(
    client: MlflowClient, model_name: str, versions: list[str]
) -> None:
    v1, v2, _ = versions
    first = decide(v1, 0.4, None, None)
    apply_decision(client, model_name, first)
    production = get_production(client, model_name)
    assert production is not None
    assert production.version == v1
    assert tags(client, model_name, v1)["tasador.decision"] == "promoted"
    assert tags(client, model_name, v1)["tasador.reason"] == first.reason

    second = decide(v2, 0.3, v1, 0.4)
    assert second.promote
    apply_decision(client, model_name, second)
    assert client.get_model_version_by_alias(model_name, PRODUCTION).version == v2
    assert tags(client, model_name, v2)["tasador.decision"] == "promoted"
    assert tags(client, model_name, v1)["tasador.superseded_by"] == v2

    apply_decision(client, model_name, second)  # idempotent
    assert get_production(client, model_name).version == v2  # type: ignore[union-attr]
    assert tags(client, model_name, v2)["tasador.decision"] == "promoted"
    assert "tasador.superseded_by" not in tags(client, model_name, v2)


def test_rejected_challenger_leaves_the_champion_in_production(
    client: MlflowClient, model_name: str, versions: list[str]
) -> None:
    v1, v2, _ = versions
    apply_decision(client, model_name, decide(v1, 0.4, None, None))
    rejected = decide(v2, 0.399, v1, 0.4)  # better, but not by the 1 % margin
    assert not rejected.promote
    apply_decision(client, model_name, rejected)
    assert get_production(client, model_name).version == v1  # type: ignore[union-attr]
    assert tags(client, model_name, v2)["tasador.decision"] == "rejected"
    assert tags(client, model_name, v2)["tasador.reason"] == rejected.reason
    assert "tasador.superseded_by" not in tags(client, model_name, v1)


def test_stale_decision_does_not_move_the_alias(
    client: MlflowClient, model_name: str, versions: list[str]
) -> None:
    v1, v2, v3 = versions
    apply_decision(client, model_name, decide(v1, 0.4, None, None))
    apply_decision(client, model_name, decide(v2, 0.3, v1, 0.4))
    stale: PromotionDecision = decide(v3, 0.2, v1, 0.4)  # decided against v1, now superseded
    with pytest.raises(StaleDecisionError):
        apply_decision(client, model_name, stale)
    assert get_production(client, model_name).version == v2  # type: ignore[union-attr]
