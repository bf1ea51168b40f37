"""The inference API's app factory: it assembles the routers, state and middleware, nothing more.

Metrics are per process (see `tasador.serving.metrics`): run one uvicorn worker per process and
scale with processes or replicas. `tasador.serving.main` builds the app from settings.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline

from tasador.serving.api_models import ListingIn
from tasador.serving.body_reader import BodyReader
from tasador.serving.errors import RefusedBodyError, invalid_request, refused_body
from tasador.serving.middleware import RequestMetrics
from tasador.serving.model_holder import ModelHolder
from tasador.serving.routes import history as history_routes
from tasador.serving.routes import model, prediction, requests, service
from tasador.serving.state import ServingState

if TYPE_CHECKING:
    from tasador.serving.history import HistoryReader
    from tasador.serving.inference_log import InferenceLog
    from tasador.serving.live_drift import LiveDriftMonitor


def create_app(
    *,
    holder: ModelHolder,
    inference_log: InferenceLog | None,
    model_name: str,
    reload_token: str | None,
    max_batch: int,
    max_body_bytes: int,
    history: HistoryReader | None = None,
    live_drift: LiveDriftMonitor | None = None,
    on_close: Callable[[], None] | None = None,
) -> FastAPI:
    """The inference API around `holder` (the served model) and `inference_log` (RAW DATA sink).

    The lifespan starts the holder's poller and the inference log, and on shutdown stops the poller
    and closes the log (flushing it, spilling what cannot be written). `reload_token` None
    disables POST /reload (404); `max_batch` bounds a /predict list; bodies over
    `max_body_bytes` get 413; `history` answers the read-only history endpoints (None: 503);
    `live_drift` checks recent traffic for drift (started with the app); `on_close` runs last at
    shutdown (disposing an engine, say).
    """
    state = ServingState(
        holder=holder,
        inference_log=inference_log,
        model_name=model_name,
        reload_token=reload_token,
        reader=BodyReader(max_batch),
        history=history,
        live_drift=live_drift,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if inference_log is not None:
            inference_log.start()
        holder.start()
        if live_drift is not None:
            live_drift.start()
        # What is imported by now (MLflow, pandas, XGBoost...) lives as long as the process: keep
        # it out of the collector's full passes, which would pause requests to walk it all.
        gc.freeze()
        try:
            yield
        finally:
            state.close()
            if inference_log is not None:
                await run_in_threadpool(inference_log.close)
            if on_close is not None:
                on_close()

    app = FastAPIOffline(  # /docs and /redoc from the package's own files: no CDN
        title="tasador inference API",
        summary="Prices a listing with the model that holds the registry alias `production`.",
        version="1",
        lifespan=lifespan,
        max_body_size=max_body_bytes,
    )
    app.state.serving = state
    app.add_middleware(RequestMetrics, metrics=state.metrics)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(RefusedBodyError, refused_body)
    routers = (service, model, prediction, history_routes, requests)
    for router in (r.router for r in routers):
        app.include_router(router)
    _document_listing(app, max_batch)
    return app


def _document_listing(app: FastAPI, max_batch: int) -> None:
    """Put `ListingIn` in the OpenAPI components (the routes read their bodies themselves), and
    the app's bound on a /predict list."""
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = default_openapi()
        schema = ListingIn.model_json_schema(ref_template="#/components/schemas/{model}")
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components.update(schema.pop("$defs", {}))
        components["ListingIn"] = schema
        body = document["paths"]["/predict"]["post"]["requestBody"]
        body["content"]["application/json"]["schema"]["oneOf"][1]["maxItems"] = max_batch
        body = document["paths"]["/batch_predict"]["post"]["requestBody"]
        body["content"]["application/json"]["schema"]["maxItems"] = max_batch
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
