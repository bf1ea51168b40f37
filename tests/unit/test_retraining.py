"""The retraining decision: first model, drift, a degraded champion, or skip, with the reason."""

from __future__ import annotations

import pytest

from tasador.retraining import Trigger, decide_retraining


def decide(**overrides: object):
    facts: dict[str, object] = {
        "champion_version": "3",
        "drift_verdict": False,
        "drift_reason": "no feature drifted",
        "champion_batch_rmse_log": 0.30,
        "champion_recorded_rmse_log": 0.30,
        "degradation_margin": 0.10,
    }
    facts.update(overrides)
    return decide_retraining(**facts)  # type: ignore[arg-type]


def test_no_champion_trains_the_first_model() -> None:
    decision = decide(champion_version=None, drift_verdict=None)
    assert decision.train
    assert decision.trigger is Trigger.FIRST_MODEL


def test_drift_trains_and_quotes_the_drift_reason() -> None:
    decision = decide(drift_verdict=True, drift_reason="price drifted (KS D=0.62)")
    assert decision.train
    assert decision.trigger is Trigger.DRIFT
    assert "price drifted (KS D=0.62)" in decision.reason


def test_degraded_champion_trains_without_drift() -> None:
    decision = decide(champion_batch_rmse_log=0.331)
    assert decision.train
    assert decision.trigger is Trigger.CHAMPION_DEGRADED
    assert "0.3310" in decision.reason
    assert "0.3300" in decision.reason


@pytest.mark.parametrize("batch_rmse", [0.30, 0.33, 0.25])
def test_champion_within_margin_is_kept(batch_rmse: float) -> None:
    decision = decide(champion_batch_rmse_log=batch_rmse)
    assert not decision.train
    assert decision.trigger is Trigger.NONE
    assert "v3" in decision.reason
    assert "no drift" in decision.reason
