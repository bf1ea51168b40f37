"""Where a ZIP code is: its coordinates, county and 3-digit prefix, and the price level around it.

Most ZIP codes of new listings were never seen in training, so their target encoding falls back to
the national mean. Geography gives such a listing what is known nearby instead: the ZIP's
coordinates and county come from the `zipcodes` package (about 42,800 US ZIP codes, offline, its
version pinned in the lock, so training and serving read the same table), and the neighbourhood
price is the smoothed mean log price per square foot of the nearest training listings.

The neighbourhood is fitted per ZIP (each training ZIP's centroid, listing count and sum of log
price per square foot), so the spec stays small: a query takes the nearest training ZIPs until
`listings` rows are gathered, and smooths their mean towards the national one by `smoothing` rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Final

import numpy as np
import pandas as pd

EARTH_KM: Final[float] = 6_371.0
NEIGHBOUR_ZIPS: Final[int] = 24  # ZIP centroids read per query (enough for `listings` rows)
DEFAULT_LISTINGS: Final[int] = 30
DEFAULT_SMOOTHING: Final[float] = 10.0


@dataclass(frozen=True)
class ZipPlaces:
    """Latitude, longitude and "ST|County" per 5-digit ZIP code, indexed by the code's number."""

    lat: np.ndarray  # float64[100_000], NaN for unknown codes
    lon: np.ndarray
    county: np.ndarray  # object[100_000], None for unknown codes
    source: str  # the package and version the table comes from


@lru_cache(maxsize=1)
def zip_places() -> ZipPlaces:
    """The table of every ZIP code the `zipcodes` package knows (read once per process)."""
    from importlib.metadata import version

    import zipcodes

    lat = np.full(100_000, np.nan)
    lon = np.full(100_000, np.nan)
    county = np.full(100_000, None, dtype=object)
    for place in zipcodes.list_all():
        code = str(place.get("zip_code", ""))
        if len(code) != 5 or not code.isdigit():
            continue
        try:
            i = int(code)
            lat[i], lon[i] = float(place["lat"]), float(place["long"])
        except (KeyError, TypeError, ValueError):
            continue
        if place.get("county") and place.get("state"):
            county[i] = f"{place['state']}|{place['county']}"
    return ZipPlaces(lat, lon, county, f"zipcodes {version('zipcodes')}")


def zip_numbers(zips: np.ndarray) -> np.ndarray:
    """Each ZIP code's number (0..99999), -1 where it is missing or not five digits."""
    return np.fromiter(
        (int(z) if isinstance(z, str) and len(z) == 5 and z.isdigit() else -1 for z in zips),
        dtype=np.int64,
        count=len(zips),
    )


@dataclass(frozen=True)
class Located:
    """Where each listing's ZIP code is (NaN / None where it is unknown)."""

    lat: np.ndarray
    lon: np.ndarray
    county: np.ndarray  # object: "ST|County"
    prefix: np.ndarray  # object: the 3-digit ZIP prefix


