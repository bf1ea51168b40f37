"""The shapes of the inference API: what a listing may hold, and what each endpoint answers.

`ListingIn` is derived from the declared listing inputs (`schema.LISTING_INPUTS`) by
`listing_model`: ranges come from the listing schema, so the API refuses exactly what cleaning
would reject. An unknown state, city or ZIP code is valid input: the fitted target encoding falls
back to the global mean and the answer lists the field in `fallbacks`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from tasador import schema

_ZIP: Final = re.compile(r"^(\d{1,5})(?:-\d{4})?$", re.ASCII)
FIRST_DAY, LAST_DAY = (date.fromisoformat(d) for d in schema.PREV_SOLD_DATE_RANGE)


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


def _iso_day_only(value: Any) -> Any:
    """A date is an ISO day ("2015-06-01"): a number would be read as seconds since 1970."""
    if isinstance(value, bool | int | float):
        raise ValueError('a date is an ISO day, "YYYY-MM-DD", not a number')
    return value


def canonical_text(known: Mapping[str, str]) -> Callable[[Any], Any]:
    """A validator giving a known value its one spelling ("ct", " connecticut " -> "Connecticut");
    anything else is left to the field's own checks (an unknown state is priced by fallback)."""

    def canonical(value: Any) -> Any:
        if isinstance(value, str):
            return known.get(value.strip().lower(), value)
        return value

    return canonical


def _field(f: schema.ListingInput) -> tuple[Any, Any]:
    """The pydantic (type, FieldInfo) of one declared listing input."""
    col, kind = f.column, f.kind
    rules: dict[str, Any] = {}
    note = ""
    if kind is schema.Kind.NUMBER:
        base: Any = float
        rules = {"ge": col.minimum, "le": col.maximum, "allow_inf_nan": False}
    elif kind is schema.Kind.CHOICE:
        base = Literal[f.choices]
    elif kind is schema.Kind.TEXT:
        base = str
        rules = {"min_length": 1, "max_length": f.max_length}
    elif kind is schema.Kind.ZIP:
        base = str | int
        rules = {"json_schema_extra": {"pattern": r"^\s*\d{1,5}(-\d{4})?\s*$"}}
        note = '; "06016", 6016 and 6016.0 are the same ZIP'
    elif kind is schema.Kind.CODE:
        base = int
        rules = {"ge": 0, "le": 2**63 - 1}
        note = " (not a feature)"
    else:
        base = date
        rules = {
            "ge": FIRST_DAY,
            "le": LAST_DAY,
            "json_schema_extra": {"formatMinimum": str(FIRST_DAY), "formatMaximum": str(LAST_DAY)},
        }
        note = f" (ISO), between {FIRST_DAY} and {LAST_DAY}"
    annotation = base if f.required else base | None
    if kind is schema.Kind.ZIP:  # outside the union, so a bad ZIP gives one error, not one a branch
        annotation = Annotated[annotation, BeforeValidator(normalise_zip)]
    elif f.canonical:
        annotation = Annotated[annotation, BeforeValidator(canonical_text(f.canonical))]
    elif kind is schema.Kind.DATE:
        annotation = Annotated[annotation, BeforeValidator(_iso_day_only)]
    default: Any = ... if f.required else None
    return annotation, Field(default, description=col.description + note, **rules)


def listing_model(inputs: tuple[schema.ListingInput, ...]) -> type[BaseModel]:
    """The request model of one listing, one field per declared input, in their order."""
    example: dict[str, Any] = {f.name: f.example for f in inputs if f.example is not None}
    fields: dict[str, Any] = {f.name: _field(f) for f in inputs}
    return create_model(
        "ListingIn",
        __config__=ConfigDict(
            extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [example]}
        ),
        __doc__="One listing to price. Sizes and room counts within the listing schema's ranges.",
        **fields,
    )


ListingIn = listing_model(schema.LISTING_INPUTS)


