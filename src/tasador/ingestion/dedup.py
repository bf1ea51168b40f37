"""Stable keys of properties and listings, and the duplicates they reveal.

A property is identified by `schema.PROPERTY_KEY`; a listing is a property at a price. The keys are
64-bit SipHash values of the typed columns under a fixed key, so they are the same in every process
and every run, and can be stored and compared across batches.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
from pandas.api.types import pandas_dtype

from tasador import schema

# Fixed SipHash key (16 bytes): changing it changes every stored key.
HASH_KEY: Final[str] = "tasador-listing1"


def _typed(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """The key columns in their schema dtypes, so equal values hash equally whatever the input."""
    return pd.DataFrame(
        {c: frame[c].astype(pandas_dtype(schema.BY_NAME[c].dtype)) for c in columns}, copy=False
    ).reset_index(drop=True)


def hash_rows(frame: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    """One stable int64 hash per row of the typed `columns` (uint64 SipHash viewed as int64)."""
    hashes = pd.util.hash_pandas_object(_typed(frame, columns), index=False, hash_key=HASH_KEY)
    return hashes.to_numpy(dtype=np.uint64).view(np.int64)


def property_keys(frame: pd.DataFrame) -> np.ndarray:
    """Stable int64 key of each row's property (`schema.PROPERTY_KEY`)."""
    return hash_rows(frame, schema.PROPERTY_KEY)


def listing_keys(property_key: np.ndarray, price: np.ndarray | pd.Series) -> np.ndarray:
    """Stable int64 key of each listing: the hash of its property key and its price."""
    frame = pd.DataFrame(
        {
            "property_key": np.asarray(property_key, dtype=np.int64),
            schema.TARGET: np.asarray(price, dtype=np.float64),
        }
    )
    hashes = pd.util.hash_pandas_object(frame, index=False, hash_key=HASH_KEY)
    return hashes.to_numpy(dtype=np.uint64).view(np.int64)


def mark_exact_duplicates(frame: pd.DataFrame) -> np.ndarray:
    """Rows equal in every column to an earlier row (the first of each group is not marked)."""
    return frame.reset_index(drop=True).duplicated(keep="first").to_numpy()


def mark_relisted(listing_key: np.ndarray, is_sold: np.ndarray) -> np.ndarray:
    """Rows repeating the listing of another row; each group keeps its first sold row, else its
    first row. A home listed for sale and then sold at the same price is one observation."""
    position = np.arange(len(listing_key))
    order = np.lexsort((position, ~is_sold, listing_key))
    keys = listing_key[order]
    repeated = np.zeros(len(keys), dtype=bool)
    repeated[1:] = keys[1:] == keys[:-1]
    marked = np.empty(len(keys), dtype=bool)
    marked[order] = repeated
    return marked
