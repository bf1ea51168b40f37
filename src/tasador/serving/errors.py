"""Refused requests: FastAPI's 422, and the refused prediction requests kept in the log."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Final

from fastapi import Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from tasador.serving.responses import jsonable
from tasador.serving.state import ServingState

LOGGED: Final[frozenset[str]] = frozenset({"/predict", "/explain"})


async def invalid_request(request: Request, exc: Exception) -> Response:
    """The usual 422; a refused /predict or /explain is written to the inference log too."""
    if not isinstance(exc, RequestValidationError):  # registered for that class only
        raise exc
    response = await request_validation_exception_handler(request, exc)
    if request.url.path in LOGGED:
        state: ServingState = request.app.state.serving
        body = exc.body if isinstance(exc.body, dict | list) else None
        state.log(
            request.state.request_id,
            datetime.now(UTC),
            request.url.path,
            state.holder.current(),
            jsonable(body),
            jsonable({"detail": exc.errors()}),
            time.perf_counter(),
            422,
        )
    return response
