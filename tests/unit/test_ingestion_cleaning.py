"""clean_listings: typing, validation rules, duplicates and the clean/rejected partition."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tasador import schema
from tasador.ingestion.cleaning import (
    CLEAN_COLUMNS,
    CleaningResult,
    RejectReason,
    clean_listings,
    drop_seen,
)
from tasador.ingestion.raw import raw_frame

API_ROW: dict[str, Any] = {
    "brokered_by": 101640.0,
    "status": "for_sale",
    "price": 289900.0,
    "bed": 4.0,
    "bath": 2.0,
    "acre_lot": 0.38,
    "street": 1693508.0,
    "city": "East Windsor",
    "state": "Connecticut",
    "zip_code": 6016.0,
    "house_size": 1500.0,
    "prev_sold_date": "1999-09-30",
}


def listing(**changes: Any) -> dict[str, Any]:
    """The API row with some values changed (a value of `...` removes the key)."""
    row = {**API_ROW, **changes}
    return {k: v for k, v in row.items() if v is not ...}


def clean(rows: list[Any], **kwargs: Any) -> CleaningResult:
    return clean_listings(raw_frame(rows), **kwargs)


def assert_partition(result: CleaningResult, received: int) -> None:
    assert result.received == received
    assert result.kept + result.rejected_count == received
    numbers = np.concatenate([result.clean["row_number"], result.rejected["row_number"]])
    assert sorted(numbers.tolist()) == list(range(received))


# One minimal row per reason: the API row with the smallest change that breaks one rule.
REASON_CASES: list[tuple[Any, RejectReason]] = [
    ([1, 2], RejectReason.MALFORMED_ROW),
    ("not an object", RejectReason.MALFORMED_ROW),
    ({}, RejectReason.MALFORMED_ROW),
    ({"foo": 1}, RejectReason.MALFORMED_ROW),
    (listing(status=None), RejectReason.MISSING_STATUS),
    (listing(price=None), RejectReason.MISSING_PRICE),
    (listing(price=...), RejectReason.MISSING_PRICE),
    (listing(price="nan"), RejectReason.MISSING_PRICE),
    (listing(price="  "), RejectReason.MISSING_PRICE),
    (listing(state=None), RejectReason.MISSING_STATE),
    (listing(brokered_by="abc"), RejectReason.UNPARSEABLE_BROKERED_BY),
    (listing(brokered_by=1.5), RejectReason.UNPARSEABLE_BROKERED_BY),
    (listing(price="289,900"), RejectReason.UNPARSEABLE_PRICE),
    (listing(price=True), RejectReason.UNPARSEABLE_PRICE),
    (listing(bed="three"), RejectReason.UNPARSEABLE_BED),
    (listing(bath=[2]), RejectReason.UNPARSEABLE_BATH),
    (listing(acre_lot="0.38 ac"), RejectReason.UNPARSEABLE_ACRE_LOT),
    (listing(street="Main St"), RejectReason.UNPARSEABLE_STREET),
    (listing(zip_code=-1.0), RejectReason.UNPARSEABLE_ZIP_CODE),
    (listing(zip_code=100000.0), RejectReason.UNPARSEABLE_ZIP_CODE),
    (listing(zip_code=6016.5), RejectReason.UNPARSEABLE_ZIP_CODE),
    (listing(zip_code="06016-1234"), RejectReason.UNPARSEABLE_ZIP_CODE),
    (listing(house_size="big"), RejectReason.UNPARSEABLE_HOUSE_SIZE),
    (listing(prev_sold_date="2021-02-30"), RejectReason.UNPARSEABLE_PREV_SOLD_DATE),
    (listing(prev_sold_date="30/09/1999"), RejectReason.UNPARSEABLE_PREV_SOLD_DATE),
    (listing(status="pending"), RejectReason.UNKNOWN_STATUS),
    (listing(state="New Brunswick"), RejectReason.UNKNOWN_STATE),
    (listing(state="CT"), RejectReason.UNKNOWN_STATE),
    (listing(price=9_999.0, house_size=None), RejectReason.PRICE_OUT_OF_RANGE),
    (listing(price=100_000_001.0, house_size=None), RejectReason.PRICE_OUT_OF_RANGE),
    (listing(price=0.0), RejectReason.PRICE_OUT_OF_RANGE),
    (listing(bed=0.0), RejectReason.BED_OUT_OF_RANGE),
    (listing(bed=21.0), RejectReason.BED_OUT_OF_RANGE),
    (listing(bath=473.0), RejectReason.BATH_OUT_OF_RANGE),
    (listing(acre_lot=0.0), RejectReason.ACRE_LOT_OUT_OF_RANGE),
    (listing(acre_lot=100_000.0), RejectReason.ACRE_LOT_OUT_OF_RANGE),
    (listing(house_size=99.0), RejectReason.HOUSE_SIZE_OUT_OF_RANGE),
    (listing(house_size="inf"), RejectReason.HOUSE_SIZE_OUT_OF_RANGE),
    (listing(price=20_000.0, house_size=4_000.0), RejectReason.IMPLAUSIBLE_PRICE_PER_SQFT),
    (listing(price=9_000_000.0, house_size=1_000.0), RejectReason.IMPLAUSIBLE_PRICE_PER_SQFT),
    (listing(prev_sold_date="1949-12-31"), RejectReason.PREV_SOLD_DATE_OUT_OF_RANGE),
    (listing(prev_sold_date="2031-01-01"), RejectReason.PREV_SOLD_DATE_OUT_OF_RANGE),
]


@pytest.mark.parametrize(("row", "reason"), REASON_CASES)
def test_each_rule_rejects_its_minimal_row(row: Any, reason: RejectReason) -> None:
    result = clean([row])
    assert result.kept == 0
    assert result.rejected["reason"].tolist() == [str(reason)]
    assert result.counts_by_reason == {str(reason): 1}
    assert_partition(result, 1)


def test_the_api_row_is_clean_and_typed() -> None:
    result = clean([API_ROW])
    assert result.rejected_count == 0
    row = result.clean.iloc[0]
    assert row["brokered_by"] == 101640
    assert row["status"] == "for_sale"
    assert row["price"] == 289900.0
    assert row["bed"] == 4.0
    assert row["street"] == 1693508
    assert row["zip_code"] == "06016"
    assert row["prev_sold_date"] == pd.Timestamp("1999-09-30")
    assert row["row_number"] == 0


def test_clean_frame_has_the_schema_dtypes() -> None:
    frame = clean([API_ROW, listing(bed=None, city=None, prev_sold_date=None)]).clean
    assert tuple(frame.columns) == CLEAN_COLUMNS
    for column in schema.COLUMNS:
        assert frame[column.name].dtype == pd.api.types.pandas_dtype(column.dtype), column.name
    assert frame["prev_sold_date"].dtype == np.dtype("datetime64[s]")
    for column in ("row_number", "property_key", "listing_key"):
        assert frame[column].dtype == np.int64
    assert frame["is_holdout"].dtype == np.bool_


def test_text_forms_are_parsed() -> None:
    rows = [
        listing(price="101640.0", bed=" 4 ", bath="2", zip_code="00601", street=7),
        listing(price=150000, bed="3.0", zip_code=601, brokered_by="  22.0 "),
        listing(status="SOLD", state=" connecticut  ", city="  East   Windsor "),
        listing(status="For Sale", state="district  of columbia"),
        listing(status="ready-to-build", state="NEW YORK", price="1.5e5"),
    ]
    result = clean(rows)
    assert result.rejected_count == 0
    frame = result.clean
    assert frame["price"].tolist() == [101640.0, 150000.0, 289900.0, 289900.0, 150000.0]
    assert frame["bed"].tolist()[:2] == [4.0, 3.0]
    assert frame["bath"].iloc[0] == 2.0
    assert frame["zip_code"].tolist()[:2] == ["00601", "00601"]
    assert frame["street"].iloc[0] == 7
    assert frame["brokered_by"].iloc[1] == 22
    assert frame["status"].tolist()[2:] == ["sold", "for_sale", "ready_to_build"]
    assert frame["state"].tolist()[2:] == ["Connecticut", "District of Columbia", "New York"]
    assert frame["city"].iloc[2] == "East   Windsor"  # stripped, inner blanks kept


def test_zip_codes_are_zero_padded_to_five_characters() -> None:
    zips = [6016.0, 601.0, 0.0, 99999.0, 27253.0, "6016", "06016.0"]
    frame = clean([listing(zip_code=z, street=float(i)) for i, z in enumerate(zips)]).clean
    assert frame["zip_code"].tolist() == [
        "06016",
        "00601",
        "00000",
        "99999",
        "27253",
        "06016",
        "06016",
    ]


def test_missing_optional_values_stay_missing() -> None:
    optional = [c.name for c in schema.COLUMNS if not c.required]
    result = clean([listing(**dict.fromkeys(optional))])
    assert result.kept == 1
    row = result.clean.iloc[0]
    assert all(pd.isna(row[c]) for c in optional)
    assert result.clean["bed"].dtype == np.float64


def test_range_bounds_are_inclusive() -> None:
    low, high = schema.PRICE_PER_SQFT_RANGE
    rows = [
        listing(price=schema.BY_NAME["price"].minimum, house_size=None),
        listing(bed=schema.BY_NAME["bed"].maximum, street=2.0),
        listing(price=low * 1000, house_size=1000.0, street=3.0),
        listing(price=high * 1000, house_size=1000.0, street=4.0),
        listing(prev_sold_date=schema.PREV_SOLD_DATE_RANGE[0], street=5.0),
        listing(prev_sold_date=schema.PREV_SOLD_DATE_RANGE[1], street=6.0),
    ]
    result = clean(rows)
    assert result.counts_by_reason == {}
    assert result.kept == len(rows)


def test_first_failing_rule_wins() -> None:
    rows = [
        listing(price=None, state="Narnia"),  # missing before unknown
        listing(bed="x", price=1.0),  # unparseable before out of range
        listing(status="pending", bed=99.0),  # unknown before out of range
        listing(bed=99.0, price=20_000.0, house_size=4_000.0),  # range before per-sqft
        listing(house_size=50_001.0, prev_sold_date="1900-01-01"),  # range before date range
    ]
    assert clean(rows).rejected["reason"].tolist() == [
        "missing_price",
        "unparseable_bed",
        "unknown_status",
        "bed_out_of_range",
        "house_size_out_of_range",
    ]


def test_exact_duplicates_keep_the_first_row() -> None:
    other = listing(street=5.0)
    rows = [API_ROW, other, API_ROW, listing(bed="4", price="289900"), other]
    result = clean(rows)
    assert result.clean["row_number"].tolist() == [0, 1]
    assert result.rejected["row_number"].tolist() == [2, 3, 4]
    assert result.counts_by_reason == {"duplicate_row": 3}


def test_relisted_property_keeps_the_sold_row() -> None:
    rows = [
        listing(status="for_sale", prev_sold_date="2015-06-25"),
        listing(status="sold", prev_sold_date="2022-01-10"),
        listing(status="for_sale", prev_sold_date=None),
    ]
    result = clean(rows)
    assert result.clean["row_number"].tolist() == [1]
    assert result.clean["status"].tolist() == ["sold"]
    assert result.rejected["row_number"].tolist() == [0, 2]
    assert result.counts_by_reason == {"relisted_duplicate": 2}


def test_relisted_without_a_sale_keeps_the_first_row() -> None:
    rows = [listing(prev_sold_date="2015-06-25"), listing(prev_sold_date="2016-01-01")]
    result = clean(rows)
    assert result.clean["row_number"].tolist() == [0]
    assert result.rejected["reason"].tolist() == ["relisted_duplicate"]


def test_same_property_at_another_price_is_another_listing() -> None:
    result = clean([listing(), listing(price=300000.0)])
    assert result.kept == 2
    keys = result.clean
    assert keys["property_key"].nunique() == 1
    assert keys["listing_key"].nunique() == 2


def test_invalid_rows_do_not_hide_valid_duplicates() -> None:
    rows = [listing(status="pending"), listing(status="sold"), listing(status="for_sale")]
    result = clean(rows)
    assert result.clean["row_number"].tolist() == [1]
    assert result.rejected["reason"].tolist() == ["unknown_status", "relisted_duplicate"]


def test_every_reason_in_one_batch_partitions_the_rows() -> None:
    rows = [row for row, _ in REASON_CASES]
    rows += [API_ROW, API_ROW, listing(status="sold"), listing(street=1.0), listing(street=2.0)]
    result = clean(rows)
    assert_partition(result, len(rows))
    expected: dict[str, int] = {}
    for _, reason in REASON_CASES:
        expected[str(reason)] = expected.get(str(reason), 0) + 1
    expected["duplicate_row"] = 1
    expected["relisted_duplicate"] = 1  # the first API row gives way to its sold listing
    assert result.counts_by_reason == expected
    assert list(result.counts_by_reason) == [str(r) for r in RejectReason if str(r) in expected]
    assert result.kept == 3
    assert result.rejected["row_number"].is_monotonic_increasing
    assert result.rejected["reason"].dtype == pd.StringDtype()
    assert result.rejected["row_number"].dtype == np.int64


def test_reasons_cover_the_schema_rules() -> None:
    names = {str(r) for r in RejectReason}
    for column in schema.COLUMNS:
        if column.required:
            assert RejectReason.missing(column.name) in names
        if column.role is not schema.Role.CATEGORICAL or column.name == "zip_code":
            assert RejectReason.unparseable(column.name) in names
        if column.minimum is not None or column.maximum is not None:
            assert RejectReason.out_of_range(column.name) in names


def test_object_columns_and_a_foreign_index_are_accepted() -> None:
    raw = raw_frame([API_ROW, listing(price="abc")]).astype(object)
    raw.index = [10, 20]
    result = clean_listings(raw)
    assert result.clean["row_number"].tolist() == [0]
    assert result.rejected["reason"].tolist() == ["unparseable_price"]


def test_empty_batch() -> None:
    result = clean([])
    assert (result.received, result.kept, result.rejected_count) == (0, 0, 0)
    assert tuple(result.clean.columns) == CLEAN_COLUMNS
    assert result.counts_by_reason == {}


def test_drop_seen_moves_listings_already_stored() -> None:
    first = clean([listing(street=1.0), listing(street=2.0)])
    second = clean([listing(street=2.0), listing(street=3.0), listing(street=1.0, price=1e6)])
    seen = first.clean["listing_key"].to_numpy()
    result = drop_seen(second, seen)
    assert result.clean["row_number"].tolist() == [1, 2]
    assert result.rejected["row_number"].tolist() == [0]
    assert result.counts_by_reason == {"duplicate_of_earlier_batch": 1}
    assert_partition(result, 3)
    assert drop_seen(second, set(seen.tolist())).counts_by_reason == result.counts_by_reason


def test_drop_seen_keeps_earlier_rejections_in_row_order() -> None:
    first = clean([listing(street=1.0)])
    second = clean([listing(street=9.0), listing(price=None), listing(street=1.0)])
    result = drop_seen(second, first.clean["listing_key"].tolist())
    assert result.rejected["row_number"].tolist() == [1, 2]
    assert result.rejected["reason"].tolist() == ["missing_price", "duplicate_of_earlier_batch"]
    assert_partition(result, 3)


def test_drop_seen_with_nothing_seen_changes_nothing() -> None:
    result = clean([API_ROW, listing(price=None)])
    same = drop_seen(result, np.array([], dtype=np.int64))
    assert same.kept == 1
    assert same.counts_by_reason == {"missing_price": 1}


def test_holdout_fraction_must_be_a_share() -> None:
    with pytest.raises(ValueError, match="holdout_fraction"):
        clean([API_ROW], holdout_fraction=1.5)
