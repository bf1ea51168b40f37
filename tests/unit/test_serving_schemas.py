"""The listing body of the inference API: ranges from the listing schema, ZIP codes normalised."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from tasador import schema
from tasador.serving.api_models import ListingIn

VALID: dict[str, Any] = {
    "bed": 3,
    "bath": 2,
    "acre_lot": 0.25,
    "house_size": 1600,
    "state": "Connecticut",
    "status": "for_sale",
}


def errors_of(**changes: Any) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as info:
        ListingIn.model_validate({**VALID, **changes})
    return [(tuple(e["loc"]), e["type"]) for e in info.value.errors()]


def test_minimal_listing_is_valid_and_optional_fields_default_to_none() -> None:
    listing = ListingIn.model_validate(VALID)
    assert (listing.bed, listing.bath, listing.acre_lot, listing.house_size) == (3, 2, 0.25, 1600)
    assert listing.city is None
    assert listing.zip_code is None
    assert listing.prev_sold_date is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [("06016", "06016"), (6016, "06016"), (6016.0, "06016"), ("6016", "06016"),
     (" 06016 ", "06016"), ("06016-1234", "06016"), (0, "00000"), (None, None)],
)  # fmt: skip
def test_zip_code_is_normalised_to_five_digits(given: Any, expected: str | None) -> None:
    assert ListingIn.model_validate({**VALID, "zip_code": given}).zip_code == expected


@pytest.mark.parametrize("given", ["abc", "123456", 6016.5, -1, 100_000, True, "", [6016]])
def test_bad_zip_code_is_refused(given: Any) -> None:
    assert [loc for loc, _ in errors_of(zip_code=given)] == [("zip_code",)]


@pytest.mark.parametrize("column", ["bed", "bath", "acre_lot", "house_size"])
def test_numeric_ranges_come_from_the_listing_schema(column: str) -> None:
    col = schema.BY_NAME[column]
    assert col.minimum is not None
    assert col.maximum is not None
    ListingIn.model_validate({**VALID, column: col.minimum})
    ListingIn.model_validate({**VALID, column: col.maximum})
    assert errors_of(**{column: col.minimum * 0.99}) == [((column,), "greater_than_equal")]
    assert errors_of(**{column: col.maximum * 1.01}) == [((column,), "less_than_equal")]
    assert errors_of(**{column: -1}) == [((column,), "greater_than_equal")]


def test_missing_required_field_status_and_extra_fields_are_named() -> None:
    body = dict(VALID)
    del body["state"]
    with pytest.raises(ValidationError) as info:
        ListingIn.model_validate(body)
    assert [e["loc"] for e in info.value.errors()] == [("state",)]
    assert errors_of(status="rented") == [(("status",), "literal_error")]
    assert errors_of(price=100_000) == [(("price",), "extra_forbidden")]
    assert errors_of(state="") == [(("state",), "string_too_short")]
    assert errors_of(bed="three") == [(("bed",), "float_parsing")]


@pytest.mark.parametrize("field", ["bed", "bath", "acre_lot", "house_size", "prev_sold_date"])
def test_fields_the_listing_schema_treats_as_optional_may_be_absent_or_null(field: str) -> None:
    absent = {k: v for k, v in VALID.items() if k != field}
    assert getattr(ListingIn.model_validate(absent), field) is None
    assert getattr(ListingIn.model_validate({**VALID, field: None}), field) is None


def test_unknown_state_is_valid_input() -> None:
    assert ListingIn.model_validate({**VALID, "state": "Atlantis"}).state == "Atlantis"


def test_prev_sold_date_is_an_iso_date_within_the_schema_window() -> None:
    first, last = schema.PREV_SOLD_DATE_RANGE
    parsed = ListingIn.model_validate_json(orjson.dumps({**VALID, "prev_sold_date": "2015-06-01"}))
    assert parsed.prev_sold_date == date(2015, 6, 1)
    midnight = ListingIn.model_validate({**VALID, "prev_sold_date": "2015-06-01T00:00:00"})
    assert midnight.prev_sold_date == date(2015, 6, 1)
    ListingIn.model_validate({**VALID, "prev_sold_date": first})
    ListingIn.model_validate({**VALID, "prev_sold_date": last})
    assert errors_of(prev_sold_date="1949-12-31") == [(("prev_sold_date",), "greater_than_equal")]
    assert errors_of(prev_sold_date="2031-01-01") == [(("prev_sold_date",), "less_than_equal")]
    assert errors_of(prev_sold_date="2015-06-01T10:00:00") == [
        (("prev_sold_date",), "date_from_datetime_inexact")
    ]
    assert errors_of(prev_sold_date="June 2015")[0][0] == ("prev_sold_date",)


def test_broker_code_fits_a_64_bit_integer() -> None:
    assert ListingIn.model_validate({**VALID, "brokered_by": 2**63 - 1}).brokered_by == 2**63 - 1
    assert errors_of(brokered_by=2**63) == [(("brokered_by",), "less_than_equal")]
    assert errors_of(brokered_by=-1) == [(("brokered_by",), "greater_than_equal")]


@pytest.mark.parametrize("given", ["ct", "CT", "connecticut", " CONNECTICUT ", "Connecticut"])
def test_a_state_given_by_code_or_in_any_case_is_the_known_state(given: str) -> None:
    assert ListingIn.model_validate({**VALID, "state": given}).state == "Connecticut"


def test_a_state_the_schema_does_not_know_is_kept_as_given() -> None:
    assert ListingIn.model_validate({**VALID, "state": "Atlantis"}).state == "Atlantis"


@pytest.mark.parametrize("given", [1_433_116_800, 1_433_116_800.0, True])
def test_a_number_is_not_a_date(given: Any) -> None:
    with pytest.raises(ValidationError, match="ISO day"):
        ListingIn.model_validate({**VALID, "prev_sold_date": given})
