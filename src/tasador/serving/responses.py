"""What the prediction routes answer: JSON written by orjson, prices and their fallbacks."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import orjson
from fastapi.responses import Response

from tasador import schema
from tasador.training.features import FeatureSpec
from tasador.training.intervals import PriceInterval


class OrjsonResponse(Response):
    """A JSON response written by orjson (numpy values included)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


@lru_cache(maxsize=8)
def _fallback_lists(fields: tuple[str, ...]) -> tuple[list[str], ...]:
    """Every combination of fields priced without, by bit mask (bit i: field i)."""
    return tuple(
        [col for i, col in enumerate(fields) if mask >> i & 1] for mask in range(2 ** len(fields))
    )


def fallback_fields(
    x: np.ndarray, spec: FeatureSpec, inputs: tuple[schema.ListingInput, ...] = schema.MODEL_INPUTS
) -> list[list[str]]:
    """Per row of the model matrix, the fields the model priced it without: an optional field
    that was missing, or a category unseen in training (its encoding's global-mean fallback).

    The model matrix says it: a missing number or date is NaN, and a missing or unseen category is
    encoded with a training count of 0 where every known one has at least 1. The lists are shared
    between rows (read them, do not change them).
    """
    checks = spec.table(inputs).fallbacks
    mask = np.zeros(len(x), dtype=np.intp)
    for i, (_, feature, is_count) in enumerate(checks):
        column = x[:, spec.feature_names.index(feature)]
        missing = column == 0 if is_count else np.isnan(column)
        mask |= missing.astype(np.intp) << i
    lists = _fallback_lists(tuple(field for field, _, _ in checks))
    return [lists[m] for m in mask.tolist()]


def priced(
    x: np.ndarray,
    log_price: np.ndarray,
    spec: FeatureSpec,
    interval: PriceInterval | None = None,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """(prices in dollars, one answer item per row of `x`: price, its range at the model's
    coverage (null for a model without one), log price, fallbacks)."""
    price = np.exp(log_price)
    fallbacks = fallback_fields(x, spec)
    if interval is None:
        items = [
            {"price": p, "price_low": None, "price_high": None, "coverage": None,
             "log_price": lp, "fallbacks": f}
            for p, lp, f in zip(price.tolist(), log_price.tolist(), fallbacks, strict=True)
        ]  # fmt: skip
        return price, items
    low, high = interval.bounds(price)
    items = [
        {"price": p, "price_low": lo, "price_high": hi, "coverage": interval.target,
         "log_price": lp, "fallbacks": f}
        for p, lo, hi, lp, f in zip(
            price.tolist(), low.tolist(), high.tolist(), log_price.tolist(), fallbacks,
            strict=True,
        )
    ]  # fmt: skip
    return price, items
