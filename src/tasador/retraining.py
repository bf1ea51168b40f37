"""Whether a batch needs a new model, and why: a pure decision over the facts of one round."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Trigger(StrEnum):
    """What made a round train (or not)."""

    FIRST_MODEL = "first_model"
    DRIFT = "drift"
    CHAMPION_DEGRADED = "champion_degraded"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class RetrainDecision:
    """Train or skip, the trigger, and the reason in words."""

    train: bool
    trigger: Trigger
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide_retraining(
    *,
    champion_version: str | None,
    drift_verdict: bool | None,
    drift_reason: str,
    champion_batch_rmse_log: float | None,
    champion_recorded_rmse_log: float | None,
    degradation_margin: float,
) -> RetrainDecision:
    """Retrain when there is no production model, the batch drifted, or the champion got worse.

    The champion got worse when its RMSE of log price on the new batch exceeds the RMSE it was
    promoted with by more than `degradation_margin` (relative). Drift is checked first because it
    explains the most; a degraded champion without drift still triggers.
    """
    if champion_version is None:
        return RetrainDecision(True, Trigger.FIRST_MODEL, "no production model yet")
    if drift_verdict:
        return RetrainDecision(True, Trigger.DRIFT, f"data drift: {drift_reason}")
    if champion_batch_rmse_log is not None and champion_recorded_rmse_log is not None:
        limit = champion_recorded_rmse_log * (1.0 + degradation_margin)
        if champion_batch_rmse_log > limit:
            return RetrainDecision(
                True,
                Trigger.CHAMPION_DEGRADED,
                f"champion v{champion_version} RMSE(log) on this batch is "
                f"{champion_batch_rmse_log:.4f}, above its recorded "
                f"{champion_recorded_rmse_log:.4f}"
                f" + {degradation_margin:.0%} = {limit:.4f}",
            )
        return RetrainDecision(
            False,
            Trigger.NONE,
            f"no drift ({drift_reason}); champion v{champion_version} RMSE(log) on this batch "
            f"{champion_batch_rmse_log:.4f} is within {degradation_margin:.0%} of its recorded "
            f"{champion_recorded_rmse_log:.4f}",
        )
    return RetrainDecision(False, Trigger.NONE, f"no drift ({drift_reason})")
