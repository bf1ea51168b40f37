"""Log a trained model to MLflow, register it as a version, find and load versions.

Everything goes through an `MlflowClient` the caller passes in (no global tracking URI): the run is
created and filled with `log_batch`, the pyfunc model is written with `mlflow.pyfunc.save_model` to
a temporary folder and uploaded with `log_artifacts`, and the version is registered from that
artifact folder. Run artifacts:

    model/                     the pyfunc model (MLmodel, signature, input example, python_model)
    model/artifacts/model.ubj  the native XGBoost booster (UBJSON)
    model/artifacts/feature_spec.json
    model/artifacts/training_profile.json   the drift reference
    importance.json            global feature importance (absent for models logged before it)
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import mlflow.pyfunc
import numpy as np
import pandas as pd
import xgboost as xgb
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.entities.model_registry.model_version_status import ModelVersionStatus
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

from tasador.registry.pyfunc import (
    BOOSTER_FILE,
    PROFILE_FILE,
    SPEC_FILE,
    PriceModel,
    input_example,
    model_signature,
)
from tasador.training.features import FeatureSpec
from tasador.training.intervals import PriceInterval
from tasador.training.metrics import Metrics
from tasador.training.train import TrainedModel

logger = logging.getLogger(__name__)

MODEL_PATH: Final[str] = "model"
ARTIFACTS_PATH: Final[str] = f"{MODEL_PATH}/artifacts"
TAG_BATCH: Final[str] = "tasador.batch_id"
TAG_WINDOW: Final[str] = "tasador.training_window"
TAG_INTERRUPTED: Final[str] = "tasador.interrupted"
EVAL_PREFIX: Final[str] = "eval_"
IMPORTANCE_FILE: Final[str] = "importance.json"
VALID_PREFIX: Final[str] = "valid_"


@dataclass(frozen=True, slots=True)
class ModelVersionRef:
    """One registered model version."""

    name: str
    version: str
    run_id: str


@dataclass(frozen=True)
class LoadedModel:
    """A model version ready to predict, with what was recorded when it was trained."""

    version: str
    run_id: str
    booster: xgb.Booster
    spec: FeatureSpec
    metrics: Metrics  # on the evaluation set, at training time
    training_profile: dict[str, Any]
    tags: dict[str, str]
    interval: PriceInterval | None = None  # None for a model trained without a price range


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _error_code(err: MlflowException) -> str:
    return str(err.error_code)


def ensure_experiment(client: MlflowClient, name: str) -> str:
    """The id of the experiment `name`, created if missing (safe against a concurrent create)."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    try:
        return str(client.create_experiment(name))
    except MlflowException as err:
        if _error_code(err) != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise
        found = client.get_experiment_by_name(name)
        assert found is not None
        return str(found.experiment_id)


def ensure_registered_model(client: MlflowClient, name: str) -> None:
    """Create the registered model `name` unless it exists."""
    try:
        client.create_registered_model(name)
    except MlflowException as err:
        if _error_code(err) != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise


def _save_pyfunc(
    folder: Path, trained: TrainedModel, training_profile: dict[str, Any], example: pd.DataFrame
) -> Path:
    """Write the pyfunc model folder (with its native artifacts) under `folder`."""
    staging = folder / "staging"
    staging.mkdir()
    booster_path = staging / BOOSTER_FILE
    trained.booster.save_model(str(booster_path))
    (staging / SPEC_FILE).write_text(json.dumps(trained.spec.to_dict()))
    (staging / PROFILE_FILE).write_text(json.dumps(training_profile, default=_json_default))
    model_dir = folder / MODEL_PATH
    mlflow.pyfunc.save_model(
        path=str(model_dir),
        python_model=PriceModel(),
        artifacts={
            "booster": str(booster_path),
            "feature_spec": str(staging / SPEC_FILE),
            "training_profile": str(staging / PROFILE_FILE),
        },
        signature=model_signature(),
        input_example=example,
        # Explicit requirements: inferring them would import the model in a subprocess (slow).
        pip_requirements=[
            f"mlflow=={mlflow.__version__}",
            f"xgboost=={xgb.__version__}",
            f"pandas=={pd.__version__}",
            f"numpy=={np.__version__}",
            "tasador",
        ],
    )
    return model_dir


