"""The feature builder, shared by training and serving.

One function, `build_features`, turns listings into the float32 matrix the booster reads, for one
row per request in serving and for a million rows in training; it is plain numpy over whole columns
(no per-row apply, no scikit-learn). What it learns from the training rows (target encodings of
state, city and ZIP code, the status categories, the reference date) lives in a `FeatureSpec`, which
is saved as JSON next to the model so that serving builds exactly the features the model was
trained on. Which features there are follows from the declared model inputs (`schema.MODEL_INPUTS`,
see `feature_table`); only the features combining two fields (`COMBINED`) are declared here.

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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from itertools import repeat
from typing import Any, Final

import numpy as np
import pandas as pd

from tasador import schema
from tasador.training.geography import (
    Located,
    Neighbourhood,
    fit_neighbourhood,
    locate,
    zip_numbers,
    zip_places,
)

FEATURE_VERSION: Final[int] = 3  # 3: geography of the ZIP code; 2: one-hot choices; 1, 2 read
DEFAULT_SMOOTHING: Final[float] = 20.0
OOF_FOLDS: Final[int] = 5
SQFT_PER_ACRE: Final[float] = 43_560.0
DEFAULT_REFERENCE_DATE: Final[str] = "2025-01-01"

Inputs = tuple[str, ...]
DATE_PARTS: Final[tuple[str, ...]] = ("year", "days_before_ref")

# Columns as the builder reads them: the field's values as float, object or datetime64[D] arrays.
Values = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Combined:
    """A feature built from two or more numeric fields (the explanation splits it among them)."""

    name: str
    inputs: tuple[str, ...]
    compute: Callable[[Values], np.ndarray]


COMBINED: Final[tuple[Combined, ...]] = (
    Combined("bath_per_bed", ("bath", "bed"), lambda v: v["bath"] / v["bed"]),
    Combined("sqft_per_bed", ("house_size", "bed"), lambda v: v["house_size"] / v["bed"]),
    Combined(
        "lot_sqft_per_sqft_log1p",
        ("acre_lot", "house_size"),
        lambda v: np.log1p(v["acre_lot"] * SQFT_PER_ACRE / v["house_size"]),
    ),
)
# What the ZIP field gives besides its own encoding (see `geography`), each named after the field:
# coordinates, the encodings of its county and 3-digit prefix, the neighbourhood's price per square
# foot and how far it reached, and with a house size, the neighbourhood's price for this size.
GEO_SUFFIXES: Final[tuple[str, ...]] = (
    "lat", "lon", "county_te", "county_n", "prefix_te", "prefix_n", "nbhd_log_ppsf", "nbhd_km",
)  # fmt: skip
GEO_SIZED: Final[str] = "nbhd_log_price"
LOOKUP_ROWS: Final[int] = 5_000  # up to this many rows, neighbourhoods are read from a table
SIZE_FIELD: Final[str] = "house_size"

_TRANSFORMS: Final[dict[schema.Transform, Callable[[np.ndarray], np.ndarray]]] = {
    schema.Transform.NONE: lambda a: a,
    schema.Transform.LOG: np.log,
    schema.Transform.LOG1P: np.log1p,
}


def _number_feature(field: schema.ListingInput) -> str:
    return f"{field.name}_{field.transform}" if field.transform else field.name


def _date_stem(field: schema.ListingInput) -> str:
    return field.name.removesuffix("_date")


@dataclass(frozen=True)
class FeatureTable:
    """The model features that a declaration of model inputs gives, in order, and their sources."""

    inputs: tuple[schema.ListingInput, ...]
    numbers: tuple[schema.ListingInput, ...]
    combined: tuple[Combined, ...]
    choices: tuple[schema.ListingInput, ...]
    dates: tuple[schema.ListingInput, ...]
    encoded: tuple[schema.ListingInput, ...]
    geography: schema.ListingInput | None = None  # the ZIP field, when the model reads geography

    @property
    def geo_features(self) -> tuple[tuple[str, Inputs], ...]:
        """The geography features and the fields each is built from."""
        if self.geography is None:
            return ()
        stem = self.geography.name
        found: tuple[tuple[str, Inputs], ...] = tuple(
            (f"{stem}_{suffix}", (stem,)) for suffix in GEO_SUFFIXES
        )
        if any(f.name == SIZE_FIELD for f in self.numbers):
            found += ((f"{stem}_{GEO_SIZED}", (stem, SIZE_FIELD)),)
        return found

    def features(self, choices: Mapping[str, Sequence[str]]) -> tuple[tuple[str, Inputs], ...]:
        """(feature name, the input fields it is built from), in the model's order, with
        `choices` the categories of each CHOICE field."""
        return (
            *((_number_feature(f), (f.name,)) for f in self.numbers),
            *((c.name, c.inputs) for c in self.combined),
            *((f"{f.name}_{c}", (f.name,)) for f in self.choices for c in choices[f.name]),
            *((f"{_date_stem(f)}_{p}", (f.name,)) for f in self.dates for p in DATE_PARTS),
            *((f"{f.name}_{s}", (f.name,)) for f in self.encoded for s in ("te", "n")),
            *self.geo_features,
        )

    @cached_property
    def fallbacks(self) -> tuple[tuple[str, str, bool], ...]:
        """(field, the feature that tells whether the model had it, whether that feature is a
        training count) for each field that can be priced without: an optional number or date
        (the feature is NaN when it is missing) and every encoded field (a count of 0 when it is
        missing or unseen in training), in the order of the inputs."""
        found: dict[str, tuple[str, str, bool]] = {}
        for f in (*self.numbers, *self.dates):
            if not f.required:
                name = _number_feature(f) if f in self.numbers else f"{_date_stem(f)}_year"
                found[f.name] = (f.name, name, False)
        for f in self.encoded:
            found[f.name] = (f.name, f"{f.name}_n", True)
        return tuple(found[f.name] for f in self.inputs if f.name in found)

    @property
    def declared_choices(self) -> dict[str, tuple[str, ...]]:
        return {f.name: f.choices for f in self.choices}

    def inputs_of(self, feature: str) -> Inputs:
        """The input fields `feature` is built from (any category of a CHOICE field too)."""
        found = dict(self.features(self.declared_choices)).get(feature)
        if found is not None:
            return found
        for f in self.choices:
            if feature.startswith(f"{f.name}_"):
                return (f.name,)
        raise ValueError(f"no input field is declared for model feature {feature!r}")


@lru_cache(maxsize=8)
def feature_table(inputs: tuple[schema.ListingInput, ...] = schema.MODEL_INPUTS) -> FeatureTable:
    """What the model builds from each declared input (a combined feature needs all its inputs)."""
    by_kind = {k: tuple(f for f in inputs if f.kind is k) for k in schema.Kind}
    numbers = {f.name for f in by_kind[schema.Kind.NUMBER]}
    return FeatureTable(
        inputs=inputs,
        numbers=by_kind[schema.Kind.NUMBER],
        combined=tuple(c for c in COMBINED if numbers.issuperset(c.inputs)),
        choices=by_kind[schema.Kind.CHOICE],
        dates=by_kind[schema.Kind.DATE],
        encoded=tuple(f for f in inputs if f.encoded),
        geography=next(iter(by_kind[schema.Kind.ZIP]), None),
    )


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
class Geography:
    """What the model learned of places: county and ZIP-prefix encodings, the neighbourhoods."""

    county: TargetEncoding
    prefix: TargetEncoding
    neighbourhood: Neighbourhood
    source: str  # the ZIP table's package and version

    def to_dict(self) -> dict[str, Any]:
        return {
            "county": self.county.to_dict(),
            "prefix": self.prefix.to_dict(),
            "neighbourhood": self.neighbourhood.to_dict(),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Geography:
        return cls(
            county=TargetEncoding.from_dict(data["county"]),
            prefix=TargetEncoding.from_dict(data["prefix"]),
            neighbourhood=Neighbourhood.from_dict(data["neighbourhood"]),
            source=str(data["source"]),
        )


@dataclass(frozen=True)
class FeatureSpec:
    """Everything the feature builder learned from the training rows; JSON round-trips."""

    feature_names: tuple[str, ...]
    encodings: Mapping[str, TargetEncoding]
    choices: Mapping[str, tuple[str, ...]]  # the categories of each CHOICE field
    reference_date: str
    smoothing: float
    global_mean: float
    geography: Geography | None = None
    version: int = FEATURE_VERSION
    _positions: dict[str, int] = field(init=False, repr=False, compare=False)
    # by id of the declaration (kept alive beside its table, so the id stays its own): no hashing
    _tables: dict[int, tuple[tuple[schema.ListingInput, ...], FeatureTable]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_positions", {name: i for i, name in enumerate(self.feature_names)}
        )
        object.__setattr__(self, "_tables", {})

    def table(self, inputs: tuple[schema.ListingInput, ...]) -> FeatureTable:
        """The feature table of `inputs`, less the fields this model was not trained on (so a
        model trained before a field was declared is still served with its own features)."""
        cached = self._tables.get(id(inputs))
        if cached is not None:
            return cached[1]
        full, pos = feature_table(inputs), self._positions
        found = replace(
            full,
            numbers=tuple(f for f in full.numbers if _number_feature(f) in pos),
            combined=tuple(c for c in full.combined if c.name in pos),
            choices=tuple(f for f in full.choices if f.name in self.choices),
            dates=tuple(f for f in full.dates if f"{_date_stem(f)}_year" in pos),
            encoded=tuple(f for f in full.encoded if f.name in self.encodings),
            geography=full.geography if self.geography is not None else None,
        )
        self._tables[id(inputs)] = (inputs, found)
        return found

    @property
    def statuses(self) -> tuple[str, ...]:
        return self.choices.get("status", ())

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "feature_names": list(self.feature_names),
            "encodings": {name: enc.to_dict() for name, enc in self.encodings.items()},
            "choices": {name: list(values) for name, values in self.choices.items()},
            "reference_date": self.reference_date,
            "smoothing": self.smoothing,
            "global_mean": self.global_mean,
            "geography": self.geography.to_dict() if self.geography else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        version = int(data["version"])
        if version not in (1, 2, FEATURE_VERSION):
            raise ValueError(
                f"feature spec version {version} is not the builder's version {FEATURE_VERSION}"
            )
        choices = data["choices"] if version > 1 else {"status": data["statuses"]}
        return cls(
            feature_names=tuple(data["feature_names"]),
            encodings={k: TargetEncoding.from_dict(v) for k, v in data["encodings"].items()},
            choices={name: tuple(values) for name, values in choices.items()},
            reference_date=str(data["reference_date"]),
            smoothing=float(data["smoothing"]),
            global_mean=float(data["global_mean"]),
            geography=Geography.from_dict(data["geography"]) if data.get("geography") else None,
            version=FEATURE_VERSION,
        )


def feature_names_for(
    choices: Mapping[str, Sequence[str]] | None = None,
    inputs: tuple[schema.ListingInput, ...] = schema.MODEL_INPUTS,
) -> tuple[str, ...]:
    """The ordered feature names of `inputs`, with `choices` (default: the declared ones)."""
    table = feature_table(inputs)
    return tuple(name for name, _ in table.features(choices or table.declared_choices))


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


def _category_keys(frame: Listings, table: FeatureTable) -> dict[str, np.ndarray]:
    """The lookup keys of the encoded fields; a field keyed within another is "other|value"."""
    keys: dict[str, np.ndarray] = {}
    for f in table.encoded:
        values = _strings(frame, f.name)
        if f.keyed_within is not None:
            outer = _strings(frame, f.keyed_within)
            keyed = np.full(len(values), None, dtype=object)
            ok = (outer != None) & (values != None)  # noqa: E711 (elementwise on object arrays)
            if ok.any():
                keyed[ok] = outer[ok] + "|" + values[ok]
            values = keyed
        keys[f.name] = values
    return keys


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


def fit_features(
    train: pd.DataFrame,
    *,
    smoothing: float = DEFAULT_SMOOTHING,
    inputs: tuple[schema.ListingInput, ...] = schema.MODEL_INPUTS,
    geography: bool = True,
) -> FeatureSpec:
    """Learn the feature spec from training rows only (they must carry `price`); `geography`
    False leaves the ZIP code's geography out (for comparisons)."""
    if len(train) == 0:
        raise ValueError("cannot fit features on an empty frame")
    table = feature_table(inputs)
    log_price = _log_price(train)
    global_mean = float(log_price.mean())
    keys = _category_keys(train, table)
    encodings = {
        col: fit_encoding(col, col_keys, log_price, smoothing, global_mean)
        for col, col_keys in keys.items()
    }
    dates = [_dates(train, f.name) for f in table.dates]
    known = np.concatenate([np.empty(0, "datetime64[D]"), *(d[~np.isnat(d)] for d in dates)])
    reference = str(known.max()) if len(known) else DEFAULT_REFERENCE_DATE
    choices = table.declared_choices
    names = feature_names_for(choices, inputs)
    geo: Geography | None = None
    if table.geography is not None and geography:
        everyone = np.ones(len(train), dtype=bool)
        geo = _fit_geography(_places(train, table), log_price, smoothing, global_mean, everyone)
    elif table.geography is not None:
        left_out = {name for name, _ in table.geo_features}
        names = tuple(name for name in names if name not in left_out)
    return FeatureSpec(
        feature_names=names,
        encodings=encodings,
        choices=choices,
        reference_date=reference,
        smoothing=float(smoothing),
        global_mean=global_mean,
        geography=geo,
    )


