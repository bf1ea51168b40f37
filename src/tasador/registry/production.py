"""Read what the inference service needs about the production model: the version and when it ran."""

from __future__ import annotations

from datetime import UTC, datetime

from mlflow import MlflowClient


def run_finished_at(client: MlflowClient, run_id: str) -> datetime | None:
    """When the training run of a model ended (its start if it never ended), in UTC."""
    info = client.get_run(run_id).info
    millis = info.end_time or info.start_time
    return datetime.fromtimestamp(millis / 1000, tz=UTC) if millis else None
