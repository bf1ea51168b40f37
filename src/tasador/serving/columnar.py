"""The fast path for a list of listings: JSON straight to columns.

`ListingIn` (pydantic) is the contract, and the only source of error messages. Building a thousand
`ListingIn` objects and taking them apart again costs more than pricing them, so a list body first
goes through `listing_columns_fast`: msgspec decodes and checks it in one pass against a struct
whose constraints are read from `ListingIn` (ranges, lengths, statuses, ISO dates, required fields,
no unknown field), the values are gathered into one array per field, and what msgspec cannot say
(no whitespace to strip, the ZIP code's normal form, the date's range) is checked once per
distinct value, or over the whole column at once.

The fast path accepts only a subset of what `ListingIn` accepts, and gives the same values:
exact JSON types (numbers as numbers, texts as texts), texts with no whitespace to strip, dates as
`YYYY-MM-DD`. Anything else, valid or not, returns None and the caller validates the body with
pydantic, which then either accepts it (lax conversions, stripping) or answers 422 with its usual
errors. A property test holds the two paths to that.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import lru_cache
from operator import attrgetter
from typing import Annotated, Any, Final, Literal

import msgspec
import numpy as np
from annotated_types import Ge, Le, MaxLen, MinLen

from tasador import schema
from tasador.serving.schemas import ListingIn, normalise_zip
from tasador.training.features import Columns

_NUMBERS: Final[tuple[str, ...]] = ("bed", "bath", "acre_lot", "house_size")
_TEXTS: Final[tuple[str, ...]] = ("state", "city")
_FIRST_SALE, _LAST_SALE = (np.datetime64(d, "D") for d in schema.PREV_SOLD_DATE_RANGE)


def _constraints(name: str) -> msgspec.Meta:
    """The ge/le and length constraints `ListingIn` puts on a field, as msgspec's."""
    found: dict[str, Any] = {}
    for rule in ListingIn.model_fields[name].metadata:
        if isinstance(rule, Ge):
            found["ge"] = rule.ge
        elif isinstance(rule, Le):
            found["le"] = rule.le
        elif isinstance(rule, MinLen):
            found["min_length"] = rule.min_length
        elif isinstance(rule, MaxLen):
            found["max_length"] = rule.max_length
    return msgspec.Meta(**found)


# The JSON types the fast path takes for each field of `ListingIn` (a strict subset of pydantic's).
_TYPES: Final[dict[str, Any]] = {
    **{name: Annotated[float, _constraints(name)] for name in _NUMBERS},
    "state": Annotated[str, _constraints("state")],
    "status": Literal[schema.STATUSES],
    "city": Annotated[str, _constraints("city")],
    "zip_code": str | int,  # a float ZIP (rare) goes to pydantic
    "brokered_by": Annotated[int, _constraints("brokered_by")],
    "prev_sold_date": date,  # "YYYY-MM-DD" only, and a real day (msgspec's date)
}
FIELDS: Final[tuple[str, ...]] = tuple(ListingIn.model_fields)
ListingStruct = msgspec.defstruct(
    "ListingStruct",
    [
        (name, _TYPES[name])
        if ListingIn.model_fields[name].is_required()
        else (name, _TYPES[name] | None, None)
        for name in FIELDS
    ],
    kw_only=True,
    forbid_unknown_fields=True,
    gc=False,  # holds no containers: a thousand of them need not be tracked by the collector
)
_GET: Final = {name: attrgetter(name) for name in FIELDS}
_EPOCH_DAY: Final[int] = date(1970, 1, 1).toordinal()
_NAT: Final[int] = int(np.datetime64("NaT", "D").view(np.int64))


@lru_cache(maxsize=8)
def _decoder(max_batch: int) -> msgspec.json.Decoder[list[Any]]:
    return msgspec.json.Decoder(
        Annotated[list[ListingStruct], msgspec.Meta(min_length=1, max_length=max_batch)]  # type: ignore[valid-type]
    )


class _NeedsPydanticError(Exception):
    """The body needs pydantic: it is invalid, or valid only through a lax conversion."""


def _require(condition: bool) -> None:
    if not condition:
        raise _NeedsPydanticError


def _objects(values: list[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _plain(text: str) -> bool:
    """Whether pydantic keeps `text` as it is: no whitespace at either end to strip."""
    return not text[0].isspace() and not text[-1].isspace()


def _mapped(values: list[Any], convert: Callable[[Any], Any]) -> list[Any]:
    """`values` through `convert`, worked out once per distinct value."""
    try:
        table = {v: convert(v) for v in set(values)}
    except ValueError:
        raise _NeedsPydanticError from None
    return list(map(table.__getitem__, values))


def _dates(values: list[date | None]) -> np.ndarray:
    """Days as datetime64[D] (NaT for None), each distinct day converted once, range checked."""
    table: dict[date | None, int] = {
        d: d.toordinal() - _EPOCH_DAY for d in set(values) if d is not None
    }
    table[None] = _NAT
    days = np.fromiter(map(table.__getitem__, values), dtype=np.int64, count=len(values))
    days = days.view("datetime64[D]")
    known = days[~np.isnat(days)]
    _require(bool(np.all((known >= _FIRST_SALE) & (known <= _LAST_SALE))))
    return days


def listing_columns_fast(raw: bytes, max_batch: int) -> Columns | None:
    """The columns of a JSON list of listings, or None when pydantic must validate the body.

    The columns are those `listing_columns` builds from the validated `ListingIn` objects.
    """
    try:
        rows = _decoder(max_batch).decode(raw)
        n = len(rows)
        columns: dict[str, np.ndarray] = {
            name: np.fromiter(map(_GET[name], rows), dtype=np.float64, count=n)
            for name in _NUMBERS  # required: never None
        }
        for name in (*_TEXTS, "status"):
            values = list(map(_GET[name], rows))
            if name in _TEXTS:
                _require(all(_plain(v) for v in set(values) if v is not None))
            columns[name] = _objects(values)
        columns["zip_code"] = _objects(_mapped(list(map(_GET["zip_code"], rows)), normalise_zip))
        columns["prev_sold_date"] = _dates(list(map(_GET["prev_sold_date"], rows)))
    except (_NeedsPydanticError, msgspec.ValidationError, msgspec.DecodeError):
        return None
    return columns
