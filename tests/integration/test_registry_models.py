"""Logging, registering and loading models against a real MLflow server (PostgreSQL backend)."""

from __future__ import annotations

import uuid
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from tasador.platform.mlflow_server import MlflowServer
from tasador.registry.models import (
    TAG_BATCH,
    TAG_INTERRUPTED,
    ModelVersionRef,
    ensure_experiment,
    find_version_for_batch,
    load_importance,
    load_model_version,
    log_and_register,
)
from tasador.registry.pyfunc import INPUT_COLUMNS
from tasador.training.importance import Importance, global_importance
from tasador.training.metrics import evaluate
from tasador.training.synthetic import make_listings
from tasador.training.train import TrainedModel, predict_price, tune_and_train

pytestmark = pytest.mark.integration

PROFILE = {"numeric": {"bed": {"edges": [1.0, 2.0, 3.0], "counts": np.array([4, 5])}}}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return make_listings(1_200, seed=21)


@pytest.fixture(scope="module")
def trained(data: pd.DataFrame) -> TrainedModel:
    return tune_and_train(data[~data["is_holdout"]], n_trials=2, timeout_seconds=120, seed=2)


@pytest.fixture
def client(mlflow_server: MlflowServer) -> MlflowClient:
    return MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)


def register(
    client: MlflowClient,
    name: str,
    trained: TrainedModel,
    data: pd.DataFrame,
    batch_id: int,
    importance: dict[str, Any] | None = None,
) -> ModelVersionRef:
    holdout = data[data["is_holdout"]]
    evaluation = evaluate(
        holdout["price"].to_numpy(), predict_price(trained.booster, trained.spec, holdout)
    )
    return log_and_register(
        client,
        model_name=name,
        experiment=f"{name}-exp",
        trained=trained,
        evaluation=evaluation,
        training_profile=PROFILE,
        batch_id=batch_id,
        training_window=f"batches 1..{batch_id}",
        extra_tags={"tasador.batch_number": str(batch_id)},
        example_frame=data,
        importance=importance,
    )


