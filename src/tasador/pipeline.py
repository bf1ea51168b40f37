"""One round of the loop: fetch → RAW → clean → CLEAN → drift → decide → train → evaluate → promote.

Each step is a plain function over explicit inputs (engines, an MLflow client, ids), so the local
runner (`tasador run`) and the Airflow DAG call the same steps. Every step records its completion in
the batch's status in CLEAN DATA, and `process_batch` resumes from that status: a crash at any point
followed by a re-run finishes the work exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from tasador import schema
from tasador.datasource.client import Batch, DataApiClient, DataApiFinished
from tasador.drift.profile import DataProfile, profile_frame
from tasador.drift.report import DRIFT_CATEGORICAL, DRIFT_NUMERIC, DriftReport, detect_drift
from tasador.ingestion.cleaning import clean_listings, drop_seen
from tasador.ingestion.raw import raw_frame, raw_frames
from tasador.registry.aliases import apply_decision, get_production
from tasador.registry.models import find_version_for_batch, load_model_version, log_and_register
from tasador.registry.promotion import decide_promotion
from tasador.retraining import RetrainDecision, Trigger, decide_retraining
from tasador.storage import clean_store, raw_store
from tasador.storage.lake import LAYERS, DataLake
from tasador.storage.records import BatchRecord, BatchStatus, DecisionRecord, DriftRecord
from tasador.training.baseline import StateMedian
from tasador.training.importance import global_importance
from tasador.training.intervals import PriceInterval, fit_interval
from tasador.training.metrics import Metrics, evaluate
from tasador.training.train import predict_price, tune_and_train

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from sqlalchemy import Engine

logger = logging.getLogger(__name__)

ORDER = list(BatchStatus)


class Reporter(Protocol):
    """Receives progress; the CLI shows it, the DAG logs it."""

    def step(self, batch_number: int, name: str) -> None: ...

    def trial(self, number: int, total: int, value: float) -> None: ...


class LogReporter:
    """A reporter that writes progress to the log."""

    def step(self, batch_number: int, name: str) -> None:
        logger.info("batch %d: %s", batch_number, name)

    def trial(self, number: int, total: int, value: float) -> None:
        logger.debug("trial %d/%d: rmse_log=%.4f", number, total, value)


@dataclass(frozen=True)
class LoopConfig:
    """What a round needs besides its connections (built from settings by the entry point)."""

    source: str
    group_number: int
    day: str | None
    model_name: str
    experiment: str
    holdout_fraction: float = 0.2
    n_trials: int = 20
    timeout_seconds: float = 60.0
    seed: int = 42
    window_batches: int | None = None
    drift_alpha: float = 0.05
    drift_ks_threshold: float = 0.1
    drift_psi_threshold: float = 0.2
    drift_min_features: int = 1
    degradation_margin: float = 0.10
    promotion_margin: float = 0.01
    baseline_margin: float = 0.05
    interval_coverage: float = 0.8
    coverage_tolerance: float = 0.05


@dataclass
class Stores:
    """The connections of one run; `lake` None: no Parquet copies of the batches."""

    raw: Engine
    clean: Engine
    mlflow: MlflowClient
    lake: DataLake | None = None


@dataclass
class RoundResult:
    """What one batch went through, for the summary table."""

    batch_id: int
    batch_number: int
    received: int = 0
    kept: int = 0
    rejected: int = 0
    drift: bool | None = None
    action: str = ""
    model_version: str | None = None
    promoted: bool | None = None
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# --- step 1: fetch into RAW DATA -------------------------------------------------------------


def ingest_next_batch(
    client: DataApiClient, stores: Stores, config: LoopConfig, *, max_fetches: int = 50
) -> tuple[BatchRecord, pd.DataFrame] | None:
    """Fetch the next batch the API serves and store it in RAW DATA; None when the API is done.

    The API's cursor moves on every request, so the client may be ahead of what we stored (a crash
    between fetch and store) or behind it (a batch served twice). A batch number already stored is
    skipped; a gap means a batch was consumed but never stored, so the cursor is restarted and the
    batches replayed up to the missing one. Nothing is written twice.
    """
    key = (config.source, config.group_number, config.day)
    for _ in range(max_fetches):
        latest = raw_store.latest_raw_batch(stores.raw, *key)
        expected = 0 if latest is None else latest + 1
        try:
            batch = client.fetch_batch()
        except DataApiFinished:
            fetched = clean_store.max_fetched_batch_number(stores.clean, *key)
            clean_store.record_fetch_event(
                stores.clean, *key, outcome="finished", batch_number=None, attempts=1, error=None
            )
            if fetched is not None and fetched >= expected:
                logger.warning(
                    "the API is finished but batch %d was fetched and never stored: replaying",
                    expected,
                )
                client.restart()
                continue
            return None
        record = client.outcomes[-1] if client.outcomes else None
        clean_store.record_fetch_event(
            stores.clean,
            *key,
            outcome=str(record.outcome) if record else "ok",
            batch_number=batch.batch_number,
            attempts=record.attempts if record else 1,
            error=record.error if record else None,
        )
        if batch.batch_number < expected:
            logger.warning(
                "batch %d was served again (already stored); fetching the next one",
                batch.batch_number,
            )
            continue
        if batch.batch_number > expected:
            logger.warning(
                "the API served batch %d but batch %d was never stored: restarting its cursor",
                batch.batch_number,
                expected,
            )
            client.restart()
            continue
        frame, stored = store_rows(stores, config, batch)
        record_ = clean_store.register_batch(
            stores.clean,
            batch_id=stored.batch_id,
            source=config.source,
            group_number=config.group_number,
            day=config.day,
            batch_number=batch.batch_number,
            received=len(frame),
        )
        logger.info("stored batch %d: %d rows received", batch.batch_number, len(frame))
        return record_, frame
    raise RuntimeError(f"no new batch after {max_fetches} requests to the data API")


def fetch_stage(
    client: DataApiClient, stores: Stores, config: LoopConfig, run_key: str
) -> BatchRecord | None:
    """The batch an orchestrator run works on; None when the data API has no more.

    The run's batch is, in order: the one it took before (a re-run of the run or of this task
    takes the same batch, the API is not asked again), the oldest unfinished batch (a run that
    failed part-way: the next run finishes it), or the next batch the API serves. It is recorded
    under `run_key` in CLEAN DATA, and so is a finished answer.
    """
    recorded = clean_store.run_batch(stores.clean, run_key)
    if recorded is not None:
        return (
            None
            if recorded.batch_id is None
            else clean_store.get_batch(stores.clean, recorded.batch_id)
        )
    register_orphan_raw_batches(stores, config)
    pending = clean_store.unfinished_batches(stores.clean)
    if pending:
        batch: BatchRecord | None = pending[0]
        logger.info("batch %d was left unfinished: this run finishes it", pending[0].batch_number)
    else:
        fetched = ingest_next_batch(client, stores, config)
        batch = fetched[0] if fetched else None
    taken = clean_store.record_run_batch(
        stores.clean, run_key, batch.batch_id if batch else None
    ).batch_id
    return None if taken is None else clean_store.get_batch(stores.clean, taken)


def store_rows(
    stores: Stores, config: LoopConfig, batch: Batch
) -> tuple[pd.DataFrame, raw_store.StoredBatch]:
    """Store a received batch in RAW DATA, chunk by chunk, and return its raw frame."""
    chunks: list[pd.DataFrame] = []

    def build() -> Iterator[pd.DataFrame]:
        for chunk in raw_frames(batch.rows):
            chunks.append(chunk)
            yield chunk

    stored = raw_store.store_raw_batch(
        stores.raw,
        source=config.source,
        group_number=config.group_number,
        day=config.day,
        batch_number=batch.batch_number,
        content_hash=batch.content_hash,
        received_at=batch.received_at,
        frame=build(),
        row_count=len(batch.rows),
    )
    if not stored.created:  # already stored: the chunks were not needed for storage
        chunks = list(raw_frames(batch.rows))
    frame = pd.concat(chunks, ignore_index=True) if chunks else raw_frame([])
    return frame, stored


def register_orphan_raw_batches(stores: Stores, config: LoopConfig) -> list[BatchRecord]:
    """Register in CLEAN DATA the raw batches a crash left stored but not yet tracked."""
    registered = []
    for raw in raw_store.list_raw_batches(
        stores.raw, config.source, config.group_number, config.day
    ):
        if clean_store.get_batch(stores.clean, raw.batch_id) is None:
            registered.append(
                clean_store.register_batch(
                    stores.clean,
                    batch_id=raw.batch_id,
                    source=config.source,
                    group_number=config.group_number,
                    day=config.day,
                    batch_number=raw.batch_number,
                    received=raw.row_count,
                )
            )
    return registered


# --- step 2: clean into CLEAN DATA ------------------------------------------------------------


def clean_batch(
    stores: Stores, batch: BatchRecord, config: LoopConfig, raw: pd.DataFrame | None = None
) -> BatchRecord:
    """Validate the raw rows, drop those seen in earlier batches, store kept and rejected rows."""
    frame = raw if raw is not None else raw_store.load_raw_frame(stores.raw, batch.batch_id)
    result = clean_listings(frame, holdout_fraction=config.holdout_fraction)
    seen = clean_store.find_seen_listing_keys(
        stores.clean, result.clean["listing_key"].to_numpy(), exclude_batch=batch.batch_id
    )
    result = drop_seen(result, seen)
    clean_store.store_clean_rows(
        stores.clean,
        batch.batch_id,
        clean=result.clean,
        rejected=result.rejected,
        counts_by_reason=result.counts_by_reason,
    )
    logger.info(
        "batch %d cleaned: %d kept, %d rejected %s",
        batch.batch_number,
        result.kept,
        result.rejected_count,
        result.counts_by_reason,
    )
    return _reload(stores, batch)


# --- step 3: drift against the production model's training data --------------------------------


@dataclass(frozen=True)
class Champion:
    """The production model as the round sees it."""

    version: str
    metrics: Metrics
    predict: Callable[[pd.DataFrame], Any]
    profile: DataProfile
    interval: PriceInterval | None = None


def load_champion(
    stores: Stores, config: LoopConfig, version: str | None = None
) -> Champion | None:
    """The model holding the production alias (or a given version), ready to predict."""
    if version is None:
        ref = get_production(stores.mlflow, config.model_name)
        if ref is None:
            return None
        version = ref.version
    loaded = load_model_version(stores.mlflow, config.model_name, version)
    return Champion(
        version=str(loaded.version),
        metrics=loaded.metrics,
        predict=lambda frame: predict_price(loaded.booster, loaded.spec, frame),
        profile=DataProfile.from_dict(loaded.training_profile),
        interval=loaded.interval,
    )


def check_drift(
    stores: Stores, batch: BatchRecord, config: LoopConfig, champion: Champion | None
) -> DriftReport | None:
    """Compare the batch's clean rows with the champion's training data and store the report."""
    if champion is None:
        clean_store.store_drift_report(
            stores.clean,
            batch.batch_id,
            reference_model_version=None,
            verdict=False,
            reason="no production model yet: nothing to compare with",
            report={},
        )
        return None
    current = clean_store.load_listings(stores.clean, batch_ids=[batch.batch_id])
    report = detect_drift(
        champion.profile,
        current,
        alpha=config.drift_alpha,
        ks_threshold=config.drift_ks_threshold,
        psi_threshold=config.drift_psi_threshold,
        min_drifted=config.drift_min_features,
    )
    clean_store.store_drift_report(
        stores.clean,
        batch.batch_id,
        reference_model_version=champion.version,
        verdict=report.verdict,
        reason=report.reason,
        report=report.to_dict(),
    )
    return report


# --- step 4: decide ---------------------------------------------------------------------------


def decide(
    stores: Stores,
    batch: BatchRecord,
    config: LoopConfig,
    champion: Champion | None,
    drift: DriftReport | None,
) -> RetrainDecision:
    """Train or skip (first model, drift, or a champion worse on this batch), stored with why."""
    batch_rmse: float | None = None
    if champion is not None:
        current = clean_store.load_listings(stores.clean, batch_ids=[batch.batch_id])
        if len(current):
            batch_rmse = evaluate(
                current[schema.TARGET].to_numpy(), champion.predict(current)
            ).rmse_log
    stored = clean_store.get_drift_report(stores.clean, batch.batch_id)
    decision = decide_retraining(
        champion_version=champion.version if champion else None,
        drift_verdict=drift.verdict if drift else (stored.verdict if stored else None),
        drift_reason=drift.reason if drift else (stored.reason if stored else "not checked"),
        champion_batch_rmse_log=batch_rmse,
        champion_recorded_rmse_log=champion.metrics.rmse_log if champion else None,
        degradation_margin=config.degradation_margin,
    )
    if batch.kept == 0 and decision.train and champion is not None:
        decision = RetrainDecision(False, Trigger.NONE, "no clean rows in this batch")
    clean_store.store_decision(
        stores.clean,
        DecisionRecord(
            batch_id=batch.batch_id,
            action="train" if decision.train else "skip",
            trigger=str(decision.trigger),
            reason=decision.reason,
            champion_version=champion.version if champion else None,
            champion_metrics={"batch_rmse_log": batch_rmse} if batch_rmse is not None else None,
        ),
    )
    return decision


# --- steps 5-7: train, evaluate on the shared evaluation set, promote --------------------------


def training_window(config: LoopConfig, batch: BatchRecord) -> str:
    """The training window in words, recorded with the model."""
    if config.window_batches:
        return f"last {config.window_batches} batches up to batch {batch.batch_number}"
    return f"all clean training rows up to batch {batch.batch_number}"


def train_challenger(
    stores: Stores, batch: BatchRecord, config: LoopConfig, reporter: Reporter
) -> str:
    """Tune and train on clean training rows, log and register the model; return its version.

    The model's global importance (mean |SHAP| on the evaluation set) is logged with it, so it is
    computed once here and never at request time; none when the evaluation set is empty.

    A version already registered for this batch (a crash after registration) is reused, so a
    re-run never registers a second version for the same batch.
    """
    existing = find_version_for_batch(stores.mlflow, config.model_name, batch.batch_id)
    if existing is not None:
        logger.info("batch %d already has model version %s", batch.batch_number, existing.version)
        return str(existing.version)
    train = clean_store.load_listings(
        stores.clean,
        up_to_batch=batch.batch_id,
        holdout=False,
        last_n_batches=config.window_batches,
    )
    evaluation_set = clean_store.load_listings(
        stores.clean, up_to_batch=batch.batch_id, holdout=True
    )
    trained = tune_and_train(
        train,
        n_trials=config.n_trials,
        timeout_seconds=config.timeout_seconds,
        seed=config.seed,
        on_trial=lambda number, value: reporter.trial(number, config.n_trials, value),
    )
    y, predicted = (
        evaluation_set[schema.TARGET].to_numpy(dtype=np.float64),
        predict_price(trained.booster, trained.spec, evaluation_set),
    )
    evaluation = evaluate(y, predicted)
    interval = fit_interval(np.log(y), np.log(predicted), config.interval_coverage, config.seed)
    importance = (
        global_importance(trained.booster, trained.spec, evaluation_set, seed=config.seed)
        if len(evaluation_set)
        else None
    )
    profile = profile_frame(train, DRIFT_NUMERIC, DRIFT_CATEGORICAL)
    ref = log_and_register(
        stores.mlflow,
        model_name=config.model_name,
        experiment=config.experiment,
        trained=trained,
        evaluation=evaluation,
        training_profile=profile.to_dict(),
        batch_id=batch.batch_id,
        training_window=training_window(config, batch),
        extra_tags={
            "tasador.batch_number": str(batch.batch_number),
            "tasador.evaluation_rows": str(len(evaluation_set)),
        },
        importance=importance.to_dict() if importance is not None else None,
        interval=interval,
    )
    return str(ref.version)


def evaluate_and_promote(
    stores: Stores, batch: BatchRecord, config: LoopConfig, challenger_version: str
) -> DecisionRecord:
    """Champion and challenger on the same evaluation set; promote by the rule; record both."""
    recorded = clean_store.get_decision(stores.clean, batch.batch_id)
    assert recorded is not None, "a batch reaches promotion only after its decision is stored"
    evaluation_set = clean_store.load_listings(
        stores.clean, up_to_batch=batch.batch_id, holdout=True
    )
    y = evaluation_set[schema.TARGET].to_numpy()
    challenger = load_champion(stores, config, challenger_version)
    assert challenger is not None
    challenger_metrics = evaluate(y, challenger.predict(evaluation_set))
    champion = (
        load_champion(stores, config, recorded.champion_version)
        if recorded.champion_version
        else None
    )
    champion_metrics = evaluate(y, champion.predict(evaluation_set)) if champion else None
    train = clean_store.load_listings(
        stores.clean,
        up_to_batch=batch.batch_id,
        holdout=False,
        last_n_batches=config.window_batches,
    )  # the challenger's training rows: the baseline learns from the same
    baseline = evaluate(y, StateMedian.fit(train).predict(evaluation_set))
    decision = decide_promotion(
        challenger_version=challenger_version,
        challenger=challenger_metrics,
        champion_version=champion.version if champion else None,
        champion=champion_metrics,
        margin=config.promotion_margin,
        baseline=baseline,
        baseline_margin=config.baseline_margin,
        interval=challenger.interval,
        coverage_tolerance=config.coverage_tolerance,
    )
    apply_decision(stores.mlflow, config.model_name, decision)
    record = replace(
        recorded,
        model_version=challenger_version,
        promoted=decision.promote,
        promotion_reason=decision.reason,
        challenger_metrics=challenger_metrics.to_dict(),
        champion_metrics=champion_metrics.to_dict() if champion_metrics else None,
    )
    clean_store.store_decision(stores.clean, record)
    return record


# --- the round ----------------------------------------------------------------------------------


def _reload(stores: Stores, batch: BatchRecord) -> BatchRecord:
    fresh = clean_store.get_batch(stores.clean, batch.batch_id)
    assert fresh is not None
    return fresh


def _at_least(batch: BatchRecord, status: BatchStatus) -> bool:
    return ORDER.index(BatchStatus(batch.status)) >= ORDER.index(status)


def process_batch(
    stores: Stores,
    batch: BatchRecord,
    config: LoopConfig,
    reporter: Reporter,
    raw: pd.DataFrame | None = None,
) -> RoundResult:
    """Take one stored batch from wherever it stopped to done: the stages in order (the Airflow
    DAG runs the same stages, one task each)."""
    batch = clean_stage(stores, batch, config, reporter, raw)
    decision = decide_stage(stores, batch, config, reporter)
    if decision.action == "train":
        version = train_stage(stores, batch, config, reporter)
        promote_stage(stores, batch, config, reporter, version)
    return finish_stage(stores, batch)


def clean_stage(
    stores: Stores,
    batch: BatchRecord,
    config: LoopConfig,
    reporter: Reporter,
    raw: pd.DataFrame | None = None,
) -> BatchRecord:
    """Clean the batch unless it is cleaned already."""
    if not _at_least(batch, BatchStatus.CLEANED):
        reporter.step(batch.batch_number, "clean")
        batch = clean_batch(stores, batch, config, raw)
    return batch


def drift_stage(
    stores: Stores, batch: BatchRecord, config: LoopConfig, reporter: Reporter
) -> DriftRecord | None:
    """Compare the batch with the production model's training data, unless compared already;
    the stored report."""
    batch = _reload(stores, batch)
    if not _at_least(batch, BatchStatus.DRIFT_CHECKED):
        reporter.step(batch.batch_number, "drift")
        check_drift(stores, batch, config, load_champion(stores, config))
    return clean_store.get_drift_report(stores.clean, batch.batch_id)


def decide_stage(
    stores: Stores, batch: BatchRecord, config: LoopConfig, reporter: Reporter
) -> DecisionRecord:
    """Check drift and decide, unless decided already; the decision stored for the batch."""
    batch = _reload(stores, batch)
    if not _at_least(batch, BatchStatus.DECIDED):
        reporter.step(batch.batch_number, "drift")
        champion = load_champion(stores, config)
        drift = None
        if not _at_least(batch, BatchStatus.DRIFT_CHECKED):
            drift = check_drift(stores, batch, config, champion)
        reporter.step(batch.batch_number, "decide")
        decide(stores, batch, config, champion, drift)
    decision = clean_store.get_decision(stores.clean, batch.batch_id)
    assert decision is not None
    return decision


def train_stage(
    stores: Stores, batch: BatchRecord, config: LoopConfig, reporter: Reporter
) -> str | None:
    """Train and register the challenger of a batch decided 'train' (its version; None when the
    batch is done already). A version registered before is reused, never a second one."""
    batch = _reload(stores, batch)
    if _at_least(batch, BatchStatus.DONE):
        return None
    reporter.step(batch.batch_number, "train")
    version = train_challenger(stores, batch, config, reporter)
    if not _at_least(batch, BatchStatus.TRAINED):
        clean_store.advance_batch(stores.clean, batch.batch_id, BatchStatus.TRAINED)
    return version


def promote_stage(
    stores: Stores,
    batch: BatchRecord,
    config: LoopConfig,
    reporter: Reporter,
    version: str | None = None,
) -> DecisionRecord:
    """Champion and challenger on the same evaluation set, promoted by the rule (unless done).
    `version` is the challenger `train_stage` gave; without it (a task of its own), the version
    registered for the batch."""
    batch = _reload(stores, batch)
    if not _at_least(batch, BatchStatus.DONE):
        if version is None:
            found = find_version_for_batch(stores.mlflow, config.model_name, batch.batch_id)
            assert found is not None, "a batch reaches promotion only after its model is registered"
            version = str(found.version)
        reporter.step(batch.batch_number, "promote")
        return evaluate_and_promote(stores, batch, config, version)
    decision = clean_store.get_decision(stores.clean, batch.batch_id)
    assert decision is not None
    return decision


def finish_stage(stores: Stores, batch: BatchRecord) -> RoundResult:
    """Copy the batch to the data lake and mark it done (unless done); its summary."""
    if not _at_least(_reload(stores, batch), BatchStatus.DONE):
        export_batch(stores, batch)  # before DONE: a crash here is retried by the next run
        clean_store.advance_batch(stores.clean, batch.batch_id, BatchStatus.DONE)
    return summarize(stores, batch.batch_id)


def export_batch(stores: Stores, batch: BatchRecord) -> list[str]:
    """Copy the batch's RAW and CLEAN rows to the data lake, each layer once; returns the layers
    written now (none when the lake holds them already, or there is no lake)."""
    if stores.lake is None:
        return []
    written: list[str] = []
    for layer in LAYERS:
        if stores.lake.has(layer, batch.batch_id):
            continue
        frame = (
            raw_store.load_raw_frame(stores.raw, batch.batch_id)
            if layer == "raw"
            else clean_store.load_listings(stores.clean, batch_ids=[batch.batch_id])
        )
        if stores.lake.write(layer, batch.batch_id, frame):
            written.append(layer)
    if written:
        logger.info("batch %d in the data lake: %s", batch.batch_number, ", ".join(written))
    return written


def summarize(stores: Stores, batch_id: int) -> RoundResult:
    """The summary row of one batch, from what is stored."""
    batch = clean_store.get_batch(stores.clean, batch_id)
    assert batch is not None
    drift = clean_store.get_drift_report(stores.clean, batch_id)
    decision = clean_store.get_decision(stores.clean, batch_id)
    result = RoundResult(
        batch_id=batch_id,
        batch_number=batch.batch_number,
        received=batch.received,
        kept=batch.kept or 0,
        rejected=batch.rejected or 0,
        drift=drift.verdict if drift and drift.reference_model_version else None,
    )
    if decision is not None:
        result.action = decision.action
        result.model_version = decision.model_version
        result.promoted = decision.promoted
        result.reason = decision.promotion_reason or decision.reason
        if decision.action == "train":
            result.reason = f"{decision.reason} → {decision.promotion_reason or 'not evaluated'}"
    return result


def run_loop(
    client: DataApiClient,
    stores: Stores,
    config: LoopConfig,
    *,
    rounds: int | None = None,
    reporter: Reporter | None = None,
    on_result: Callable[[RoundResult], None] | None = None,
) -> list[RoundResult]:
    """Finish unfinished batches, then run rounds until the API is done or `rounds` have run."""
    reporter = reporter or LogReporter()
    results: list[RoundResult] = []
    register_orphan_raw_batches(stores, config)
    for pending in clean_store.unfinished_batches(stores.clean):
        reporter.step(pending.batch_number, "resume")
        result = process_batch(stores, pending, config, reporter)
        results.append(result)
        if on_result:
            on_result(result)
    done = 0
    while rounds is None or done < rounds:
        fetched = ingest_next_batch(client, stores, config)
        if fetched is None:
            logger.info("the data API has no more batches")
            break
        batch, frame = fetched
        reporter.step(batch.batch_number, "ingest")
        result = process_batch(stores, batch, config, reporter, raw=frame)
        results.append(result)
        if on_result:
            on_result(result)
        done += 1
    return results
