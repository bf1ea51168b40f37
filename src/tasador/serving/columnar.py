"""The fast path for a list of listings: JSON straight to columns, checked a column at a time.

`ListingIn` (pydantic) is the contract, and the only source of error messages. Building a thousand
`ListingIn` objects and taking them apart again costs more than pricing them, so a list body first
goes through `listing_columns_fast`: orjson parses it, each column is pulled out once, its types
are checked as a set and its values with numpy (ranges from the listing schema, as `ListingIn`
reads them) or once per distinct value (text fields, ZIP codes, dates).

The fast path accepts only a subset of what `ListingIn` accepts, and gives the same values:
exact JSON types (numbers as numbers, texts as texts), texts with no whitespace to strip, dates as
`YYYY-MM-DD`. Anything else, valid or not, returns None and the caller validates the body with
pydantic, which then either accepts it (lax conversions, stripping) or answers 422 with its usual
errors. A property test holds the two paths to that.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Final

import numpy as np
import orjson
from annotated_types import Ge, Le

from tasador import schema
from tasador.serving.schemas import ListingIn, normalise_zip
from tasador.training.features import Columns

_NUMBERS: Final[tuple[str, ...]] = ("bed", "bath", "acre_lot", "house_size")
_NONE: Final[type] = type(None)
_ISO_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _field_bounds(name: str) -> tuple[float, float]:
    """The inclusive range `ListingIn` puts on a field (its ge/le constraints)."""
    low, high = -np.inf, np.inf
    for rule in ListingIn.model_fields[name].metadata:
        if isinstance(rule, Ge):
            low = float(rule.ge)  # type: ignore[arg-type]
        elif isinstance(rule, Le):
            high = float(rule.le)  # type: ignore[arg-type]
    return low, high


def _text_limits(name: str) -> tuple[int, int]:
    """(min_length, max_length) of a text field of `ListingIn`."""
    low, high = 0, 1 << 30
    for rule in ListingIn.model_fields[name].metadata:
        low = getattr(rule, "min_length", None) or low
        high = getattr(rule, "max_length", None) or high
    return low, high


_FIELDS: Final[frozenset[str]] = frozenset(ListingIn.model_fields)
_BOUNDS: Final[dict[str, tuple[float, float]]] = {
    name: _field_bounds(name) for name in (*_NUMBERS, "brokered_by")
}
_TEXT_LIMITS: Final[dict[str, tuple[int, int]]] = {n: _text_limits(n) for n in ("state", "city")}
_STATUSES: Final[frozenset[str]] = frozenset(schema.STATUSES)
_FIRST_SALE, _LAST_SALE = (np.datetime64(d, "D") for d in schema.PREV_SOLD_DATE_RANGE)


class _NeedsPydanticError(Exception):
    """The body needs pydantic: it is invalid, or valid only through a lax conversion."""


def _require(condition: bool) -> None:
    if not condition:
        raise _NeedsPydanticError


def _types(values: list[Any], allowed: Iterable[type]) -> None:
    _require(set(map(type, values)) <= set(allowed))


def _numbers(values: list[Any], name: str) -> np.ndarray:
    _types(values, (int, float))  # bool is its own type: refused here
    array = np.array(values, dtype=np.float64)
    low, high = _BOUNDS[name]
    _require(bool(np.all((array >= low) & (array <= high))))  # False for NaN too
    return array


def _plain_text(value: Any, limits: tuple[int, int]) -> bool:
    """A text pydantic keeps as it is: no edge whitespace to strip, length within limits."""
    return (
        type(value) is str
        and limits[0] <= len(value) <= limits[1]
        and not value[0].isspace()
        and not value[-1].isspace()
    )


def _texts(values: list[Any], name: str, optional: bool) -> np.ndarray:
    _types(values, (str, _NONE) if optional else (str,))
    limits = _TEXT_LIMITS[name]
    _require(all(_plain_text(v, limits) for v in set(values) if v is not None))
    return _objects(values)


def _objects(values: list[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _mapped(values: list[Any], convert: Callable[[Any], Any]) -> list[Any]:
    """`values` through `convert`, worked out once per distinct value."""
    try:
        table = {v: convert(v) for v in set(values)}
    except ValueError:
        raise _NeedsPydanticError from None
    return [table[v] for v in values]


def _zip_codes(values: list[Any]) -> np.ndarray:
    _types(values, (str, int, _NONE))  # a float ZIP (rare) goes to pydantic
    return _objects(_mapped(values, normalise_zip))


def _brokers(values: list[Any]) -> None:
    _types(values, (int, _NONE))
    low, high = _BOUNDS["brokered_by"]
    _require(all(low <= v <= high for v in set(values) if v is not None))


def _dates(values: list[Any]) -> np.ndarray:
    _types(values, (str, _NONE))
    _require(all(_ISO_DAY.fullmatch(v) for v in set(values) if v is not None))
    try:  # numpy reads ISO days, and refuses impossible ones (2015-02-30)
        days = np.array(["NaT" if v is None else v for v in values], dtype="datetime64[D]")
    except ValueError:
        raise _NeedsPydanticError from None
    known = days[~np.isnat(days)]
    _require(bool(np.all((known >= _FIRST_SALE) & (known <= _LAST_SALE))))
    return days


def listing_columns_fast(raw: bytes, max_batch: int) -> Columns | None:
    """The columns of a JSON list of listings, or None when pydantic must validate the body.

    The columns are those `listing_columns` builds from the validated `ListingIn` objects.
    """
    try:
        rows = orjson.loads(raw)
        _require(type(rows) is list and 1 <= len(rows) <= max_batch)
        _require(set(map(type, rows)) == {dict})
        # no unknown field; a missing required one shows as None, which its type check refuses
        _require(set().union(*rows) <= _FIELDS)

        def column(name: str) -> list[Any]:
            return [r.get(name) for r in rows]

        columns: dict[str, np.ndarray] = {name: _numbers(column(name), name) for name in _NUMBERS}
        columns["state"] = _texts(column("state"), "state", optional=False)
        statuses = column("status")
        _types(statuses, (str,))
        _require(set(statuses) <= _STATUSES)
        columns["status"] = _objects(statuses)
        columns["city"] = _texts(column("city"), "city", optional=True)
        columns["zip_code"] = _zip_codes(column("zip_code"))
        _brokers(column("brokered_by"))
        columns["prev_sold_date"] = _dates(column("prev_sold_date"))
    except (_NeedsPydanticError, orjson.JSONDecodeError, OverflowError):
        return None
    return columns
