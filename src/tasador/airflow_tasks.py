"""What each task of the Airflow DAG (`dags/tasador_loop.py`) does: read the settings, open the
connections, run one pipeline stage, hand ids on. The DAG file only wires these together; `tasador
run` runs the same stages in one process.

Every function is safe to run again: a stage that is done already does nothing the second time
(the batch's status in CLEAN DATA says how far it got), and `fetch` takes the same batch for the
same run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import httpx

from tasador import pipeline
from tasador.pipeline import LogReporter, LoopConfig, Stores
from tasador.settings import Settings, get_settings
from tasador.storage import clean_store
from tasador.storage.records import BatchRecord

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunParams:
    """What a DAG run may choose (its params); the rest comes from the settings."""

    group_number: int
    day: str

    def settings(self) -> Settings:
        """The settings with this run's data API stream."""
        base = get_settings()
        stream = base.data_api.model_copy(
            update={"group_number": self.group_number, "day": self.day}
        )
        return base.model_copy(update={"data_api": stream})


@contextmanager
def _stores(params: RunParams) -> Iterator[tuple[Stores, LoopConfig]]:
    from tasador.wiring import loop_config, open_stores

    settings = params.settings()
    with open_stores(settings) as stores:
        yield stores, loop_config(settings)


def _batch(stores: Stores, batch_id: int) -> BatchRecord:
    batch = clean_store.get_batch(stores.clean, batch_id)
    if batch is None:
        raise LookupError(f"batch {batch_id} is not in CLEAN DATA")
    return batch


def run_key(dag_id: str, run_id: str, logical_date: datetime | None) -> str:
    """What identifies a DAG run across re-runs: its logical date (unique per DAG, and kept when a
    run is cleared or replaced), or for a run without one, its id."""
    return f"{dag_id}/{logical_date.isoformat() if logical_date else run_id}"


def fetch(params: RunParams, run_key: str) -> int | None:
    """The id of the batch this run works on, stored in RAW DATA; None: the API has sent all."""
    from tasador.wiring import open_loop

    with open_loop(params.settings()) as (client, stores, config):
        batch = pipeline.fetch_stage(client, stores, config, run_key)
    if batch is None:
        logger.info(
            "the data API has sent every batch of group %d, day %s: nothing left to do",
            params.group_number,
            params.day,
        )
        return None
    logger.info("this run works on batch %d (id %d)", batch.batch_number, batch.batch_id)
    return batch.batch_id


def clean(params: RunParams, batch_id: int) -> dict[str, int]:
    """Clean the batch into CLEAN DATA; its row counts."""
    with _stores(params) as (stores, config):
        batch = pipeline.clean_stage(stores, _batch(stores, batch_id), config, LogReporter())
    return {"received": batch.received, "kept": batch.kept, "rejected": batch.rejected}


def check_drift(params: RunParams, batch_id: int) -> str:
    """Compare the batch with the production model's training data; the verdict's reason."""
    with _stores(params) as (stores, config):
        report = pipeline.drift_stage(stores, _batch(stores, batch_id), config, LogReporter())
    reason = report.reason if report else "not checked"
    logger.info("drift: %s", reason)
    return reason


def decide(params: RunParams, batch_id: int) -> bool:
    """Whether to train a challenger on this batch (the decision and why are stored)."""
    with _stores(params) as (stores, config):
        decision = pipeline.decide_stage(stores, _batch(stores, batch_id), config, LogReporter())
    logger.info("decision: %s (%s) %s", decision.action, decision.trigger, decision.reason)
    return decision.action == "train"


def train(params: RunParams, batch_id: int) -> str | None:
    """Tune, train, log and register the challenger; its version (a re-run reuses it)."""
    with _stores(params) as (stores, config):
        return pipeline.train_stage(stores, _batch(stores, batch_id), config, LogReporter())


def promote(params: RunParams, batch_id: int, version: str | None) -> bool | None:
    """Champion against challenger on the same evaluation set; whether the challenger won."""
    with _stores(params) as (stores, config):
        record = pipeline.promote_stage(
            stores, _batch(stores, batch_id), config, LogReporter(), version
        )
    logger.info("v%s: %s", record.model_version, record.promotion_reason)
    return record.promoted


def finish(params: RunParams, batch_id: int) -> dict[str, object]:
    """Copy the batch to the data lake (with S3) and mark it done; the round's summary."""
    with _stores(params) as (stores, _):
        result = pipeline.finish_stage(stores, _batch(stores, batch_id))
    summary = {
        "batch_number": result.batch_number,
        "received": result.received,
        "kept": result.kept,
        "action": result.action,
        "model_version": result.model_version,
        "promoted": result.promoted,
        "reason": result.reason,
    }
    logger.info("round done: %s", summary)
    return summary


def reload_inference_api(settings: Settings | None = None) -> bool:
    """Ask the inference API to load the production model now; False (logged) when it cannot.

    A failed reload never fails the round: the API also polls the registry on its own.
    """
    from tasador.platform.local import resolve_urls

    settings = settings or get_settings()
    url = (settings.airflow.inference_api_url or resolve_urls(settings).inference_api).rstrip("/")
    token = settings.serving.reload_token
    if token is None:
        logger.warning(
            "no reload token (TASADOR_SERVING_RELOAD_TOKEN): the inference API picks up the "
            "new model at its next poll"
        )
        return False
    try:
        response = httpx.post(
            f"{url}/reload",
            headers={"Authorization": f"Bearer {token.get_secret_value()}"},
            timeout=60.0,
        )
    except httpx.HTTPError as err:
        logger.warning("the inference API at %s did not answer the reload: %s", url, err)
        return False
    if response.status_code != 200:
        logger.warning(
            "the inference API at %s refused the reload (%d): %s",
            url,
            response.status_code,
            response.text[:300],
        )
        return False
    logger.info("the inference API serves: %s", response.json())
    return True
