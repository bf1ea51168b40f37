"""What the service is, whether it is up and serving, and its Prometheus metrics."""

from __future__ import annotations

from importlib.metadata import version as package_version

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tasador.serving.api_models import HealthOut, ReadyOut, ServiceInfoOut
from tasador.serving.deps import State
from tasador.serving.responses import OrjsonResponse

router = APIRouter(tags=["service"])


@router.get("/", response_model=ServiceInfoOut)
async def service_info(request: Request, state: State) -> Response:
    """The service, the model it serves, and its endpoints (the whole contract is at /docs)."""
    model = state.holder.current()
    paths = sorted(request.app.openapi()["paths"])  # the documented operations
    return OrjsonResponse(
        {
            "name": "tasador inference API",
            "version": package_version("tasador"),
            "model_name": state.model_name,
            "model_version": model.version if model else None,
            "docs": "/docs",
            "openapi": "/openapi.json",
            "endpoints": paths,
        }
    )


@router.get("/health", response_model=HealthOut)
async def health(state: State) -> Response:
    """The process is up (200 whenever it answers); `status` says whether it is fully serving:
    `degraded` without a model, or while the inference log cannot write to RAW DATA."""
    model = state.holder.current()
    problems = [] if model else ["no model loaded yet: nothing holds the production alias"]
    log = state.inference_log
    if log is not None and log.failing:
        problems.append(f"RAW DATA refuses writes: {log.depth()} inference records wait")
    return OrjsonResponse(
        {
            "status": "degraded" if problems else "healthy",
            "model_version": model.version if model else None,
            "problems": problems,
        }
    )


@router.get(
    "/ready", response_model=ReadyOut, responses={503: {"description": "no model loaded yet"}}
)
async def ready(state: State) -> Response:
    """A model is loaded and answers."""
    model = state.holder.current()
    if model is None:
        return OrjsonResponse({"status": "no model loaded"}, status_code=503)
    return OrjsonResponse({"status": "ok", "model_version": model.version})


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}}},
)
async def prometheus_metrics(state: State) -> Response:
    """Prometheus metrics of this process (`tasador_*`)."""
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
