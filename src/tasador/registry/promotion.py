"""The promotion rule: does the challenger replace the champion? Pure; no MLflow here.

Both models' metrics must come from the same evaluation set (the caller ensures it). The primary
metric is RMSE of log price (a relative error, comparable across price levels).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasador.training.metrics import Metrics


@dataclass(frozen=True, slots=True)
class PromotionDecision:
    """The verdict, its reason in words, and what it was based on."""

    promote: bool
    reason: str
    challenger_version: str
    champion_version: str | None
    challenger_metrics: Metrics
    champion_metrics: Metrics | None
    primary_metric: str = "rmse_log"

    def to_dict(self) -> dict[str, Any]:
        return {
            "promote": self.promote,
            "reason": self.reason,
            "challenger_version": self.challenger_version,
            "champion_version": self.champion_version,
            "challenger_metrics": self.challenger_metrics.to_dict(),
            "champion_metrics": self.champion_metrics.to_dict() if self.champion_metrics else None,
            "primary_metric": self.primary_metric,
        }


def decide_promotion(
    *,
    challenger_version: str,
    challenger: Metrics,
    champion_version: str | None,
    champion: Metrics | None,
    margin: float,
    max_rmse_log: float,
    min_r2_log: float,
) -> PromotionDecision:
    """Promote when the challenger passes the absolute floors and, if there is a champion, has
    `rmse_log <= champion.rmse_log * (1 - margin)`. A floor failure rejects whatever the champion.
    """

    def decide(promote: bool, reason: str) -> PromotionDecision:
        return PromotionDecision(
            promote=promote,
            reason=reason,
            challenger_version=challenger_version,
            champion_version=champion_version,
            challenger_metrics=challenger,
            champion_metrics=champion,
        )

    # `not (x <= floor)` also rejects NaN metrics.
    if not challenger.rmse_log <= max_rmse_log:
        return decide(
            False,
            f"fails the rmse_log floor: rmse_log={challenger.rmse_log:.4f} > {max_rmse_log:.4f}",
        )
    if not challenger.r2_log >= min_r2_log:
        return decide(
            False, f"fails the r2_log floor: r2_log={challenger.r2_log:.4f} < {min_r2_log:.4f}"
        )
    if champion is None or champion_version is None:
        return decide(
            True,
            f"first model, passes floors: rmse_log={challenger.rmse_log:.4f} <= "
            f"{max_rmse_log:.4f}, r2_log={challenger.r2_log:.4f} >= {min_r2_log:.4f}",
        )
    threshold = champion.rmse_log * (1.0 - margin)
    comparison = (
        f"challenger v{challenger_version} rmse_log={challenger.rmse_log:.4f}, champion "
        f"v{champion_version} rmse_log={champion.rmse_log:.4f}, margin {margin:.2%} "
        f"(needs <= {threshold:.4f})"
    )
    if challenger.rmse_log <= threshold:
        return decide(True, f"beats the champion: {comparison}")
    return decide(False, f"does not beat the champion: {comparison}")
