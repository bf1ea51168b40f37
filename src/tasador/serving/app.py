"""The inference API: a FastAPI app factory, served by uvicorn with one worker per process.

Request path of `/predict`: a list (told from a single listing by the body's first character) goes
through the columnar fast path (`tasador.serving.columnar`), straight to one numpy array per column;
a single listing, and any list the fast path cannot take as is, is validated by pydantic in one pass
(`validate_json`) and then put in columns; the shared feature builder turns the columns into the
model matrix (no pandas, no per-row work); the native booster predicts with `inplace_predict`, in a
worker thread, together with the requests waiting alongside (`tasador.serving.batching`); the
answer is written with orjson; then the request is handed to the inference log, which writes it
to RAW DATA off the request path (the inputs as the raw body received, an `orjson.Fragment`: no
re-encoding). Every request takes the served model once
(`holder.current()`), so a model swap never changes the model under a request in flight.

Invalid bodies get FastAPI's usual 422 (`detail`: a list of `loc`, `msg`, `type`), `loc` starting
with "body" and naming the field (`["body", "bed"]`, or `["body", 3, "bed"]` for the fourth listing
of a list).

Metrics are per process (see `tasador.serving.metrics`): run one uvicorn worker per process and
scale with processes or replicas.
"""

import gc
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Annotated, Any, Final

import numpy as np
import orjson
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field, TypeAdapter, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tasador.serving.batching import PredictionBatcher
from tasador.serving.columnar import listing_columns_fast
from tasador.serving.explain import explain
from tasador.serving.metrics import ServingMetrics
from tasador.serving.model_holder import ModelHolder, ServedModel
from tasador.serving.schemas import (
    BatchPredictionOut,
    ExplanationOut,
    HealthOut,
    ListingIn,
    ModelInfoOut,
    PredictionOut,
    ReloadOut,
)
from tasador.training.features import ENCODED, Columns, FeatureSpec, build_features

if TYPE_CHECKING:
    from tasador.serving.inference_log import InferenceLog

logger = logging.getLogger(__name__)

ENDPOINTS: Final[frozenset[str]] = frozenset(
    {"/health", "/ready", "/model", "/predict", "/explain", "/metrics", "/reload"}
)
LOGGED: Final[frozenset[str]] = frozenset({"/predict", "/explain"})
_NUMBERS: Final[tuple[str, ...]] = ("bed", "bath", "acre_lot", "house_size")
_TEXTS: Final[tuple[str, ...]] = ("state", "status", "city", "zip_code")


class OrjsonResponse(Response):
    """A JSON response written by orjson (numpy values included)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


_COLUMN_FIELDS: Final[tuple[str, ...]] = (*_NUMBERS, *_TEXTS, "prev_sold_date")
_ROW_VALUES: Final = attrgetter(*_COLUMN_FIELDS)
_EPOCH_DAY: Final[int] = date(1970, 1, 1).toordinal()
_NAT: Final[int] = int(np.datetime64("NaT", "D").view(np.int64))
# Every combination of encoded fields that fell back, indexed by a bit mask (bit i: ENCODED[i]).
_FALLBACK_LISTS: Final[tuple[list[str], ...]] = tuple(
    [col for i, col in enumerate(ENCODED) if mask >> i & 1] for mask in range(2 ** len(ENCODED))
)


def listing_columns(listings: Sequence[ListingIn]) -> Columns:
    """One numpy array per listing column: the feature builder's input, without pandas."""
    values = list(zip(*map(_ROW_VALUES, listings), strict=True))
    columns: dict[str, np.ndarray] = {}
    for name, column in zip(_COLUMN_FIELDS, values, strict=True):
        if name in _NUMBERS:
            columns[name] = np.array(column, dtype=np.float64)
        elif name == "prev_sold_date":  # via day numbers: numpy converts date objects slowly
            days = np.fromiter(
                (_NAT if d is None else d.toordinal() - _EPOCH_DAY for d in column),
                dtype=np.int64,
                count=len(column),
            )
            columns[name] = days.view("datetime64[D]")
        else:
            array = np.empty(len(column), dtype=object)
            array[:] = column
            columns[name] = array
    return columns


