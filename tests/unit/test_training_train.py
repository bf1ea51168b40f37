"""Tuning and training: determinism, budgets, the validation split, and that it learns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasador.training.metrics import evaluate
from tasador.training.synthetic import make_listings
from tasador.training.train import (
    TrainedModel,
    predict_price,
    split_validation,
    tune_and_train,
    tuning_budget,
)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return make_listings(3_600, seed=11)


@pytest.fixture(scope="module")
def trained(data: pd.DataFrame) -> TrainedModel:
    return tune_and_train(data[~data["is_holdout"]], n_trials=3, timeout_seconds=600, seed=5)


def test_same_seed_gives_same_model(data: pd.DataFrame, trained: TrainedModel) -> None:
    again = tune_and_train(data[~data["is_holdout"]], n_trials=3, timeout_seconds=600, seed=5)
    assert again.params == trained.params
    assert again.best_iteration == trained.best_iteration
    assert again.validation == trained.validation
    holdout = data[data["is_holdout"]]
    np.testing.assert_array_equal(
        predict_price(again.booster, again.spec, holdout),
        predict_price(trained.booster, trained.spec, holdout),
    )


def test_beats_a_constant_predictor_on_held_out_rows(
    data: pd.DataFrame, trained: TrainedModel
) -> None:
    train, holdout = data[~data["is_holdout"]], data[data["is_holdout"]]
    y = holdout["price"].to_numpy()
    model = evaluate(y, predict_price(trained.booster, trained.spec, holdout))
    constant = evaluate(y, np.full(len(y), np.exp(np.log(train["price"]).mean())))
    assert model.rmse_log < 0.5 * constant.rmse_log
    assert model.r2_log > 0.8
    # The synthetic noise is 0.15 in log price: a good model gets near it.
    assert model.rmse_log < 0.25


def test_trained_model_describes_itself(data: pd.DataFrame, trained: TrainedModel) -> None:
    train = data[~data["is_holdout"]]
    assert trained.n_trials == 3
    assert trained.train_rows == len(train)
    assert trained.booster.num_boosted_rounds() == trained.best_iteration + 1
    assert trained.params["tree_method"] == "hist"
    assert trained.params["nthread"] == 1
    assert {"max_depth", "learning_rate", "subsample"} <= set(trained.params)
    assert trained.validation.n == len(train)  # few rows: every one validated once, by folds
    assert trained.booster.feature_names == list(trained.spec.feature_names)


def test_one_split_validates_a_share_and_the_budget_grows_with_rows(data: pd.DataFrame) -> None:
    train = data[~data["is_holdout"]]
    model = tune_and_train(train, n_trials=1, timeout_seconds=600, seed=1, cross_validate=False)
    assert 0 < model.validation.n < 0.25 * len(train)  # the grouped 15% split
    assert tuning_budget(5_000, 60.0) == 60.0
    assert tuning_budget(250_000, 60.0) == 150.0


def test_trial_callback_sees_every_trial(data: pd.DataFrame) -> None:
    seen: list[tuple[int, float]] = []
    model = tune_and_train(
        data.iloc[:1500], n_trials=2, timeout_seconds=600, seed=1,
        on_trial=lambda number, value: seen.append((number, value)),
    )  # fmt: skip
    assert [number for number, _ in seen] == [0, 1]
    assert min(value for _, value in seen) == pytest.approx(model.validation.rmse_log)


def test_time_budget_stops_the_search(data: pd.DataFrame) -> None:
    seen: list[int] = []
    model = tune_and_train(
        data.iloc[:1500], n_trials=50, timeout_seconds=0.0, seed=1,
        on_trial=lambda number, _: seen.append(number),
    )  # fmt: skip
    assert seen == [0]
    assert model.n_trials == 1
    assert model.best_iteration == 0  # the running trial was cut after its first round


def test_validation_split_keeps_properties_whole(data: pd.DataFrame) -> None:
    frame = data.assign(property_key=data["property_key"] % 500)
    mask = split_validation(frame, 0.15, seed=3)
    np.testing.assert_array_equal(mask, split_validation(frame, 0.15, seed=3))
    sides = pd.Series(mask).groupby(frame["property_key"].to_numpy()).nunique()
    assert (sides == 1).all()
    assert frame.loc[mask, "property_key"].nunique() == 75  # 15 % of 500 properties