@dataclass(frozen=True)
class _Places:
    """Where each row's ZIP code is, its number, and the row's log house size."""

    located: Located
    numbers: np.ndarray
    log_size: np.ndarray


def _places(frame: Listings, table: FeatureTable) -> _Places:
    assert table.geography is not None
    zips = _strings(frame, table.geography.name)
    size = _floats(frame, SIZE_FIELD)
    size[size <= 0] = np.nan
    return _Places(locate(zips), zip_numbers(zips), np.log(size))


def _fit_geography(
    places: _Places, log_price: np.ndarray, smoothing: float, global_mean: float, rows: np.ndarray
) -> Geography:
    """Geography fitted on the rows `rows` (a boolean mask) of `places`."""
    located = places.located
    return Geography(
        county=fit_encoding(
            "county", located.county[rows], log_price[rows], smoothing, global_mean
        ),
        prefix=fit_encoding(
            "prefix", located.prefix[rows], log_price[rows], smoothing, global_mean
        ),
        neighbourhood=fit_neighbourhood(
            located.lat[rows],
            located.lon[rows],
            places.numbers[rows],
            log_price[rows] - places.log_size[rows],
        ),
        source=zip_places().source,
    )


# ---------------------------------------------------------------------------------------------
# Building


def _numbers(frame: Listings, table: FeatureTable) -> dict[str, np.ndarray]:
    """The NUMBER fields as floats; a size or count at or below zero is missing."""
    values = {f.name: _floats(frame, f.name) for f in table.numbers}
    for array in values.values():
        array[array <= 0] = np.nan
    return values


