"""Which model is served, and reloading it from the registry on demand."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from tasador.serving.api_models import ModelInfoOut, ReloadOut, StatesOut
from tasador.serving.deps import State, reload_token
from tasador.serving.responses import OrjsonResponse

router = APIRouter(tags=["model"])


@router.get(
    "/model", response_model=ModelInfoOut, responses={503: {"description": "no model loaded yet"}}
)
async def model_info(state: State) -> Response:
    """The served model: version, run, training window, metrics, features, categories, and the
    last drift check of recent requests against its training data."""
    holder = state.holder
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
            "model_version": model.version,
            "alias": holder.alias,
            "run_id": model.run_id,
            "trained_at": model.trained_at,
            "loaded_at": model.loaded_at,
            "training_window": model.training_window,
            "metrics": model.metrics,
            "features": list(model.spec.feature_names),
            "categories": {
                **{name: list(values) for name, values in model.spec.choices.items()},
                "state": list(encodings["state"].categories),
            },
            "known_categories": {col: len(enc.categories) for col, enc in encodings.items()},
            "reload": reload_status,
            "live_drift": state.live_drift.describe() if state.live_drift is not None else None,
        }
    )


@router.get(
    "/states", response_model=StatesOut, responses={503: {"description": "no model loaded yet"}}
)
async def known_states(state: State) -> Response:
    """The states the served model saw in training, sorted (any other state is still priced, by
    the encoding's fallback, and named in `fallbacks`)."""
    model = state.holder.current()
    if model is None:
        return OrjsonResponse({"detail": "no model loaded yet"}, status_code=503)
    states = sorted(model.spec.encodings["state"].categories)
    return OrjsonResponse({"model_version": model.version, "states": states})


@router.post(
    "/reload",
    response_model=ReloadOut,
    responses={
        401: {"description": "missing or wrong bearer token"},
        404: {"description": "no reload token configured: the endpoint is disabled"},
        502: {"description": "the registry could not be read or the model not loaded"},
    },
    dependencies=[Depends(reload_token)],
)
async def reload(state: State) -> Response:
    """Check the `production` alias now and load its version if it is not the served one.

    Needs `Authorization: Bearer <token>` (TASADOR_SERVING_RELOAD_TOKEN); with no token
    configured the endpoint is disabled.
    """
    result = await run_in_threadpool(state.holder.reload)
    content = {
        "version": result.model.version if result.model else None,
        "changed": result.changed,
        "error": result.error,
    }
    return OrjsonResponse(content, status_code=502 if result.error else 200)
