"""Global importance: mean |SHAP| per feature and per input field, sampled, sorted, round-trips."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from tasador.training.features import FeatureSpec, build_features, fit_features
from tasador.training.importance import (
    Importance,
    global_importance,
    input_weights,
    sample_rows,
)
from tasador.training.synthetic import make_listings


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_listings(800, seed=3)


@pytest.fixture(scope="module")
def model(frame: pd.DataFrame) -> tuple[xgb.Booster, FeatureSpec]:
    spec = fit_features(frame)
    booster = xgb.train(
        {"max_depth": 4, "eta": 0.3, "base_score": 12.0, "nthread": 1},
        xgb.DMatrix(build_features(frame, spec), label=np.log(frame["price"].to_numpy())),
        num_boost_round=20,
    )
    return booster, spec


def _descending(values: dict[str, float]) -> bool:
    listed = list(values.values())
    return listed == sorted(listed, reverse=True)


def test_every_feature_and_input_is_ranked_largest_first(
    model: tuple[xgb.Booster, FeatureSpec], frame: pd.DataFrame
) -> None:
    booster, spec = model
    found = global_importance(booster, spec, frame)
    assert found.rows == len(frame)
    assert set(found.features) == set(spec.feature_names)
    assert set(found.inputs) == set(input_weights(spec.feature_names)[0])
    assert _descending(dict(found.features))
    assert _descending(dict(found.inputs))
    assert all(v >= 0.0 for v in (*found.features.values(), *found.inputs.values()))
    assert next(iter(found.features.values())) > 0.0


def test_input_importance_is_at_most_its_features_grouped(
    model: tuple[xgb.Booster, FeatureSpec], frame: pd.DataFrame
) -> None:
    # Grouping comes before the absolute value, so |sum| <= sum of || on each row.
    booster, spec = model
    found = global_importance(booster, spec, frame)
    names, weights = input_weights(spec.feature_names)
    per_feature = np.array([found.features[name] for name in spec.feature_names])
    bound = dict(zip(names, per_feature @ weights, strict=True))
    for name, value in found.inputs.items():
        assert value <= bound[name] + 1e-12


def test_a_single_feature_model_gives_equal_feature_and_input_importance(
    frame: pd.DataFrame,
) -> None:
    full = fit_features(frame)
    spec = FeatureSpec(
        feature_names=("house_size_log",),
        encodings={},
        choices={},
        reference_date=full.reference_date,
        smoothing=full.smoothing,
        global_mean=full.global_mean,
    )
    x = build_features(frame, spec)
    assert x.shape == (len(frame), 1)
    booster = xgb.train(
        {"max_depth": 3, "eta": 0.3, "nthread": 1},
        xgb.DMatrix(x, label=np.log(frame["price"].to_numpy())),
        num_boost_round=10,
    )
    found = global_importance(booster, spec, frame)
    assert list(found.inputs) == ["house_size"]
    assert found.inputs["house_size"] == pytest.approx(found.features["house_size_log"], rel=1e-12)
    assert found.inputs["house_size"] > 0.0


def test_a_sample_bounds_the_rows_and_is_deterministic(
    model: tuple[xgb.Booster, FeatureSpec], frame: pd.DataFrame
) -> None:
    booster, spec = model
    first = global_importance(booster, spec, frame, max_rows=100, seed=7)
    assert first.rows == 100
    assert global_importance(booster, spec, frame, max_rows=100, seed=7) == first
    assert global_importance(booster, spec, frame, max_rows=100, seed=8) != first
    assert global_importance(booster, spec, frame, max_rows=5_000).rows == len(frame)

    positions = sample_rows(len(frame), 100, seed=7)
    assert len(np.unique(positions)) == 100
    assert np.all(np.diff(positions) > 0)
    # The sample is exactly those rows: the same as explaining them alone.
    alone = global_importance(booster, spec, frame.iloc[positions], max_rows=100)
    assert alone == first


def test_round_trips_through_json(
    model: tuple[xgb.Booster, FeatureSpec], frame: pd.DataFrame
) -> None:
    booster, spec = model
    found = global_importance(booster, spec, frame, max_rows=200)
    data = json.loads(json.dumps(found.to_dict()))
    assert data["rows"] == 200
    assert (data["version"], data["unit"], data["statistic"]) == (1, "log_price", "mean_abs_shap")
    assert list(data["features"]) == list(found.features)  # the order survives
    back = Importance.from_dict(data)
    assert back == found
    assert list(back.inputs) == list(found.inputs)


def test_refuses_nothing_to_explain_and_a_foreign_version(
    model: tuple[xgb.Booster, FeatureSpec], frame: pd.DataFrame
) -> None:
    booster, spec = model
    with pytest.raises(ValueError, match="no rows"):
        global_importance(booster, spec, frame.iloc[:0])
    with pytest.raises(ValueError, match="max_rows"):
        global_importance(booster, spec, frame, max_rows=0)
    with pytest.raises(ValueError, match="version"):
        Importance.from_dict({"version": 99, "rows": 1, "features": {}, "inputs": {}})
