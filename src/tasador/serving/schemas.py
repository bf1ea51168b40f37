"""The shapes of the inference API: what a listing may hold, and what each endpoint answers.

Ranges come from the listing schema (`tasador.schema`), so the API refuses exactly what cleaning
would reject. An unknown state, city or ZIP code is valid input: the fitted target encoding falls
back to the global mean and the answer lists the field in `fallbacks`.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tasador import schema


def _bounded(column: str) -> Any:
    """A float field bounded by the schema's inclusive range for `column`."""
    col = schema.BY_NAME[column]
    return Field(ge=col.minimum, le=col.maximum, allow_inf_nan=False, description=col.description)


_ZIP: Final = re.compile(r"^(\d{1,5})(?:-\d{4})?$", re.ASCII)
_FIRST_SALE, _LAST_SALE = (date.fromisoformat(d) for d in schema.PREV_SOLD_DATE_RANGE)


def normalise_zip(value: Any) -> str | None:
    """A ZIP code as 5 digits: text, or a number that lost its leading zeros; ValueError if not."""
    # the common case first, fast (isascii: isdigit alone also takes digits of other scripts)
    if type(value) is str and len(value) == 5 and value.isascii() and value.isdigit():
        return value
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("a ZIP code is 1 to 5 digits, not a boolean")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("a numeric ZIP code must be a whole number")
        value = int(value)
    if isinstance(value, int):
        if not 0 <= value <= 99_999:
            raise ValueError("a ZIP code is between 00000 and 99999")
        return f"{value:05d}"
    if isinstance(value, str):
        match = _ZIP.match(value.strip())
        if match is None:
            raise ValueError('a ZIP code is 1 to 5 digits, optionally "-" and 4 more')
        return match.group(1).zfill(5)
    raise ValueError("a ZIP code is a string or a whole number")


Status = Literal[schema.STATUSES]  # type: ignore[valid-type]


class ListingIn(BaseModel):
    """One listing to price. Sizes and room counts within the listing schema's ranges."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "bed": 3,
                    "bath": 2,
                    "acre_lot": 0.25,
                    "house_size": 1600,
                    "state": "Connecticut",
                    "status": "for_sale",
                    "city": "Hartford",
                    "zip_code": "06106",
                    "prev_sold_date": "2015-06-01",
                }
            ]
        },
    )

    bed: float = _bounded("bed")
    bath: float = _bounded("bath")
    acre_lot: float = _bounded("acre_lot")
    house_size: float = _bounded("house_size")
    state: str = Field(min_length=1, max_length=100, description="state or territory name")
    status: Status = Field(description="listing status")
    city: str | None = Field(None, min_length=1, max_length=200, description="city name")
    zip_code: str | None = Field(
        None, description='5-digit ZIP code; "06016", 6016 and 6016.0 are the same ZIP'
    )
    brokered_by: int | None = Field(
        None, ge=0, le=2**63 - 1, description="opaque broker code (not a feature)"
    )
    prev_sold_date: date | None = Field(
        None,
        ge=_FIRST_SALE,
        le=_LAST_SALE,
        description=f"previous sale date (ISO), between {schema.PREV_SOLD_DATE_RANGE[0]} "
        f"and {schema.PREV_SOLD_DATE_RANGE[1]}",
    )

    @field_validator("zip_code", mode="before")
    @classmethod
    def _normalise_zip(cls, value: Any) -> Any:
        return normalise_zip(value)


class ListingPrediction(BaseModel):
    """The price of one listing of a batch."""

    price: float = Field(description="predicted price (USD)")
    log_price: float = Field(description="the model's output: natural log of the price")
    fallbacks: list[str] = Field(
        description="encoded fields (state, city, zip_code) that were missing or unseen in "
        "training, so the encoding's global-mean fallback was used"
    )


class PredictionOut(ListingPrediction):
    """The answer to one listing."""

    model_version: str
    request_id: str


class BatchPredictionOut(BaseModel):
    """The answer to a list of listings, in the order they were sent."""

    model_version: str
    request_id: str
    predictions: list[ListingPrediction]


class Contribution(BaseModel):
    """One term of an explanation, in log price and in dollars."""

    log: float = Field(description="TreeSHAP contribution to the log price")
    dollars: float = Field(description="share of (price - base price), in proportion to `log`")


class ExplanationOut(BaseModel):
    """Exact TreeSHAP contributions of one prediction.

    `base.log + sum(inputs[*].log) == log_price`, and `base.dollars + sum(inputs[*].dollars) ==
    price`; the same holds for `features`. See `tasador.serving.explain` for how the dollars and the
    input groups are derived.
    """

    price: float
    log_price: float
    base_log_price: float = Field(description="expected log price of the model (bias term)")
    base_price: float = Field(description="exp(base_log_price)")
    inputs: dict[str, Contribution] = Field(description="per input field of the listing")
    features: dict[str, Contribution] = Field(description="per model feature")
    fallbacks: list[str]
    model_version: str
    request_id: str


class ReloadStatusOut(BaseModel):
    """How following the `production` alias has gone."""

    last_checked_at: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None
    successes: int
    failures: int
    poll_seconds: float


class ModelInfoOut(BaseModel):
    """The served model, what it was trained on, and what it accepts."""

    name: str
    version: str
    alias: str
    run_id: str
    trained_at: datetime | None
    loaded_at: datetime
    training_window: str | None
    metrics: dict[str, float]
    features: list[str]
    categories: dict[str, list[str]] = Field(
        description="allowed values of status, and the states the model has seen"
    )
    known_categories: dict[str, int] = Field(
        description="how many values of each encoded field the model has seen"
    )
    reload: ReloadStatusOut


class ReloadOut(BaseModel):
    """The answer to POST /reload."""

    version: str | None
    changed: bool
    error: str | None


class HealthOut(BaseModel):
    status: str
