"""Teaching the model about absent fields: masked copies of training rows.

The data API serves complete rows only, yet requests often lack a lot size or a sale date (real
listings: about 15% and 22% of those a price can be judged on). A model that never saw a missing
value in training treats one as an outlier. So training adds one copy of its rows in which each
optional field is blanked with the probability below (rows the draw left whole are dropped: they
would only repeat), and the trees learn where a missing value should go. Copies keep their
property's key, so a home and its copy always fall on the same side of every split and fold.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from tasador import schema

# Optional model inputs and how often a copy goes without each.
MASKED: Final[dict[str, float]] = {
    "acre_lot": 0.2,
    "prev_sold_date": 0.3,
    "city": 0.1,
    "zip_code": 0.1,
}


def _check() -> None:
    optional = {f.name for f in schema.MODEL_INPUTS if not f.required}
    unknown = set(MASKED) - optional
    if unknown:
        raise ValueError(f"only optional model inputs can be masked, not {sorted(unknown)}")


_check()


def with_masked_copies(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """`frame` and, after it, a copy of its rows with optional fields blanked at random."""
    if frame.empty:
        return frame
    rng = np.random.default_rng(seed)
    copy = frame.copy()
    blanked = np.zeros(len(frame), dtype=bool)
    for name, rate in MASKED.items():
        if name not in copy.columns:
            continue
        drop = rng.random(len(copy)) < rate
        copy.loc[drop, name] = pd.NA if copy[name].dtype != "float64" else np.nan
        blanked |= drop
    return pd.concat([frame, copy.loc[blanked]], ignore_index=True)
