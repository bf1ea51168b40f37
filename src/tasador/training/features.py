"""The feature builder, shared by training and serving.

One function, `build_features`, turns listings into the float32 matrix the booster reads, for one
row per request in serving and for a million rows in training; it is plain numpy over whole columns
(no per-row apply, no scikit-learn). What it learns from the training rows (target encodings of
state, city and ZIP code, the status categories, the reference date) lives in a `FeatureSpec`, which
is saved as JSON next to the model so that serving builds exactly the features the model was
trained on.

Target encoding: a category's value is the smoothed mean of log price,
`(n * mean_c + m * global_mean) / (n + m)`, so a category seen a few times stays near the global
mean; an unseen or missing category gets the global mean. The number of training rows behind each
encoding is a feature too, so the model can learn how far to trust it.

Leakage: encoding the training rows with encodings fitted on those same rows leaks each row's own
price into its features (worst for rare ZIP codes: a ZIP seen once encodes its only price), and the
model learns to trust the encoding far more than it can on new data. `build_training_matrix`
therefore encodes the training matrix out of fold: rows are split into K=5 folds (grouped by
property, deterministic for a seed) and each fold is encoded with encodings fitted on the other
four.
Serving and evaluation use the encodings fitted on all training rows (`build_features`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from itertools import repeat
from typing import Any, Final

import numpy as np
import pandas as pd

from tasador import schema

FEATURE_VERSION: Final[int] = 1
DEFAULT_SMOOTHING: Final[float] = 20.0
OOF_FOLDS: Final[int] = 5
SQFT_PER_ACRE: Final[float] = 43_560.0
DEFAULT_REFERENCE_DATE: Final[str] = "2025-01-01"

ENCODED: Final[tuple[str, ...]] = ("state", "city", "zip_code")
NUMERIC_FEATURES: Final[tuple[str, ...]] = (
    "bed",
    "bath",
    "acre_lot_log1p",
    "house_size_log",
    "bath_per_bed",
    "sqft_per_bed",
    "lot_sqft_per_sqft_log1p",
)
DATE_FEATURES: Final[tuple[str, ...]] = ("prev_sold_year", "prev_sold_days_before_ref")

_SMALL: Final[int] = 100_000  # up to this many keys a dict lookup beats pandas (measured)


@dataclass(frozen=True)
class TargetEncoding:
    """Smoothed mean log price per category, the training rows behind it, and the fallback."""

    column: str
    categories: tuple[str, ...]
    means: tuple[float, ...]
    counts: tuple[int, ...]
    fallback: float

    @cached_property
    def _index(self) -> pd.Index:
        return pd.Index(np.asarray(self.categories, dtype=object), dtype=object)

    @cached_property
    def _lookup(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.categories)}

    @cached_property
    def _means(self) -> np.ndarray:
        # The fallback sits last, so the -1 that get_indexer gives unknown keys selects it.
        return np.append(np.asarray(self.means, dtype=np.float64), self.fallback)

    @cached_property
    def _counts(self) -> np.ndarray:
        return np.append(np.asarray(self.counts, dtype=np.float64), 0.0)

    def positions(self, keys: np.ndarray) -> np.ndarray:
        """Index of each key among the categories; -1 for unknown or missing keys."""
        if len(keys) <= _SMALL:  # a dict beats building pandas' hash lookup for a few keys
            found = map(self._lookup.get, keys, repeat(-1, len(keys)))  # no Python frame per key
            return np.fromiter(found, dtype=np.intp, count=len(keys))
        if len(self.categories) == 0:
            return np.full(len(keys), -1, dtype=np.intp)
        return np.asarray(self._index.get_indexer(keys), dtype=np.intp)  # type: ignore[arg-type]

    def encode(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(encoded value, training rows behind it) per key; unknown keys get (fallback, 0)."""
        pos = self.positions(keys)
        return self._means[pos], self._counts[pos]

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "categories": list(self.categories),
            "means": list(self.means),
            "counts": list(self.counts),
            "fallback": self.fallback,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TargetEncoding:
        return cls(
            column=str(data["column"]),
            categories=tuple(str(c) for c in data["categories"]),
            means=tuple(float(v) for v in data["means"]),
            counts=tuple(int(v) for v in data["counts"]),
            fallback=float(data["fallback"]),
        )


