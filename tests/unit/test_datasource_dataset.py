"""Loading realtor files and cutting them into the course API's batches."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasador.datasource.dataset import (
    BATCHING_SCHEMES,
    DatasetError,
    complete_rows,
    load_dataset,
    split_batches,
)
from tasador.datasource.generator import generate_listings
from tasador.schema import COLUMN_NAMES

REALTOR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "realtor"


def _sample(name: str) -> Path:
    path = REALTOR / name
    if not path.is_file():
        pytest.skip(f"realtor samples not found at {REALTOR}")
    return path


def _row(state: str, status: str, price: float, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "brokered_by": 1.0,
        "status": status,
        "price": price,
        "bed": 3.0,
        "bath": 2.0,
        "acre_lot": 0.2,
        "street": 10.0,
        "city": "Oakville",
        "state": state,
        "zip_code": "01001",
        "house_size": 1500.0,
        "prev_sold_date": "2022-01-01",
    }
    row.update(overrides)
    return row


# -- split_batches ----------------------------------------------------------------------------


def _check_partition(frame: pd.DataFrame, batches: list[pd.DataFrame]) -> None:
    assert len(batches) == 6
    served = complete_rows(frame)
    indices = np.concatenate([b.index.to_numpy() for b in batches])
    assert len(indices) == len(set(indices)), "batches overlap"
    assert set(indices) == set(served.index), "batches do not cover the complete rows"
    for batch in batches:
        assert batch.notna().all().all()
        assert batch.index.is_monotonic_increasing, "file order lost"
        pd.testing.assert_frame_equal(batch, frame.loc[batch.index])
    b0, b1, b2, b3, b4, b5 = batches
    for batch in (b0, b1):
        assert (batch["status"] != "sold").all()
        assert (batch["price"] <= 300_000).all()
    assert abs(len(b0) - len(b1)) <= 1
    if len(b0) and len(b1):
        assert b0.index.max() < b1.index.min()  # first half, then second half
    assert (b2["status"] == "sold").all()
    assert (b2["price"] <= 300_000).all()
    assert b3["state"].nunique() == 1
    assert (b3["price"] <= 300_000).all()
    single = b3["state"].iloc[0]
    for batch in (b0, b1, b2):
        assert (batch["state"] != single).all()
    assert ((b4["price"] > 300_000) & (b4["price"] <= 500_000)).all()
    assert (b5["price"] > 500_000).all()


def test_split_hand_built_frame_exactly() -> None:
    rows = [
        _row("Ohio", "for_sale", 100_000),  # 0 -> batch 0
        _row("Ohio", "sold", 200_000),  # 1 -> batch 2
        _row("Ohio", "for_sale", 400_000),  # 2 -> batch 4
        _row("Ohio", "for_sale", 250_000, bed=np.nan),  # 3 incomplete: never served
        _row("Ohio", "for_sale", 300_000),  # 4 -> batch 0 (<= $300k)
        _row("Utah", "sold", 150_000),  # 5 -> batch 3 (Utah has the fewest low rows)
        _row("Ohio", "sold", 900_000),  # 6 -> batch 5
        _row("Ohio", "for_sale", 50_000),  # 7 -> batch 1
        _row("Ohio", "sold", 500_000),  # 8 -> batch 4
        _row("Ohio", "for_sale", 60_000),  # 9 -> batch 1
        _row("Utah", "for_sale", 500_001),  # 10 -> batch 5
    ]
    frame = pd.DataFrame(rows, columns=list(COLUMN_NAMES))
    batches = split_batches(frame)
    assert [list(b.index) for b in batches] == [[0, 4], [7, 9], [1], [5], [2, 8], [6, 10]]
    _check_partition(frame, batches)


def test_split_generated_frame() -> None:
    frame = generate_listings(60_000, seed=5)
    batches = split_batches(frame)
    _check_partition(frame, batches)
    served = sum(len(b) for b in batches)
    assert 0.45 < served / len(frame) < 0.53
    assert 0.001 < len(batches[3]) / served < 0.01  # ~0.4% single-state batch
    assert all(len(b) > 0 for b in batches)


def test_split_real_sample() -> None:
    frame = load_dataset(_sample("realtor_random5k_2024.csv"))
    batches = split_batches(frame)
    _check_partition(frame, batches)
    assert sum(len(b) for b in batches) == len(frame.dropna())


def test_unknown_scheme_is_refused() -> None:
    assert "course" in BATCHING_SCHEMES
    with pytest.raises(ValueError, match="course"):
        split_batches(pd.DataFrame(columns=list(COLUMN_NAMES)), scheme="nope")


# -- load_dataset -----------------------------------------------------------------------------


def _head(n: int = 50) -> str:
    lines = _sample("realtor_head12885_raw_2024.csv").read_text().splitlines()
    return "\n".join(lines[: n + 1]) + "\n"


def test_load_csv_keeps_zip_zeros_and_types(tmp_path: Path) -> None:
    path = tmp_path / "head.csv"
    path.write_text(_head())
    frame = load_dataset(path)
    assert list(frame.columns) == list(COLUMN_NAMES)
    assert len(frame) == 50
    assert frame.loc[0, "zip_code"] == "00601"
    assert frame["zip_code"].str.len().eq(5).all()
    assert frame["bed"].dtype == np.float64
    assert frame.loc[0, "price"] == 105_000.0


def test_load_zipped_csv_named_like_kaggle(tmp_path: Path) -> None:
    csv = tmp_path / "realtor-data.csv"
    csv.write_text(_head())
    for name in ("realtor-data.zip.csv", "realtor-data.zip", "realtor-data.csv.zip"):
        archive = tmp_path / name
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as out:
            out.write(csv, "realtor-data.zip.csv")
        frame = load_dataset(archive)
        pd.testing.assert_frame_equal(frame, load_dataset(csv))
        assert frame.loc[0, "zip_code"] == "00601"


def test_load_parquet_round_trip(tmp_path: Path) -> None:
    frame = generate_listings(500, seed=2)
    path = tmp_path / "listings.parquet"
    frame.to_parquet(path)
    loaded = load_dataset(path)
    pd.testing.assert_frame_equal(loaded, frame, check_dtype=False)
    assert (
        loaded["zip_code"].str.startswith("0").sum() == frame["zip_code"].str.startswith("0").sum()
    )


def test_float_formatted_zip_codes_get_their_zeros_back(tmp_path: Path) -> None:
    path = tmp_path / "sample.csv"
    frame = pd.DataFrame([_row("Puerto Rico", "for_sale", 1.0, zip_code="601.0")])
    frame.to_csv(path, index=False)
    assert load_dataset(path).loc[0, "zip_code"] == "00601"


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "old_layout.csv"
    pd.DataFrame([_row("Ohio", "for_sale", 1.0)]).drop(columns=["brokered_by", "street"]).to_csv(
        path, index=False
    )
    with pytest.raises(DatasetError, match=r"brokered_by, street"):
        load_dataset(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "absent.csv")
