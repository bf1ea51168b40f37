"""Refused requests: a bounded 422 (or 400) naming the fields, kept in the inference log too.

A refused body gets at most `MAX_ERRORS` errors and the total count, each with its location, message
and type, and the offending value only when it is a short scalar: never a whole listing, never a
non-finite number (JSON has none). So a 1,000-listing invalid request gets a small answer, and the
log stores that answer. A body that is not UTF-8 gets 400.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from tasador.serving.responses import OrjsonResponse

if TYPE_CHECKING:
    from tasador.serving.state import ServingState

LOGGED: Final[frozenset[str]] = frozenset({"/predict", "/explain"})
MAX_ERRORS: Final[int] = 50
_MAX_ECHO: Final[int] = 200  # longest text echoed back as an error's input


class RefusedBodyError(Exception):
    """A request body that cannot be priced: the answer's status and its JSON content."""

    def __init__(self, status_code: int, content: dict[str, Any], raw: bytes) -> None:
        super().__init__(status_code, content)
        self.status_code = status_code
        self.content = content
        self.raw = raw


def _echo(value: Any) -> tuple[bool, Any]:
    """(whether to echo `value` as an error's input, the JSON value to echo)."""
    if value is None or isinstance(value, bool):
        return True, value
    if isinstance(value, int):  # JSON readers (and orjson) stop at 64 bits: larger as text
        return True, value if -(2**63) <= value < 2**63 else str(value)
    if isinstance(value, float):
        return True, value if math.isfinite(value) else str(value)  # "nan", "inf"
    if isinstance(value, str) and len(value) <= _MAX_ECHO:
        return True, value
    return False, None


def field_errors(errors: Iterable[Mapping[str, Any]], count: int) -> dict[str, Any]:
    """The 422 content: the first `MAX_ERRORS` errors, bounded and JSON-safe, and the count."""
    detail: list[dict[str, Any]] = []
    for error in errors:
        if len(detail) == MAX_ERRORS:
            break
        item: dict[str, Any] = {
            "loc": [part if isinstance(part, int) else str(part) for part in error["loc"]],
            "msg": str(error["msg"]),
            "type": str(error["type"]),
        }
        echo, value = _echo(error.get("input"))
        if echo and error["type"] != "json_invalid":
            item["input"] = value
        detail.append(item)
    return {"detail": detail, "error_count": count}


def not_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def logged_body(raw: bytes) -> Any:
    """A refused body as the inference log keeps it: the JSON as received, or, for bytes that are
    not strict JSON (not UTF-8, NaN...), those bytes in base64 so nothing is lost."""
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"body_base64": base64.b64encode(raw).decode("ascii")}
    return orjson.Fragment(raw)


def _log_refused(request: Request, inputs: Any, outputs: Any, status_code: int) -> None:
    if request.url.path in LOGGED:
        state: ServingState = request.app.state.serving
        now, started = datetime.now(UTC), time.perf_counter()
        model = state.holder.current()
        state.log(request.state.request_id, now, request.url.path, model, inputs, outputs, started,
                  status_code)  # fmt: skip


async def refused_body(request: Request, exc: Exception) -> Response:
    """The bounded 422 (or 400) of a refused listing body, logged like any request."""
    if not isinstance(exc, RefusedBodyError):  # registered for that class only
        raise exc
    _log_refused(request, logged_body(exc.raw), exc.content, exc.status_code)
    return OrjsonResponse(exc.content, status_code=exc.status_code)


async def invalid_request(request: Request, exc: Exception) -> Response:
    """FastAPI's own validation errors (query parameters, say), bounded the same way."""
    if not isinstance(exc, RequestValidationError):  # registered for that class only
        raise exc
    errors = exc.errors()
    content = field_errors(errors, len(errors))
    _log_refused(request, None, content, 422)
    return OrjsonResponse(content, status_code=422)
