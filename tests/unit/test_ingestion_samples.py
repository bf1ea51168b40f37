"""Raw and clean over the real realtor samples, sent the way the data API sends them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tasador import schema
from tasador.ingestion.cleaning import RejectReason, clean_listings
from tasador.ingestion.raw import raw_frame

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "realtor"
RANDOM_5K = SAMPLES / "realtor_random5k_2024.csv"
HEAD_RAW = SAMPLES / "realtor_head12885_raw_2024.csv"


def sample(path: Path, **read: Any) -> list[dict[str, Any]]:
    """The file's rows as the API would send them: one dict per row, NaN as None."""
    if not path.is_file():
        pytest.skip(f"realtor samples not found at {SAMPLES}")
    frame = pd.read_csv(path, **read)
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def test_random_sample_as_api_floats() -> None:
    rows = sample(RANDOM_5K)
    raw = raw_frame(rows)
    assert raw.loc[0, "price"] == repr(rows[0]["price"])
    assert raw.loc[0, "zip_code"] == repr(rows[0]["zip_code"])

    result = clean_listings(raw)
    assert result.received == len(rows) == 5000
    share = result.rejected_count / result.received
    assert 0.005 < share < 0.05  # $1 prices, 48-bed rows and friends; missing optionals are kept
    counts = result.counts_by_reason
    assert counts[RejectReason.PRICE_OUT_OF_RANGE] > counts.get(RejectReason.MISSING_PRICE, 0)
    assert set(counts) <= {str(r) for r in RejectReason}

    clean = result.clean
    assert clean["zip_code"].dropna().str.fullmatch(r"\d{5}").all()
    sent = [rows[i]["zip_code"] for i in clean["row_number"]]
    padded = [None if z is None else f"{int(z):05d}" for z in sent]
    assert [None if pd.isna(z) else z for z in clean["zip_code"]] == padded
    assert sum(z is not None and z.startswith("0") for z in padded) > 100
    price = schema.BY_NAME["price"]
    assert clean["price"].between(price.minimum, price.maximum).all()
    assert clean["state"].isin(schema.STATES).all()
    assert 0.15 < clean["is_holdout"].mean() < 0.25
    assert clean["bed"].isna().mean() > 0.15  # missing optional values are kept as missing


def test_head_sample_in_its_original_text() -> None:
    rows = sample(HEAD_RAW, dtype=str, keep_default_na=False, na_values=[""])
    raw = raw_frame(rows)
    assert raw.loc[0, "zip_code"] == "00601"
    result = clean_listings(raw)
    assert result.received == len(rows) == 12885
    assert result.kept / result.received > 0.95
    assert result.clean.loc[0, "zip_code"] == "00601"
    assert "Puerto Rico" in set(result.clean["state"])
    numbers = np.concatenate([result.clean["row_number"], result.rejected["row_number"]])
    assert np.array_equal(np.sort(numbers), np.arange(len(rows)))
