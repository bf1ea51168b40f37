"""The promotion rule: does the challenger replace the champion? Pure; no MLflow here.

Both models' metrics must come from the same evaluation set (the caller ensures it). The primary
metric is RMSE of log price (a relative error, comparable across price levels).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasador.training.intervals import PriceInterval
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
    baseline: Metrics,
    baseline_margin: float,
    interval: PriceInterval | None = None,
    coverage_tolerance: float = 0.05,
) -> PromotionDecision:
    """Promote when the challenger beats the naive baseline (the median price of the state, on
    the same evaluation rows) by `baseline_margin` and, if there is a champion, has
    `rmse_log <= champion.rmse_log * (1 - margin)`. Losing to the baseline rejects whatever the
    champion; so does a price range (`interval`) whose coverage on the evaluation rows misses its
    target by more than `coverage_tolerance`.
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

    needed = baseline.rmse_log * (1.0 - baseline_margin)
    against = (
        f"rmse_log={challenger.rmse_log:.4f}, median price of the state "
        f"{baseline.rmse_log:.4f}, margin {baseline_margin:.0%} (needs <= {needed:.4f})"
    )
    # `not (x <= needed)` also rejects NaN metrics.
    if not challenger.rmse_log <= needed:
        return decide(False, f"does not beat the baseline: {against}")
    if interval is not None and not abs(interval.coverage - interval.target) <= coverage_tolerance:
        return decide(
            False,
            f"its {interval.target:.0%} price range covers {interval.coverage:.1%} of the "
            f"evaluation rows (tolerance {coverage_tolerance:.0%})",
        )
    if champion is None or champion_version is None:
        return decide(True, f"first model, beats the baseline: {against}")
    threshold = champion.rmse_log * (1.0 - margin)
    comparison = (
        f"challenger v{challenger_version} rmse_log={challenger.rmse_log:.4f}, champion "
        f"v{champion_version} rmse_log={champion.rmse_log:.4f}, margin {margin:.2%} "
        f"(needs <= {threshold:.4f})"
    )
    if challenger.rmse_log <= threshold:
        return decide(True, f"beats the champion: {comparison}")
    return decide(False, f"does not beat the champion: {comparison}")
