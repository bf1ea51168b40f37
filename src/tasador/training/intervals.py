"""Price ranges at a stated coverage: split-conformal intervals on log price.

The model's errors on the evaluation rows (never trained on) are its honest errors on new rows. With
`q` the conformal quantile of their absolute values (the ⌈(n+1)·coverage⌉-th smallest), the range
`price · exp(±q)` holds the true price of a new listing with probability at least `coverage`, for
any model, as long as new listings are like the evaluation rows.

What the registry records of it is measured, not assumed: the evaluation rows are split in two
halves, each half's quantile is checked on the other half, and the coverage and width reached are
the mean of the two (the stored `q` is the quantile over all rows).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np

MIN_ROWS: Final[int] = 20  # fewer evaluation rows give no range (its quantile would be the max)
METRIC_HALF_WIDTH: Final[str] = "interval_half_width_log"
METRIC_TARGET: Final[str] = "interval_target_coverage"
METRIC_COVERAGE: Final[str] = "eval_interval_coverage"
METRIC_WIDTH: Final[str] = "eval_interval_width"


def conformal_quantile(abs_errors: np.ndarray, coverage: float) -> float:
    """The ⌈(n+1)·coverage⌉-th smallest absolute error (inf when there are too few)."""
    n = len(abs_errors)
    rank = math.ceil((n + 1) * coverage)
    if rank > n or n == 0:
        return math.inf
    return float(np.sort(abs_errors)[rank - 1])


def relative_width(half_width_log: float) -> float:
    """(high − low) / price of a range `price · exp(±q)`."""
    return 2.0 * math.sinh(half_width_log)


@dataclass(frozen=True)
class PriceInterval:
    """A model's price range: `price · exp(±half_width_log)`, and how it did on evaluation."""

    target: float
    half_width_log: float
    coverage: float  # measured on the evaluation rows (cross-fitted halves)
    width: float  # measured (high − low) / price

    def bounds(self, price: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) in dollars of each price."""
        factor = math.exp(self.half_width_log)
        return price / factor, price * factor

    def metrics(self) -> dict[str, float]:
        """What the registry records of it (run metrics)."""
        return {
            METRIC_HALF_WIDTH: self.half_width_log,
            METRIC_TARGET: self.target,
            METRIC_COVERAGE: self.coverage,
            METRIC_WIDTH: self.width,
        }

    @classmethod
    def from_metrics(cls, metrics: Mapping[str, float]) -> PriceInterval | None:
        """The interval recorded in a run's metrics; None for a model trained without one."""
        names = (METRIC_TARGET, METRIC_HALF_WIDTH, METRIC_COVERAGE, METRIC_WIDTH)
        if not all(name in metrics for name in names):
            return None
        return cls(*(float(metrics[name]) for name in names))


def fit_interval(
    log_price: np.ndarray, log_predicted: np.ndarray, coverage: float, seed: int
) -> PriceInterval | None:
    """The range at `coverage` from the evaluation rows' errors; None with too few rows."""
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must be between 0 and 1, got {coverage}")
    errors = np.abs(np.asarray(log_price, dtype=np.float64) - log_predicted)
    errors = errors[np.isfinite(errors)]
    if len(errors) < MIN_ROWS:
        return None
    order = np.random.default_rng(seed).permutation(len(errors))
    halves = (errors[order[: len(order) // 2]], errors[order[len(order) // 2 :]])
    reached, widths = [], []
    for calibrate, check in (halves, halves[::-1]):
        q = conformal_quantile(calibrate, coverage)
        reached.append(float(np.mean(check <= q)))
        widths.append(relative_width(q))
    half_width = conformal_quantile(errors, coverage)
    return PriceInterval(
        target=coverage,
        half_width_log=half_width,
        coverage=float(np.mean(reached)),
        width=float(np.mean(widths)),
    )
