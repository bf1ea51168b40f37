"""The listing: its columns, their roles, types and valid ranges; and what the model reads of it.

This is the one place that says what a listing is. Cleaning, drift, the feature builder, serving and
the UI all read it from here. `LISTING_INPUTS` declares the fields a request to price a listing
carries: the request model, the columnar fast path, the pyfunc signature, the feature builder and
the explanation's grouping are all derived from it, so a new field is added here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final


class Role(StrEnum):
    """What a column is for."""

    ID = "id"  # opaque code: kept for lineage and dedup, never a model feature
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    DATE = "date"
    TARGET = "target"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the listing schema.

    `minimum`/`maximum` bound the values a clean row may hold (inclusive); `required` means a clean
    row cannot miss it. Missing optional values are kept as missing and left to XGBoost.
    """

    name: str
    role: Role
    dtype: str  # pandas dtype of the clean frame
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""


COLUMNS: Final[tuple[Column, ...]] = (
    Column("brokered_by", Role.ID, "Int64", description="opaque broker code"),
    Column("status", Role.CATEGORICAL, "string", required=True, description="listing status"),
    Column(
        "price",
        Role.TARGET,
        "float64",
        required=True,
        minimum=10_000,
        maximum=100_000_000,
        description="list price, or sale price for sold rows (USD)",
    ),
    Column("bed", Role.NUMERIC, "float64", minimum=1, maximum=20, description="bedrooms"),
    # Half baths are valid: US listings count a toilet and sink as 0.5 (and a three-quarter bath
    # as 0.75), so "1.5" and even "0.5" (a cabin with a half bath) are real values; less than a
    # half bath is not a bathroom. The model extends its smallest bath count below 1.
    Column(
        "bath",
        Role.NUMERIC,
        "float64",
        minimum=0.5,
        maximum=20,
        description="bathrooms (a half bath counts 0.5)",
    ),
    Column(
        "acre_lot",
        Role.NUMERIC,
        "float64",
        minimum=0.001,
        maximum=10_000,
        description="lot size (acres)",
    ),
    Column("street", Role.ID, "Int64", description="opaque street address code"),
    Column("city", Role.CATEGORICAL, "string", description="city name"),
    Column("state", Role.CATEGORICAL, "string", required=True, description="state or territory"),
    Column("zip_code", Role.CATEGORICAL, "string", description="5-digit ZIP code, zero-padded"),
    Column(
        "house_size",
        Role.NUMERIC,
        "float64",
        minimum=100,
        maximum=50_000,
        description="living area (sq ft)",
    ),
    Column(
        "prev_sold_date",
        Role.DATE,
        "datetime64[s]",
        description="previous (or recent) sale date",
    ),
)

BY_NAME: Final[dict[str, Column]] = {c.name: c for c in COLUMNS}
COLUMN_NAMES: Final[tuple[str, ...]] = tuple(c.name for c in COLUMNS)
TARGET: Final[str] = "price"
NUMERIC: Final[tuple[str, ...]] = tuple(c.name for c in COLUMNS if c.role is Role.NUMERIC)
CATEGORICAL: Final[tuple[str, ...]] = tuple(c.name for c in COLUMNS if c.role is Role.CATEGORICAL)
IDS: Final[tuple[str, ...]] = tuple(c.name for c in COLUMNS if c.role is Role.ID)

STATUSES: Final[tuple[str, ...]] = ("for_sale", "sold", "ready_to_build")

# Plausible price per square foot (USD); outside it the price or the size is a data error.
PRICE_PER_SQFT_RANGE: Final[tuple[float, float]] = (10.0, 5_000.0)

# prev_sold_date outside this window is a data error.
PREV_SOLD_DATE_RANGE: Final[tuple[str, str]] = ("1950-01-01", "2030-12-31")

# The 54 states and territories of the published dataset (the stray "New Brunswick" row is not one).
STATES: Final[tuple[str, ...]] = (
    "Alabama",
    "Alaska",
    "Arizona",
    "Arkansas",
    "California",
    "Colorado",
    "Connecticut",
    "Delaware",
    "District of Columbia",
    "Florida",
    "Georgia",
    "Guam",
    "Hawaii",
    "Idaho",
    "Illinois",
    "Indiana",
    "Iowa",
    "Kansas",
    "Kentucky",
    "Louisiana",
    "Maine",
    "Maryland",
    "Massachusetts",
    "Michigan",
    "Minnesota",
    "Mississippi",
    "Missouri",
    "Montana",
    "Nebraska",
    "Nevada",
    "New Hampshire",
    "New Jersey",
    "New Mexico",
    "New York",
    "North Carolina",
    "North Dakota",
    "Ohio",
    "Oklahoma",
    "Oregon",
    "Pennsylvania",
    "Puerto Rico",
    "Rhode Island",
    "South Carolina",
    "South Dakota",
    "Tennessee",
    "Texas",
    "Utah",
    "Vermont",
    "Virgin Islands",
    "Virginia",
    "Washington",
    "West Virginia",
    "Wisconsin",
    "Wyoming",
)

