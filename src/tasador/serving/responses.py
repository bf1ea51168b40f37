"""What the prediction routes answer: JSON written by orjson, prices and their fallbacks."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import orjson
from fastapi.responses import Response

from tasador.training.features import FeatureSpec


class OrjsonResponse(Response):
    """A JSON response written by orjson (numpy values included)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


@lru_cache(maxsize=8)
def _fallback_lists(encoded: tuple[str, ...]) -> tuple[list[str], ...]:
    """Every combination of encoded fields that fell back, by bit mask (bit i: field i)."""
    return tuple(
        [col for i, col in enumerate(encoded) if mask >> i & 1] for mask in range(2 ** len(encoded))
    )


def fallback_fields(x: np.ndarray, spec: FeatureSpec) -> list[list[str]]:
    """Per row of the model matrix, the encoded fields that used the encoding's fallback.

    A value missing or unseen in training is encoded with the fallback and a training count of 0,
    while every known value has a count of at least 1; so the count columns say it. The lists are
    shared between rows (read them, do not change them).
    """
    encoded = tuple(spec.encodings)
    mask = np.zeros(len(x), dtype=np.intp)
    for i, col in enumerate(encoded):
        count = x[:, spec.feature_names.index(f"{col}_n")]
        mask |= (count == 0).astype(np.intp) << i
    lists = _fallback_lists(encoded)
    return [lists[m] for m in mask.tolist()]


def priced(
    x: np.ndarray, log_price: np.ndarray, spec: FeatureSpec
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """(prices in dollars, one answer item per row of `x`: price, log price, fallbacks)."""
    price = np.exp(log_price)
    items = [
        {"price": p, "log_price": lp, "fallbacks": f}
        for p, lp, f in zip(
            price.tolist(), log_price.tolist(), fallback_fields(x, spec), strict=True
        )
    ]
    return price, items


def jsonable(value: Any) -> Any:
    """`value` as plain JSON values (what orjson cannot write, such as huge integers, as text)."""
    try:
        return orjson.loads(orjson.dumps(value, default=str))
    except TypeError:
        return {"unserialisable": repr(value)[:10_000]}
