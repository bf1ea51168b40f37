"""Hyper-parameter search for the XGBoost price model with Optuna.

TPE sampler (seeded) with a median pruner: each trial trains with early stopping on the validation
split and reports the validation RMSE of log price after every round, so hopeless trials stop early
(through optuna-integration's `XGBoostPruningCallback`). With several folds (small training sets,
where one validation split of a few hundred rows is mostly noise), a trial trains on each fold and
scores the RMSE of log price over all folds' validation rows; it is not pruned. The search stops
after `n_trials` or when the wall-clock budget runs out, whichever comes first; a trial running at
the deadline is cut short too, so the budget holds even for one long trial. The first trial always
runs (the default parameters), so a search always yields a model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import optuna
import xgboost as xgb
from optuna_integration.xgboost import XGBoostPruningCallback

from tasador.training.metrics import Metrics, evaluate

logger = logging.getLogger(__name__)

NTHREAD: Final[int] = 2
# Below this many rows a boosting round takes a few milliseconds and a second OpenMP thread costs
# more than it gives (on a busy 2-core machine, spinning threads make it many times slower).
SINGLE_THREAD_ROWS: Final[int] = 20_000
MAX_ROUNDS: Final[int] = 1_000
EARLY_STOPPING_ROUNDS: Final[int] = 30
VALID_NAME: Final[str] = "valid"

# Tried first, so even a one-trial search starts from a configuration known to work well.
DEFAULT_PARAMS: Final[dict[str, float | int]] = {
    "max_depth": 7,
    "learning_rate": 0.08,
    "min_child_weight": 3.0,
    "subsample": 0.85,
    "colsample_bytree": 0.85,
    "reg_lambda": 1.0,
    "reg_alpha": 0.01,
}


def threads_for(rows: int) -> int:
    """Booster threads for a training set of `rows` rows."""
    return 1 if rows < SINGLE_THREAD_ROWS else NTHREAD


def base_params(seed: int, rows: int) -> dict[str, Any]:
    """The fixed booster parameters: squared error on log price, `hist`, seeded."""
    return {
        "objective": "reg:squarederror",
        "eval_metric": "rmse",
        "tree_method": "hist",
        "nthread": threads_for(rows),
        "seed": seed,
        "verbosity": 0,
    }


def suggest_params(trial: optuna.Trial) -> dict[str, float | int]:
    """The search space."""
    return {
        "max_depth": trial.suggest_int("max_depth", 3, 10),
        "learning_rate": trial.suggest_float("learning_rate", 0.03, 0.3, log=True),
        "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 50.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-3, 10.0, log=True),
    }


class _Deadline(xgb.callback.TrainingCallback):
    """Stops boosting once the wall-clock deadline has passed."""

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        return time.monotonic() > self.deadline


@dataclass(frozen=True)
class Fold:
    """One training/validation pair of a search."""

    train: xgb.DMatrix
    valid: xgb.DMatrix
    valid_x: np.ndarray
    valid_log_price: np.ndarray


@dataclass(frozen=True)
class TuningResult:
    """The best trial: its parameters (search space only), best round and validation metrics."""

    params: dict[str, float | int]
    best_iteration: int
    validation: Metrics
    n_trials: int
    seconds: float


def tune(
    folds: list[Fold],
    *,
    n_trials: int,
    timeout_seconds: float,
    seed: int,
    on_trial: Callable[[int, float], None] | None = None,
    max_rounds: int = MAX_ROUNDS,
) -> TuningResult:
    """Search the booster parameters minimising validation RMSE of log price over `folds`.

    The best round is the folds' mean best round. `on_trial(number, rmse_log)` is called after
    each trial (NaN for a pruned or failed trial).
    """
    if n_trials < 1:
        raise ValueError("n_trials must be at least 1")
    if not folds:
        raise ValueError("at least one fold is needed")
    started = time.monotonic()
    deadline = started + timeout_seconds
    valid_price = np.exp(np.concatenate([f.valid_log_price for f in folds]))

    def fit(trial: optuna.Trial, fold: Fold, params: dict[str, Any]) -> tuple[int, np.ndarray]:
        callbacks: list[xgb.callback.TrainingCallback] = [_Deadline(deadline)]
        if len(folds) == 1:
            callbacks.append(XGBoostPruningCallback(trial, f"{VALID_NAME}-rmse"))
        booster = xgb.train(
            params,
            fold.train,
            num_boost_round=max_rounds,
            evals=[(fold.valid, VALID_NAME)],
            early_stopping_rounds=EARLY_STOPPING_ROUNDS,
            callbacks=callbacks,
            verbose_eval=False,
        )
        try:
            best = int(booster.best_iteration)
        except AttributeError:  # stopped by the deadline before early stopping kept a best round
            best = booster.num_boosted_rounds() - 1
        pred = booster.inplace_predict(fold.valid_x, iteration_range=(0, best + 1))
        return best, np.asarray(pred, dtype=np.float64)

    def objective(trial: optuna.Trial) -> float:
        params = {**base_params(seed, folds[0].train.num_row()), **suggest_params(trial)}
        fitted = [fit(trial, fold, params) for fold in folds]
        best = round(float(np.mean([b for b, _ in fitted])))
        predicted = np.concatenate([p for _, p in fitted])
        metrics = evaluate(valid_price, np.exp(predicted))
        trial.set_user_attr("best_iteration", best)
        trial.set_user_attr("metrics", metrics.to_dict())
        return metrics.rmse_log

    def report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        value = trial.value if trial.state == optuna.trial.TrialState.COMPLETE else None
        logger.debug("trial %d: %s rmse_log=%s", trial.number, trial.state.name, value)
        if on_trial is not None:
            on_trial(trial.number, float("nan") if value is None else float(value))

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            direction="minimize",
            sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=20),
        )
        study.enqueue_trial(dict(DEFAULT_PARAMS))
        # The first trial always runs (cut short by the deadline if need be), so there is a model.
        study.optimize(objective, n_trials=1, callbacks=[report])
        left = deadline - time.monotonic()
        if n_trials > 1 and left > 0:
            study.optimize(objective, n_trials=n_trials - 1, timeout=left, callbacks=[report])
    finally:
        optuna.logging.set_verbosity(verbosity)
    best = study.best_trial
    seconds = time.monotonic() - started
    logger.info(
        "tuning: %d trials in %.1fs, best rmse_log=%.4f at trial %d",
        len(study.trials), seconds, best.value, best.number,
    )  # fmt: skip
    return TuningResult(
        params=dict(best.params),
        best_iteration=int(best.user_attrs["best_iteration"]),
        validation=Metrics.from_dict(best.user_attrs["metrics"]),
        n_trials=len(study.trials),
        seconds=seconds,
    )
