"""The whole loop over every batch of the default (synthetic) dataset, on real services."""

from __future__ import annotations

import pytest

from fixtures.loop import FinishedLoop
from tasador.pipeline import run_loop
from tasador.registry.aliases import get_production
from tasador.storage import clean_store
from tasador.storage.records import BatchStatus

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_loop_processes_every_batch_with_reasons(finished_loop: FinishedLoop) -> None:
    world, results = finished_loop.world, finished_loop.results  # `run_loop` over every batch
    stores = world.stores()

    assert [r.batch_number for r in results] == [0, 1, 2, 3, 4, 5]
    batches = clean_store.list_batches(stores.clean)
    assert all(b.status == BatchStatus.DONE for b in batches)
    for batch in batches:
        assert batch.kept + batch.rejected == batch.received
        assert sum((batch.rejected_by_reason or {}).values()) == batch.rejected

    decisions = {d.batch_id: d for d in clean_store.list_decisions(stores.clean)}
    assert len(decisions) == 6
    assert all(d.reason for d in decisions.values())
    trained = [d for d in decisions.values() if d.action == "train"]
    promoted = [d for d in trained if d.promoted]
    skipped_or_rejected = [
        d for d in decisions.values() if d.action == "skip" or d.promoted is False
    ]
    assert len(promoted) >= 2, [
        (d.action, d.reason, d.promotion_reason) for d in decisions.values()
    ]
    assert skipped_or_rejected, [(d.action, d.reason) for d in decisions.values()]
    assert all(d.promotion_reason for d in trained)
    # the first batch trains because there is no model; the first model passes the floors
    first = decisions[min(decisions)]
    assert first.trigger == "first_model"
    assert first.promoted

    # every trained model is a registered version; production is the last promoted one
    versions = stores.mlflow.search_model_versions(f"name = '{world.config.model_name}'")
    assert len(versions) == len(trained)
    production = get_production(stores.mlflow, world.config.model_name)
    assert production is not None
    last_promoted = max(promoted, key=lambda d: d.batch_id)
    assert str(production.version) == last_promoted.model_version

    # a second run finds the API exhausted and changes nothing
    with world.client() as client:
        assert run_loop(client, stores, world.config) == []
    assert len(stores.mlflow.search_model_versions(f"name = '{world.config.model_name}'")) == len(
        trained
    )
