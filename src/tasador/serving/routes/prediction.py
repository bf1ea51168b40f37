"""Pricing listings and explaining a price.

Request path of `/predict`: the body reader turns the body into one numpy array per field (a list
through the columnar fast path, a single listing through pydantic); the shared feature builder
turns the columns into the model matrix; the booster predicts in a worker thread together with the
requests waiting alongside (`tasador.serving.batching`); the answer is written with orjson; then
the request is handed to the inference log, which writes it to RAW DATA off the request path (the
inputs as the raw body received, an `orjson.Fragment`: no re-encoding). Every request takes the
served model once, so a model swap never changes the model under a request in flight.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import numpy as np
import orjson
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from tasador.serving.api_models import (
    BatchPredictionOut,
    ExplanationOut,
    PredictionOut,
    RefusedOut,
    UnreadableOut,
)
from tasador.serving.columnar import listing_columns
from tasador.serving.deps import State
from tasador.serving.errors import RefusedBodyError, field_errors
from tasador.serving.explain import explain
from tasador.serving.model_holder import ServedModel
from tasador.serving.responses import OrjsonResponse, fallback_fields, priced
from tasador.training.features import build_features

router = APIRouter(tags=["predict"])

_LISTING = {"$ref": "#/components/schemas/ListingIn"}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": UnreadableOut, "description": "the body is not UTF-8 text"},
    413: {"description": "body too large"},
    415: {"description": "the body is not declared as JSON (Content-Type: application/json)"},
    422: {"model": RefusedOut, "description": "invalid listing: the fields and why"},
    503: {"description": "no model loaded yet"},
}


PerItem = Annotated[
    bool,
    Query(
        description="price the valid listings of a list and give each invalid one its errors in "
        "its place (default: any invalid listing refuses the whole list, 422)"
    ),
]
WhatIf = Annotated[
    bool,
    Query(
        description="hypothetical listings (say, one home in every state): priced and logged as "
        "usual, but not taken for live traffic when it is checked for drift"
    ),
]
_NOT_A_LIST = {"loc": ("body",), "msg": "a list of listings is expected", "type": "list_type"}


def _request_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.post(
    "/predict",
    response_model=PredictionOut | BatchPredictionOut,
    responses=_ERRORS,
    openapi_extra=_request_body(
        {"oneOf": [_LISTING, {"type": "array", "items": _LISTING, "minItems": 1}]}
    ),
)
async def predict(
    request: Request, state: State, per_item: PerItem = False, what_if: WhatIf = False
) -> Response:
    """Price one listing, or a list of listings (answered in the order sent).

    A missing field, or an unknown state, city or ZIP code, is priced without and named in
    `fallbacks`.
    """
    return await _price(request, state, "/predict", per_item, what_if, lists_only=False)


@router.post(
    "/batch_predict",
    response_model=BatchPredictionOut,
    responses=_ERRORS,
    openapi_extra=_request_body({"type": "array", "items": _LISTING, "minItems": 1}),
)
async def batch_predict(
    request: Request, state: State, per_item: PerItem = False, what_if: WhatIf = False
) -> Response:
    """Price a list of listings: `{"predictions": [...]}` in the order sent. The same code and
    answer as `/predict` with a list, under the name earlier clients call."""
    return await _price(request, state, "/batch_predict", per_item, what_if, lists_only=True)


async def _price(
    request: Request,
    state: State,
    endpoint: str,
    per_item: bool,
    what_if: bool,
    *,
    lists_only: bool,
) -> Response:
    started, received_at = time.perf_counter(), datetime.now(UTC)
    request_id: str = request.state.request_id
    if per_item:
        return await _predict_per_item(request, state, started, received_at, endpoint, what_if)
    batcher = state.batcher
    batcher.in_flight += 1
    try:
        columns, single, raw = await state.reader.listings(request)
        if single and lists_only:
            raise RefusedBodyError(422, field_errors([_NOT_A_LIST], 1), raw)
        model = state.served(request_id, received_at, started, endpoint, raw)
        x = build_features(columns, model.spec)
        log_price = await batcher.predict(model, x)  # with the requests waiting alongside
    finally:
        batcher.in_flight -= 1
    price, items = priced(x, log_price, model.spec, model.interval)
    state.metrics.observe_predictions(model.version, price)
    if single:
        content: dict[str, Any] = {
            **items[0],
            "model_version": model.version,
            "request_id": request_id,
        }
        response = OrjsonResponse(content)
        inputs = orjson.Fragment(raw)
        answer = items[0]
        state.log(
            request_id, received_at, endpoint, model, inputs, answer, started, 200, what_if=what_if
        )
        return response
    return _list_answer(
        state, model, request_id, raw, items, received_at, started, endpoint, what_if
    )


def _list_answer(
    state: State,
    model: ServedModel,
    request_id: str,
    raw: bytes,
    items: list[Any],
    received_at: datetime,
    started: float,
    endpoint: str,
    what_if: bool,
) -> Response:
    """The answer to a list, its items encoded once for the answer and the inference log."""
    outputs = orjson.Fragment(orjson.dumps(items))
    content = {"model_version": model.version, "request_id": request_id, "predictions": outputs}
    response = OrjsonResponse(content)
    inputs = orjson.Fragment(raw)
    state.log(
        request_id, received_at, endpoint, model, inputs, outputs, started, 200, what_if=what_if
    )
    return response


async def _predict_per_item(
    request: Request,
    state: State,
    started: float,
    received_at: datetime,
    endpoint: str,
    what_if: bool,
) -> Response:
    """A list priced item by item: each valid listing's price, each invalid one's errors."""
    request_id: str = request.state.request_id
    columns, positions, refused, raw = await state.reader.listings_per_item(request)
    model = state.served(request_id, received_at, started, endpoint, raw)
    answers: list[Any] = [refused.get(i) for i in range(len(positions) + len(refused))]
    if positions:
        x = build_features(columns, model.spec)
        state.batcher.in_flight += 1
        try:
            log_price = await state.batcher.predict(model, x)
        finally:
            state.batcher.in_flight -= 1
        price, items = priced(x, log_price, model.spec, model.interval)
        state.metrics.observe_predictions(model.version, price)
        for position, item in zip(positions, items, strict=True):
            answers[position] = item
    return _list_answer(
        state, model, request_id, raw, answers, received_at, started, endpoint, what_if
    )


@router.post(
    "/explain",
    response_model=ExplanationOut,
    responses=_ERRORS,
    openapi_extra=_request_body(_LISTING),
)
async def explain_listing(request: Request, state: State) -> Response:
    """Exact TreeSHAP contributions of one listing's price, per input field and per model
    feature, in log price and in dollars; base plus contributions is the prediction."""
    started, received_at = time.perf_counter(), datetime.now(UTC)
    request_id: str = request.state.request_id
    body, raw = await state.reader.listing(request)
    model = state.served(request_id, received_at, started, "/explain", raw)
    x = build_features(listing_columns([body]), model.spec)
    # in a worker thread: XGBoost releases the GIL, so other requests go on meanwhile
    result = await run_in_threadpool(
        explain,
        model.booster_for(len(x)),
        x,
        model.input_weights,
        model.tree_split,
        state.explainers,
    )
    factor = float(result.dollar_factor()[0])
    state.metrics.observe_predictions(model.version, result.price)

    def terms(names: Sequence[str], values: np.ndarray) -> dict[str, dict[str, float]]:
        return {
            name: {"log": v, "dollars": v * factor}
            for name, v in zip(names, values.tolist(), strict=True)
        }

    outputs = {
        "price": float(result.price[0]),
        "log_price": float(result.log_price[0]),
        "base_log_price": float(result.base[0]),
        "base_price": float(result.base_price[0]),
        "inputs": terms(model.input_names, result.inputs[0]),
        "features": terms(model.spec.feature_names, result.features[0]),
        "shap_values": dict(zip(model.input_names, result.inputs[0].tolist(), strict=True)),
        "base_value": float(result.base[0]),
        "fallbacks": fallback_fields(x, model.spec)[0],
    }
    response = OrjsonResponse({**outputs, "model_version": model.version, "request_id": request_id})
    state.log(
        request_id, received_at, "/explain", model, orjson.Fragment(raw), outputs, started, 200
    )
    return response