def _fill_plain(frame: Listings, spec: FeatureSpec, table: FeatureTable, out: np.ndarray) -> None:
    """Every feature but the encodings, written into `out` (float64, rows x features)."""
    pos = spec._positions
    numbers = _numbers(frame, table)
    with np.errstate(divide="ignore", invalid="ignore"):
        for f in table.numbers:
            out[:, pos[_number_feature(f)]] = _TRANSFORMS[f.transform](numbers[f.name])
        for c in table.combined:
            out[:, pos[c.name]] = c.compute(numbers)

    for f in table.choices:
        values = _strings(frame, f.name)
        for choice in spec.choices[f.name]:
            out[:, pos[f"{f.name}_{choice}"]] = values == choice

    reference = float(np.datetime64(spec.reference_date, "D").astype(np.int64))
    for f in table.dates:
        dates = _dates(frame, f.name)
        year = dates.astype("datetime64[Y]").astype(np.int64).astype(np.float64) + 1970.0
        year[np.isnat(dates)] = np.nan
        stem = _date_stem(f)
        out[:, pos[f"{stem}_year"]] = year
        out[:, pos[f"{stem}_days_before_ref"]] = reference - _days(dates)


def _fill_encodings(
    keys: Mapping[str, np.ndarray],
    encodings: Mapping[str, TargetEncoding],
    positions: Mapping[str, int],
    out: np.ndarray,
    rows: np.ndarray | slice = slice(None),
) -> None:
    for col, col_keys in keys.items():
        means, counts = encodings[col].encode(col_keys[rows])
        out[rows, positions[f"{col}_te"]] = means
        out[rows, positions[f"{col}_n"]] = counts