def _run_content(
    trained: TrainedModel, evaluation: Metrics, interval: PriceInterval | None
) -> tuple[list[Param], list[Metric]]:
    now = int(time.time() * 1000)
    params = {
        **trained.params,
        "best_iteration": trained.best_iteration,
        "n_trials": trained.n_trials,
        "train_rows": trained.train_rows,
        "feature_version": trained.spec.version,
        "encoding_smoothing": trained.spec.smoothing,
        "n_features": len(trained.spec.feature_names),
    }
    values = {
        **{f"{VALID_PREFIX}{k}": v for k, v in trained.validation.to_dict().items()},
        **{f"{EVAL_PREFIX}{k}": v for k, v in evaluation.to_dict().items()},
        "tuning_seconds": trained.tuning_seconds,
        **(interval.metrics() if interval is not None else {}),
    }
    return (
        [Param(k, str(v)) for k, v in params.items()],
        [Metric(k, float(v), now, 0) for k, v in values.items()],
    )


def log_and_register(
    client: MlflowClient,
    *,
    model_name: str,
    experiment: str,
    trained: TrainedModel,
    evaluation: Metrics,
    training_profile: dict[str, Any],
    batch_id: int,
    training_window: str,
    extra_tags: dict[str, str],
    example_frame: pd.DataFrame | None = None,
    importance: dict[str, Any] | None = None,
    interval: PriceInterval | None = None,
) -> ModelVersionRef:
    """Log the model as a run and register it as a new version of `model_name`.

    `evaluation` are the metrics on the evaluation set (logged as `eval_*`), `training_profile` the
    drift reference. The batch and training window are tagged on the run and, at creation, on the
    version (so `find_version_for_batch` sees a version as soon as it exists). `example_frame`
    (listings) gives the input example; by default one is made from the spec's categories.
    `importance` (`Importance.to_dict()`), when given, is logged as the run's `importance.json`;
    `interval`, the price range, as run metrics (`interval_*`, `eval_interval_*`).
    """
    tags = {TAG_BATCH: str(batch_id), TAG_WINDOW: training_window, **extra_tags}
    experiment_id = ensure_experiment(client, experiment)
    end_interrupted_runs(client, experiment_id, batch_id)
    run = client.create_run(experiment_id, run_name=f"train-batch-{batch_id}", tags=tags)
    run_id = run.info.run_id
    try:
        params, metrics = _run_content(trained, evaluation, interval)
        client.log_batch(run_id, metrics=metrics, params=params)
        example = input_example(
            example_frame if example_frame is not None else _example_listings(trained.spec)
        )
        with tempfile.TemporaryDirectory(prefix="tasador-model-") as tmp:
            model_dir = _save_pyfunc(Path(tmp), trained, training_profile, example)
            client.log_artifacts(run_id, str(model_dir), MODEL_PATH)
        if importance is not None:
            client.log_dict(run_id, importance, IMPORTANCE_FILE)
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")

    ensure_registered_model(client, model_name)
    version = client.create_model_version(
        name=model_name,
        source=f"{run.info.artifact_uri}/{MODEL_PATH}",
        run_id=run_id,
        tags=tags,
    )
    _await_ready(client, model_name, str(version.version))
    logger.info("registered %s version %s (run %s)", model_name, version.version, run_id)
    return ModelVersionRef(name=model_name, version=str(version.version), run_id=run_id)


def end_interrupted_runs(client: MlflowClient, experiment_id: str, batch_id: int) -> list[str]:
    """Mark KILLED the runs of `batch_id` still RUNNING: a process killed while logging left
    them (a live one would not be training this batch again), so the tracking UI shows no
    phantom run. Returns their ids."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{TAG_BATCH}` = '{batch_id}' and attributes.status = 'RUNNING'",
    )
    for run in runs:
        client.set_tag(run.info.run_id, TAG_INTERRUPTED, "the process logging it was stopped")
        client.set_terminated(run.info.run_id, status="KILLED")
        logger.warning("run %s of batch id %d was left running: marked KILLED", run.info.run_id,
                       batch_id)  # fmt: skip
    return [run.info.run_id for run in runs]


def _example_listings(spec: FeatureSpec) -> pd.DataFrame:
    """Two plausible listings from the spec's own categories (when the caller gives none)."""
    state_city = spec.encodings["city"].categories[:2] or ("Texas|Austin",)
    states = [key.split("|", 1)[0] for key in state_city]
    cities = [key.split("|", 1)[1] for key in state_city]
    zips = list(spec.encodings["zip_code"].categories[: len(states)]) or ["78701"]
    n = len(states)
    return pd.DataFrame(
        {
            "bed": [3.0] * n,
            "bath": [2.0] * n,
            "acre_lot": [0.2] * n,
            "house_size": [1600.0] * n,
            "state": states,
            "status": [spec.statuses[0]] * n,
            "city": cities,
            "zip_code": (zips * n)[:n],
            "prev_sold_date": pd.to_datetime([spec.reference_date] * n),
        }
    )


