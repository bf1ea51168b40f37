"""Small synthetic clean listings with a known price relation, for tests and benchmarks.

Not the data API's dataset generator: just enough structure (location effects, size, rooms, lot,
status, sale date, missing values) to check that features and models learn what they should.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasador import schema


def make_listings(
    n: int,
    *,
    seed: int = 0,
    n_states: int = 6,
    cities_per_state: int = 4,
    zips_per_city: int = 3,
    noise: float = 0.15,
    batch_id: int = 1,
) -> pd.DataFrame:
    """`n` clean listings (schema dtypes plus lineage columns) whose log price is

    `11 + state + city + zip effects + 0.9*log(house_size/1500) + 0.04*bath + 0.05*log1p(acre_lot)
    - 0.1*[ready_to_build] + N(0, noise)`.
    """
    rng = np.random.default_rng(seed)
    states = np.array(schema.STATES[:n_states], dtype=object)
    state_fx = np.linspace(-0.6, 0.6, n_states)
    n_cities = n_states * cities_per_state
    city_fx = rng.normal(0, 0.3, n_cities)
    zip_fx = rng.normal(0, 0.15, n_cities * zips_per_city)

    zip_i = rng.integers(0, n_cities * zips_per_city, n)
    city_i = zip_i // zips_per_city
    state_i = city_i // cities_per_state

    bed = rng.integers(1, 6, n).astype(np.float64)
    bath = np.clip(bed - rng.integers(0, 2, n), 1, None).astype(np.float64)
    house_size = np.round(np.exp(rng.normal(np.log(600 + 450 * bed), 0.25)))
    acre_lot = np.round(np.exp(rng.normal(-1.5, 1.0, n)), 3) + 0.01
    status = rng.choice(np.array(schema.STATUSES, dtype=object), n, p=[0.6, 0.3, 0.1])

    log_price = (
        11.0
        + state_fx[state_i]
        + city_fx[city_i]
        + zip_fx[zip_i]
        + 0.9 * np.log(house_size / 1500)
        + 0.04 * bath
        + 0.05 * np.log1p(acre_lot)
        - 0.1 * (status == "ready_to_build")
        + rng.normal(0, noise, n)
    )
    price = np.round(np.clip(np.exp(log_price), 10_000, 100_000_000))

    sold_days = rng.integers(0, 30 * 365, n)
    prev_sold = pd.Series(
        np.datetime64("1995-01-01", "s") + sold_days.astype("timedelta64[D]"),
        dtype="datetime64[s]",
    )
    prev_sold = prev_sold.mask(rng.random(n) < 0.3)

    def with_missing(values: np.ndarray, share: float) -> pd.Series:
        out = pd.Series(values, dtype="string")
        out[rng.random(n) < share] = pd.NA
        return out

    frame = pd.DataFrame(
        {
            "brokered_by": pd.array(rng.integers(1, 500, n), dtype="Int64"),
            "status": pd.array(status, dtype="string"),
            "price": price.astype(np.float64),
            "bed": np.where(rng.random(n) < 0.05, np.nan, bed),
            "bath": np.where(rng.random(n) < 0.05, np.nan, bath),
            "acre_lot": np.where(rng.random(n) < 0.1, np.nan, acre_lot),
            "street": pd.array(rng.integers(1, 2_000_000, n), dtype="Int64"),
            "city": with_missing(np.array([f"City{i}" for i in city_i], dtype=object), 0.02),
            "state": pd.array(states[state_i], dtype="string"),
            "zip_code": with_missing(np.array([f"{10000 + i:05d}" for i in zip_i]), 0.02),
            "house_size": house_size,
            "prev_sold_date": prev_sold,
        }
    )
    frame["row_number"] = np.arange(n, dtype=np.int64)
    frame["property_key"] = rng.integers(0, 2**62, n, dtype=np.int64)
    frame["listing_key"] = rng.integers(0, 2**62, n, dtype=np.int64)
    frame["is_holdout"] = rng.random(n) < 0.2
    frame["batch_id"] = np.int64(batch_id)
    return frame
