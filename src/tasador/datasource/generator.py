"""A deterministic synthetic realtor dataset, calibrated to the published full-file statistics.

`generate_listings(rows, seed)` returns a frame in the exact layout of the Kaggle 2024 realtor file:
the 12 schema columns in order, numeric columns as float64, `zip_code` as a zero-padded 5-character
string, `prev_sold_date` as a `YYYY-MM-DD` string or missing. Everything is vectorised numpy so the
full file's size (2.2M rows) takes seconds.

How a row is made (calibration in `calibration.py`):
- state by its share of records, status by that state's own mix, city and ZIP from a fixed synthetic
  geography (a few hundred cities; ZIPs inside the state's real USPS prefix range);
- the missing-value pattern by status (missingness is joint: land listings miss bed, bath and size);
- house size, bedrooms, bathrooms and lot size from a Gaussian copula with published marginals;
- log price = state median + status shift + 0.9 x log-size deviation + city and ZIP effects + a
  left-skewed residual, land listings far lower, each state re-centred on its published median;
  ready_to_build prices in a narrow new-build band;
- about 6% of rows re-list another row's property (a for_sale + sold pair, mostly the same price);
- dirt at the published rates ($0/$1 prices, absurd sizes, 400-bed homes, zero lots, bad dates);
- file order like the real file: non-sold rows first, then sold rows, each as passes over ZIP order.

The geography is fixed (independent of `seed`) so city and ZIP codes are stable across datasets.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
import pandas as pd
from scipy.special import ndtr

from tasador.datasource import calibration as cal
from tasador.schema import COLUMN_NAMES

_GEOGRAPHY_SEED: Final[int] = 20_240_418
_FOR_SALE, _SOLD, _READY = 0, 1, 2
_REFERENCE_SIZE: Final[float] = 1_763.0  # median house size [S10K]
_EPOCH: Final[np.datetime64] = np.datetime64("1970-01-01", "D")

_CITY_PREFIXES: Final[tuple[str, ...]] = (
    "Oak",
    "Cedar",
    "Maple",
    "River",
    "Lake",
    "Spring",
    "Fair",
    "Green",
    "Pine",
    "Elm",
    "Clear",
    "Rock",
    "Sun",
    "Bay",
    "Mill",
    "Ash",
    "Willow",
    "Stone",
    "Red",
    "North",
    "West",
    "East",
    "South",
    "Silver",
    "Gold",
    "Iron",
    "Glen",
    "High",
    "Brook",
    "Hazel",
)
_CITY_SUFFIXES: Final[tuple[str, ...]] = (
    "ville",
    "ton",
    "field",
    "wood",
    "dale",
    " Falls",
    " Springs",
    "port",
    "burg",
    "view",
    " Heights",
    "brook",
    "ford",
    "haven",
    " City",
    "mont",
)


@dataclass(frozen=True)
class _Geography:
    """Cities and ZIP codes of every state, with their price effects.

    `city_key` holds, for the cities of state s (contiguous), s + cumulative weight, so
    `searchsorted(city_key, s + u)` draws a city of state s; `zip_key` does the same per city.
    """

    city_key: np.ndarray
    city_names: np.ndarray
    city_effect: np.ndarray
    zip_key: np.ndarray
    zip_number: np.ndarray
    zip_text: np.ndarray
    zip_effect: np.ndarray


@lru_cache(maxsize=1)
def _geography() -> _Geography:
    rng = np.random.default_rng(_GEOGRAPHY_SEED)
    names = np.array([p + s for p in _CITY_PREFIXES for s in _CITY_SUFFIXES], dtype=object)
    city_key, city_names, city_effect = [], [], []
    zip_key, zip_number, zip_effect = [], [], []
    city_count = 0
    for s, profile in enumerate(cal.STATE_PROFILES):
        n_cities = int(np.clip(round(np.sqrt(profile.records) * cal.CITIES_PER_SQRT_RECORD), 2, 25))
        weights = 1.0 / np.arange(1, n_cities + 1)  # Zipf: one big city, a long tail of towns
        cum = np.cumsum(weights) / weights.sum()
        cum[-1] = 1.0
        city_key.append(s + cum)
        city_names.append(rng.choice(names, size=n_cities, replace=False))
        city_effect.append(rng.normal(0.0, cal.PRICE_CITY_SD, n_cities))
        lo, hi = profile.zip3
        for rank in range(n_cities):
            n_zips = int(np.clip(round(cal.MAX_ZIPS_PER_CITY * weights[rank]), 1, None))
            zw = 1.0 / np.arange(1, n_zips + 1)
            zcum = np.cumsum(zw) / zw.sum()
            zcum[-1] = 1.0
            zip_key.append(city_count + rank + zcum)
            zip_number.append(rng.integers(lo, hi + 1, n_zips) * 100 + rng.integers(1, 100, n_zips))
            zip_effect.append(rng.normal(0.0, cal.PRICE_ZIP_SD, n_zips))
        city_count += n_cities
    numbers = np.concatenate(zip_number)
    return _Geography(
        city_key=np.concatenate(city_key),
        city_names=np.concatenate(city_names),
        city_effect=np.concatenate(city_effect),
        zip_key=np.concatenate(zip_key),
        zip_number=numbers,
        zip_text=np.array([f"{z:05d}" for z in numbers], dtype=object),
        zip_effect=np.concatenate(zip_effect),
    )


def _draw_keyed(key: np.ndarray, group: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index of a member of `group` drawn by its weight (see `_Geography`)."""
    return np.searchsorted(key, group + u, side="right")


