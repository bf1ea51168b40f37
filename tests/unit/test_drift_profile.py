"""DataProfile: what it keeps of a frame, deterministic sampling, exact JSON round-trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tasador.drift.profile import DataProfile, profile_frame


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "price": pd.array([300_000.0, 120_000.5, None, 250_000.0, 99_999.25], dtype="Float64"),
            "bed": [3.0, np.nan, 2.0, np.inf, 1.0],
            "state": pd.array(["Texas", "Ohio", "Texas", None, "Utah"], dtype="string"),
            "status": pd.array(["sold", "sold", "for_sale", "sold", "sold"], dtype="string"),
        }
    )


def test_profile_keeps_sorted_finite_values_and_counts() -> None:
    profile = profile_frame(_frame(), ["price", "bed"], ["state", "status"])
    assert profile.rows == 5
    assert profile.features == ("price", "bed", "state", "status")
    price = profile.numeric["price"]
    np.testing.assert_array_equal(price.sample, [99_999.25, 120_000.5, 250_000.0, 300_000.0])
    assert (price.count, price.missing, price.missing_share) == (4, 1, 0.2)
    bed = profile.numeric["bed"]  # inf counts as missing
    np.testing.assert_array_equal(bed.sample, [1.0, 2.0, 3.0])
    assert (bed.count, bed.missing) == (3, 2)
    state = profile.categorical["state"]
    assert dict(state.counts) == {"Ohio": 1, "Texas": 2, "Utah": 1}
    assert (state.missing, state.missing_share) == (1, 0.2)
    assert dict(profile.categorical["status"].counts) == {"for_sale": 1, "sold": 4}


def test_sample_is_a_deterministic_subset() -> None:
    frame = pd.DataFrame({"x": np.arange(1_000, dtype=float)})
    first = profile_frame(frame, ["x"], [], max_sample=50, seed=3).numeric["x"]
    again = profile_frame(frame, ["x"], [], max_sample=50, seed=3).numeric["x"]
    other = profile_frame(frame, ["x"], [], max_sample=50, seed=4).numeric["x"]
    assert first.sample.size == 50
    assert first.count == 1_000
    assert np.all(np.diff(first.sample) > 0)  # sorted, drawn without replacement
    assert np.isin(first.sample, frame["x"].to_numpy()).all()
    np.testing.assert_array_equal(first.sample, again.sample)
    assert not np.array_equal(first.sample, other.sample)


def test_round_trips_exactly_through_json() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "price": rng.lognormal(12.0, 1.0, 300),
            "bath": rng.integers(1, 5, 300).astype(float),
            "state": rng.choice(["Texas", "Ohio", "Utah"], 300),
        }
    )
    profile = profile_frame(frame, ["price", "bath"], ["state"], max_sample=100)
    text = json.dumps(profile.to_dict(), allow_nan=False)
    restored = DataProfile.from_dict(json.loads(text))
    assert restored == profile
    assert restored.to_dict() == profile.to_dict()
    assert restored.numeric["price"].sample.dtype == np.float64


def test_round_trip_detects_a_changed_value() -> None:
    profile = profile_frame(_frame(), ["price"], [])
    data = profile.to_dict()
    data["numeric"]["price"]["sample"][0] += 1e-9
    assert DataProfile.from_dict(data) != profile


def test_unknown_version_is_refused() -> None:
    data = profile_frame(_frame(), ["price"], []).to_dict()
    data["version"] = 99
    with pytest.raises(ValueError, match="version"):
        DataProfile.from_dict(data)


def test_missing_column_is_refused() -> None:
    with pytest.raises(KeyError, match="house_size"):
        profile_frame(_frame(), ["house_size"], [])
