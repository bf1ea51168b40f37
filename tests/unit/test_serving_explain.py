"""Explanations: TreeSHAP per feature and per input field, in log price and dollars, add up."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import xgboost as xgb

from tasador.serving.explain import (
    contributions,
    explain,
    input_weights,
    inputs_of,
    split_contributions,
    tree_split,
)
from tasador.training.features import build_features, feature_names_for, fit_features
from tasador.training.synthetic import make_listings

FEATURES = feature_names_for({"status": ("for_sale", "sold", "ready_to_build")})


def test_every_feature_maps_to_input_fields_and_each_row_of_weights_sums_to_one() -> None:
    names, weights = input_weights(FEATURES)
    assert names == (
        "bed", "bath", "acre_lot", "house_size", "status", "prev_sold_date",
        "state", "city", "zip_code",
    )  # fmt: skip
    np.testing.assert_array_equal(weights.sum(axis=1), np.ones(len(FEATURES)))
    row = dict(zip(names, weights[FEATURES.index("bath_per_bed")], strict=True))
    assert row == {n: (0.5 if n in ("bed", "bath") else 0.0) for n in names}
    row = dict(zip(names, weights[FEATURES.index("state_n")], strict=True))
    assert row == {n: (1.0 if n == "state" else 0.0) for n in names}
    assert inputs_of("status_sold") == ("status",)
    assert inputs_of("lot_sqft_per_sqft_log1p") == ("acre_lot", "house_size")
    with pytest.raises(ValueError, match="no input field"):
        inputs_of("mystery")


@pytest.fixture(scope="module")
def model() -> tuple[xgb.Booster, np.ndarray]:
    frame = make_listings(800, seed=3)
    spec = fit_features(frame)
    x = build_features(frame, spec)
    booster = xgb.train(
        {"max_depth": 4, "eta": 0.3, "base_score": 12.0},
        xgb.DMatrix(x, label=np.log(frame["price"].to_numpy())),
        num_boost_round=30,
    )
    return booster, x[:50]


def test_contributions_and_base_add_up_to_the_prediction(
    model: tuple[xgb.Booster, np.ndarray],
) -> None:
    booster, x = model
    _, weights = input_weights(FEATURES)
    result = explain(booster, x, weights)
    predicted = booster.inplace_predict(x).astype(np.float64)
    np.testing.assert_allclose(result.log_price, predicted, atol=1e-4)
    np.testing.assert_allclose(result.features.sum(axis=1) + result.base, predicted, atol=1e-4)
    np.testing.assert_allclose(result.inputs.sum(axis=1) + result.base, predicted, atol=1e-4)
    np.testing.assert_allclose(result.inputs.sum(axis=1), result.features.sum(axis=1), rtol=1e-12)
    dollars = result.inputs * result.dollar_factor()[:, None]
    np.testing.assert_allclose(result.base_price + dollars.sum(axis=1), result.price, rtol=1e-9)
    feature_dollars = result.features * result.dollar_factor()[:, None]
    np.testing.assert_allclose(
        result.base_price + feature_dollars.sum(axis=1), result.price, rtol=1e-9
    )
    # the same sign in dollars as in log price
    assert np.all(np.sign(dollars) == np.sign(result.inputs))


def test_dollar_factor_is_the_base_price_when_contributions_cancel() -> None:
    from tasador.serving.explain import Explanation

    result = Explanation(
        log_price=np.array([10.0, 11.0]),
        base=np.array([10.0, 10.0]),
        features=np.array([[0.5, -0.5], [0.25, 0.75]]),
        inputs=np.array([[0.5, -0.5], [0.25, 0.75]]),
    )
    factor = result.dollar_factor()
    assert factor[0] == pytest.approx(np.exp(10.0))
    assert factor[1] == pytest.approx(np.exp(10.0) * np.expm1(1.0))
    assert (result.inputs[1] * factor[1]).sum() == pytest.approx(np.exp(11.0) - np.exp(10.0))


@pytest.mark.parametrize("parts", [2, 3, 7, 64])
def test_contributions_split_over_tree_ranges_equal_the_whole_forests(
    model: tuple[xgb.Booster, np.ndarray], parts: int
) -> None:
    booster, x = model
    split = tree_split(booster, parts)
    assert split.parts == len(split.ranges) == min(parts, booster.num_boosted_rounds())
    assert split.ranges[0][0] == 0
    assert split.ranges[-1][1] == booster.num_boosted_rounds()
    assert all(a[1] == b[0] for a, b in itertools.pairwise(split.ranges))
    # the base score (12.0) is in every range's bias once: the offset takes the extra copies off
    assert split.bias_offset == pytest.approx(12.0 * (split.parts - 1), abs=1e-3)
    whole = contributions(booster, x[:3])
    with ThreadPoolExecutor(parts) as pool:
        np.testing.assert_allclose(split_contributions(x[:3], split, pool), whole, atol=1e-5)
        _, weights = input_weights(FEATURES)
        one = explain(booster, x[:1], weights, split, pool)
    np.testing.assert_allclose(one.features, whole[:1, :-1], atol=1e-5)
    np.testing.assert_allclose(one.base, whole[:1, -1], atol=1e-5)


def test_one_part_is_the_plain_call(model: tuple[xgb.Booster, np.ndarray]) -> None:
    booster, x = model
    split = tree_split(booster, 1)
    assert (split.parts, split.bias_offset) == (1, 0.0)
    with ThreadPoolExecutor(1) as pool:
        np.testing.assert_array_equal(
            split_contributions(x, split, pool), contributions(booster, x)
        )
