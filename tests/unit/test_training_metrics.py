"""Metrics: exact values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tasador.training.metrics import Metrics, evaluate


def test_metrics_by_hand() -> None:
    m = evaluate(np.array([100.0, 200.0]), np.array([110.0, 180.0]))
    # errors +10, -20
    assert m.rmse == pytest.approx(math.sqrt((100 + 400) / 2))
    assert m.mae == pytest.approx(15.0)
    assert m.mape == pytest.approx((10 / 100 + 20 / 200) / 2)
    # mean 150: ss_tot = 2 * 50² = 5000, ss_res = 500
    assert m.r2 == pytest.approx(1 - 500 / 5000)
    a, b = math.log(1.1), math.log(0.9)
    assert m.rmse_log == pytest.approx(math.sqrt((a * a + b * b) / 2))
    # log truths ln100, ln200: ss_tot = 2 * (ln2 / 2)²
    assert m.r2_log == pytest.approx(1 - (a * a + b * b) / (2 * (math.log(2) / 2) ** 2))
    assert m.n == 2


def test_perfect_predictions() -> None:
    y = np.array([1e5, 2e5, 5e5])
    m = evaluate(y, y.copy())
    assert (m.rmse, m.mae, m.mape, m.rmse_log) == (0.0, 0.0, 0.0, 0.0)
    assert m.r2 == 1.0
    assert m.r2_log == 1.0


def test_constant_truth_has_undefined_r2() -> None:
    m = evaluate(np.array([100.0, 100.0]), np.array([100.0, 200.0]))
    assert math.isnan(m.r2)
    assert math.isnan(m.r2_log)
    assert m.mae == 50.0


@pytest.mark.parametrize(
    ("truth", "pred"),
    [([1.0, 2.0], [1.0]), ([], []), ([1.0, -2.0], [1.0, 2.0]), ([1.0, 2.0], [0.0, 2.0])],
)
def test_invalid_inputs_are_refused(truth: list[float], pred: list[float]) -> None:
    with pytest.raises(ValueError, match=r"."):
        evaluate(np.array(truth), np.array(pred))


def test_round_trip_with_prefix() -> None:
    m = evaluate(np.array([100.0, 200.0, 400.0]), np.array([120.0, 190.0, 300.0]))
    assert Metrics.from_dict(m.to_dict()) == m
    prefixed = {f"eval_{k}": v for k, v in m.to_dict().items()} | {"other": 1.0}
    assert Metrics.from_dict(prefixed, prefix="eval_") == m
    assert isinstance(m.to_dict()["n"], int)