def fallback_fields(x: np.ndarray, spec: FeatureSpec) -> list[list[str]]:
    """Per row of the model matrix, the encoded fields that used the encoding's fallback.

    A value missing or unseen in training is encoded with the fallback and a training count of 0,
    while every known value has a count of at least 1; so the count columns say it. The lists are
    shared between rows (read them, do not change them).
    """
    mask = np.zeros(len(x), dtype=np.intp)
    for i, col in enumerate(ENCODED):
        count = x[:, spec.feature_names.index(f"{col}_n")]
        mask |= (count == 0).astype(np.intp) << i
    return [_FALLBACK_LISTS[m] for m in mask.tolist()]


def priced(
    x: np.ndarray, log_price: np.ndarray, spec: FeatureSpec
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """(prices in dollars, one answer item per row of `x`: price, log price, fallbacks)."""
    price = np.exp(log_price)
    items = [
        {"price": p, "log_price": lp, "fallbacks": f}
        for p, lp, f in zip(
            price.tolist(), log_price.tolist(), fallback_fields(x, spec), strict=True
        )
    ]
    return price, items


def _jsonable(value: Any) -> Any:
    """`value` as plain JSON values (what orjson cannot write, such as huge integers, as text)."""
    try:
        return orjson.loads(orjson.dumps(value, default=str))
    except TypeError:
        return {"unserialisable": repr(value)[:10_000]}


def _is_list(raw: bytes) -> bool:
    """Whether a JSON body is an array (its first non-blank character is "[")."""
    return raw.lstrip(b" \t\r\n")[:1] == b"["


def _validation_error(err: ValidationError, raw: bytes) -> RequestValidationError:
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


class _BodyReader:
    """Parses and validates a listing body straight from bytes (fast path, else pydantic)."""

    def __init__(self, max_batch: int) -> None:
        self.max_batch = max_batch
        self.one = TypeAdapter(ListingIn)
        self.many = TypeAdapter(
            Annotated[list[ListingIn], Field(min_length=1, max_length=max_batch)]
        )

    async def listing(self, request: Request) -> tuple[ListingIn, bytes]:
        raw = await request.body()
        try:
            return self.one.validate_json(raw), raw
        except ValidationError as err:
            raise _validation_error(err, raw) from None

    async def listings(self, request: Request) -> tuple[Columns, bool, bytes]:
        """(the listings' columns, whether the body was a single listing, raw body).

        A list goes through the columnar fast path; what that path cannot take, and any single
        listing, is validated by pydantic.
        """
        raw = await request.body()
        is_list = _is_list(raw)
        if is_list and (columns := listing_columns_fast(raw, self.max_batch)) is not None:
            return columns, False, raw
        try:
            if is_list:
                return listing_columns(self.many.validate_json(raw)), False, raw
            return listing_columns([self.one.validate_json(raw)]), True, raw
        except ValidationError as err:
            raise _validation_error(err, raw) from None


def _request_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


class _RequestMetrics:
    """Pure ASGI middleware: a request id for every request, and its count and latency."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path = scope["path"]
            endpoint = path if path in ENDPOINTS else "other"
            self.metrics.observe_request(endpoint, status, time.perf_counter() - started)


def create_app(
    *,
    holder: ModelHolder,
    inference_log: "InferenceLog | None",
    model_name: str,
    reload_token: str | None,
    max_batch: int,
    max_body_bytes: int,
) -> FastAPI:
    """The inference API around `holder` (the served model) and `inference_log` (RAW DATA sink).

    The lifespan starts the holder's poller and the inference log, and on shutdown stops the poller
    and closes the log (flushing it, spilling what cannot be written). `reload_token` None
    disables POST /reload (404); `max_batch` bounds a /predict list; bodies over
    `max_body_bytes` get 413.
    """
    batcher = PredictionBatcher()
    metrics = ServingMetrics(
        holder,
        queue_depth=inference_log.depth if inference_log is not None else None,
        write_failures=(lambda: inference_log.write_failures) if inference_log else None,
        booster_calls=lambda: dict(batcher.calls_by_mode),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if inference_log is not None:
            inference_log.start()
        holder.start()
        # Everything imported so far (MLflow, pandas, XGBoost...) lives as long as the process:
        # keep it out of the garbage collector's full passes, which would otherwise walk it all
        # and pause requests for tens of milliseconds.
        gc.freeze()
        try:
            yield
        finally:
            holder.stop()
            explainers.shutdown(wait=False, cancel_futures=True)
            batcher.close()
            if inference_log is not None:
                await run_in_threadpool(inference_log.close)

    app = FastAPI(
        title="tasador inference API",
        summary="Prices a listing with the model that holds the registry alias `production`.",
        version="1",
        lifespan=lifespan,
        max_body_size=max_body_bytes,
    )
    app.add_middleware(_RequestMetrics, metrics=metrics)
    app.state.metrics = metrics
    app.state.holder = holder

    reader = _BodyReader(max_batch)
    app.state.batcher = batcher
    # threads that take the other tree ranges of an /explain (see explain.TreeSplit)
    explainers = ThreadPoolExecutor(
        max_workers=max(1, holder.explain_threads - 1), thread_name_prefix="explain"
    )

    bearer = HTTPBearer(auto_error=False, description="TASADOR_SERVING_RELOAD_TOKEN")

    def served(
        request_id: str, received_at: datetime, started: float, endpoint: str, raw: bytes
    ) -> ServedModel:
        """The model for this request; 503 (logged like any request) when none is loaded yet."""
        model = holder.current()
        if model is None:
            detail = {"detail": "no model loaded yet: nothing holds the production alias"}
            inputs = orjson.Fragment(raw)
            log(request_id, received_at, endpoint, None, inputs, detail, started, 503)
            raise HTTPException(503, detail["detail"])
        return model

    def log(
        request_id: str,
        received_at: datetime,
        endpoint: str,
        model: ServedModel | None,
        inputs: Any,
        outputs: Any,
        started: float,
        status_code: int,
    ) -> None:
        if inference_log is None:
            return
        inference_log.submit(
            {
                "request_id": request_id,
                "received_at": received_at,
                "endpoint": endpoint,
                "model_name": model.name if model else model_name,
                "model_version": model.version if model else None,
                "inputs": inputs,
                "outputs": outputs,
                "latency_ms": (time.perf_counter() - started) * 1000.0,
                "status_code": status_code,
            }
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        response = await request_validation_exception_handler(request, exc)
        if request.url.path in LOGGED:
            body = exc.body if isinstance(exc.body, dict | list) else None
            log(
                request.state.request_id,
                datetime.now(UTC),
                request.url.path,
                holder.current(),
                _jsonable(body),
                _jsonable({"detail": exc.errors()}),
                time.perf_counter(),
                422,
            )
        return response

    @app.get("/health", response_model=HealthOut, tags=["service"])
    async def health() -> Response:
        """The process is up (it may not have a model yet)."""
        return OrjsonResponse({"status": "ok"})

    @app.get(
        "/ready",
        response_model=HealthOut,
        responses={503: {"description": "no model loaded yet"}},
        tags=["service"],
    )
    async def ready() -> Response:
        """A model is loaded and answers."""
        model = holder.current()
        if model is None:
            return OrjsonResponse({"status": "no model loaded"}, status_code=503)
        return OrjsonResponse({"status": "ok", "model_version": model.version})

    @app.get(
        "/model",
        response_model=ModelInfoOut,
        responses={503: {"description": "no model loaded yet"}},
        tags=["model"],
    )
    async def model_info() -> Response:
        """The served model: version, run, training window, metrics, features, categories."""
        model = holder.current()
        reload_status = holder.describe()
        if model is None:
            return OrjsonResponse(
                {"detail": "no model loaded yet", "reload": reload_status}, status_code=503
            )
        encodings = model.spec.encodings
        return OrjsonResponse(
            {
                "name": model.name,
                "version": model.version,
                "alias": holder.alias,
                "run_id": model.run_id,
                "trained_at": model.trained_at,
                "loaded_at": model.loaded_at,
                "training_window": model.training_window,
                "metrics": model.metrics,
                "features": list(model.spec.feature_names),
                "categories": {
                    "status": list(model.spec.statuses),
                    "state": list(encodings["state"].categories),
                },
                "known_categories": {col: len(encodings[col].categories) for col in ENCODED},
                "reload": reload_status,
            }
        )

    @app.post(
        "/predict",
        response_model=PredictionOut | BatchPredictionOut,
        responses={
            413: {"description": "body too large"},
            503: {"description": "no model loaded yet"},
        },
        tags=["predict"],
        openapi_extra=_request_body(
            {
                "oneOf": [
                    {"$ref": "#/components/schemas/ListingIn"},
                    {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/ListingIn"},
                        "minItems": 1,
                        "maxItems": max_batch,
                    },
                ]
            }
        ),
    )
    async def predict(request: Request) -> Response:
        """Price one listing, or a list of listings (answered in the order sent).

        An unknown state, city or ZIP code is priced with the encoding's fallback and named in
        `fallbacks`.
        """
        started, received_at = time.perf_counter(), datetime.now(UTC)
        request_id: str = request.state.request_id
        batcher.in_flight += 1
        try:
            columns, single, raw = await reader.listings(request)
            model = served(request_id, received_at, started, "/predict", raw)
            x = build_features(columns, model.spec)
            log_price = await batcher.predict(model, x)  # with the requests waiting alongside
        finally:
            batcher.in_flight -= 1
        price, items = priced(x, log_price, model.spec)
        metrics.observe_predictions(model.version, price)
        if single:
            content: dict[str, Any] = {
                **items[0],
                "model_version": model.version,
                "request_id": request_id,
            }
            outputs: Any = items[0]
        else:  # encoded once, for the answer and for the inference log
            outputs = orjson.Fragment(orjson.dumps(items))
            content = {
                "model_version": model.version,
                "request_id": request_id,
                "predictions": outputs,
            }
        response = OrjsonResponse(content)
        log(request_id, received_at, "/predict", model, orjson.Fragment(raw), outputs, started, 200)
        return response

    @app.post(
        "/explain",
        response_model=ExplanationOut,
        responses={
            413: {"description": "body too large"},
            503: {"description": "no model loaded yet"},
        },
        tags=["predict"],
        openapi_extra=_request_body({"$ref": "#/components/schemas/ListingIn"}),
    )
    async def explain_listing(request: Request) -> Response:
        """Exact TreeSHAP contributions of one listing's price, per input field and per model
        feature, in log price and in dollars; base plus contributions is the prediction."""
        started, received_at = time.perf_counter(), datetime.now(UTC)
        request_id: str = request.state.request_id
        body, raw = await reader.listing(request)
        model = served(request_id, received_at, started, "/explain", raw)
        columns = listing_columns([body])
        x = build_features(columns, model.spec)
        # in a worker thread: XGBoost releases the GIL, so other requests go on meanwhile
        result = await run_in_threadpool(
            explain, model.booster_for(len(x)), x, model.input_weights, model.tree_split, explainers
        )
        factor = float(result.dollar_factor()[0])
        price = float(result.price[0])
        metrics.observe_predictions(model.version, result.price)

        def terms(names: Sequence[str], values: np.ndarray) -> dict[str, dict[str, float]]:
            return {
                name: {"log": v, "dollars": v * factor}
                for name, v in zip(names, values.tolist(), strict=True)
            }

        content = {
            "price": price,
            "log_price": float(result.log_price[0]),
            "base_log_price": float(result.base[0]),
            "base_price": float(result.base_price[0]),
            "inputs": terms(model.input_names, result.inputs[0]),
            "features": terms(model.spec.feature_names, result.features[0]),
            "fallbacks": fallback_fields(x, model.spec)[0],
            "model_version": model.version,
            "request_id": request_id,
        }
        response = OrjsonResponse(content)
        outputs = {k: v for k, v in content.items() if k not in ("model_version", "request_id")}
        log(request_id, received_at, "/explain", model, orjson.Fragment(raw), outputs, started, 200)
        return response

    @app.get("/metrics", tags=["service"])
    async def prometheus_metrics() -> Response:
        """Prometheus metrics of this process (`tasador_*`)."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post(
        "/reload",
        response_model=ReloadOut,
        responses={
            401: {"description": "missing or wrong bearer token"},
            404: {"description": "no reload token configured: the endpoint is disabled"},
            502: {"description": "the registry could not be read or the model not loaded"},
        },
        tags=["model"],
    )
    async def reload(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Response:
        """Check the `production` alias now and load its version if it is not the served one.

        Needs `Authorization: Bearer <token>` (TASADOR_SERVING_RELOAD_TOKEN); with no token
        configured the endpoint is disabled.
        """
        if not reload_token:
            raise HTTPException(404, "reload is disabled: no reload token configured")
        if credentials is None or not secrets.compare_digest(
            credentials.credentials.encode(), reload_token.encode()
        ):
            raise HTTPException(
                401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        result = await run_in_threadpool(holder.reload)
        content = {
            "version": result.model.version if result.model else None,
            "changed": result.changed,
            "error": result.error,
        }
        return OrjsonResponse(content, status_code=502 if result.error else 200)

    _document_listing(app)
    return app


def _document_listing(app: FastAPI) -> None:
    """Put `ListingIn` in the OpenAPI components (the routes read their bodies themselves)."""
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = default_openapi()
        schema = ListingIn.model_json_schema(ref_template="#/components/schemas/{model}")
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components.update(schema.pop("$defs", {}))
        components["ListingIn"] = schema
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
