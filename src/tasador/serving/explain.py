"""Exact explanations: XGBoost's own TreeSHAP contributions, per model feature and per input field.

`booster.predict(DMatrix(x), pred_contribs=True)` gives, per row, one contribution per model
feature plus the bias (the base value, the model's expected log price); they sum to the predicted
log price.

Input fields: most features come from one field of the listing (`house_size_log` from
`house_size`, `state_te` and `state_n` from `state`, the status indicators from `status`). A
feature built from two fields (`bath_per_bed`, `sqft_per_bed`, `lot_sqft_per_sqft_log1p`) gives its
contribution to those fields in equal shares. Equal shares is a convention, not a derivation (it is
what Shapley's symmetry gives when nothing tells the two apart); the per-feature contributions are
in every answer too, so nothing is hidden by it. Every feature's weights sum to 1, so the input
contributions sum to exactly the same total as the feature contributions.

Dollars: the price is `exp(base + S)` with `S` the sum of the contributions, which is not additive
in dollars. The gap `price - exp(base)` is shared among the terms in proportion to their log
contributions: `dollars_i = c_i * exp(base) * (exp(S) - 1) / S` (the factor tends to `exp(base)` as
`S -> 0`, so no term blows up). Base price plus all dollar terms is the price.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import xgboost as xgb

from tasador.training.features import ENCODED

# Which listing fields each model feature is built from (training/features.py builds them).
FEATURE_INPUTS: Final[dict[str, tuple[str, ...]]] = {
    "bed": ("bed",),
    "bath": ("bath",),
    "acre_lot_log1p": ("acre_lot",),
    "house_size_log": ("house_size",),
    "bath_per_bed": ("bath", "bed"),
    "sqft_per_bed": ("house_size", "bed"),
    "lot_sqft_per_sqft_log1p": ("acre_lot", "house_size"),
    "prev_sold_year": ("prev_sold_date",),
    "prev_sold_days_before_ref": ("prev_sold_date",),
    **{f"{col}_{suffix}": (col,) for col in ENCODED for suffix in ("te", "n")},
}
STATUS_PREFIX: Final[str] = "status_"


def inputs_of(feature: str) -> tuple[str, ...]:
    """The listing fields `feature` is built from."""
    if feature.startswith(STATUS_PREFIX):
        return ("status",)
    try:
        return FEATURE_INPUTS[feature]
    except KeyError:
        raise ValueError(f"no input field is declared for model feature {feature!r}") from None


def input_weights(feature_names: Sequence[str]) -> tuple[tuple[str, ...], np.ndarray]:
    """(input field names, features x fields weight matrix whose rows each sum to 1)."""
    names: list[str] = []
    for feature in feature_names:
        for field in inputs_of(feature):
            if field not in names:
                names.append(field)
    weights = np.zeros((len(feature_names), len(names)), dtype=np.float64)
    for i, feature in enumerate(feature_names):
        fields = inputs_of(feature)
        for field in fields:
            weights[i, names.index(field)] = 1.0 / len(fields)
    return tuple(names), weights


@dataclass(frozen=True)
class Explanation:
    """Contributions of each row (arrays with one row per listing)."""

    log_price: np.ndarray  # (n,)
    base: np.ndarray  # (n,) base value, log price
    features: np.ndarray  # (n, n_features), log price
    inputs: np.ndarray  # (n, n_inputs), log price

    @property
    def price(self) -> np.ndarray:
        return np.exp(self.log_price)

    @property
    def base_price(self) -> np.ndarray:
        return np.exp(self.base)

    def dollar_factor(self) -> np.ndarray:
        """Per row, what one unit of log contribution is worth in dollars (see module doc)."""
        total = self.log_price - self.base
        safe = np.where(total == 0.0, 1.0, total)
        ratio = np.where(total == 0.0, 1.0, np.expm1(total) / safe)
        return np.asarray(self.base_price * ratio)


def contributions(booster: xgb.Booster, x: np.ndarray) -> np.ndarray:
    """XGBoost's exact TreeSHAP contributions: (n, n_features + 1), the bias last."""
    return np.asarray(
        booster.predict(xgb.DMatrix(x), pred_contribs=True, validate_features=False),
        dtype=np.float64,
    )


def explain(booster: xgb.Booster, x: np.ndarray, weights: np.ndarray) -> Explanation:
    """Contributions of the rows of the model matrix `x`, per feature and per input field.

    The log price is the sum of the contributions and the bias, so the explanation adds up exactly
    (XGBoost's own prediction agrees with it to float32 rounding).
    """
    contribs = contributions(booster, x)
    features, base = contribs[:, :-1], contribs[:, -1]
    return Explanation(
        log_price=features.sum(axis=1) + base,
        base=base,
        features=features,
        inputs=features @ weights,
    )
