"""The inference API process: settings to a running app, for `tasador serve` and for a container.

`tasador serve` and `uvicorn --factory tasador.serving.main:create_served_app` (what an image runs)
build the same app here. Nothing heavy is imported at module level: OpenMP's wait policy must be in
the environment before XGBoost loads (see `tasador.serving.openmp`).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from tasador.platform import PRIVATE_UMASK
from tasador.serving.openmp import VARIABLE, wait_passively
from tasador.settings import Settings, get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy import Engine

logger = logging.getLogger(__name__)


def app_from_settings(settings: Settings) -> FastAPI:
    """The inference API with its model holder and inference log, as `settings` configure them."""
    if not wait_passively():  # before anything loads XGBoost
        logger.warning("XGBoost was loaded before %s could be set: its threads may spin", VARIABLE)
    from mlflow import MlflowClient

    from tasador.platform.local import resolve_urls
    from tasador.serving.app import create_app
    from tasador.serving.history import HistoryReader
    from tasador.serving.inference_log import InferenceLog
    from tasador.serving.live_drift import DriftThresholds, LiveDriftMonitor
    from tasador.serving.model_holder import ModelHolder
    from tasador.storage.engine import make_engine
    from tasador.storage.migrate import migrate

    serving = settings.serving
    # A registry that is down must fail a reload in seconds, not after minutes of retries.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    urls = resolve_urls(settings)
    state = settings.state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=urls.tracking_uri, registry_uri=urls.tracking_uri)
    engine = make_engine(urls.raw_db)
    clean = make_engine(urls.clean_db)
    token = serving.reload_token.get_secret_value() if serving.reload_token else None
    holder = ModelHolder(
        client,
        settings.mlflow.model_name,
        poll_seconds=serving.poll_seconds,
        explain_threads=serving.explain_thread_count(),
    )
    decision = settings.decision
    live_drift = (
        LiveDriftMonitor(
            holder,
            engine,
            interval_seconds=serving.drift_interval_seconds,
            sample=serving.drift_sample,
            min_listings=serving.drift_min_listings,
            thresholds=DriftThresholds(
                alpha=decision.drift_alpha,
                ks_threshold=decision.drift_ks_threshold,
                psi_threshold=decision.drift_psi_threshold,
                min_features=decision.drift_min_features,
            ),
        )
        if serving.drift_interval_seconds > 0
        else None
    )
    return create_app(
        holder=holder,
        inference_log=InferenceLog(
            engine,
            spill_path=state / "inference-spill.jsonl",
            max_queue=serving.inference_queue_size,
            # RAW DATA may be new, or down: the log brings it to head before its first write
            prepare=lambda: migrate(urls.raw_db, "raw"),
        ),
        model_name=settings.mlflow.model_name,
        reload_token=token,
        max_batch=serving.max_batch,
        max_body_bytes=serving.max_body_bytes,
        history=HistoryReader(clean, client, settings.mlflow.model_name, raw=engine),
        live_drift=live_drift,
        on_close=lambda: _dispose(engine, clean),
    )


def _dispose(*engines: Engine) -> None:
    for engine in engines:
        engine.dispose()


def create_served_app() -> FastAPI:
    """The app from the environment's settings (`uvicorn --factory`); the files it writes (the
    inference log's spill file) are its owner's only, as under `tasador serve`."""
    os.umask(PRIVATE_UMASK)
    return app_from_settings(get_settings())


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Serve the inference API with uvicorn, one worker (metrics are per process)."""
    import uvicorn

    app = app_from_settings(settings)
    uvicorn.run(
        app,
        host=host or settings.serving.host,
        port=port or settings.serving.port,
        workers=1,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
