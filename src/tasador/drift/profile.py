"""A compact, JSON-safe profile of a training frame: the drift reference without the raw rows."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

PROFILE_VERSION = 1
MAX_SAMPLE = 20_000


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """A sorted sample of a numeric column's finite values, with its non-missing and missing counts.

    The sample holds every finite value when there are at most `max_sample` of them, else a
    deterministic random subset; KS and PSI against the profile use the sample.
    """

    sample: np.ndarray  # sorted ascending, float64, read-only
    count: int  # finite values in the frame
    missing: int  # missing or non-finite values in the frame

    @property
    def missing_share(self) -> float:
        """Share of the frame's rows where the value is missing."""
        total = self.count + self.missing
        return self.missing / total if total else 0.0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NumericProfile):
            return NotImplemented
        return (
            self.count == other.count
            and self.missing == other.missing
            and np.array_equal(self.sample, other.sample)
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class CategoricalProfile:
    """Every category's count in the frame (as strings), and how many rows miss the value."""

    counts: Mapping[str, int]
    missing: int

    @property
    def missing_share(self) -> float:
        """Share of the frame's rows where the value is missing."""
        total = sum(self.counts.values()) + self.missing
        return self.missing / total if total else 0.0


@dataclass(frozen=True)
class DataProfile:
    """Per-feature summaries of a frame of `rows` rows, enough to serve as a drift reference."""

    rows: int
    numeric: Mapping[str, NumericProfile] = field(default_factory=dict)
    categorical: Mapping[str, CategoricalProfile] = field(default_factory=dict)

    @property
    def features(self) -> tuple[str, ...]:
        """Numeric features first, then categorical ones, in profiling order."""
        return (*self.numeric, *self.categorical)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (finite floats, ints, strings); `from_dict` restores it exactly."""
        return {
            "version": PROFILE_VERSION,
            "rows": self.rows,
            "numeric": {
                name: {"count": p.count, "missing": p.missing, "sample": p.sample.tolist()}
                for name, p in self.numeric.items()
            },
            "categorical": {
                name: {"missing": p.missing, "counts": dict(p.counts)}
                for name, p in self.categorical.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataProfile:
        """Inverse of `to_dict`."""
        if data.get("version") != PROFILE_VERSION:
            raise ValueError(f"unsupported profile version {data.get('version')!r}")
        numeric = {
            name: NumericProfile(
                sample=_frozen(np.asarray(p["sample"], dtype=np.float64)),
                count=int(p["count"]),
                missing=int(p["missing"]),
            )
            for name, p in data["numeric"].items()
        }
        categorical = {
            name: CategoricalProfile(
                counts={str(k): int(v) for k, v in p["counts"].items()}, missing=int(p["missing"])
            )
            for name, p in data["categorical"].items()
        }
        return cls(rows=int(data["rows"]), numeric=numeric, categorical=categorical)


def profile_frame(
    frame: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    max_sample: int = MAX_SAMPLE,
    seed: int = 0,
) -> DataProfile:
    """Profile `frame`'s numeric and categorical columns for use as a drift reference.

    Non-finite numeric values count as missing. The numeric sample is drawn with a generator seeded
    by `seed` and the column name, so the same frame always gives the same profile.
    """
    if max_sample < 1:
        raise ValueError("max_sample must be at least 1")
    absent = [c for c in (*numeric, *categorical) if c not in frame.columns]
    if absent:
        raise KeyError(f"columns not in the frame: {absent}")
    numeric_profiles = {
        name: profile_numeric(
            numeric_values(frame[name]), max_sample=max_sample, seed=seed, name=name
        )
        for name in numeric
    }
    categorical_profiles = {name: profile_categorical(frame[name]) for name in categorical}
    return DataProfile(rows=len(frame), numeric=numeric_profiles, categorical=categorical_profiles)


def numeric_values(column: pd.Series) -> np.ndarray:
    """A column as float64 with missing values as NaN (works for nullable and object dtypes)."""
    return np.asarray(pd.to_numeric(column, errors="coerce").to_numpy(np.float64, na_value=np.nan))


def profile_numeric(
    values: np.ndarray, *, max_sample: int = MAX_SAMPLE, seed: int = 0, name: str = ""
) -> NumericProfile:
    """Sorted (sampled) finite values of one numeric column, with its counts."""
    finite = values[np.isfinite(values)]
    if finite.size > max_sample:
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        finite = finite[rng.choice(finite.size, size=max_sample, replace=False)]
    else:
        finite = finite.copy()
    finite.sort()
    count = int(np.isfinite(values).sum())
    return NumericProfile(sample=_frozen(finite), count=count, missing=int(values.size - count))


def category_counts(column: pd.Series) -> dict[str, int]:
    """Category (as a string) → count, missing values left out, zero counts dropped."""
    counts: dict[str, int] = {}
    for key, n in column.value_counts(dropna=True, sort=False).items():
        if n > 0:
            counts[str(key)] = counts.get(str(key), 0) + int(n)
    return counts


def profile_categorical(column: pd.Series) -> CategoricalProfile:
    """Category counts of one categorical column."""
    counts = category_counts(column)
    return CategoricalProfile(
        counts=dict(sorted(counts.items())), missing=int(len(column) - sum(counts.values()))
    )


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array
