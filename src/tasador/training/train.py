"""Train the price model: tune on grouped folds (or one split), then refit on all training rows.

The target is log price (prices span four orders of magnitude; errors in log are relative errors),
so predictions are `exp` of the booster's output.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
import xgboost as xgb

from tasador import schema
from tasador.training.features import (
    FeatureSpec,
    assign_folds,
    build_features,
    build_training_matrix,
    fit_features,
)
from tasador.training.masking import with_masked_copies
from tasador.training.metrics import Metrics
from tasador.training.tuning import Fold, base_params, threads_for, tune

logger = logging.getLogger(__name__)

CV_ROWS: Final[int] = 10_000  # below this many training rows, tuning cross-validates
CV_FOLDS: Final[int] = 3
BUDGET_ROWS: Final[int] = 100_000  # the tuning budget setting is per this many training rows


@dataclass(frozen=True)
class TrainedModel:
    """A refitted booster with what it needs to predict and what is known about it.

    `params` are the full booster parameters; the booster has `best_iteration + 1` trees;
    `validation` are the best trial's metrics on the validation split (not the evaluation set).
    """

    booster: xgb.Booster
    spec: FeatureSpec
    params: dict[str, Any]
    best_iteration: int
    n_trials: int
    train_rows: int
    tuning_seconds: float
    validation: Metrics


def split_validation(frame: pd.DataFrame, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of validation rows: whole properties (by `property_key`), deterministic.

    A seeded shuffle of the distinct properties; the first `fraction` of them validate, so a home
    listed twice never sits on both sides.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError("valid_fraction must be between 0 and 1")
    keys = frame["property_key"].to_numpy() if "property_key" in frame else np.arange(len(frame))
    unique, inverse = np.unique(keys, return_inverse=True)
    n_valid = max(1, round(fraction * len(unique)))
    chosen = np.zeros(len(unique), dtype=bool)
    chosen[np.random.default_rng(seed).permutation(len(unique))[:n_valid]] = True
    return np.asarray(chosen[inverse.reshape(-1)])


def _log_price(frame: pd.DataFrame) -> np.ndarray:
    return np.log(frame[schema.TARGET].to_numpy(dtype=np.float64))


def _dmatrix(x: np.ndarray, y: np.ndarray, spec: FeatureSpec, ref: Any = None) -> xgb.DMatrix:
    return xgb.QuantileDMatrix(
        x, label=y, feature_names=list(spec.feature_names), nthread=threads_for(len(x)), ref=ref
    )


def tuning_budget(rows: int, seconds_per_budget: float) -> float:
    """Seconds of tuning for `rows` training rows: `seconds_per_budget` per `BUDGET_ROWS` rows,
    and never less."""
    return seconds_per_budget * max(1.0, rows / BUDGET_ROWS)


def _training_set(
    frame: pd.DataFrame, seed: int, *, geography: bool, masking: bool
) -> tuple[FeatureSpec, xgb.DMatrix]:
    """Features learned from `frame` (with its masked copies) and its training matrix."""
    if masking:
        frame = with_masked_copies(frame, seed)
    spec = fit_features(frame, geography=geography)
    return spec, _dmatrix(build_training_matrix(frame, spec, seed), _log_price(frame), spec)


def _fold(
    fit_part: pd.DataFrame, valid_part: pd.DataFrame, seed: int, *, geography: bool, masking: bool
) -> Fold:
    """A tuning fold: features learned from its training rows only (with masked copies), and its
    validation rows (as they came) encoded the way serving encodes new rows."""
    spec, dtrain = _training_set(fit_part, seed, geography=geography, masking=masking)
    valid_x = build_features(valid_part, spec)
    valid_y = _log_price(valid_part)
    return Fold(dtrain, _dmatrix(valid_x, valid_y, spec, ref=dtrain), valid_x, valid_y)


def tune_and_train(
    train: pd.DataFrame,
    *,
    n_trials: int,
    timeout_seconds: float,
    seed: int,
    valid_fraction: float = 0.15,
    on_trial: Callable[[int, float], None] | None = None,
    geography: bool = True,
    masking: bool = True,
    cross_validate: bool = True,
) -> TrainedModel:
    """Tune XGBoost on log price with Optuna, then refit on all of `train` with the best params.

    Tuning validates on `CV_FOLDS` grouped folds below `CV_ROWS` rows, else on one grouped split
    of `valid_fraction`; its budget is `timeout_seconds` per `BUDGET_ROWS` rows (`tuning_budget`).
    Features (and their encodings) of each tuning fit are learned from its training rows only; the
    validation rows are encoded the way serving encodes new rows. Deterministic for a seed when
    the time budget is not reached. `geography`, `masking` and `cross_validate` False train as
    tasador did before them (the quality benchmark's peer).
    """
    train = train.reset_index(drop=True)
    if cross_validate and len(train) < CV_ROWS:  # one split of a few hundred rows: mostly noise
        fold = assign_folds(train, CV_FOLDS, seed)
        parts = [(train[fold != k], train[fold == k]) for k in range(CV_FOLDS)]
    else:
        is_valid = split_validation(train, valid_fraction, seed)
        parts = [(train[~is_valid], train[is_valid])]
    if any(len(fit_part) == 0 or len(valid_part) == 0 for fit_part, valid_part in parts):
        raise ValueError(f"too few rows to tune on ({len(train)})")
    folds = [
        _fold(fit_part, valid_part, seed, geography=geography, masking=masking)
        for fit_part, valid_part in parts
    ]
    result = tune(
        folds,
        n_trials=n_trials,
        timeout_seconds=tuning_budget(len(train), timeout_seconds),
        seed=seed,
        on_trial=on_trial,
    )

    spec, dtrain = _training_set(train, seed, geography=geography, masking=masking)
    params = {**base_params(seed, dtrain.num_row()), **result.params}
    booster = xgb.train(
        params, dtrain, num_boost_round=result.best_iteration + 1, verbose_eval=False
    )
    logger.info(
        "refit on %d rows (%d with masked copies): %d rounds, validation rmse_log=%.4f",
        len(train), dtrain.num_row(), result.best_iteration + 1, result.validation.rmse_log,
    )  # fmt: skip
    return TrainedModel(
        booster=booster,
        spec=spec,
        params=params,
        best_iteration=result.best_iteration,
        n_trials=result.n_trials,
        train_rows=len(train),
        tuning_seconds=result.seconds,
        validation=result.validation,
    )


def predict_log_price(booster: xgb.Booster, spec: FeatureSpec, frame: pd.DataFrame) -> np.ndarray:
    """Predicted natural-log prices of the listings in `frame`."""
    if len(frame) == 0:
        return np.empty(0, dtype=np.float64)
    pred = booster.inplace_predict(build_features(frame, spec))
    return np.asarray(pred, dtype=np.float64)


def predict_price(booster: xgb.Booster, spec: FeatureSpec, frame: pd.DataFrame) -> np.ndarray:
    """Predicted prices in dollars of the listings in `frame`."""
    return np.exp(predict_log_price(booster, spec, frame))
