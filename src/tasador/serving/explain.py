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

Speed: XGBoost computes contributions one row per thread, so a single row runs on one core. SHAP
values add up over trees, so `TreeSplit` cuts the forest into ranges of boosting rounds, one per
core; each range's contributions come from XGBoost (a sliced booster per range) in its own thread
(XGBoost releases the GIL and predicts thread-safely), and their sum is the whole forest's. Each
range's bias holds the model's base margin once, so the extra copies (`bias_offset`, measured once
per model) are taken off the sum.

Dollars: the price is `exp(base + S)` with `S` the sum of the contributions, which is not additive
in dollars. The gap `price - exp(base)` is shared among the terms in proportion to their log
contributions: `dollars_i = c_i * exp(base) * (exp(S) - 1) / S` (the factor tends to `exp(base)` as
`S -> 0`, so no term blows up). Base price plus all dollar terms is the price.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import xgboost as xgb

# Shared with training (global importance); re-exported for serving's callers.
from tasador.training.importance import input_weights as input_weights
from tasador.training.importance import inputs_of as inputs_of


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


@dataclass(frozen=True)
class TreeSplit:
    """A forest cut into slices of boosting rounds, whose contributions add up to the forest's."""

    ranges: tuple[tuple[int, int], ...]  # boosting rounds [begin, end) of each slice
    slices: tuple[xgb.Booster, ...]  # the slices (for one part: the booster itself)
    bias_offset: float  # the sum of the slices' biases minus the whole forest's bias

    @property
    def parts(self) -> int:
        return len(self.slices)


def tree_split(booster: xgb.Booster, parts: int) -> TreeSplit:
    """`booster` sliced into up to `parts` near-equal ranges of rounds, and the bias offset.

    XGBoost computes contributions of a whole model only, so each range is its own sliced
    booster (`booster[begin:end]`, a copy of those trees).
    """
    rounds = booster.num_boosted_rounds()
    parts = max(1, min(parts, rounds))
    if parts == 1:
        return TreeSplit(ranges=((0, rounds),), slices=(booster,), bias_offset=0.0)
    edges = np.linspace(0, rounds, parts + 1).round().astype(int).tolist()
    ranges = tuple(pairwise(edges))
    slices = tuple(booster[begin:end] for begin, end in ranges)
    for part in slices:  # one row runs on one thread anyway; more would only spin and contend
        part.set_param({"nthread": 1})
    probe = np.zeros((1, booster.num_features()), dtype=np.float32)
    whole = contributions(booster, probe)[0, -1]
    split = sum(contributions(part, probe)[0, -1] for part in slices)
    return TreeSplit(ranges=ranges, slices=slices, bias_offset=float(split - whole))


def split_contributions(x: np.ndarray, split: TreeSplit, executor: Executor) -> np.ndarray:
    """The contributions of the whole forest, its slices computed side by side.

    The first slice runs in the calling thread, the others on `executor`.
    """
    others = [executor.submit(contributions, part, x) for part in split.slices[1:]]
    total = contributions(split.slices[0], x)
    for part in others:
        total += part.result()
    total[:, -1] -= split.bias_offset
    return total


def explain(
    booster: xgb.Booster,
    x: np.ndarray,
    weights: np.ndarray,
    split: TreeSplit | None = None,
    executor: Executor | None = None,
) -> Explanation:
    """Contributions of the rows of the model matrix `x`, per feature and per input field.

    The log price is the sum of the contributions and the bias, so the explanation adds up exactly
    (XGBoost's own prediction agrees with it to float32 rounding). With `split` and `executor`, a
    batch of fewer rows than `split.parts` is computed a tree range per thread (XGBoost spreads
    more rows over its threads itself).
    """
    if split is not None and executor is not None and len(x) < split.parts:
        contribs = split_contributions(x, split, executor)
    else:
        contribs = contributions(booster, x)
    features, base = contribs[:, :-1], contribs[:, -1]
    return Explanation(
        log_price=features.sum(axis=1) + base,
        base=base,
        features=features,
        inputs=features @ weights,
    )
