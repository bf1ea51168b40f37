"""Settings, grouped by concern, read once from the environment (prefix `TASADOR_`) or `.env`.

Only entry points (CLI commands, the DAG, the app factories) call `get_settings()`; everything else
takes plain parameters.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=f"TASADOR_{prefix}", env_file=".env", extra="ignore", frozen=True
    )


class DatabaseSettings(BaseSettings):
    """PostgreSQL. With no URL, `tasador up` starts an embedded server under the state folder."""

    model_config = _config("DB_")

    raw_url: str | None = Field(None, description="RAW DATA database URL (SQLAlchemy form)")
    clean_url: str | None = Field(None, description="CLEAN DATA database URL")
    mlflow_url: str | None = Field(None, description="MLflow metadata database URL")
    embedded_port: int = Field(55432, description="port of the embedded PostgreSQL")


class MlflowSettings(BaseSettings):
    """MLflow tracking server and artifact store."""

    model_config = _config("MLFLOW_")

    tracking_uri: str | None = Field(None, description="tracking server URL; none: start one")
    port: int = Field(5055, description="port of the tracking server that tasador starts")
    artifacts_destination: str | None = Field(
        None,
        description="artifact root (local path or s3://bucket/prefix); none: "
        "s3://BUCKET/mlartifacts with S3, else the state folder",
    )
    model_name: str = Field("tasador-price", description="registered model name")
    experiment: str = Field("tasador", description="experiment name")


class DataApiSettings(BaseSettings):
    """The data API the loop reads batches from."""

    model_config = _config("DATA_API_")

    url: str | None = Field(None, description="data API base URL; none: start the simulator")
    group_number: int = Field(1, description="group number sent to the API")
    day: str = Field("Tuesday", description="day sent to the API")
    timeout_seconds: float = Field(300.0, description="read timeout per request")
    attempts: int = Field(5, description="attempts per request on 5xx, timeouts, bad JSON")


class SimulatorSettings(BaseSettings):
    """The bundled data API simulator."""

    model_config = _config("SIMULATOR_")

    dataset_path: Path | None = Field(
        None, description="realtor-schema file (csv, csv.zip, parquet); none: synthetic data"
    )
    rows: int = Field(120_000, description="synthetic rows generated (before complete-case filter)")
    seed: int = Field(7, description="seed of the synthetic dataset")
    port: int = Field(8081, description="port of the simulator that tasador starts")
    host: str = Field("127.0.0.1", description="interface the simulator listens on")


class TrainingSettings(BaseSettings):
    """Model training and tuning."""

    model_config = _config("TRAIN_")

    n_trials: int = Field(20, description="Optuna trials per training")
    timeout_seconds: float = Field(
        60.0, description="wall-clock budget of one tuning per 100k training rows (at least this)"
    )
    seed: int = Field(42, description="seed of the sampler and the booster")
    holdout_fraction: float = Field(0.2, description="share of clean rows kept for evaluation")
    interval_coverage: float = Field(
        0.8, gt=0, lt=1, description="share of true prices a price range is to hold"
    )
    window_batches: int | None = Field(
        None, description="train on the last N batches only; none: all clean rows so far"
    )


class DecisionSettings(BaseSettings):
    """Drift thresholds, the retraining trigger and the promotion rule."""

    model_config = _config("DECISION_")

    drift_alpha: float = Field(0.05, description="family-wise significance level (Bonferroni)")
    drift_psi_threshold: float = Field(0.2, description="PSI above which a feature has shifted")
    drift_ks_threshold: float = Field(0.1, description="KS statistic above which it has shifted")
    drift_min_features: int = Field(1, description="drifted features needed to call drift")
    degradation_margin: float = Field(
        0.10, description="retrain when champion RMSE(log) on the batch exceeds its own by this"
    )
    promotion_margin: float = Field(
        0.01, description="challenger must beat champion RMSE(log) by this relative margin"
    )
    coverage_tolerance: float = Field(
        0.05, description="most a price range's measured coverage may miss its target by"
    )
    baseline_margin: float = Field(
        0.05,
        description="how much lower a model's RMSE(log) must be than the median price "
        "of the state's, on the same evaluation rows, to be promoted",
    )


class ServingSettings(BaseSettings):
    """The inference API."""

    model_config = _config("SERVING_")

    host: str = Field("127.0.0.1", description="interface the inference API listens on")
    port: int = Field(8000, description="port of the inference API")
    poll_seconds: float = Field(10.0, description="how often the production alias is checked")
    reload_token: SecretStr | None = Field(None, description="bearer token of POST /reload")
    max_batch: int = Field(1_000, description="most listings in one /predict request")
    max_body_bytes: int = Field(2_000_000, description="largest request body accepted (bytes)")
    inference_queue_size: int = Field(
        100_000, description="inference records held in memory while RAW DATA is unreachable"
    )
    explain_threads: int = Field(
        0,
        ge=0,
        description="threads that share one /explain (its trees split between them); "
        "0: the CPUs this process may use",
    )
    drift_interval_seconds: float = Field(
        300.0,
        ge=0,
        description="how often recent requests are checked for drift from the served model's "
        "training data; 0: never",
    )
    drift_sample: int = Field(5_000, ge=1, description="most recent priced listings checked")
    drift_min_listings: int = Field(
        100, ge=1, description="fewer recent listings than this: no drift check"
    )

    def explain_thread_count(self) -> int:
        """`explain_threads`, 0 resolved to the CPUs this process may run on."""
        return self.explain_threads or len(os.sched_getaffinity(0))


class S3Settings(BaseSettings):
    """The S3 object store of MLflow's artifacts (the MLflow server holds the keys: the pipeline
    and the inference API reach artifacts through its proxy)."""

    model_config = _config("S3_")

    local: bool = Field(False, description="start a SeaweedFS S3 server (as `tasador up --s3`)")
    endpoint_url: str | None = Field(
        None, description="S3 endpoint of your store (SeaweedFS, MinIO; none with AWS)"
    )
    bucket: str = Field("tasador", description="bucket of the artifacts, created when missing")
    access_key_id: SecretStr | None = Field(
        None, description="key of your store; none: the AWS chain (environment, profile, role)"
    )
    secret_access_key: SecretStr | None = Field(None, description="secret of that key")
    port: int = Field(8333, description="S3 port of the SeaweedFS server that tasador starts")

    @property
    def enabled(self) -> bool:
        """Whether artifacts go to S3 (a local server, or a configured store)."""
        return self.local or self.endpoint_url is not None


class UiSettings(BaseSettings):
    """The Streamlit UI: where it listens, and the inference API it talks to."""

    model_config = _config("UI_")

    host: str = Field("127.0.0.1", description="interface the UI listens on")
    port: int = Field(8501, description="port of the UI")
    api_url: str | None = Field(
        None, description="inference API the UI talks to; none: the local one (serving host, port)"
    )
    timeout_seconds: float = Field(30.0, gt=0, description="how long the UI waits for the API")

    def resolved_api_url(self, serving: ServingSettings) -> str:
        """`api_url`, or the local inference API's URL."""
        return (self.api_url or f"http://{serving.host}:{serving.port}").rstrip("/")


