"""Which clean rows are held out for evaluation: decided by the property, never by chance.

The split is a pure function of the property key, so a home is on the same side in every batch
and every run (a model is never evaluated on a home it was trained on, even when it is relisted),
and the order of rows does not matter.
"""

from __future__ import annotations

from typing import Final

import numpy as np

# Mixed into the key before the split, so the holdout is independent of any other use of the key.
_SALT: Final[np.uint64] = np.uint64(0x9E3779B97F4A7C15)
_UNIT: Final[float] = 2.0**-53


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: spreads every input bit over the whole output."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def holdout_share(property_key: np.ndarray) -> np.ndarray:
    """A uniform number in [0, 1) per property key; holdout rows are those below the fraction."""
    mixed = _mix(np.asarray(property_key, dtype=np.int64).view(np.uint64) ^ _SALT)
    return (mixed >> np.uint64(11)).astype(np.float64) * _UNIT


def assign_holdout(property_key: np.ndarray, fraction: float) -> np.ndarray:
    """Holdout flag per row: about `fraction` of properties, the same ones on every call."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"holdout fraction must be within [0, 1], got {fraction}")
    return holdout_share(property_key) < fraction