def _from_quantiles(u: np.ndarray, quantiles: tuple[tuple[float, float], ...]) -> np.ndarray:
    """Map uniforms to values by log-linear interpolation of published quantiles."""
    probs = np.array([p for p, _ in quantiles])
    logs = np.log([v for _, v in quantiles])
    return np.exp(np.interp(u, probs, logs))


def _from_mix(u: np.ndarray, mix: tuple[tuple[int, float], ...]) -> np.ndarray:
    """Map uniforms to the values of a discrete mix, in order (keeps the copula's ranking)."""
    values = np.array([v for v, _ in mix], dtype=np.float64)
    cum = np.cumsum([w for _, w in mix])
    cum /= cum[-1]
    return values[np.minimum(np.searchsorted(cum, u, side="right"), len(values) - 1)]


def _correlated(rng: np.random.Generator, base: np.ndarray, rho: float) -> np.ndarray:
    return rho * base + np.sqrt(1.0 - rho**2) * rng.standard_normal(base.size)


def _missing_masks(rng: np.random.Generator, status: np.ndarray) -> np.ndarray:
    """Per-row missingness of `MISSING_PATTERN_COLUMNS`, drawn from the status's joint patterns."""
    masks = np.zeros((status.size, len(cal.MISSING_PATTERN_COLUMNS)), dtype=bool)
    u = rng.random(status.size)
    for code, name in enumerate(cal.STATUSES):
        rows = np.flatnonzero(status == code)
        table = cal.MISSING_PATTERNS[name]
        cum = np.cumsum([share for _, share in table])
        cum /= cum[-1]
        patterns = np.array([[c == "1" for c in pattern] for pattern, _ in table])
        pick = np.minimum(np.searchsorted(cum, u[rows], side="right"), len(table) - 1)
        masks[rows] = patterns[pick]
    return masks