@dataclass(frozen=True)
class FeatureSpec:
    """Everything the feature builder learned from the training rows; JSON round-trips."""

    feature_names: tuple[str, ...]
    encodings: Mapping[str, TargetEncoding]
    statuses: tuple[str, ...]
    reference_date: str
    smoothing: float
    global_mean: float
    version: int = FEATURE_VERSION
    _positions: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_positions", {name: i for i, name in enumerate(self.feature_names)}
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "feature_names": list(self.feature_names),
            "encodings": {name: enc.to_dict() for name, enc in self.encodings.items()},
            "statuses": list(self.statuses),
            "reference_date": self.reference_date,
            "smoothing": self.smoothing,
            "global_mean": self.global_mean,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        version = int(data["version"])
        if version != FEATURE_VERSION:
            raise ValueError(
                f"feature spec version {version} is not the builder's version {FEATURE_VERSION}"
            )
        return cls(
            feature_names=tuple(data["feature_names"]),
            encodings={k: TargetEncoding.from_dict(v) for k, v in data["encodings"].items()},
            statuses=tuple(data["statuses"]),
            reference_date=str(data["reference_date"]),
            smoothing=float(data["smoothing"]),
            global_mean=float(data["global_mean"]),
            version=version,
        )


def feature_names_for(statuses: tuple[str, ...]) -> tuple[str, ...]:
    """The ordered feature names for a set of status categories."""
    encoded = tuple(f"{col}_{suffix}" for col in ENCODED for suffix in ("te", "n"))
    return (
        *NUMERIC_FEATURES,
        *(f"status_{s}" for s in statuses),
        *DATE_FEATURES,
        *encoded,
    )


# ---------------------------------------------------------------------------------------------
# Column access that tolerates the clean frame's extension dtypes, plain object columns from a
# request, and optional columns that are absent altogether. Besides a DataFrame, the builder takes
# `Columns`, a plain mapping of column name to a 1-D numpy array (floats with NaN for numbers,
# objects with None for strings and ISO dates): serving builds that straight from the request and
# skips pandas on its hot path.

Columns = Mapping[str, np.ndarray]
Listings = pd.DataFrame | Columns


def n_rows(frame: Listings) -> int:
    """Number of listings in a frame or in a mapping of equally long columns."""
    if isinstance(frame, pd.DataFrame):
        return len(frame)
    return len(next(iter(frame.values()))) if frame else 0


def _floats(frame: Listings, column: str) -> np.ndarray:
    if not isinstance(frame, pd.DataFrame):
        given = frame.get(column)
        if given is None:
            return np.full(n_rows(frame), np.nan)
        if given.dtype == object:
            given = pd.to_numeric(pd.Series(given), errors="coerce").to_numpy(dtype=np.float64)
        return np.array(given, dtype=np.float64, copy=True)
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    s = frame[column]
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        s = pd.to_numeric(s, errors="coerce")
    # A copy, never a view of the caller's frame: callers may write into it.
    return np.array(s.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64, copy=True)


def _strings(frame: Listings, column: str) -> np.ndarray:
    """Object array of str with None for missing."""
    if not isinstance(frame, pd.DataFrame):
        given = frame.get(column)
        if given is None:
            return np.full(n_rows(frame), None, dtype=object)
        values = np.asarray(given, dtype=object)
    elif column not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    else:
        values = frame[column].to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
    # A request may carry "" for "not given"; treat it as missing like NA.
    empty = values == ""
    if len(values) and empty.any():
        values = np.where(empty, np.array(None, dtype=object), values)
    return values


def _dates(frame: Listings, column: str) -> np.ndarray:
    """datetime64[D] array, NaT for missing or unparsable dates."""
    if not isinstance(frame, pd.DataFrame):
        given = frame.get(column)
        if given is None:
            return np.full(n_rows(frame), np.datetime64("NaT"), dtype="datetime64[D]")
        if np.issubdtype(given.dtype, np.datetime64):
            return given.astype("datetime64[D]")
        strings = _strings(frame, column)
        try:
            return np.asarray(strings, dtype="datetime64[s]").astype("datetime64[D]")
        except (ValueError, TypeError):
            frame = pd.DataFrame({column: strings})
    elif column not in frame.columns:
        return np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[D]")
    s = frame[column]
    if not pd.api.types.is_datetime64_any_dtype(s.dtype):
        try:  # ISO dates, the common case, parse far faster with numpy than with pandas
            return np.asarray(_strings(frame, column), dtype="datetime64[s]").astype(
                "datetime64[D]"
            )
        except (ValueError, TypeError):
            s = pd.to_datetime(s, errors="coerce")
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_localize(None)
    return np.asarray(s.to_numpy(dtype="datetime64[s]").astype("datetime64[D]"))


