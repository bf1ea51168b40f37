"""Received rows as RAW DATA: every value kept as the text it arrived as, nothing dropped.

The data API sends a list of JSON objects. `raw_frame` turns it into one nullable-string column per
schema column (so RAW DATA stores exactly what was received, even `"abc"` in a numeric column),
plus the row's position in the batch and any keys the schema does not know. Typing and validation
happen later, in `ingestion.cleaning`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tasador import schema

RAW_COLUMNS: Final[tuple[str, ...]] = schema.COLUMN_NAMES
ROW_NUMBER: Final[str] = "row_number"
EXTRA: Final[str] = "extra"

_SCHEMA_KEYS: Final[frozenset[str]] = frozenset(RAW_COLUMNS)
# `repr` writes floats of these magnitudes without an exponent.
_REPR_PLAIN_MIN: Final[float] = 1e-4
_REPR_PLAIN_MAX: Final[float] = 1e16


def _json_text(value: Any) -> str:
    """JSON text of any value; objects JSON cannot encode fall back to their `str`."""
    return json.dumps(value, ensure_ascii=False, default=str)


def _text(value: Any) -> str | None:
    """Text form of one received JSON value (the slow path; common types are inlined by callers)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return float.__repr__(value)  # also for float subclasses such as numpy.float64
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, list | tuple | dict):
        return _json_text(value)
    return str(value)


def _valid_utf8(text: str | None) -> str | None:
    """The text with anything UTF-8 cannot encode written as a backslash escape."""
    if text is None:
        return None
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _texts(values: list[Any]) -> list[str | None]:
    """Text form of a column of values; floats and strings (nearly all cells) skip the call."""
    return [
        v if type(v) is str else repr(v) if type(v) is float else None if v is None else _text(v)
        for v in values
    ]


def _float_texts(values: list[float | None]) -> pa.Array:
    """`repr` of a column of floats, vectorised.

    Arrow formats whole numbers without `'.0'` and switches to exponent form at other thresholds
    than Python, so: whole numbers below 1e16 are Arrow's integer text plus `'.0'`; other values
    between 1e-4 and 1e16 take Arrow's shortest round-trip text when it has no exponent (the same
    digits `repr` writes); the rest (few: tiny, huge, nan, inf) go through `repr` itself.
    """
    floats = pa.array(values, type=pa.float64(), from_pandas=False)
    f = floats.to_numpy(zero_copy_only=False)
    valid = floats.is_valid().to_numpy(zero_copy_only=False)
    size = np.abs(f)
    with np.errstate(invalid="ignore"):
        finite = valid & (size < _REPR_PLAIN_MAX)
        whole = finite & (np.floor(f) == f) & ~((f == 0) & np.signbit(f))  # repr(-0.0) is '-0.0'
        plain = finite & ~whole & (size >= _REPR_PLAIN_MIN)
    large = pa.large_string()
    ints = pa.array(np.where(whole, f, 0).astype(np.int64)).cast(large)
    texts = pc.binary_join_element_wise(ints, pa.scalar(".0", large), pa.scalar("", large))
    texts = pc.if_else(pa.array(whole), texts, pa.scalar(None, large))
    if plain.any():  # only these need Arrow's float formatting, and it is not cheap
        arrow_texts = floats.filter(pa.array(plain)).cast(large)
        texts = pc.replace_with_mask(texts, pa.array(plain), arrow_texts)
        exponent = np.zeros(len(f), dtype=bool)
        exponent[plain] = pc.match_substring(arrow_texts, "e").to_numpy(zero_copy_only=False)
        plain &= ~exponent
    others = valid & ~whole & ~plain
    if others.any():
        reprs = [repr(values[i]) for i in np.flatnonzero(others)]
        texts = pc.replace_with_mask(texts, pa.array(others), pa.array(reprs, large))
    return texts


def _text_array(values: list[Any]) -> pa.Array:
    """Text form of a column of received values, by the fastest path its value types allow.

    Floats (nearly every numeric cell) are formatted vectorised even when a column mixes them with
    other types; strings pass through; anything else goes through `_text` one by one.
    """
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if kinds == {float}:
        return _float_texts(values)
    if float not in kinds:
        return _arrow_text(values if kinds <= {str} else _texts(values))
    floats = [v if type(v) is float else None for v in values]
    others = np.fromiter(
        (v is not None and type(v) is not float for v in values), bool, len(values)
    )
    texts = _float_texts(floats)
    rest = _arrow_text(_texts([values[i] for i in np.flatnonzero(others)]))
    return pc.replace_with_mask(texts, pa.array(others), rest)


def _arrow_text(texts: list[Any]) -> pa.Array:
    """An Arrow string array of the texts."""
    try:
        return pa.array(texts, type=pa.large_string())
    except UnicodeEncodeError:  # lone surrogates: JSON allows "\ud800", UTF-8 does not
        return pa.array([_valid_utf8(t) for t in texts], type=pa.large_string())


def _string_array(texts: pa.Array) -> pd.arrays.ArrowStringArray:
    """A pandas nullable string array over an Arrow string array (no copy)."""
    return pd.arrays.ArrowStringArray(pa.chunked_array([texts]))


def _extra_text(row: Any) -> str | None:
    """JSON text of what a row holds beyond the schema: foreign keys, or the whole non-dict row."""
    if not isinstance(row, dict):
        return _json_text(row)
    if _SCHEMA_KEYS.issuperset(row):
        return None
    return _json_text({k: v for k, v in row.items() if k not in _SCHEMA_KEYS})


def _extra_texts(rows: list[Any], dicts: list[dict[str, Any]]) -> pa.Array:
    """The `extra` column; when no row has a foreign key, only non-dict rows are looked at."""
    if _SCHEMA_KEYS.issuperset(set().union(*dicts)):
        extras = [None if type(r) is dict else _extra_text(r) for r in rows]
    else:
        known = _SCHEMA_KEYS.issuperset
        extras = [None if type(r) is dict and known(r) else _extra_text(r) for r in rows]
    return _arrow_text(extras)


def raw_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows exactly as received, as text columns plus `row_number` and `extra`.

    Each schema column holds the text form of the JSON value (`float` as `repr`, e.g. `'101640.0'`;
    `int` as `str`; `bool` as `'true'`/`'false'`; nested lists/objects as JSON text; `None` or a
    missing key as NA). `row_number` is the 0-based position in the batch; `extra` is the JSON text
    of keys the schema does not know, or NA. A row that is not an object keeps its place: all
    columns NA and its JSON text in `extra`, so cleaning can reject it as malformed.
    """
    dicts: list[dict[str, Any]] = [r if isinstance(r, dict) else {} for r in rows]
    columns: dict[str, Any] = {
        name: _string_array(_text_array([r.get(name) for r in dicts])) for name in RAW_COLUMNS
    }
    columns[ROW_NUMBER] = np.arange(len(rows), dtype=np.int64)
    columns[EXTRA] = _string_array(_extra_texts(rows, dicts))
    return pd.DataFrame(columns, copy=False)


def raw_frames(rows: list[Any], chunk_rows: int = 32_768) -> Iterator[pd.DataFrame]:
    """`raw_frame` of consecutive slices of `rows`, with row numbers counted over the whole batch.

    Storage sends each chunk to PostgreSQL while the next one is built.
    """
    for start in range(0, len(rows), chunk_rows):
        frame = raw_frame(rows[start : start + chunk_rows])
        if start:
            frame[ROW_NUMBER] += start
        yield frame
