"""The synthetic realtor generator: layout, determinism, and marginals against published figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from tasador.datasource.calibration import SOLD_DATE_WINDOW, STATE_PROFILES, raw_rows_for_served
from tasador.datasource.generator import generate_listings
from tasador.schema import COLUMN_NAMES, PROPERTY_KEY, STATES

REALTOR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "realtor"
ROWS = 200_000

# Published full-file figures (STATS.md [FULL]).
STATUS_SHARES = {"for_sale": 0.624, "sold": 0.365, "ready_to_build": 0.011}
MEDIAN_PRICE = 325_000
MISSING = {
    "bed": 0.2162,
    "bath": 0.2299,
    "acre_lot": 0.1462,
    "house_size": 0.2553,
    "prev_sold_date": 0.3298,
}


@pytest.fixture(scope="module")
def listings() -> pd.DataFrame:
    return generate_listings(ROWS, seed=11)


@pytest.fixture(scope="module")
def state_summary() -> pd.DataFrame:
    path = REALTOR / "full_dataset_state_summary.csv"
    if not path.is_file():
        pytest.skip(f"realtor samples not found at {REALTOR}")
    return pd.read_csv(path).set_index("state")


def test_layout_and_dtypes(listings: pd.DataFrame) -> None:
    assert list(listings.columns) == list(COLUMN_NAMES)
    assert len(listings) == ROWS
    for column in ("brokered_by", "price", "bed", "bath", "acre_lot", "street", "house_size"):
        assert listings[column].dtype == np.float64, column
    for column in ("status", "city", "state", "zip_code", "prev_sold_date"):
        assert pd.api.types.is_string_dtype(listings[column].dtype), column
    zips = listings["zip_code"].dropna()
    assert zips.str.fullmatch(r"\d{5}").all()
    assert zips.str.startswith("0").any()  # New England / Puerto Rico keep their leading zeros
    dates = listings["prev_sold_date"].dropna()
    assert dates.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert set(listings["state"]) <= set(STATES)
    assert set(listings["status"]) == set(STATUS_SHARES)


def test_same_seed_same_frame_other_seed_other_frame() -> None:
    first = generate_listings(5_000, seed=3)
    pd.testing.assert_frame_equal(first, generate_listings(5_000, seed=3))
    other = generate_listings(5_000, seed=4)
    assert not first.equals(other)
    assert (first["price"].to_numpy() != other["price"].to_numpy()).mean() > 0.5


def test_tiny_and_empty_frames() -> None:
    assert len(generate_listings(0, seed=1)) == 0
    assert list(generate_listings(0, seed=1).columns) == list(COLUMN_NAMES)
    assert len(generate_listings(7, seed=1)) == 7


def test_status_shares_and_overall_median(listings: pd.DataFrame) -> None:
    shares = listings["status"].value_counts(normalize=True)
    for status, published in STATUS_SHARES.items():
        assert shares[status] == pytest.approx(published, abs=0.02), status
    median = listings.loc[listings["price"] >= 1_000, "price"].median()
    assert median == pytest.approx(MEDIAN_PRICE, rel=0.10)
    log_sd = np.log(listings.loc[listings["price"] >= 1_000, "price"]).std()
    assert 0.9 < log_sd < 1.25


def test_state_shares_and_medians_follow_published(
    listings: pd.DataFrame, state_summary: pd.DataFrame
) -> None:
    published_share = state_summary["records"] / state_summary["records"].sum()
    shares = listings["state"].value_counts(normalize=True)
    for state in published_share.sort_values(ascending=False).index[:10]:
        assert shares[state] == pytest.approx(published_share[state], abs=0.015), state
    medians = listings.loc[listings["price"] >= 1_000].groupby("state")["price"].median()
    rho = spearmanr(medians, state_summary.loc[medians.index, "median_price"]).statistic
    assert rho > 0.9


def test_status_mix_depends_on_state(listings: pd.DataFrame) -> None:
    sold_share = (listings["status"] == "sold").groupby(listings["state"]).mean()
    assert sold_share["Alaska"] == 0.0  # no sold rows published for Alaska
    assert sold_share["Massachusetts"] > 0.6  # 73% sold published
    assert sold_share["Connecticut"] < 0.03


def test_missingness_by_status_and_complete_cases(listings: pd.DataFrame) -> None:
    missing = listings.isna().mean()
    for column, published in MISSING.items():
        assert missing[column] == pytest.approx(published, abs=0.03), column
    complete = listings.notna().all(axis=1).mean()
    assert 0.45 <= complete <= 0.53
    ready = listings[listings["status"] == "ready_to_build"]
    assert ready[["bath", "acre_lot", "prev_sold_date"]].isna().all().all()
    sold = listings[listings["status"] == "sold"]
    assert sold["prev_sold_date"].notna().all()


def test_sold_dates_in_published_window(listings: pd.DataFrame) -> None:
    sold = listings.loc[listings["status"] == "sold", "prev_sold_date"]
    first, last = SOLD_DATE_WINDOW
    assert sold.min() >= first
    assert sold.max() <= last
    older = listings.loc[listings["status"] == "for_sale", "prev_sold_date"].dropna()
    assert (older < first).mean() > 0.9


def test_homes_are_coherent(listings: pd.DataFrame) -> None:
    homes = listings.dropna()
    homes = homes[
        (homes["bed"] <= 20) & (homes["bath"] <= 20) & homes["house_size"].between(100, 50_000)
    ]
    homes = homes[homes["price"] >= 1_000]
    assert homes["bed"].mode()[0] == 3
    assert homes["bath"].mode()[0] == 2
    assert (homes["bath"] == homes["bath"].round()).all()
    assert 0.6 < np.corrcoef(homes["bed"], homes["bath"])[0, 1] < 0.85
    slope = np.polyfit(np.log(homes["house_size"]), np.log(homes["price"]), 1)[0]
    assert 0.75 < slope < 1.05
    assert listings["acre_lot"].median() == pytest.approx(0.26, abs=0.03)
    assert listings.groupby("state")["city"].nunique().min() >= 2
    assert 200 <= listings["city"].nunique() <= 1_000


def test_dirt_at_published_rates(listings: pd.DataFrame) -> None:
    n = len(listings)

    def expected(full_count: int) -> float:
        return full_count / 2_226_382 * n

    price = listings["price"]
    assert expected(1_226) / 3 <= (price < 1_000).sum() <= expected(1_226) * 3
    assert (price == 1).sum() > 0
    assert 0.0005 <= (price > 10_000_000).mean() <= 0.005
    assert 1 <= (listings["house_size"] > 50_000).sum() <= expected(156) * 4
    assert (listings["house_size"] < 100).sum() >= 1
    assert expected(725) / 3 <= (listings["bed"] > 20).sum() <= expected(725) * 3
    assert expected(401) / 3 <= (listings["bath"] > 20).sum() <= expected(401) * 3
    assert expected(2_226) / 3 <= (listings["acre_lot"] == 0).sum() <= expected(2_226) * 3
    assert not listings.duplicated().any()


def test_relisted_properties(listings: pd.DataFrame) -> None:
    key = list(PROPERTY_KEY)
    homes = listings.dropna(subset=key)
    repeated = homes[homes.duplicated(key, keep=False)]
    extra_share = homes.duplicated(key).mean()
    assert 0.03 < extra_share < 0.09
    pairs = repeated.groupby(key)["status"].agg(lambda s: frozenset(s))
    assert (pairs == frozenset({"for_sale", "sold"})).mean() > 0.8
    same_price = repeated.groupby(key)["price"].nunique().eq(1).mean()
    assert same_price > 0.8


def test_state_profiles_cover_schema_states() -> None:
    assert {p.name for p in STATE_PROFILES} == set(STATES)
    assert raw_rows_for_served(1_084_909) == 2_226_382
