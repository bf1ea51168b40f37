"""The served model predicts with the booster's own numbers, whichever copy runs the call."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xgboost as xgb

from tasador.serving.model_holder import ONE_BLOCK_ROWS, ServedModel, serve_model
from tasador.training.features import build_features, fit_features
from tasador.training.synthetic import make_listings


@pytest.fixture(scope="module")
def served() -> tuple[ServedModel, np.ndarray]:
    frame = make_listings(600, seed=5)
    spec = fit_features(frame)
    x = build_features(frame, spec)
    booster = xgb.train(
        {"max_depth": 5, "eta": 0.3, "nthread": 2},
        xgb.DMatrix(x, label=np.log(frame["price"].to_numpy())),
        num_boost_round=30,
    )
    model = serve_model(name="m", version="1", run_id="r", booster=booster, spec=spec)
    return model, x


def _threads(booster: xgb.Booster) -> int:
    return int(json.loads(booster.save_config())["learner"]["generic_param"]["nthread"])


@pytest.mark.parametrize("rows", [1, 2, ONE_BLOCK_ROWS, ONE_BLOCK_ROWS + 1, 600])
def test_predictions_equal_the_boosters_own_for_any_number_of_rows(
    served: tuple[ServedModel, np.ndarray], rows: int
) -> None:
    model, x = served
    got = model.predict(x[:rows])
    assert got.dtype == np.float64
    assert got.shape == (rows,)
    np.testing.assert_array_equal(got, model.booster.inplace_predict(x[:rows]))


def test_up_to_one_block_of_rows_runs_on_a_one_thread_copy(
    served: tuple[ServedModel, np.ndarray],
) -> None:
    model, _ = served
    assert model.one_thread is not model.booster
    assert _threads(model.one_thread) == 1
    assert _threads(model.booster) == 2  # the served booster keeps its own threads
    assert model.one_thread.num_boosted_rounds() == model.booster.num_boosted_rounds()
    assert model.booster_for(1) is model.one_thread
    assert model.booster_for(ONE_BLOCK_ROWS) is model.one_thread
    assert model.booster_for(ONE_BLOCK_ROWS + 1) is model.booster
