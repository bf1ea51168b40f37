"""Global feature importance of a trained model: mean |SHAP| over the evaluation set, in log price.

Computed once at training time and stored with the model, so no request ever pays for it. The
contributions are XGBoost's exact TreeSHAP (`pred_contribs=True`, the bias column dropped).

Per model feature: the mean over rows of |contribution|. Per listing input field: the row's feature
contributions are first grouped into input contributions (`contributions @ weights`, see
`input_weights`) and the absolute value is taken after grouping, then averaged. Grouping first
means an input whose features pull in opposite directions on a row counts their net effect, which
is what the per-request explanation shows for that field; hence an input's importance is at most
(not always equal to) the weighted sum of its features' importances.

`inputs_of` and `input_weights` live here (training) rather than in serving because both training
and serving need them; `tasador.serving.explain` re-exports them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
import xgboost as xgb

from tasador import schema
from tasador.training.features import FeatureSpec, build_features, feature_table

IMPORTANCE_VERSION: Final[int] = 1
DEFAULT_MAX_ROWS: Final[int] = 2_000


def inputs_of(
    feature: str, inputs: tuple[schema.ListingInput, ...] = schema.MODEL_INPUTS
) -> tuple[str, ...]:
    """The listing fields `feature` is built from (derived from the declared model inputs)."""
    return feature_table(inputs).inputs_of(feature)


def input_weights(
    feature_names: Sequence[str], inputs: tuple[schema.ListingInput, ...] = schema.MODEL_INPUTS
) -> tuple[tuple[str, ...], np.ndarray]:
    """(input field names, features x fields weight matrix whose rows each sum to 1)."""
    sources = [inputs_of(feature, inputs) for feature in feature_names]
    names = tuple(dict.fromkeys(field for fields in sources for field in fields))
    weights = np.zeros((len(feature_names), len(names)), dtype=np.float64)
    for i, fields in enumerate(sources):
        for field in fields:
            weights[i, names.index(field)] = 1.0 / len(fields)
    return names, weights


def _ranked(names: Sequence[str], values: np.ndarray) -> dict[str, float]:
    """`names` to `values`, largest first (ties by name, so the order is deterministic)."""
    pairs = sorted(zip(names, values.tolist(), strict=True), key=lambda p: (-p[1], p[0]))
    return {name: float(value) for name, value in pairs}


@dataclass(frozen=True)
class Importance:
    """Mean |SHAP| (log price) of a model over `rows` evaluation rows, each dict largest first."""

    rows: int
    features: Mapping[str, float]
    inputs: Mapping[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": IMPORTANCE_VERSION,
            "unit": "log_price",
            "statistic": "mean_abs_shap",
            "rows": self.rows,
            "features": dict(self.features),
            "inputs": dict(self.inputs),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Importance:
        version = int(data["version"])
        if version != IMPORTANCE_VERSION:
            raise ValueError(f"importance version {version} is not {IMPORTANCE_VERSION}")
        return cls(
            rows=int(data["rows"]),
            features={str(k): float(v) for k, v in data["features"].items()},
            inputs={str(k): float(v) for k, v in data["inputs"].items()},
        )


def sample_rows(n: int, max_rows: int, seed: int) -> np.ndarray:
    """Sorted positions of a seeded sample of at most `max_rows` of `n` rows (all when n fits)."""
    if max_rows < 1:
        raise ValueError("max_rows must be at least 1")
    if n <= max_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))


def global_importance(
    booster: xgb.Booster,
    spec: FeatureSpec,
    frame: pd.DataFrame,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    seed: int = 0,
) -> Importance:
    """Mean |SHAP| per model feature and per input field over (a sample of) the listings `frame`.

    At most `max_rows` rows, a seeded sample: TreeSHAP costs rows x trees x leaves x depth², so a
    bounded sample keeps training time bounded whatever the size of the evaluation set.
    """
    if len(frame) == 0:
        raise ValueError("no rows to compute the importance on")
    x = build_features(frame.iloc[sample_rows(len(frame), max_rows, seed)], spec)
    contribs = np.asarray(
        booster.predict(xgb.DMatrix(x), pred_contribs=True, validate_features=False),
        dtype=np.float64,
    )[:, :-1]  # the last column is the bias
    names, weights = input_weights(spec.feature_names)
    return Importance(
        rows=len(x),
        features=_ranked(spec.feature_names, np.abs(contribs).mean(axis=0)),
        inputs=_ranked(names, np.abs(contribs @ weights).mean(axis=0)),
    )
