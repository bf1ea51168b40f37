"""From settings to what a run needs: the round's parameters and open connections. Entry points
call this; the core never does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tasador.datasource.client import DataApiClient
from tasador.pipeline import LoopConfig, Stores
from tasador.platform.local import resolve_urls
from tasador.settings import Settings


def loop_config(settings: Settings) -> LoopConfig:
    """The round's parameters from settings."""
    api, sim, train, decision = (
        settings.data_api,
        settings.simulator,
        settings.training,
        settings.decision,
    )
    if api.url:
        source = api.url
    elif sim.dataset_path:
        source = f"simulator:{sim.dataset_path.name}"
    else:
        source = f"simulator:synthetic:{sim.rows}:{sim.seed}"
    return LoopConfig(
        source=source,
        group_number=api.group_number,
        day=api.day or None,
        model_name=settings.mlflow.model_name,
        experiment=settings.mlflow.experiment,
        holdout_fraction=train.holdout_fraction,
        n_trials=train.n_trials,
        timeout_seconds=train.timeout_seconds,
        seed=train.seed,
        window_batches=train.window_batches,
        drift_alpha=decision.drift_alpha,
        drift_ks_threshold=decision.drift_ks_threshold,
        drift_psi_threshold=decision.drift_psi_threshold,
        drift_min_features=decision.drift_min_features,
        degradation_margin=decision.degradation_margin,
        promotion_margin=decision.promotion_margin,
        baseline_margin=decision.baseline_margin,
        interval_coverage=train.interval_coverage,
        coverage_tolerance=decision.coverage_tolerance,
    )


@contextmanager
def open_stores(settings: Settings) -> Iterator[Stores]:
    """Engines for RAW and CLEAN DATA (migrated), an MLflow client, and with S3 the data lake."""
    from mlflow import MlflowClient

    from tasador.storage.engine import make_engine
    from tasador.storage.migrate import migrate

    urls = resolve_urls(settings)
    migrate(urls.raw_db, "raw")
    migrate(urls.clean_db, "clean")
    raw, clean = make_engine(urls.raw_db), make_engine(urls.clean_db)
    lake = None
    if settings.s3.enabled:  # with S3, every batch is also copied to the bucket as Parquet
        from tasador.platform.local import s3_store
        from tasador.storage.lake import s3_lake

        lake = s3_lake(*s3_store(settings), settings.s3.bucket)
    try:
        yield Stores(
            raw=raw, clean=clean, mlflow=MlflowClient(tracking_uri=urls.tracking_uri), lake=lake
        )
    finally:
        raw.dispose()
        clean.dispose()


@contextmanager
def open_loop(settings: Settings) -> Iterator[tuple[DataApiClient, Stores, LoopConfig]]:
    """The data API client, the stores and the round's parameters."""
    urls = resolve_urls(settings)
    api = settings.data_api
    with (
        open_stores(settings) as stores,
        DataApiClient(
            urls.data_api,
            group_number=api.group_number,
            day=api.day or None,
            timeout_seconds=api.timeout_seconds,
            attempts=api.attempts,
        ) as client,
    ):
        yield client, stores, loop_config(settings)