def locate(zips: np.ndarray) -> Located:
    """Coordinates, county and prefix of ZIP codes (strings, None for missing)."""
    numbers = zip_numbers(zips)
    known = numbers >= 0
    places = zip_places()
    lat = np.full(len(zips), np.nan)
    lon = np.full(len(zips), np.nan)
    county = np.full(len(zips), None, dtype=object)
    prefix = np.full(len(zips), None, dtype=object)
    if known.any():
        at = numbers[known]
        lat[known], lon[known], county[known] = places.lat[at], places.lon[at], places.county[at]
        prefix[known] = [f"{n // 100:03d}" for n in at.tolist()]
    return Located(lat, lon, county, prefix)


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Points on the unit sphere (chord distance grows with great-circle distance)."""
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


@dataclass(frozen=True)
class Neighbourhood:
    """Per training ZIP: centroid, listings and summed log price per square foot."""

    lat: tuple[float, ...]
    lon: tuple[float, ...]
    counts: tuple[int, ...]
    sums: tuple[float, ...]
    fallback: float  # the national mean log price per square foot
    listings: int = DEFAULT_LISTINGS
    smoothing: float = DEFAULT_SMOOTHING

    @cached_property
    def _tree(self) -> Any:
        from scipy.spatial import cKDTree

        return cKDTree(_unit_vectors(np.asarray(self.lat), np.asarray(self.lon)))

    @cached_property
    def _counts(self) -> np.ndarray:
        return np.asarray(self.counts, dtype=np.float64)

    @cached_property
    def _sums(self) -> np.ndarray:
        return np.asarray(self.sums, dtype=np.float64)

    @cached_property
    def by_zip(self) -> tuple[np.ndarray, np.ndarray]:
        """`estimate` at every known ZIP code's coordinates, indexed by the code's number (one
        query of ~42,800 points, made once: a request then costs one lookup per row)."""
        places = zip_places()
        value = np.full(100_000, self.fallback)
        reach = np.full(100_000, np.nan)
        known = np.flatnonzero(np.isfinite(places.lat))
        value[known], reach[known] = self.estimate(places.lat[known], places.lon[known])
        return value, reach

    def estimate_zips(self, numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`estimate` at each ZIP code's coordinates (numbers from `zip_numbers`; -1: none)."""
        value, reach = self.by_zip
        found = numbers >= 0
        at = np.where(found, numbers, 0)
        return np.where(found, value[at], self.fallback), np.where(found, reach[at], np.nan)

    def estimate(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(smoothed mean log price per square foot nearby, distance in km to the farthest ZIP
        read); (fallback, NaN) where the coordinates are unknown or nothing was fitted."""
        value = np.full(len(lat), self.fallback)
        reach = np.full(len(lat), np.nan)
        known = np.isfinite(lat) & np.isfinite(lon)
        if not known.any() or not self.counts:
            return value, reach
        k = min(NEIGHBOUR_ZIPS, len(self.counts))
        chord, idx = self._tree.query(_unit_vectors(lat[known], lon[known]), k=k)
        chord, idx = chord.reshape(-1, k), idx.reshape(-1, k)
        counts, sums = self._counts[idx], self._sums[idx]
        before = np.cumsum(counts, axis=1) - counts  # listings gathered before each ZIP
        used = before < self.listings  # the nearest ZIPs, until `listings` rows are gathered
        n = (counts * used).sum(axis=1)
        total = (sums * used).sum(axis=1)
        value[known] = (total + self.smoothing * self.fallback) / (n + self.smoothing)
        last = np.where(used, chord, 0.0).max(axis=1)
        reach[known] = 2 * EARTH_KM * np.arcsin(np.clip(last / 2, 0, 1))
        return value, reach

    def to_dict(self) -> dict[str, Any]:
        return {
            "lat": list(self.lat),
            "lon": list(self.lon),
            "counts": list(self.counts),
            "sums": list(self.sums),
            "fallback": self.fallback,
            "listings": self.listings,
            "smoothing": self.smoothing,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Neighbourhood:
        return cls(
            lat=tuple(float(v) for v in data["lat"]),
            lon=tuple(float(v) for v in data["lon"]),
            counts=tuple(int(v) for v in data["counts"]),
            sums=tuple(float(v) for v in data["sums"]),
            fallback=float(data["fallback"]),
            listings=int(data["listings"]),
            smoothing=float(data["smoothing"]),
        )


def fit_neighbourhood(
    lat: np.ndarray, lon: np.ndarray, zips: np.ndarray, log_ppsf: np.ndarray
) -> Neighbourhood:
    """Per-ZIP sums of log price per square foot over rows with coordinates and a size."""
    ok = np.isfinite(lat) & np.isfinite(lon) & np.isfinite(log_ppsf) & (zips >= 0)
    fallback = float(np.nanmean(log_ppsf)) if np.isfinite(log_ppsf).any() else 0.0
    if not ok.any():
        return Neighbourhood((), (), (), (), fallback)
    grouped = (
        pd.DataFrame({"zip": zips[ok], "lat": lat[ok], "lon": lon[ok], "y": log_ppsf[ok]})
        .groupby("zip", sort=True)
        .agg(lat=("lat", "first"), lon=("lon", "first"), n=("y", "size"), s=("y", "sum"))
    )
    return Neighbourhood(
        lat=tuple(float(v) for v in grouped["lat"]),
        lon=tuple(float(v) for v in grouped["lon"]),
        counts=tuple(int(v) for v in grouped["n"]),
        sums=tuple(float(v) for v in grouped["s"]),
        fallback=float(log_ppsf[ok].mean()),
    )
