"""Regression metrics of a price model, in dollars and in log price (the training target)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Metrics:
    """Errors of predicted prices against true prices.

    `rmse`, `mae` in dollars; `mape` as a fraction (0.1 = 10 %); `r2` on dollars; `rmse_log` and
    `r2_log` on natural-log prices (the primary metric is `rmse_log`); `n` rows evaluated.
    """

    rmse: float
    mae: float
    mape: float
    r2: float
    rmse_log: float
    r2_log: float
    n: int

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) if k != "n" else int(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, float], prefix: str = "") -> Metrics:
        """Read from a dict, optionally from keys carrying a prefix (e.g. `eval_`)."""

        def get(name: str) -> float:
            return float(data[prefix + name])

        return cls(
            rmse=get("rmse"),
            mae=get("mae"),
            mape=get("mape"),
            r2=get("r2"),
            rmse_log=get("rmse_log"),
            r2_log=get("r2_log"),
            n=int(get("n")),
        )


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination; NaN when the true values do not vary."""
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if ss_tot == 0.0:
        return float("nan")
    return 1.0 - float(np.sum((y - pred) ** 2)) / ss_tot


def evaluate(price_true: np.ndarray, price_pred: np.ndarray) -> Metrics:
    """Metrics of predicted against true prices (both positive, in dollars, same length)."""
    y = np.asarray(price_true, dtype=np.float64)
    p = np.asarray(price_pred, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1 or len(y) == 0:
        raise ValueError(f"need two non-empty 1-d arrays of one length, got {y.shape}, {p.shape}")
    if not (np.all(y > 0) and np.all(p > 0)):
        raise ValueError("prices must be positive")
    err = p - y
    ly, lp = np.log(y), np.log(p)
    return Metrics(
        rmse=float(np.sqrt(np.mean(err**2))),
        mae=float(np.mean(np.abs(err))),
        mape=float(np.mean(np.abs(err) / y)),
        r2=_r2(y, p),
        rmse_log=float(np.sqrt(np.mean((lp - ly) ** 2))),
        r2_log=_r2(ly, lp),
        n=len(y),
    )
