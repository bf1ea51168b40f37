"""The naive baseline every model must beat: the median price of the listing's state.

A model that cannot beat it on the same evaluation rows has learned nothing worth serving,
whatever its absolute error on a narrow batch (170 for-sale homes under $300k have a small
spread of prices, so a good model there has a low R² and an absolute R² floor rejects it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tasador import schema


@dataclass(frozen=True)
class StateMedian:
    """Median price per state of the training rows; the overall median for other states."""

    medians: dict[str, float]
    overall: float

    @classmethod
    def fit(cls, train: pd.DataFrame) -> StateMedian:
        price = train[schema.TARGET].astype("float64")
        state = train["state"].astype("string")
        medians = price.groupby(state).median()
        return cls({str(k): float(v) for k, v in medians.items()}, float(price.median()))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The baseline's price in dollars of each listing."""
        state = frame["state"].astype("string")
        return state.map(self.medians).astype("float64").fillna(self.overall).to_numpy()