def _pick_in_state(
    rng: np.random.Generator, state: np.ndarray, pool: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """For each target row, a random row of `pool` in the same state (-1 if the state has none)."""
    if pool.size == 0:
        return np.full(targets.size, -1)
    order = pool[np.argsort(state[pool], kind="stable")]
    n_states = len(cal.STATE_PROFILES)
    counts = np.bincount(state[order], minlength=n_states)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    target_state = state[targets]
    n = counts[target_state]
    offset = np.floor(rng.random(targets.size) * np.maximum(n, 1)).astype(np.int64)
    picked = order[np.minimum(starts[target_state] + offset, order.size - 1)]
    return np.where(n > 0, picked, -1)


def _relist_pairs(
    rng: np.random.Generator, state: np.ndarray, status: np.ndarray, land: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (source, copy): the copy row takes over the source's property, same state and kind.

    Most pairs join a for_sale source with a sold copy; the rest two for_sale rows. Pairs only
    join rows of the same kind (land or home) so a copy never turns a lot into a house.
    """
    n_pairs = round(status.size * cal.RELISTED_SHARE)
    for_sale = np.flatnonzero(status == _FOR_SALE)
    sold = np.flatnonzero(status == _SOLD)
    n_cross = min(round(n_pairs * cal.RELISTED_CROSS_STATUS), sold.size)
    n_same = min(n_pairs - n_cross, for_sale.size // 2)
    sources, copies = [], []
    for pool, wanted in ((sold, n_cross), (for_sale, n_same)):
        if wanted == 0:
            continue
        # Draw extra candidates: pairs across kinds and self-pairs are dropped.
        targets = rng.choice(pool, size=min(pool.size, round(wanted * 1.4) + 10), replace=False)
        src = _pick_in_state(rng, state, for_sale, targets)
        ok = (src >= 0) & (src != targets)
        ok[ok] &= land[src[ok]] == land[targets[ok]]
        sources.append(src[ok][:wanted])
        copies.append(targets[ok][:wanted])
    if not sources:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    src_all, copy_all = np.concatenate(sources), np.concatenate(copies)
    # A row is the copy of at most one source, and a copy is never itself a source.
    _, first = np.unique(copy_all, return_index=True)
    src_all, copy_all = src_all[first], copy_all[first]
    keep = ~np.isin(src_all, copy_all)
    return src_all[keep], copy_all[keep]


def _centre_on_state_median(
    log_price: np.ndarray, state: np.ndarray, eligible: np.ndarray
) -> np.ndarray:
    """Shift each state's log prices so their median is the published state median."""
    target = np.log([p.median_price for p in cal.STATE_PROFILES])
    frame = pd.DataFrame({"state": state[eligible], "lp": log_price[eligible]})
    medians = frame.groupby("state")["lp"].median()
    shift = np.zeros(len(cal.STATE_PROFILES))
    shift[medians.index.to_numpy()] = target[medians.index.to_numpy()] - medians.to_numpy()
    return log_price + shift[state]


def _log_uniform(rng: np.random.Generator, lo: float, hi: float, size: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size))


def _days(date: str) -> int:
    return int((np.datetime64(date, "D") - _EPOCH).astype(np.int64))


def _pick(rng: np.random.Generator, rows: np.ndarray, rate: float) -> np.ndarray:
    """Rows of `rows` hit by an event of the given per-row rate (binomial count, no repeats)."""
    k = min(int(rng.binomial(rows.size, rate)) if rows.size else 0, rows.size)
    return rng.choice(rows, size=k, replace=False) if k else rows[:0]


def _to_text(values: np.ndarray, missing: np.ndarray) -> pd.Series:
    out = values.astype(object, copy=True)
    out[missing] = None
    return pd.Series(out, dtype="str")


def generate_listings(rows: int, seed: int) -> pd.DataFrame:
    """A synthetic realtor file of `rows` rows, deterministic in (`rows`, `seed`).

    About 49% of rows are complete cases, as in the real file, so `rows` raw rows give about
    `rows * calibration.SERVED_FRACTION` rows served by the course API scheme; use
    `calibration.raw_rows_for_served` to size it (2.2M raw rows give the real API's ~1.08M).
    """
    if rows < 0:
        raise ValueError(f"rows must be >= 0, got {rows}")
    rng = np.random.default_rng(seed)
    geo = _geography()
    profiles = cal.STATE_PROFILES
    n = rows

    # Where and what.
    records = np.array([p.records for p in profiles], dtype=np.float64)
    state = rng.choice(len(profiles), size=n, p=records / records.sum())
    status_cum = np.cumsum([p.status_shares for p in profiles], axis=1)
    u = rng.random(n)
    status = (u >= status_cum[state, 0]).astype(np.int8) + (u >= status_cum[state, 1])
    city = _draw_keyed(geo.city_key, state, rng.random(n))
    zip_idx = _draw_keyed(geo.zip_key, city, rng.random(n))

    # Which fields this listing lacks (joint by status); land listings lack bed and size.
    masks = _missing_masks(rng, status)
    land = masks[:, 0] & masks[:, 2]

    # The home: size, rooms and lot from a Gaussian copula with the published marginals.
    z_size = rng.standard_normal(n)
    z_bed = _correlated(rng, z_size, cal.BED_SIZE_LATENT_CORR)
    z_bath = _correlated(rng, z_bed, cal.BATH_BED_LATENT_CORR)
    z_acre = _correlated(rng, z_size, cal.ACRE_SIZE_LATENT_CORR)
    house_size = np.round(_from_quantiles(ndtr(z_size), cal.HOUSE_SIZE_QUANTILES))
    bed = _from_mix(ndtr(z_bed), cal.BED_MIX)
    bath = _from_mix(ndtr(z_bath), cal.BATH_MIX)
    acre_lot = np.maximum(np.round(_from_quantiles(ndtr(z_acre), cal.ACRE_LOT_QUANTILES), 2), 0.01)
    street = rng.integers(1, max(cal.STREET_CODES, 2 * n), n).astype(np.float64)
    brokered_by = np.floor(cal.BROKER_CODES * rng.random(n) ** 2).astype(np.float64) + 1.0

    # Price.
    state_median = np.log([p.median_price for p in profiles])
    split = rng.standard_normal(n)
    below, above = cal.PRICE_RESIDUAL_SD
    residual = np.where(split < 0, split * below, split * above)
    shifts = np.array([cal.PRICE_STATUS_SHIFT["for_sale"], cal.PRICE_STATUS_SHIFT["sold"], 0.0])
    size_term = cal.PRICE_SIZE_ELASTICITY * (np.log(house_size) - np.log(_REFERENCE_SIZE))
    log_price = (
        state_median[state]
        + shifts[status]
        + np.where(land, cal.PRICE_LAND_SHIFT + rng.normal(0.0, cal.PRICE_LAND_SD, n), size_term)
        + np.where(
            rng.random(n) < cal.PRICE_LUXURY_SHARE, rng.normal(*cal.PRICE_LUXURY_SHIFT, n), 0
        )
        + geo.city_effect[city]
        + geo.zip_effect[zip_idx]
        + residual
    )

    # Re-listed properties: the copy takes the source's property and, mostly, its price.
    src, dst = _relist_pairs(rng, state, status, land)
    for column in (city, zip_idx, house_size, bed, bath, acre_lot, street):
        column[dst] = column[src]
    new_price = rng.random(dst.size) >= cal.RELISTED_SAME_PRICE
    log_price[dst] = log_price[src] + np.where(new_price, rng.normal(0.03, 0.08, dst.size), 0.0)

    ready = status == _READY
    log_price = _centre_on_state_median(log_price, state, ~ready)
    rtb_log = (
        np.log(cal.READY_TO_BUILD_MEDIAN)
        + cal.READY_TO_BUILD_STATE_ELASTICITY * (state_median[state] - np.log(325_000))
        + rng.normal(0.0, cal.READY_TO_BUILD_LOG_SD, n)
    )
    lo, hi = cal.READY_TO_BUILD_RANGE
    log_price = np.where(ready, np.clip(rtb_log, np.log(lo), np.log(hi)), log_price)
    price = np.exp(log_price)
    price = np.where(price >= 1_000, np.round(price, -2), np.round(price))

    # Previous sale date: the recent sale for sold rows, an older one for the rest.
    first, last = (_days(d) for d in cal.SOLD_DATE_WINDOW)
    recent = rng.integers(first, last + 1, n)
    years_back = np.exp(rng.normal(np.log(cal.OLDER_SALE_MEDIAN_YEARS), cal.OLDER_SALE_LOG_SD, n))
    older = _days(cal.OLDER_SALE_REFERENCE) - np.round(years_back * 365.25).astype(np.int64)
    older = np.maximum(older, _days(cal.OLDER_SALE_EARLIEST))
    sale_day = np.where(status == _SOLD, recent, older)

    # Dirt at the published rates.
    everyone = np.arange(n)
    price[_pick(rng, everyone, cal.DIRT_RATES["price_zero"])] = 0.0
    cheap = _pick(rng, everyone, cal.DIRT_RATES["price_under_1k"])
    price[cheap] = np.where(rng.random(cheap.size) < 0.4, 1.0, rng.integers(2, 1_000, cheap.size))
    price[_pick(rng, everyone, cal.DIRT_RATES["price_int32_overflow"])] = 2_147_483_600.0
    huge = _pick(rng, everyone, cal.DIRT_RATES["house_size_over_50k"])
    house_size[huge] = np.round(_log_uniform(rng, 50_001, 1_040_400_400, huge.size))
    tiny = _pick(rng, everyone, cal.DIRT_RATES["house_size_under_100"])
    house_size[tiny] = rng.integers(4, 100, tiny.size)
    many_beds = _pick(rng, everyone, cal.DIRT_RATES["bed_over_20"])
    bed[many_beds] = np.round(_log_uniform(rng, 21, 473, many_beds.size))
    many_baths = _pick(rng, everyone, cal.DIRT_RATES["bath_over_20"])
    bath[many_baths] = np.round(_log_uniform(rng, 21, 830, many_baths.size))
    acre_lot[_pick(rng, everyone, cal.DIRT_RATES["acre_lot_zero"])] = 0.0
    # Sold rows always hold a date in the window [FULL]: out-of-range dates hit the others only.
    not_sold = np.flatnonzero(status != _SOLD)
    bad_dates = _pick(rng, not_sold, cal.DIRT_RATES["prev_sold_date_out_of_range"])
    sale_day[bad_dates] = _days("1900-01-01") + rng.integers(0, 365 * 40, bad_dates.size)

    # Missing values: joint by status, then a few independent gaps, then price by status.
    bed[masks[:, 0]] = np.nan
    bath[masks[:, 1]] = np.nan
    house_size[masks[:, 2]] = np.nan
    acre_lot[masks[:, 3]] = np.nan
    no_date = masks[:, 4]
    brokered_by[rng.random(n) < cal.MISSING_RATES["brokered_by"]] = np.nan
    street[rng.random(n) < cal.MISSING_RATES["street"]] = np.nan
    no_city = rng.random(n) < cal.MISSING_RATES["city"]
    no_zip = rng.random(n) < cal.MISSING_RATES["zip_code"]
    price_missing = np.array([cal.PRICE_MISSING_BY_STATUS[s] for s in cal.STATUSES])
    price[rng.random(n) < price_missing[status]] = np.nan

    # File order: non-sold rows, then sold rows; each as passes over the ZIP range.
    scrape_pass = rng.choice(len(cal.SCRAPE_PASSES), size=n, p=cal.SCRAPE_PASSES)
    order = np.lexsort((rng.random(n), geo.zip_number[zip_idx], scrape_pass, status == _SOLD))

    days = sale_day[order]
    unique_days, inverse = np.unique(days, return_inverse=True)
    day_text = np.datetime_as_string(unique_days.astype("datetime64[D]"), unit="D").astype(object)
    frame = pd.DataFrame(
        {
            "brokered_by": brokered_by[order],
            "status": _to_text(
                np.array(cal.STATUSES, dtype=object)[status[order]], np.zeros(n, bool)
            ),
            "price": price[order],
            "bed": bed[order],
            "bath": bath[order],
            "acre_lot": acre_lot[order],
            "street": street[order],
            "city": _to_text(geo.city_names[city[order]], no_city[order]),
            "state": _to_text(
                np.array([p.name for p in profiles], dtype=object)[state[order]], np.zeros(n, bool)
            ),
            "zip_code": _to_text(geo.zip_text[zip_idx[order]], no_zip[order]),
            "house_size": house_size[order],
            "prev_sold_date": _to_text(day_text[inverse.reshape(-1)], no_date[order]),
        },
        columns=list(COLUMN_NAMES),
    )
    return frame