def _finish(out: np.ndarray) -> np.ndarray:
    out[~np.isfinite(out)] = np.nan
    return out.astype(np.float32)


def _fill_geography(
    places: _Places,
    geography: Geography,
    table: FeatureTable,
    positions: Mapping[str, int],
    out: np.ndarray,
    rows: np.ndarray | slice = slice(None),
) -> None:
    assert table.geography is not None
    at = {suffix: positions.get(f"{table.geography.name}_{suffix}") for suffix in GEO_SUFFIXES}
    located = places.located
    lat, lon = located.lat[rows], located.lon[rows]
    out[rows, at["lat"]] = lat
    out[rows, at["lon"]] = lon
    for name, encoding, keys in (
        ("county", geography.county, located.county),
        ("prefix", geography.prefix, located.prefix),
    ):
        means, counts = encoding.encode(keys[rows])
        out[rows, at[f"{name}_te"]] = means
        out[rows, at[f"{name}_n"]] = counts
    if len(lat) <= LOOKUP_ROWS:  # a request: the table of every ZIP code's neighbourhood
        ppsf, reach = geography.neighbourhood.estimate_zips(places.numbers[rows])
    else:  # training folds: only the rows' own neighbourhoods (the same values)
        ppsf, reach = geography.neighbourhood.estimate(lat, lon)
    out[rows, at["nbhd_log_ppsf"]] = ppsf
    out[rows, at["nbhd_km"]] = reach
    sized = positions.get(f"{table.geography.name}_{GEO_SIZED}")
    if sized is not None:
        out[rows, sized] = ppsf + places.log_size[rows]


