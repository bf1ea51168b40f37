"""Split-conformal price ranges: the quantile, the measured coverage, what the registry keeps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tasador.registry.promotion import decide_promotion
from tasador.training.intervals import (
    PriceInterval,
    conformal_quantile,
    fit_interval,
    relative_width,
)
from tasador.training.metrics import Metrics


def test_the_quantile_is_the_conformal_rank() -> None:
    errors = np.array([0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6])
    assert conformal_quantile(errors, 0.8) == 0.8  # ⌈10 · 0.8⌉ = 8th smallest
    assert conformal_quantile(errors, 0.5) == 0.5  # ⌈10 · 0.5⌉ = 5th
    assert conformal_quantile(errors[:3], 0.8) == math.inf  # ⌈4 · 0.8⌉ = 4 > 3 rows
    assert relative_width(0.0) == 0.0


def test_a_range_holds_its_coverage_on_new_rows() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(12.0, 1.0, 4_000)
    predicted = truth + rng.normal(0.0, 0.3, truth.size)  # the model's errors: sd 0.3 in log
    interval = fit_interval(truth[:2_000], predicted[:2_000], 0.8, seed=1)
    assert interval is not None
    assert interval.target == 0.8
    assert interval.half_width_log == pytest.approx(0.3 * 1.2816, rel=0.08)  # z(0.9) · sd
    assert interval.coverage == pytest.approx(0.8, abs=0.03)
    assert interval.width == pytest.approx(relative_width(interval.half_width_log), rel=0.05)
    low, high = interval.bounds(np.exp(predicted[2_000:]))
    held = (np.exp(truth[2_000:]) >= low) & (np.exp(truth[2_000:]) <= high)
    assert held.mean() == pytest.approx(0.8, abs=0.03)


def test_too_few_rows_give_no_range_and_metrics_round_trip() -> None:
    assert fit_interval(np.ones(19), np.ones(19), 0.8, seed=1) is None
    with pytest.raises(ValueError, match="coverage"):
        fit_interval(np.ones(50), np.ones(50), 1.0, seed=1)
    interval = PriceInterval(target=0.8, half_width_log=0.4, coverage=0.79, width=0.82)
    assert PriceInterval.from_metrics(interval.metrics()) == interval
    assert PriceInterval.from_metrics({"eval_rmse_log": 0.3}) is None


def metrics(rmse_log: float) -> Metrics:
    return Metrics(rmse=1.0, mae=1.0, mape=0.1, r2=0.5, rmse_log=rmse_log, r2_log=0.5, n=100)


@pytest.mark.parametrize(("reached", "promoted"), [(0.6, False), (0.74, False), (0.76, True)])
def test_a_range_that_misses_its_coverage_is_not_promoted(reached: float, promoted: bool) -> None:
    decision = decide_promotion(
        challenger_version="1",
        challenger=metrics(0.3),
        champion_version=None,
        champion=None,
        margin=0.01,
        baseline=metrics(0.6),
        baseline_margin=0.05,
        interval=PriceInterval(target=0.8, half_width_log=0.4, coverage=reached, width=0.8),
        coverage_tolerance=0.05,
    )
    assert decision.promote is promoted
    if not promoted:
        assert decision.reason == (
            f"its 80% price range covers {reached:.1%} of the evaluation rows (tolerance 5%)"
        )
