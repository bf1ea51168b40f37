"""The promotion rule, branch by branch, at its boundaries."""

from __future__ import annotations

import pytest

from tasador.registry.promotion import decide_promotion
from tasador.training.metrics import Metrics


def metrics(rmse_log: float, r2_log: float = 0.8) -> Metrics:
    return Metrics(rmse=1.0, mae=1.0, mape=0.1, r2=0.5, rmse_log=rmse_log, r2_log=r2_log, n=100)


def decide(challenger: Metrics, champion: Metrics | None, margin: float = 0.5):
    return decide_promotion(
        challenger_version="2",
        challenger=challenger,
        champion_version=None if champion is None else "1",
        champion=champion,
        margin=margin,
        baseline=metrics(0.8),
        baseline_margin=0.0625,  # needs <= 0.75 (exact in binary floating point)
    )


def test_first_model_beating_the_baseline_is_promoted() -> None:
    d = decide(metrics(0.5, 0.05), None)  # a low R² on a narrow batch is no reason to refuse
    assert d.promote
    assert d.reason == (
        "first model, beats the baseline: rmse_log=0.5000, median price of the state 0.8000, "
        "margin 6% (needs <= 0.7500)"
    )
    assert (d.challenger_version, d.champion_version, d.champion_metrics) == ("2", None, None)
    assert d.primary_metric == "rmse_log"


def test_the_baseline_margin_is_inclusive() -> None:
    assert decide(metrics(0.75), None).promote


@pytest.mark.parametrize("champion", [None, metrics(2.0, 0.0)])
def test_losing_to_the_baseline_rejects_even_a_better_challenger(champion: Metrics | None) -> None:
    d = decide(metrics(0.75000001, 0.9), champion)
    assert not d.promote
    assert d.reason.startswith("does not beat the baseline: rmse_log=0.7500, median price")


def test_nan_metrics_do_not_beat_the_baseline() -> None:
    assert not decide(metrics(float("nan")), None).promote


def test_challenger_exactly_at_the_margin_is_promoted() -> None:
    # champion 0.5, margin 50 %: the challenger needs <= 0.25 (exact in binary floating point)
    d = decide(metrics(0.25), metrics(0.5))
    assert d.promote
    assert d.reason == (
        "beats the champion: challenger v2 rmse_log=0.2500, champion v1 rmse_log=0.5000, "
        "margin 50.00% (needs <= 0.2500)"
    )
    assert d.champion_metrics == metrics(0.5)
    assert d.challenger_metrics == metrics(0.25)


def test_challenger_just_above_the_margin_is_rejected() -> None:
    d = decide(metrics(0.2500001), metrics(0.5))
    assert not d.promote
    assert d.reason.startswith("does not beat the champion: challenger v2 rmse_log=0.2500")


def test_better_but_not_by_the_margin_is_rejected() -> None:
    assert not decide(metrics(0.49), metrics(0.5), margin=0.05).promote
    assert decide(metrics(0.475), metrics(0.5), margin=0.05).promote


def test_zero_margin_promotes_a_tie() -> None:
    assert decide(metrics(0.5), metrics(0.5), margin=0.0).promote


def test_decision_serialises() -> None:
    d = decide(metrics(0.25), metrics(0.5))
    data = d.to_dict()
    assert data["promote"] is True
    assert data["champion_metrics"]["rmse_log"] == 0.5
