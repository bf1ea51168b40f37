"""Text columns of RAW DATA to typed values, column at a time, with a mask of what failed.

Each parser takes the normalised text of one column (an Arrow string array, see `normalise_text`)
and returns the typed values as a pandas Series plus `bad`: the rows holding text the parser could
not read. Missing stays missing and is never `bad`; whether a missing value is allowed is the
caller's business. The work is done by Arrow compute kernels, or on the distinct values only.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Final, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Text that means "no value" in files and APIs (compared case-insensitively, after stripping).
NULL_TOKENS: Final[frozenset[str]] = frozenset({"", "nan", "null", "none", "na", "n/a"})
# Decimal numbers as Arrow's cast reads them; anything else in a numeric column is unparseable.
NUMBER_PATTERN: Final[str] = r"(?i)^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$|^[+-]?inf(inity)?$"
DATE_FORMAT: Final[str] = "%Y-%m-%d"

# Integer codes are read through float64; above 2**53 they would not be exact.
_MAX_EXACT_INT: Final[float] = 2.0**53
_ZIP_MAX: Final[int] = 99_999
_TEXT: Final[pa.DataType] = pa.large_string()


class Parsed(NamedTuple):
    """Typed values of one column and the rows whose text could not be read."""

    values: pd.Series
    bad: np.ndarray


def _arrow_text(column: pd.Series | None, size: int) -> pa.Array:
    """The column as one Arrow string array (zero-copy for pandas' Arrow-backed strings)."""
    if column is None:
        return pa.nulls(size, _TEXT)
    if not isinstance(column.dtype, pd.StringDtype):
        column = column.astype("string")
    text = pa.array(column.array)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    return text.cast(_TEXT)


def normalise_text(column: pd.Series | None, size: int) -> pa.Array:
    """The column as stripped Arrow text; null tokens (`''`, `'nan'`, `'null'`...) and an absent
    column become null."""
    text = pc.utf8_trim_whitespace(_arrow_text(column, size))
    tokens = pa.array(sorted(NULL_TOKENS), _TEXT)
    is_null = pc.is_in(pc.utf8_lower(text), value_set=tokens)
    return pc.if_else(is_null, pa.scalar(None, _TEXT), text)


def present(text: pa.Array) -> np.ndarray:
    """Rows holding a value."""
    return text.is_valid().to_numpy(zero_copy_only=False)


def as_string_series(text: pa.Array) -> pd.Series:
    """Arrow text as a pandas nullable string Series (`string` dtype)."""
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([text.cast(_TEXT)])))


def _floats(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Float64 values (NaN where missing or unreadable) and the unreadable rows."""
    try:
        numbers = pc.cast(text, pa.float64())
    except pa.ArrowInvalid:  # some text is not a number: read only what looks like one
        readable = pc.match_substring_regex(text, NUMBER_PATTERN)
        numbers = pc.cast(pc.if_else(readable, text, pa.scalar(None, _TEXT)), pa.float64())
    values = numbers.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    return values, present(text) & ~numbers.is_valid().to_numpy(zero_copy_only=False)


def parse_float(text: pa.Array) -> Parsed:
    """Decimal text (`'101640.0'`, `'3'`, `'1e5'`) to float64; NaN where missing or unreadable."""
    values, bad = _floats(text)
    return Parsed(pd.Series(values, dtype="float64"), bad)


def _whole_numbers(text: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float values, which rows hold an exact whole number, and which rows are bad."""
    values, bad = _floats(text)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(values) & (np.floor(values) == values)
        whole &= np.abs(values) <= _MAX_EXACT_INT
    return values, whole, bad | (present(text) & ~whole)


def parse_code(text: pa.Array) -> Parsed:
    """Opaque integer codes (`'1693508.0'`) to Int64; fractions and non-numbers are bad."""
    values, whole, bad = _whole_numbers(text)
    codes = pd.arrays.IntegerArray(np.where(whole, values, 0).astype(np.int64), ~whole)
    return Parsed(pd.Series(codes), bad)


@cache
def _zip_texts() -> np.ndarray:
    """The 100,000 five-digit ZIP strings, indexed by their number."""
    return np.array([f"{z:05d}" for z in range(_ZIP_MAX + 1)], dtype=object)


def parse_zip(text: pa.Array) -> Parsed:
    """ZIP codes as numbers (`'6016.0'`, `'06016'`) to zero-padded 5-character text (`'06016'`).

    The API sends ZIP codes as floats, which loses leading zeros; padding restores them. Anything
    that is not a whole number from 0 to 99999 is bad.
    """
    values, whole, bad = _whole_numbers(text)
    ok = whole & (values >= 0) & (values <= _ZIP_MAX)
    padded = np.full(len(values), None, dtype=object)
    padded[ok] = _zip_texts()[values[ok].astype(np.int64)]
    return Parsed(as_string_series(pa.array(padded, _TEXT)), bad | (present(text) & ~ok))


def parse_date(text: pa.Array) -> Parsed:
    """`'YYYY-MM-DD'` to datetime64[s]; other text and impossible dates (`'2021-02-30'`) are bad.

    Dates repeat a lot, so only the distinct values are parsed.
    """
    encoded = pc.dictionary_encode(text)
    distinct = pd.Series(encoded.dictionary.to_pylist(), dtype=object)
    dates = pd.to_datetime(distinct, format=DATE_FORMAT, errors="coerce").astype("datetime64[s]")
    lookup = np.append(dates.to_numpy(), np.datetime64("NaT", "s"))
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    values = pd.Series(lookup[codes], dtype="datetime64[s]")
    return Parsed(values, present(text) & values.isna().to_numpy())


def parse_choice(text: pa.Array, choices: Iterable[str], *, separators: bool = False) -> Parsed:
    """Text matched to one of `choices` ignoring case and repeated blanks; `bad` if none matches.

    With `separators`, blanks and hyphens also match underscores (`'For Sale'` is `'for_sale'`).
    Matching runs on the distinct values only, so it costs nothing per row.
    """

    def key(value: str) -> str:
        words = value.replace("-", " ").replace("_", " ") if separators else value
        return " ".join(words.split()).casefold()

    canonical = {key(c): c for c in choices}
    encoded = pc.dictionary_encode(text)
    mapped = pa.array([canonical.get(key(v)) for v in encoded.dictionary.to_pylist()], _TEXT)
    matched = mapped.take(encoded.indices)
    return Parsed(as_string_series(matched), present(text) & ~present(matched))