class ListingPrediction(BaseModel):
    """The price of one listing of a batch."""

    price: float = Field(description="predicted price (USD)")
    price_low: float | None = Field(
        None, description="low end of the price range (USD); null for a model trained without one"
    )
    price_high: float | None = Field(None, description="high end of the price range (USD)")
    coverage: float | None = Field(
        None,
        description="share of true prices such ranges are to hold (TASADOR_TRAIN_INTERVAL_"
        "COVERAGE; what the model's reached on its evaluation rows is in GET /models)",
    )
    log_price: float = Field(description="the model's output: natural log of the price")
    fallbacks: list[str] = Field(
        description="fields the model priced without: optional fields that were missing (absent "
        "or null), and state, city or ZIP codes unseen in training (priced with the encoding's "
        "global-mean fallback)"
    )


class PredictionOut(ListingPrediction):
    """The answer to one listing."""

    model_version: str
    request_id: str


class FieldErrorOut(BaseModel):
    """Why one field (or the body) was refused."""

    loc: list[str | int] = Field(description='where: "body", then the listing\'s index, the field')
    msg: str
    type: str
    input: str | float | int | bool | None = Field(
        None, description="the refused value, when it is a short scalar (never a whole listing)"
    )


class RefusedOut(BaseModel):
    """A refused body: its first errors (at most 50) and how many there were."""

    detail: list[FieldErrorOut]
    error_count: int


class UnreadableOut(BaseModel):
    """A body that could not be read at all."""

    detail: str


class RefusedItemOut(BaseModel):
    """A listing of a list priced item by item (`per_item=true`) that could not be priced."""

    detail: list[FieldErrorOut]
    error_count: int


class BatchPredictionOut(BaseModel):
    """The answer to a list of listings, in the order they were sent (with `per_item=true`, an
    invalid listing's place holds its errors instead of a price)."""

    model_version: str
    request_id: str
    predictions: list[ListingPrediction | RefusedItemOut]


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
    shap_values: dict[str, float] = Field(
        description="per input field, the log contribution (`inputs[*].log`): SHAP's own name"
    )
    base_value: float = Field(description="the same as `base_log_price`: SHAP's own name")
    fallbacks: list[str]
    model_version: str
    request_id: str


class ReloadStatusOut(BaseModel):
    """How following the `production` alias has gone."""

    last_checked_at: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None = Field(
        description="a fixed description of the last failure (the service log has its detail)"
    )
    successes: int
    failures: int
    poll_seconds: float


class LiveDriftOut(BaseModel):
    """The last drift check of recent requests against the served model's training data."""

    interval_seconds: float = Field(description="how often the check runs")
    last_check_at: datetime | None = Field(description="when it last ran, whatever came of it")
    last_check_skipped: str | None = Field(
        description="why the last check gave no verdict (too few listings, no model...); null "
        "when it gave one"
    )
    checked_at: datetime | None = Field(description="when the last verdict was reached")
    model_version: str | None = Field(description="the model version that verdict was about")
    listings: int = Field(description="recent priced listings the verdict compared")
    verdict: bool | None = Field(description="true: traffic has drifted; null before a verdict")
    reason: str | None = Field(description="the verdict in words, with the drifted features")
    drifted_features: list[str]


class ModelInfoOut(BaseModel):
    """The served model, what it was trained on, and what it accepts."""

    name: str
    version: str
    model_version: str = Field(description="the same as `version` (the name earlier clients read)")
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
    live_drift: LiveDriftOut | None = Field(
        description="drift of recent requests from the training data; null when the check is off"
    )


class ReloadOut(BaseModel):
    """The answer to POST /reload."""

    version: str | None
    changed: bool
    error: str | None


class HealthOut(BaseModel):
    """Liveness (always 200 while the process answers) and whether it is fully serving."""

    status: Literal["healthy", "degraded"] = Field(
        description="healthy: a model is served and the inference log writes to RAW DATA"
    )
    model_version: str | None
    problems: list[str] = Field(description="why it is degraded, in words (empty when healthy)")


class ReadyOut(BaseModel):
    status: str
    model_version: str | None = None


class ServiceInfoOut(BaseModel):
    """What this service is and where to go next."""

    name: str
    version: str = Field(description="the tasador package's version")
    model_name: str
    model_version: str | None = Field(description="the served version (none loaded yet: null)")
    docs: str
    openapi: str
    endpoints: list[str]


class StatesOut(BaseModel):
    """The states the served model has seen in training (others are priced by fallback)."""

    model_version: str
    states: list[str]
