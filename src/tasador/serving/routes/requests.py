"""What the service answered: request counts, latency and prices, and recent predictions, from
the inference log in RAW DATA (every process's requests, not only this one's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool

from tasador.serving.deps import State
from tasador.serving.history import HistoryReader
from tasador.serving.history_models import PredictionHistoryOut, RequestsSummaryOut

router = APIRouter(tags=["requests"])

#: Recent answered requests read to find `/predictions/history`'s listings: bounded work.
HISTORY_SCAN: Final[int] = 5_000
_DEFAULT_SPAN: Final = timedelta(hours=1)
_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"description": "`since` is not before `until`"},
    503: {"description": "the API runs without an inference log, or RAW DATA is unreachable"},
}


def _reader(state: State) -> HistoryReader:
    if state.history is None or state.history.raw is None:
        raise HTTPException(503, "request history is off: this API has no inference log")
    return state.history


#: No request is older: an earlier `since` means the same as this one.
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    return max(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC), _EPOCH)


async def _summary(state: State, since: datetime | None, until: datetime | None) -> Any:
    reader = _reader(state)
    end = _aware(until) if until else datetime.now(UTC)
    start = _aware(since) if since else end - _DEFAULT_SPAN
    if start >= end:
        raise HTTPException(422, "since must be before until")
    try:
        return await run_in_threadpool(reader.requests_summary, start, end)
    except Exception as err:  # RAW DATA down: the caller's 503, not our 500
        raise HTTPException(503, f"inference log unavailable: {type(err).__name__}") from err


Since = Annotated[
    datetime | None,
    Query(description="start (ISO 8601; no zone means UTC); default: an hour before `until`"),
]
Until = Annotated[datetime | None, Query(description="end (exclusive); default: now")]


@router.get("/requests/summary", response_model=RequestsSummaryOut, responses=_ERRORS)
async def requests_summary(state: State, since: Since = None, until: Until = None) -> Any:
    """Requests received in [since, until): counts by endpoint, status and model version,
    latency percentiles, requests over time, and the distribution of predicted prices."""
    return await _summary(state, since, until)


@router.get(
    "/metrics/summary",
    response_model=RequestsSummaryOut,
    responses=_ERRORS,
    summary="Metrics summary (the name earlier clients call; same as /requests/summary)",
)
async def metrics_summary(state: State, since: Since = None, until: Until = None) -> Any:
    """The same answer as `/requests/summary`, under the name clients of the system tasador
    replaces call."""
    return await _summary(state, since, until)


@router.get(
    "/predictions/history",
    response_model=PredictionHistoryOut,
    responses={503: _ERRORS[503]},
)
async def predictions_history(
    state: State,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    state_name: Annotated[
        str | None,
        Query(
            alias="state",
            min_length=1,
            max_length=64,
            description='only listings in this state ("CA" or "California")',
        ),
    ] = None,
) -> Any:
    """The most recent priced listings with their prices, newest first (found among the last
    5,000 answered requests)."""
    reader = _reader(state)
    try:
        return await run_in_threadpool(reader.predictions, limit, state_name, HISTORY_SCAN)
    except Exception as err:
        raise HTTPException(503, f"inference log unavailable: {type(err).__name__}") from err