def test_logged_model_loads_back_and_predicts_the_same(
    client: MlflowClient, model_name: str, trained: TrainedModel, data: pd.DataFrame
) -> None:
    ref = register(client, model_name, trained, data, batch_id=7)
    assert ref.name == model_name
    assert ref.version == "1"

    loaded = load_model_version(client, model_name, ref.version)
    assert (loaded.version, loaded.run_id) == ("1", ref.run_id)
    assert loaded.spec == trained.spec
    holdout = data[data["is_holdout"]]
    np.testing.assert_array_equal(
        predict_price(loaded.booster, loaded.spec, holdout),
        predict_price(trained.booster, trained.spec, holdout),
    )
    expected = evaluate(
        holdout["price"].to_numpy(), predict_price(trained.booster, trained.spec, holdout)
    )
    assert loaded.metrics == expected
    assert loaded.training_profile == {
        "numeric": {"bed": {"edges": [1.0, 2.0, 3.0], "counts": [4, 5]}}
    }
    assert loaded.tags["tasador.batch_id"] == "7"
    assert loaded.tags["tasador.training_window"] == "batches 1..7"
    assert loaded.tags["tasador.batch_number"] == "7"

    run = client.get_run(ref.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["tasador.batch_id"] == "7"
    assert run.data.params["best_iteration"] == str(trained.best_iteration)
    assert run.data.params["max_depth"] == str(trained.params["max_depth"])
    assert run.data.metrics["valid_rmse_log"] == pytest.approx(trained.validation.rmse_log)
    assert run.data.metrics["eval_n"] == len(holdout)
    artifacts = {a.path for a in client.list_artifacts(ref.run_id, "model")}
    assert {"model/MLmodel", "model/artifacts"} <= artifacts


def test_find_version_for_batch(
    client: MlflowClient, model_name: str, trained: TrainedModel, data: pd.DataFrame
) -> None:
    assert find_version_for_batch(client, model_name, 3) is None  # no such model yet
    first = register(client, model_name, trained, data, batch_id=3)
    second = register(client, model_name, trained, data, batch_id=4)
    assert find_version_for_batch(client, model_name, 3) == first
    assert find_version_for_batch(client, model_name, 4) == second
    assert find_version_for_batch(client, model_name, 5) is None
    assert find_version_for_batch(client, f"{model_name}-other", 3) is None


def test_pyfunc_serves_the_same_prices(
    client: MlflowClient,
    mlflow_server: MlflowServer,
    model_name: str,
    trained: TrainedModel,
    data: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ref = register(client, model_name, trained, data, batch_id=1)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    model = mlflow.pyfunc.load_model(f"models:/{model_name}/{ref.version}")
    holdout = data[data["is_holdout"]].head(50)
    # What a client of `mlflow models serve` sends: plain values, dates as ISO strings.
    request = pd.DataFrame(
        {
            name: holdout[name].to_numpy(dtype=object, na_value=None)
            if name not in ("bed", "bath", "acre_lot", "house_size")
            else holdout[name].to_numpy(dtype=np.float64, na_value=np.nan)
            for name in INPUT_COLUMNS
        }
    )
    request["prev_sold_date"] = (
        pd.to_datetime(holdout["prev_sold_date"]).dt.strftime("%Y-%m-%d").to_numpy(object)
    )
    request = request.astype({"prev_sold_date": object}).where(request.notna(), None)
    request[["bed", "bath", "acre_lot", "house_size"]] = request[
        ["bed", "bath", "acre_lot", "house_size"]
    ].astype(np.float64)
    served = np.asarray(model.predict(request), dtype=np.float64)
    np.testing.assert_allclose(
        served, predict_price(trained.booster, trained.spec, holdout), rtol=1e-6
    )
    assert model.metadata.signature is not None
    assert [c.name for c in model.metadata.signature.inputs] == list(INPUT_COLUMNS)


def test_a_run_left_running_by_a_killed_process_is_marked_killed_on_retraining(
    client: MlflowClient, trained: TrainedModel, data: pd.DataFrame
) -> None:
    name = f"tasador-interrupted-{uuid.uuid4().hex[:8]}"
    experiment_id = ensure_experiment(client, f"{name}-exp")
    # what a process killed in the middle of logging batch 7 leaves behind
    phantom = client.create_run(experiment_id, run_name="train-batch-7", tags={TAG_BATCH: "7"})
    other = client.create_run(experiment_id, run_name="train-batch-8", tags={TAG_BATCH: "8"})

    ref = register(client, name, trained, data, batch_id=7)

    assert client.get_run(phantom.info.run_id).info.status == "KILLED"
    assert TAG_INTERRUPTED in client.get_run(phantom.info.run_id).data.tags
    assert client.get_run(ref.run_id).info.status == "FINISHED"
    assert client.get_run(other.info.run_id).info.status == "RUNNING"  # another batch's
    client.set_terminated(other.info.run_id, status="FINISHED")


def test_importance_is_logged_with_the_version_and_absent_for_older_ones(
    client: MlflowClient, model_name: str, trained: TrainedModel, data: pd.DataFrame
) -> None:
    holdout = data[data["is_holdout"]]
    importance = global_importance(trained.booster, trained.spec, holdout).to_dict()
    older = register(client, model_name, trained, data, batch_id=1)
    newer = register(client, model_name, trained, data, batch_id=2, importance=importance)

    assert load_importance(client, model_name, older.version) is None
    loaded = load_importance(client, model_name, newer.version)
    assert loaded == importance
    assert loaded is not None
    assert list(loaded["features"]) == list(importance["features"])  # still largest first
    assert Importance.from_dict(loaded).rows == len(holdout)
    paths = {a.path for a in client.list_artifacts(newer.run_id)}
    assert "importance.json" in paths
    assert client.get_run(newer.run_id).info.status == "FINISHED"