def _days(dates: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 as float, NaN for NaT."""
    days = dates.astype(np.int64).astype(np.float64)
    days[np.isnat(dates)] = np.nan
    return days


def _positive(values: np.ndarray) -> np.ndarray:
    """Zero or negative sizes are impossible (cleaning rejects them): treat them as missing."""
    values[values <= 0] = np.nan
    return values


def _category_keys(frame: Listings) -> dict[str, np.ndarray]:
    """The lookup keys of the encoded columns; city is keyed by "state|city"."""
    state, city = _strings(frame, "state"), _strings(frame, "city")
    city_keys = np.full(len(state), None, dtype=object)
    ok = (state != None) & (city != None)  # noqa: E711 (elementwise on object arrays)
    if ok.any():
        city_keys[ok] = state[ok] + "|" + city[ok]
    return {"state": state, "city": city_keys, "zip_code": _strings(frame, "zip_code")}


def _log_price(frame: pd.DataFrame) -> np.ndarray:
    price = _floats(frame, schema.TARGET)
    if not np.all(np.isfinite(price) & (price > 0)):
        raise ValueError("training rows need a positive, finite price")
    return np.log(price)


# ---------------------------------------------------------------------------------------------
# Fitting


def fit_encoding(
    column: str, keys: np.ndarray, log_price: np.ndarray, smoothing: float, global_mean: float
) -> TargetEncoding:
    """Smoothed mean of log price per category (missing keys are not a category)."""
    known = pd.notna(keys)
    grouped = (
        pd.DataFrame({"k": keys[known], "y": log_price[known]})
        .groupby("k", sort=True)["y"]
        .agg(["sum", "count"])
    )
    counts = grouped["count"].to_numpy(dtype=np.float64)
    means = (grouped["sum"].to_numpy(dtype=np.float64) + smoothing * global_mean) / (
        counts + smoothing
    )
    return TargetEncoding(
        column=column,
        categories=tuple(str(k) for k in grouped.index),
        means=tuple(float(v) for v in means),
        counts=tuple(int(c) for c in counts),
        fallback=float(global_mean),
    )


def fit_features(train: pd.DataFrame, *, smoothing: float = DEFAULT_SMOOTHING) -> FeatureSpec:
    """Learn the feature spec from training rows only (they must carry `price`)."""
    if len(train) == 0:
        raise ValueError("cannot fit features on an empty frame")
    log_price = _log_price(train)
    global_mean = float(log_price.mean())
    keys = _category_keys(train)
    encodings = {
        col: fit_encoding(col, keys[col], log_price, smoothing, global_mean) for col in ENCODED
    }
    dates = _dates(train, "prev_sold_date")
    known = dates[~np.isnat(dates)]
    reference = str(known.max()) if len(known) else DEFAULT_REFERENCE_DATE
    statuses = schema.STATUSES
    return FeatureSpec(
        feature_names=feature_names_for(statuses),
        encodings=encodings,
        statuses=statuses,
        reference_date=reference,
        smoothing=float(smoothing),
        global_mean=global_mean,
    )


# ---------------------------------------------------------------------------------------------
# Building


def _fill_plain(frame: Listings, spec: FeatureSpec, out: np.ndarray) -> None:
    """Every feature but the encodings, written into `out` (float64, rows x features)."""
    pos = spec._positions
    bed, bath = _positive(_floats(frame, "bed")), _floats(frame, "bath")
    acre_lot, house_size = _floats(frame, "acre_lot"), _positive(_floats(frame, "house_size"))
    acre_lot[acre_lot < 0] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        out[:, pos["bed"]] = bed
        out[:, pos["bath"]] = bath
        out[:, pos["acre_lot_log1p"]] = np.log1p(acre_lot)
        out[:, pos["house_size_log"]] = np.log(house_size)
        out[:, pos["bath_per_bed"]] = bath / bed
        out[:, pos["sqft_per_bed"]] = house_size / bed
        out[:, pos["lot_sqft_per_sqft_log1p"]] = np.log1p(acre_lot * SQFT_PER_ACRE / house_size)

    status = _strings(frame, "status")
    for s in spec.statuses:
        out[:, pos[f"status_{s}"]] = status == s

    dates = _dates(frame, "prev_sold_date")
    missing = np.isnat(dates)
    year = dates.astype("datetime64[Y]").astype(np.int64).astype(np.float64) + 1970.0
    year[missing] = np.nan
    reference = float(np.datetime64(spec.reference_date, "D").astype(np.int64))
    out[:, pos["prev_sold_year"]] = year
    out[:, pos["prev_sold_days_before_ref"]] = reference - _days(dates)


def _fill_encodings(
    frame: Listings,
    encodings: Mapping[str, TargetEncoding],
    positions: Mapping[str, int],
    out: np.ndarray,
    rows: np.ndarray | slice = slice(None),
) -> None:
    keys = _category_keys(frame)
    for col in ENCODED:
        means, counts = encodings[col].encode(keys[col][rows])
        out[rows, positions[f"{col}_te"]] = means
        out[rows, positions[f"{col}_n"]] = counts


def _finish(out: np.ndarray) -> np.ndarray:
    out[~np.isfinite(out)] = np.nan
    return out.astype(np.float32)


def build_features(frame: Listings, spec: FeatureSpec) -> np.ndarray:
    """The model matrix of `frame` (float32, NaN for missing, columns in `spec.feature_names`).

    Uses the encodings fitted on all training rows: this is the matrix for serving and evaluation.
    Optional columns may be absent from `frame` (treated as missing). `frame` is a DataFrame or a
    mapping of column name to numpy array (`Columns`), which gives the same matrix without pandas.
    """
    out = np.empty((n_rows(frame), len(spec.feature_names)), dtype=np.float64)
    _fill_plain(frame, spec, out)
    _fill_encodings(frame, spec.encodings, spec._positions, out)
    return _finish(out)


def assign_folds(frame: pd.DataFrame, k: int, seed: int) -> np.ndarray:
    """Fold number (0..k-1) per row, grouped by `property_key` so one home is in one fold."""
    if "property_key" in frame.columns:
        keys = frame["property_key"].to_numpy()
    else:
        keys = np.arange(len(frame))
    unique, inverse = np.unique(keys, return_inverse=True)
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of_key = np.empty(len(unique), dtype=np.int64)
    fold_of_key[order] = np.arange(len(unique)) % k
    return np.asarray(fold_of_key[inverse.reshape(-1)])


def build_training_matrix(
    train: pd.DataFrame, spec: FeatureSpec, seed: int, folds: int = OOF_FOLDS
) -> np.ndarray:
    """The training matrix, target encodings out of fold (see the module docstring for why).

    Each fold's encodings are fitted on the other folds, with the same smoothing, and fall back to
    those folds' mean log price. With fewer rows than folds, the in-sample encodings are used.
    """
    out = np.empty((len(train), len(spec.feature_names)), dtype=np.float64)
    _fill_plain(train, spec, out)
    if len(train) < folds:
        _fill_encodings(train, spec.encodings, spec._positions, out)
        return _finish(out)
    log_price = _log_price(train)
    fold = assign_folds(train, folds, seed)
    keys = _category_keys(train)
    for k in range(folds):
        held, fit = fold == k, fold != k
        if not held.any():
            continue
        global_mean = float(log_price[fit].mean())
        for col in ENCODED:
            enc = fit_encoding(col, keys[col][fit], log_price[fit], spec.smoothing, global_mean)
            means, counts = enc.encode(keys[col][held])
            out[held, spec._positions[f"{col}_te"]] = means
            out[held, spec._positions[f"{col}_n"]] = counts
    return _finish(out)


def unknown_categories(frame: Listings, spec: FeatureSpec) -> dict[str, np.ndarray]:
    """Per encoded column, which rows fell back to the global mean (missing or unseen value)."""
    keys = _category_keys(frame)
    return {col: spec.encodings[col].positions(keys[col]) < 0 for col in ENCODED}
