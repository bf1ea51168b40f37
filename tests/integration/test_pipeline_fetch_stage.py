"""`fetch_stage`, the batch an orchestrator run works on: the same batch for the same run (without
asking the data API again), an unfinished batch before a new one, and the finished answer kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tasador.datasource.simulator import create_simulator_app
from tasador.pipeline import LogReporter, clean_stage, fetch_stage, process_batch
from tasador.storage import clean_store


class CountingApp:
    """ASGI wrapper counting GET /data requests (each one moves the API's cursor)."""

    def __init__(self, app: Any) -> None:
        self.app, self.requests = app, 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/data":
            self.requests += 1
        await self.app(scope, receive, send)


def test_a_run_keeps_its_batch_and_an_unfinished_batch_comes_first(
    make_world: Callable[..., Any], test_batches: list[Any]
) -> None:
    app = CountingApp(create_simulator_app(test_batches[:2]))
    world = make_world(app=app)
    stores = world.stores()
    with world.client() as client:
        first = fetch_stage(client, stores, world.config, "dag/run-1")
        assert first is not None
        assert first.batch_number == 0
        assert app.requests == 1
        again = fetch_stage(client, stores, world.config, "dag/run-1")
        assert again is not None
        assert again.batch_id == first.batch_id
        assert app.requests == 1  # not asked again: its cursor would have moved on

        # run-1 stopped after cleaning: the next run finishes batch 0 before fetching batch 1
        clean_stage(stores, first, world.config, LogReporter())
        second = fetch_stage(client, stores, world.config, "dag/run-2")
        assert second is not None
        assert second.batch_id == first.batch_id
        assert app.requests == 1
        process_batch(stores, second, world.config, LogReporter())

        third = fetch_stage(client, stores, world.config, "dag/run-3")
        assert third is not None
        assert third.batch_number == 1
        process_batch(stores, third, world.config, LogReporter())

        assert fetch_stage(client, stores, world.config, "dag/run-4") is None
        requests = app.requests
        assert fetch_stage(client, stores, world.config, "dag/run-4") is None
        assert app.requests == requests  # the finished answer is the run's, kept
    assert [b.batch_number for b in clean_store.list_batches(stores.clean)] == [0, 1]
    assert clean_store.run_batch(stores.clean, "dag/run-4") is not None
    assert clean_store.run_batch(stores.clean, "dag/run-5") is None
