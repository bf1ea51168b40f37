"""What the routes share for the life of the app: the served model, the log, the batcher."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import HTTPException

from tasador.serving.batching import PredictionBatcher
from tasador.serving.body_reader import BodyReader
from tasador.serving.metrics import LiveDriftCollector, ServingMetrics
from tasador.serving.model_holder import ModelHolder, ServedModel

if TYPE_CHECKING:
    from tasador.serving.history import HistoryReader
    from tasador.serving.inference_log import InferenceLog
    from tasador.serving.live_drift import LiveDriftMonitor


@dataclass
class ServingState:
    """One app's services; `reload_token` None disables POST /reload; `history` None turns the
    history endpoints off (503); `live_drift` None: recent traffic is not checked for drift."""

    holder: ModelHolder
    inference_log: InferenceLog | None
    model_name: str
    reload_token: str | None
    reader: BodyReader
    history: HistoryReader | None = None
    live_drift: LiveDriftMonitor | None = None
    batcher: PredictionBatcher = field(default_factory=PredictionBatcher)
    metrics: ServingMetrics = field(init=False)
    # threads that take the other tree ranges of an /explain (see explain.TreeSplit)
    explainers: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        log, monitor = self.inference_log, self.live_drift
        self.metrics = ServingMetrics(
            self.holder,
            queue_depth=log.depth if log is not None else None,
            write_failures=(lambda: log.write_failures) if log is not None else None,
            booster_calls=lambda: dict(self.batcher.calls_by_mode),
            last_batch_done=self.history.last_batch_done if self.history is not None else None,
            live_drift=None
            if monitor is None
            else LiveDriftCollector(lambda: monitor.latest, lambda: monitor.last_report),
        )
        self.explainers = ThreadPoolExecutor(
            max_workers=max(1, self.holder.explain_threads - 1), thread_name_prefix="explain"
        )

    def close(self) -> None:
        """Stop what runs beside the requests (the inference log is closed by the lifespan)."""
        self.holder.stop()
        if self.live_drift is not None:
            self.live_drift.stop()
        self.explainers.shutdown(wait=False, cancel_futures=True)
        self.batcher.close()

    def served(
        self, request_id: str, received_at: datetime, started: float, endpoint: str, raw: bytes
    ) -> ServedModel:
        """The model for this request; 503 (logged like any request) when none is loaded yet."""
        model = self.holder.current()
        if model is None:
            detail = {"detail": "no model loaded yet: nothing holds the production alias"}
            inputs = orjson.Fragment(raw)
            self.log(request_id, received_at, endpoint, None, inputs, detail, started, 503)
            raise HTTPException(503, detail["detail"])
        return model

    def log(
        self,
        request_id: str,
        received_at: datetime,
        endpoint: str,
        model: ServedModel | None,
        inputs: Any,
        outputs: Any,
        started: float,
        status_code: int,
        *,
        what_if: bool = False,
    ) -> None:
        """Hand one request to the inference log (RAW DATA), if the app has one; `what_if`
        marks hypothetical listings, which the live drift check leaves out."""
        if self.inference_log is None:
            return
        self.inference_log.submit(
            {
                "request_id": request_id,
                "received_at": received_at,
                "endpoint": endpoint,
                "model_name": model.name if model else self.model_name,
                "model_version": model.version if model else None,
                "inputs": inputs,
                "outputs": outputs,
                "latency_ms": (time.perf_counter() - started) * 1000.0,
                "status_code": status_code,
                "what_if": what_if,
            }
        )