class PrometheusSettings(BaseSettings):
    """The Prometheus server `tasador up` starts when a `prometheus` binary is on PATH."""

    model_config = _config("PROMETHEUS_")

    local: bool = Field(True, description="start Prometheus with `tasador up` when installed")
    port: int = Field(9090, description="port of the Prometheus that tasador starts")


class AirflowSettings(BaseSettings):
    """The Airflow DAG (`dags/tasador_loop.py`): when it runs and how its tasks retry."""

    model_config = _config("AIRFLOW_")

    schedule: str | None = Field(
        "@hourly", description="when the DAG runs a round (cron or preset); `none`: when triggered"
    )
    retries: int = Field(3, ge=0, description="retries of a failed task (delay doubles each time)")
    retry_delay_seconds: float = Field(60.0, gt=0, description="delay before the first retry")
    max_retry_delay_seconds: float = Field(900.0, gt=0, description="longest delay between retries")
    inference_api_url: str | None = Field(
        None, description="inference API the DAG asks to reload; none: the local one"
    )

    @field_validator("schedule")
    @classmethod
    def _no_schedule(cls, value: str | None) -> str | None:
        """`none` or nothing: the DAG runs only when triggered."""
        return None if value is None or value.strip().lower() in {"", "none"} else value


class Settings(BaseSettings):
    """All settings."""

    model_config = _config("")

    state_dir: Path = Field(Path(".tasador"), description="local state: database, artifacts, logs")
    log_level: str = Field("INFO", description="log level")

    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    mlflow: MlflowSettings = Field(default_factory=MlflowSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    data_api: DataApiSettings = Field(default_factory=DataApiSettings)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    decision: DecisionSettings = Field(default_factory=DecisionSettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)
    ui: UiSettings = Field(default_factory=UiSettings)
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)
    airflow: AirflowSettings = Field(default_factory=AirflowSettings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()


def env_name(group: type[BaseSettings], field: str) -> str:
    """The environment variable of `field` in the settings group `group`."""
    if field not in group.model_fields:
        raise KeyError(f"{group.__name__} has no setting {field!r}")
    return f"{group.model_config.get('env_prefix', '')}{field}".upper()


def describe_settings() -> list[tuple[str, str, str]]:
    """(environment variable, default, meaning) of every setting, for README and .env.example."""
    rows: list[tuple[str, str, str]] = []
    for name, info in Settings.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            for sub_name, sub in annotation.model_fields.items():
                rows.append(
                    (env_name(annotation, sub_name), _default(sub.default), sub.description or "")
                )
        else:
            rows.append((f"TASADOR_{name}".upper(), _default(info.default), info.description or ""))
    return rows


def _default(value: object) -> str:
    return "" if value is None else str(value)
