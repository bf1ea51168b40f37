"""Is the process up, does it serve a model, and its Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tasador.serving.api_models import HealthOut
from tasador.serving.deps import State
from tasador.serving.responses import OrjsonResponse

router = APIRouter(tags=["service"])


@router.get("/health", response_model=HealthOut)
async def health() -> Response:
    """The process is up (it may not have a model yet)."""
    return OrjsonResponse({"status": "ok"})


@router.get(
    "/ready", response_model=HealthOut, responses={503: {"description": "no model loaded yet"}}
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