# The USPS code of each state and territory.
STATE_CODES: Final[dict[str, str]] = {
    "Alabama": "AL",
    "Alaska": "AK",
    "Arizona": "AZ",
    "Arkansas": "AR",
    "California": "CA",
    "Colorado": "CO",
    "Connecticut": "CT",
    "Delaware": "DE",
    "District of Columbia": "DC",
    "Florida": "FL",
    "Georgia": "GA",
    "Guam": "GU",
    "Hawaii": "HI",
    "Idaho": "ID",
    "Illinois": "IL",
    "Indiana": "IN",
    "Iowa": "IA",
    "Kansas": "KS",
    "Kentucky": "KY",
    "Louisiana": "LA",
    "Maine": "ME",
    "Maryland": "MD",
    "Massachusetts": "MA",
    "Michigan": "MI",
    "Minnesota": "MN",
    "Mississippi": "MS",
    "Missouri": "MO",
    "Montana": "MT",
    "Nebraska": "NE",
    "Nevada": "NV",
    "New Hampshire": "NH",
    "New Jersey": "NJ",
    "New Mexico": "NM",
    "New York": "NY",
    "North Carolina": "NC",
    "North Dakota": "ND",
    "Ohio": "OH",
    "Oklahoma": "OK",
    "Oregon": "OR",
    "Pennsylvania": "PA",
    "Puerto Rico": "PR",
    "Rhode Island": "RI",
    "South Carolina": "SC",
    "South Dakota": "SD",
    "Tennessee": "TN",
    "Texas": "TX",
    "Utah": "UT",
    "Vermont": "VT",
    "Virgin Islands": "VI",
    "Virginia": "VA",
    "Washington": "WA",
    "West Virginia": "WV",
    "Wisconsin": "WI",
    "Wyoming": "WY",
}
# What a request may call a state, in any case: its name or its USPS code (nothing ambiguous).
STATE_NAMES: Final[dict[str, str]] = {
    **{name.lower(): name for name in STATES},
    **{code.lower(): name for name, code in STATE_CODES.items()},
}

# Columns that identify one property; two rows with the same key are the same home listed twice.
PROPERTY_KEY: Final[tuple[str, ...]] = (
    "street",
    "zip_code",
    "city",
    "state",
    "bed",
    "bath",
    "house_size",
    "acre_lot",
)


class Kind(StrEnum):
    """How a listing field is read from a request, and what the model makes of it."""

    NUMBER = "number"  # a float in the column's range; features: the value, or its log/log1p
    CHOICE = "choice"  # one of `choices`; features: one indicator per choice
    TEXT = "text"  # free text, whitespace stripped; features: target encoding and its row count
    ZIP = "zip"  # a ZIP code, normalised to five digits; features: as TEXT
    DATE = "date"  # an ISO day in `PREV_SOLD_DATE_RANGE`; features: year and days before reference
    CODE = "code"  # an opaque integer code, accepted for lineage; never a feature


class Transform(StrEnum):
    """What a NUMBER's own feature is (its name is the field's, plus `_log`/`_log1p`)."""

    NONE = ""
    LOG = "log"
    LOG1P = "log1p"


@dataclass(frozen=True, slots=True)
class ListingInput:
    """One field of a listing to price: its column, how it is read and whether it must be given.

    `keyed_within` names a field whose value prefixes this one's encoding key (a city is encoded
    as "state|city": Springfield, Illinois is not Springfield, Massachusetts).
    """

    column: Column
    kind: Kind
    required: bool = False
    transform: Transform = Transform.NONE
    choices: tuple[str, ...] = ()
    max_length: int | None = None
    keyed_within: str | None = None
    # TEXT: lowercase spellings -> the known value (left out of the hash: it is a dict)
    canonical: Mapping[str, str] | None = field(default=None, hash=False, compare=False)
    example: object = None

    @property
    def name(self) -> str:
        return self.column.name

    @property
    def is_feature(self) -> bool:
        return self.kind is not Kind.CODE

    @property
    def encoded(self) -> bool:
        """Whether the model reads it through a target encoding."""
        return self.kind in (Kind.TEXT, Kind.ZIP)


# The request's fields, in the order the API documents them and the model's features follow. A
# field is required in a request only where the listing schema requires it of a clean row: the
# model prices a listing without the others (and says which it did without).
LISTING_INPUTS: Final[tuple[ListingInput, ...]] = (
    ListingInput(BY_NAME["bed"], Kind.NUMBER, example=3),
    ListingInput(BY_NAME["bath"], Kind.NUMBER, example=2),
    ListingInput(BY_NAME["acre_lot"], Kind.NUMBER, transform=Transform.LOG1P, example=0.25),
    ListingInput(BY_NAME["house_size"], Kind.NUMBER, transform=Transform.LOG, example=1600),
    ListingInput(
        BY_NAME["state"],
        Kind.TEXT,
        required=True,
        max_length=100,
        canonical=STATE_NAMES,
        example="Connecticut",
    ),
    ListingInput(
        BY_NAME["status"], Kind.CHOICE, required=True, choices=STATUSES, example="for_sale"
    ),
    ListingInput(
        BY_NAME["city"], Kind.TEXT, max_length=200, keyed_within="state", example="Hartford"
    ),
    ListingInput(BY_NAME["zip_code"], Kind.ZIP, example="06106"),
    ListingInput(BY_NAME["brokered_by"], Kind.CODE),
    ListingInput(BY_NAME["prev_sold_date"], Kind.DATE, example="2015-06-01"),
)
# The fields the model reads (the request's fields less the lineage codes).
MODEL_INPUTS: Final[tuple[ListingInput, ...]] = tuple(i for i in LISTING_INPUTS if i.is_feature)