def build_features(
    frame: Listings,
    spec: FeatureSpec,
    inputs: tuple[schema.ListingInput, ...] = schema.MODEL_INPUTS,
) -> np.ndarray:
    """The model matrix of `frame` (float32, NaN for missing, columns in `spec.feature_names`).

    Uses the encodings fitted on all training rows: this is the matrix for serving and evaluation.
    Optional columns may be absent from `frame` (treated as missing). `frame` is a DataFrame or a
    mapping of column name to numpy array (`Columns`), which gives the same matrix without pandas.
    """
    table = spec.table(inputs)
    out = np.empty((n_rows(frame), len(spec.feature_names)), dtype=np.float64)
    _fill_plain(frame, spec, table, out)
    _fill_encodings(_category_keys(frame, table), spec.encodings, spec._positions, out)
    if table.geography is not None and spec.geography is not None:
        _fill_geography(_places(frame, table), spec.geography, table, spec._positions, out)
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
    train: pd.DataFrame,
    spec: FeatureSpec,
    seed: int,
    folds: int = OOF_FOLDS,
    inputs: tuple[schema.ListingInput, ...] = schema.MODEL_INPUTS,
) -> np.ndarray:
    """The training matrix, target encodings out of fold (see the module docstring for why).

    Each fold's encodings are fitted on the other folds, with the same smoothing, and fall back to
    those folds' mean log price. With fewer rows than folds, the in-sample encodings are used.
    """
    table = spec.table(inputs)
    out = np.empty((len(train), len(spec.feature_names)), dtype=np.float64)
    _fill_plain(train, spec, table, out)
    keys = _category_keys(train, table)
    places = _places(train, table) if table.geography is not None else None
    if len(train) < folds:
        _fill_encodings(keys, spec.encodings, spec._positions, out)
        if places is not None and spec.geography is not None:
            _fill_geography(places, spec.geography, table, spec._positions, out)
        return _finish(out)
    log_price = _log_price(train)
    fold = assign_folds(train, folds, seed)
    for k in range(folds):
        held, fit = fold == k, fold != k
        if not held.any():
            continue
        global_mean = float(log_price[fit].mean())
        for col, col_keys in keys.items():
            enc = fit_encoding(col, col_keys[fit], log_price[fit], spec.smoothing, global_mean)
            means, counts = enc.encode(col_keys[held])
            out[held, spec._positions[f"{col}_te"]] = means
            out[held, spec._positions[f"{col}_n"]] = counts
        if places is not None:
            geography = _fit_geography(places, log_price, spec.smoothing, global_mean, fit)
            _fill_geography(places, geography, table, spec._positions, out, held)
    return _finish(out)


def unknown_categories(
    frame: Listings,
    spec: FeatureSpec,
    inputs: tuple[schema.ListingInput, ...] = schema.MODEL_INPUTS,
) -> dict[str, np.ndarray]:
    """Per encoded field, which rows fell back to the global mean (missing or unseen value)."""
    keys = _category_keys(frame, spec.table(inputs))
    return {col: spec.encodings[col].positions(col_keys) < 0 for col, col_keys in keys.items()}
