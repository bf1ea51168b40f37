"""Reads a listing body straight from bytes: the columnar fast path, else pydantic in one pass.

Invalid bodies raise FastAPI's `RequestValidationError`, so they get its usual 422 (`detail`: a
list of `loc`, `msg`, `type`), `loc` starting with "body" and naming the field (`["body", "bed"]`,
or `["body", 3, "bed"]` for the fourth listing of a list).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from tasador.serving.api_models import ListingIn
from tasador.serving.columnar import FastReader, listing_columns
from tasador.training.features import Columns


def is_list(raw: bytes) -> bool:
    """Whether a JSON body is an array (its first non-blank character is "[")."""
    return raw.lstrip(b" \t\r\n")[:1] == b"["


def validation_error(err: ValidationError, raw: bytes) -> RequestValidationError:
    """FastAPI's 422 for a body that pydantic refused, with the parsed body kept for the log."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    errors = [
        {**e, "loc": ("body", *e["loc"])}
        for e in err.errors(include_url=False, include_input=True, include_context=True)
    ]
    return RequestValidationError(errors, body=body)


class BodyReader:
    """Parses and validates listing bodies of up to `max_batch` listings."""

    def __init__(self, max_batch: int, fast: FastReader | None = None) -> None:
        self.max_batch = max_batch
        self.fast = fast or FastReader()
        model: Any = ListingIn
        self.one: TypeAdapter[BaseModel] = TypeAdapter(model)
        self.many: TypeAdapter[list[BaseModel]] = TypeAdapter(
            Annotated[list[model], Field(min_length=1, max_length=max_batch)]
        )

    async def listing(self, request: Request) -> tuple[BaseModel, bytes]:
        """(one validated listing, raw body)."""
        raw = await request.body()
        try:
            return self.one.validate_json(raw), raw
        except ValidationError as err:
            raise validation_error(err, raw) from None

    async def listings(self, request: Request) -> tuple[Columns, bool, bytes]:
        """(the listings' columns, whether the body was a single listing, raw body).

        A list goes through the columnar fast path; what that path cannot take, and any single
        listing, is validated by pydantic.
        """
        raw = await request.body()
        listed = is_list(raw)
        if listed and (columns := self.fast.read(raw, self.max_batch)) is not None:
            return columns, False, raw
        try:
            if listed:
                return listing_columns(self.many.validate_json(raw)), False, raw
            return listing_columns([self.one.validate_json(raw)]), True, raw
        except ValidationError as err:
            raise validation_error(err, raw) from None
