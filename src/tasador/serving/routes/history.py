"""The loop's history, read-only: every model version and every batch, with the reasons."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool

from tasador.serving.deps import State
from tasador.serving.history import History, HistoryReader
from tasador.serving.history_models import BatchDetailOut, BatchesPage, ImportanceOut, ModelsPage

router = APIRouter(tags=["history"])

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "the API runs without CLEAN DATA, or it or the registry is unreachable"}
}
Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Offset = Annotated[int, Query(ge=0, description="items to skip")]


def reader_of(state: State) -> HistoryReader:
    if state.history is None:
        raise HTTPException(503, "history is off: this API was started without CLEAN DATA")
    return state.history


async def snapshot(state: State) -> History:
    reader = reader_of(state)
    try:
        return await run_in_threadpool(reader.snapshot)
    except Exception as err:  # a store that is down is the caller's 503, not our 500
        raise HTTPException(503, f"history unavailable: {type(err).__name__}") from err


@router.get("/models", response_model=ModelsPage, responses=_UNAVAILABLE)
async def list_models(state: State, limit: Limit = 100, offset: Offset = 0) -> ModelsPage:
    """Every registered version, newest first: its batch, training rows, metrics on its round's
    evaluation set, promoted or rejected with the rule's numbers, and the champion it faced."""
    history = await snapshot(state)
    return ModelsPage.model_validate(
        {
            "items": history.models[offset : offset + limit],
            "total": len(history.models),
            "limit": limit,
            "offset": offset,
            "production_version": history.production_version,
        }
    )


@router.get(
    "/models/{version}/importance",
    response_model=ImportanceOut,
    responses={
        404: {"description": "no such version, or it was logged without importance"},
        **_UNAVAILABLE,
    },
)
async def model_importance(
    state: State, version: Annotated[str, Path(pattern=r"^\d{1,9}$")]
) -> ImportanceOut:
    """Global importance of one version: mean |SHAP| on its evaluation set, per listing field and
    per model feature, computed when it was trained."""
    history = await snapshot(state)
    if not any(m["version"] == version for m in history.models):
        raise HTTPException(404, f"no model version {version}")
    try:
        found = await run_in_threadpool(reader_of(state).importance, version)
    except Exception as err:
        raise HTTPException(503, f"registry unavailable: {type(err).__name__}") from err
    if found is None:
        raise HTTPException(404, f"version {version} was logged without importance")
    terms = {
        part: [{"name": name, "mean_abs_log": value} for name, value in found[part].items()]
        for part in ("inputs", "features")
    }
    return ImportanceOut.model_validate({"version": version, "rows": found["rows"], **terms})


@router.get("/batches", response_model=BatchesPage, responses=_UNAVAILABLE)
async def list_batches(state: State, limit: Limit = 100, offset: Offset = 0) -> BatchesPage:
    """Every batch, newest first: rows received, kept and rejected by reason, each feature's
    drift verdict, and the decision with its reason."""
    history = await snapshot(state)
    return BatchesPage.model_validate(
        {
            "items": history.batches[offset : offset + limit],
            "total": len(history.batches),
            "limit": limit,
            "offset": offset,
        }
    )


@router.get(
    "/batches/{batch_id}",
    response_model=BatchDetailOut,
    responses={404: {"description": "no such batch"}, **_UNAVAILABLE},
)
async def batch_detail(
    state: State, batch_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> BatchDetailOut:
    """One batch (by its `id`) with each feature's whole drift test: statistic, p-value, effect
    size, PSI, thresholds, and the reference and batch distributions as shares of the same bins."""
    history = await snapshot(state)
    detail = history.batch_details.get(batch_id)
    if detail is None:
        raise HTTPException(404, f"no batch {batch_id}")
    return BatchDetailOut.model_validate(detail)
