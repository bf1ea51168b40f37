"""Serving builds features from plain column arrays: the same matrix as from a DataFrame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasador.serving.api_models import ListingIn
from tasador.serving.columnar import listing_columns
from tasador.serving.responses import fallback_fields, priced
from tasador.training.features import build_features, fit_features, unknown_categories
from tasador.training.synthetic import make_listings


def columns_of(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name in ("bed", "bath", "acre_lot", "house_size"):
        out[name] = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
    for name in ("state", "status", "city", "zip_code"):
        out[name] = frame[name].to_numpy(dtype=object, na_value=None)
    out["prev_sold_date"] = np.array(
        [None if pd.isna(d) else d.date().isoformat() for d in frame["prev_sold_date"]],
        dtype=object,
    )
    return out


def test_columns_give_the_same_matrix_as_the_frame() -> None:
    frame = make_listings(300, seed=5)
    spec = fit_features(frame)
    columns = columns_of(frame)
    np.testing.assert_array_equal(build_features(columns, spec), build_features(frame, spec))
    for one in (slice(0, 1), slice(7, 8)):
        np.testing.assert_array_equal(
            build_features({k: v[one] for k, v in columns.items()}, spec),
            build_features(frame.iloc[one], spec),
        )
    for col, flags in unknown_categories(columns, spec).items():
        np.testing.assert_array_equal(flags, unknown_categories(frame, spec)[col])


def test_absent_optional_columns_and_datetime_arrays() -> None:
    frame = make_listings(50, seed=6)
    spec = fit_features(frame)
    columns = columns_of(frame)
    dates = frame["prev_sold_date"].to_numpy(dtype="datetime64[s]")
    with_dates = {**columns, "prev_sold_date": dates}
    np.testing.assert_array_equal(build_features(with_dates, spec), build_features(frame, spec))
    without = {k: v for k, v in columns.items() if k not in ("city", "zip_code", "prev_sold_date")}
    expected = build_features(frame.drop(columns=["city", "zip_code", "prev_sold_date"]), spec)
    np.testing.assert_array_equal(build_features(without, spec), expected)


def test_listing_columns_and_fallbacks() -> None:
    frame = make_listings(200, seed=8)
    spec = fit_features(frame)
    known = frame.dropna(subset=["city", "zip_code"]).iloc[0]
    base = {
        "bed": 3, "bath": 2, "acre_lot": 0.5, "house_size": 1500, "status": "sold",
        "state": known["state"], "city": known["city"], "zip_code": known["zip_code"],
        "prev_sold_date": "2010-03-04",
    }  # fmt: skip
    listings = [
        ListingIn.model_validate(base),
        ListingIn.model_validate({**base, "state": "Atlantis"}),
        ListingIn.model_validate({**base, "zip_code": None, "prev_sold_date": None}),
    ]
    columns = listing_columns(listings)
    assert columns["bed"].dtype == np.float64
    assert list(columns["state"]) == [known["state"], "Atlantis", known["state"]]
    np.testing.assert_array_equal(
        columns["prev_sold_date"],
        np.array(["2010-03-04", "2010-03-04", "NaT"], dtype="datetime64[D]"),
    )
    expected = build_features(pd.DataFrame([item.model_dump() for item in listings]), spec)
    x = build_features(columns, spec)
    np.testing.assert_array_equal(x, expected)
    # an unknown state also makes its "state|city" key unknown
    # the fields priced without: unseen categories, and optional fields that were missing
    assert fallback_fields(x, spec) == [[], ["state", "city"], ["zip_code", "prev_sold_date"]]
    flags = unknown_categories(columns, spec)
    assert [f[:2] for f in fallback_fields(x, spec)[:2]] == [
        [col for col in ("state", "city", "zip_code") if flags[col][i]] for i in range(2)
    ]
    missing = build_features(
        pd.DataFrame([{k: v for k, v in base.items() if k not in ("bed", "acre_lot")}]), spec
    )
    assert fallback_fields(missing, spec) == [["bed", "acre_lot"]]


def test_priced_gives_dollars_and_one_item_per_row_in_order() -> None:
    frame = make_listings(200, seed=9)
    spec = fit_features(frame)
    x = build_features(frame.head(3).assign(state=["Atlantis", None, frame["state"].iloc[2]]), spec)
    log_price = np.array([11.0, 12.5, 13.25])
    price, items = priced(x, log_price, spec)
    np.testing.assert_allclose(price, np.exp(log_price))
    assert [item["log_price"] for item in items] == [11.0, 12.5, 13.25]
    assert [item["price"] for item in items] == price.tolist()
    assert [item["fallbacks"] for item in items] == fallback_fields(x, spec)
    assert items[0]["fallbacks"][:2] == ["state", "city"]
