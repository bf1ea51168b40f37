"""The fast path for a list of listings: JSON straight to columns.

`ListingIn` (pydantic, derived from `schema.LISTING_INPUTS`) is the contract, and the only source
of error messages. Building a thousand `ListingIn` objects and taking them apart again costs more
than pricing them, so a list body first goes through a `FastReader` built from the same
declaration: msgspec decodes and checks it in one pass against a struct whose constraints are read
from `ListingIn` (ranges, lengths, choices, ISO dates, required fields, no unknown field), the
values are gathered into one array per field, and what msgspec cannot say (no whitespace to strip,
the ZIP code's normal form, the date's range) is checked once per distinct value, or over the
whole column at once.

The fast path accepts only a subset of what `ListingIn` accepts, and gives the same values:
exact JSON types (numbers as numbers, texts as texts), texts with no whitespace to strip, dates as
`YYYY-MM-DD`. Anything else, valid or not, returns None and the caller validates the body with
pydantic, which then either accepts it (lax conversions, stripping) or answers 422 with its usual
errors. A property test holds the two paths to that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from operator import attrgetter
from typing import Annotated, Any, Final, Literal

import msgspec
import numpy as np
from annotated_types import Ge, Le, MaxLen, MinLen
from pydantic import BaseModel

from tasador import schema
from tasador.serving.api_models import (
    FIRST_DAY,
    LAST_DAY,
    ListingIn,
    canonical_text,
    normalise_zip,
)
from tasador.training.features import Columns

Kind = schema.Kind
Inputs = tuple[schema.ListingInput, ...]
_FIRST_SALE, _LAST_SALE = np.datetime64(FIRST_DAY, "D"), np.datetime64(LAST_DAY, "D")
_EPOCH_DAY: Final[int] = date(1970, 1, 1).toordinal()
_NAT: Final[int] = int(np.datetime64("NaT", "D").view(np.int64))


def _objects(values: Sequence[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _days(values: Sequence[date | None]) -> np.ndarray:
    """Days as datetime64[D] (NaT for None), each distinct day converted once: numpy converts
    date objects slowly."""
    table: dict[date | None, int] = {
        d: d.toordinal() - _EPOCH_DAY for d in set(values) if d is not None
    }
    table[None] = _NAT
    return np.fromiter(map(table.__getitem__, values), dtype=np.int64, count=len(values)).view(
        "datetime64[D]"
    )


def listing_columns(listings: Sequence[BaseModel], inputs: Inputs = schema.MODEL_INPUTS) -> Columns:
    """One numpy array per model input of validated listings: the feature builder's input."""
    columns: dict[str, np.ndarray] = {}
    for f in inputs:
        values = [getattr(listing, f.name) for listing in listings]
        if f.kind is Kind.NUMBER:
            columns[f.name] = np.array(values, dtype=np.float64)
        elif f.kind is Kind.DATE:
            columns[f.name] = _days(values)
        elif f.is_feature:
            columns[f.name] = _objects(values)
    return columns


def _constraints(model: type[BaseModel], name: str) -> msgspec.Meta:
    """The ge/le and length constraints the request model puts on a field, as msgspec's."""
    found: dict[str, Any] = {}
    for rule in model.model_fields[name].metadata:
        if isinstance(rule, Ge):
            found["ge"] = rule.ge
        elif isinstance(rule, Le):
            found["le"] = rule.le
        elif isinstance(rule, MinLen):
            found["min_length"] = rule.min_length
        elif isinstance(rule, MaxLen):
            found["max_length"] = rule.max_length
    return msgspec.Meta(**found)


def _fast_type(f: schema.ListingInput, model: type[BaseModel]) -> Any:
    """The JSON types the fast path takes for a field (a strict subset of pydantic's)."""
    if f.kind is Kind.CHOICE:
        return Literal[f.choices]
    if f.kind is Kind.ZIP:
        return str | int  # a float ZIP (rare) goes to pydantic
    if f.kind is Kind.DATE:
        return date  # "YYYY-MM-DD" only, and a real day (msgspec's date)
    base = {Kind.NUMBER: float, Kind.TEXT: str, Kind.CODE: int}[f.kind]
    return Annotated[base, _constraints(model, f.name)]


class _NeedsPydanticError(Exception):
    """The body needs pydantic: it is invalid, or valid only through a lax conversion."""


def _require(condition: bool) -> None:
    if not condition:
        raise _NeedsPydanticError


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
    """`_days`, range checked."""
    days = _days(values)
    known = days[~np.isnat(days)]
    _require(bool(np.all((known >= _FIRST_SALE) & (known <= _LAST_SALE))))
    return days


class FastReader:
    """Reads a JSON list of listings straight into columns, for the declared `inputs`.

    `model` is the request model derived from the same inputs: its constraints are the fast path's.
    """

    def __init__(self, inputs: Inputs = schema.LISTING_INPUTS, model: type[BaseModel] = ListingIn):
        self.inputs = inputs
        fields = [
            (f.name, _fast_type(f, model))
            if f.required
            else (f.name, _fast_type(f, model) | None, None)
            for f in inputs
        ]
        self.struct: type[msgspec.Struct] = msgspec.defstruct(
            "ListingStruct",
            fields,
            kw_only=True,
            forbid_unknown_fields=True,
            gc=False,  # no containers: a thousand of them need no tracking by the collector
        )
        self._get = {f.name: attrgetter(f.name) for f in inputs}
        self._canonical = {f.name: canonical_text(f.canonical) for f in inputs if f.canonical}
        self._decoders: dict[int, msgspec.json.Decoder[list[Any]]] = {}

    def _decoder(self, max_batch: int) -> msgspec.json.Decoder[list[Any]]:
        decoder = self._decoders.get(max_batch)
        if decoder is None:
            bounded = msgspec.Meta(min_length=1, max_length=max_batch)
            decoder = msgspec.json.Decoder(Annotated[list[self.struct], bounded])  # type: ignore[name-defined]
            self._decoders[max_batch] = decoder
        return decoder

    def _column(self, f: schema.ListingInput, rows: list[Any]) -> np.ndarray:
        get = self._get[f.name]
        if f.kind is Kind.NUMBER:
            if f.required:  # never None
                return np.fromiter(map(get, rows), dtype=np.float64, count=len(rows))
            return np.array(list(map(get, rows)), dtype=np.float64)  # None becomes NaN
        values = list(map(get, rows))
        if f.kind is Kind.TEXT:
            _require(all(_plain(v) for v in set(values) if v is not None))
            if f.canonical:
                values = _mapped(values, self._canonical[f.name])
        elif f.kind is Kind.ZIP:
            values = _mapped(values, normalise_zip)
        elif f.kind is Kind.DATE:
            return _dates(values)
        return _objects(values)

    def read(self, raw: bytes, max_batch: int) -> Columns | None:
        """The columns of a JSON list of listings, or None when pydantic must validate the body.

        The columns are those `listing_columns` builds from the validated request models.
        """
        try:
            rows = self._decoder(max_batch).decode(raw)
            return {f.name: self._column(f, rows) for f in self.inputs if f.is_feature}
        except (_NeedsPydanticError, msgspec.ValidationError, msgspec.DecodeError):
            return None


_DEFAULT: Final[FastReader] = FastReader()
ListingStruct = _DEFAULT.struct
FIELDS: Final[tuple[str, ...]] = tuple(f.name for f in schema.LISTING_INPUTS)


def listing_columns_fast(raw: bytes, max_batch: int) -> Columns | None:
    """The declared listing's columns of a JSON list body (see `FastReader.read`)."""
    return _DEFAULT.read(raw, max_batch)
