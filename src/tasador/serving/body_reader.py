"""Reads a listing body straight from bytes: the columnar fast path, else pydantic in one pass.

Invalid bodies raise `RefusedBodyError`: a 422 whose `detail` lists `loc`, `msg`, `type` (see
`serving.errors`), `loc` starting with "body" and naming the field (`["body", "bed"]`, or
`["body", 3, "bed"]` for the fourth listing of a list); a body that is not UTF-8 gets 400. A large
body that misses the fast path is validated in a worker thread, so that neither its validation nor
its errors hold up the event loop.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import orjson
from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from tasador.serving.api_models import ListingIn
from tasador.serving.columnar import FastReader, listing_columns
from tasador.serving.errors import RefusedBodyError, field_errors, not_utf8
from tasador.training.features import Columns

LARGE_BODY: Final[int] = 64_000  # bytes; larger bodies that miss the fast path go to a thread


def require_json(request: Request) -> None:
    """415 unless the body is declared JSON: a web page cannot post JSON across origins without a
    preflight, so this keeps other sites' forms out of the inference log."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        raise HTTPException(415, "the body must be JSON: send Content-Type: application/json")


def is_list(raw: bytes) -> bool:
    """Whether a JSON body is an array (its first non-blank character is "[")."""
    return raw.lstrip(b" \t\r\n")[:1] == b"["


def refusal(err: ValidationError, raw: bytes) -> RefusedBodyError:
    """The 422 of a body that pydantic refused (400 when its bytes are not even UTF-8)."""
    if err.error_count() == 1 and err.errors()[0]["type"] == "json_invalid" and not_utf8(raw):
        return RefusedBodyError(400, {"detail": "the body is not UTF-8 text"}, raw)
    return RefusedBodyError(422, refused_fields(err, "body"), raw)


def refused_fields(err: ValidationError, *where: str | int) -> dict[str, Any]:
    """The bounded errors of a pydantic refusal, each located under `where` ("body", an index)."""
    errors = (
        {**e, "loc": (*where, *e["loc"])} for e in err.errors(include_url=False, include_input=True)
    )
    return field_errors(errors, err.error_count())


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
        require_json(request)
        raw = await request.body()
        try:
            return self.one.validate_json(raw), raw
        except ValidationError as err:
            raise refusal(err, raw) from None

    async def listings(self, request: Request) -> tuple[Columns, bool, bytes]:
        """(the listings' columns, whether the body was a single listing, raw body).

        A list goes through the columnar fast path; what that path cannot take, and any single
        listing, is validated by pydantic.
        """
        require_json(request)
        raw = await request.body()
        listed = is_list(raw)
        if listed and (columns := self.fast.read(raw, self.max_batch)) is not None:
            return columns, False, raw
        if len(raw) > LARGE_BODY:
            columns = await run_in_threadpool(self._validated, raw, listed)
        else:
            columns = self._validated(raw, listed)
        return columns, not listed, raw

    async def listings_per_item(
        self, request: Request
    ) -> tuple[Columns, list[int], dict[int, dict[str, Any]], bytes]:
        """A list whose valid listings are priced and whose invalid ones are refused one by one:
        (the valid listings' columns, their positions in the list, the refusal of each invalid
        one by position, raw body). A body that is not a list of objects is refused whole."""
        require_json(request)
        raw = await request.body()
        try:
            items = orjson.loads(raw) if is_list(raw) else None
        except orjson.JSONDecodeError:
            items = None
        if not isinstance(items, list) or not 1 <= len(items) <= self.max_batch:
            self._validated(raw, True)  # raises the whole body's refusal
            raise RefusedBodyError(422, {"detail": "expected a list of listings"}, raw)
        valid: list[BaseModel] = []
        positions: list[int] = []
        refused: dict[int, dict[str, Any]] = {}
        for i, item in enumerate(items):
            try:
                valid.append(self.one.validate_json(orjson.dumps(item)))
                positions.append(i)
            except ValidationError as err:
                refused[i] = refused_fields(err, "body", i)
        columns = listing_columns(valid) if valid else {}
        return columns, positions, refused, raw

    def _validated(self, raw: bytes, listed: bool) -> Columns:
        """The columns of a body validated by pydantic; `RefusedBodyError` when it is invalid."""
        try:
            if listed:
                return listing_columns(self.many.validate_json(raw))
            return listing_columns([self.one.validate_json(raw)])
        except ValidationError as err:
            raise refusal(err, raw) from None
