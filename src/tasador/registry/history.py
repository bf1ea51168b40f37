"""Every registered version of the model with what its run recorded: the registry side of the
history the UI shows. Reads only; a few calls whatever the number of versions (paged searches)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlflow import MlflowClient

from tasador.registry.aliases import (
    TAG_DECISION,
    TAG_REASON,
    TAG_SUPERSEDED_BY,
    production_version,
)
from tasador.registry.models import EVAL_PREFIX, TAG_BATCH, TAG_WINDOW, filter_quoted


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """One registered version: its tags, its run's parameters and evaluation metrics."""

    version: str
    run_id: str
    created_at: datetime
    batch_id: int | None
    training_window: str | None
    decision: str | None  # "promoted" | "rejected" | None (not decided yet)
    reason: str | None
    superseded_by: str | None
    is_production: bool
    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float]  # on the evaluation set, without the `eval_` prefix


def _pages(client: MlflowClient, model_name: str) -> Iterator[Any]:
    token: str | None = None
    while True:
        page = client.search_model_versions(
            f"name = '{filter_quoted(model_name)}'", max_results=1000, page_token=token
        )
        yield from page
        token = page.token
        if not token:
            return


def list_versions(client: MlflowClient, model_name: str) -> list[VersionRecord]:
    """Every version of `model_name`, oldest first (an unknown model has none)."""
    versions = list(_pages(client, model_name))
    production = production_version(client, model_name) if versions else None
    runs: dict[str, Any] = {}
    run_ids = {str(mv.run_id) for mv in versions if mv.run_id}
    if run_ids:
        # one paged search of the model's experiment is far cheaper than searching by run ids
        experiment = client.get_run(min(run_ids)).info.experiment_id
        token: str | None = None
        while True:
            page = client.search_runs([experiment], max_results=1000, page_token=token)
            runs |= {run.info.run_id: run for run in page if run.info.run_id in run_ids}
            token = page.token
            if not token:
                break
        for run_id in run_ids - set(runs):  # a version logged from another experiment
            runs[run_id] = client.get_run(run_id)
    records = []
    for mv in versions:
        tags = dict(mv.tags or {})
        run = runs.get(str(mv.run_id))
        metrics = run.data.metrics if run is not None else {}
        batch = tags.get(TAG_BATCH)
        records.append(
            VersionRecord(
                version=str(mv.version),
                run_id=str(mv.run_id),
                created_at=datetime.fromtimestamp(mv.creation_timestamp / 1000, tz=UTC),
                batch_id=int(batch) if batch and batch.isdigit() else None,
                training_window=tags.get(TAG_WINDOW),
                decision=tags.get(TAG_DECISION),
                reason=tags.get(TAG_REASON),
                superseded_by=tags.get(TAG_SUPERSEDED_BY),
                is_production=str(mv.version) == production,
                tags=tags,
                params=dict(run.data.params) if run is not None else {},
                metrics={
                    k.removeprefix(EVAL_PREFIX): float(v)
                    for k, v in metrics.items()
                    if k.startswith(EVAL_PREFIX)
                },
            )
        )
    return sorted(records, key=lambda r: int(r.version))