def _await_ready(client: MlflowClient, name: str, version: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status = client.get_model_version(name, version).status
        if status == ModelVersionStatus.to_string(ModelVersionStatus.READY):
            return
        if status == ModelVersionStatus.to_string(ModelVersionStatus.FAILED_REGISTRATION):
            raise RuntimeError(f"registration of {name} version {version} failed")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} version {version} not READY after {timeout:.0f}s")
        time.sleep(0.5)


def find_version_for_batch(
    client: MlflowClient, model_name: str, batch_id: int
) -> ModelVersionRef | None:
    """The (earliest) version registered for `batch_id`, if any: re-runs must not register twice."""
    found: list[ModelVersionRef] = []
    page_token: str | None = None
    while True:
        page = client.search_model_versions(
            f"name = '{filter_quoted(model_name)}'", max_results=1000, page_token=page_token
        )
        found += [
            ModelVersionRef(name=mv.name, version=str(mv.version), run_id=str(mv.run_id))
            for mv in page
            if (mv.tags or {}).get(TAG_BATCH) == str(batch_id)
        ]
        page_token = page.token
        if not page_token:
            break
    return min(found, key=lambda ref: int(ref.version)) if found else None


def filter_quoted(value: str) -> str:
    """`value` inside single quotes of an MLflow search filter."""
    return value.replace("'", "\\'")


def load_model_version(client: MlflowClient, model_name: str, version: str) -> LoadedModel:
    """Download only the booster, the feature spec and the training profile of one version."""
    mv = client.get_model_version(model_name, str(version))
    run_id = str(mv.run_id)
    with tempfile.TemporaryDirectory(prefix="tasador-load-") as tmp:
        paths = {
            name: Path(client.download_artifacts(run_id, f"{ARTIFACTS_PATH}/{name}", tmp))
            for name in (BOOSTER_FILE, SPEC_FILE, PROFILE_FILE)
        }
        booster = xgb.Booster()
        booster.load_model(str(paths[BOOSTER_FILE]))
        spec = FeatureSpec.from_dict(json.loads(paths[SPEC_FILE].read_text()))
        profile = json.loads(paths[PROFILE_FILE].read_text())
    run_metrics = client.get_run(run_id).data.metrics
    return LoadedModel(
        version=str(mv.version),
        run_id=run_id,
        booster=booster,
        spec=spec,
        metrics=Metrics.from_dict(run_metrics, prefix=EVAL_PREFIX),
        training_profile=profile,
        tags=dict(mv.tags or {}),
        interval=PriceInterval.from_metrics(run_metrics),
    )


def load_importance(client: MlflowClient, model_name: str, version: str) -> dict[str, Any] | None:
    """The global importance logged with a version; None for one logged without it (older).

    Absence is read from the run's artifact listing, so only a missing file gives None; any other
    failure (server, network) propagates.
    """
    run_id = str(client.get_model_version(model_name, str(version)).run_id)
    if IMPORTANCE_FILE not in {a.path for a in client.list_artifacts(run_id)}:
        return None
    with tempfile.TemporaryDirectory(prefix="tasador-importance-") as tmp:
        path = Path(client.download_artifacts(run_id, IMPORTANCE_FILE, tmp))
        data: dict[str, Any] = json.loads(path.read_text())
    return data


def run_finished_at(client: MlflowClient, run_id: str) -> datetime | None:
    """When the training run of a model ended (its start if it never ended), in UTC."""
    info = client.get_run(run_id).info
    millis = info.end_time or info.start_time
    return datetime.fromtimestamp(millis / 1000, tz=UTC) if millis else None
