"""Dynamic batching: concurrent /predict requests share one booster call.

A booster call has a fixed cost that dwarfs one row's share of it (300 trees: about 0.3 ms for one
row, 0.45 ms for sixteen). `PredictionBatcher.predict` queues a request's model matrix; one drain
task runs the booster on everything queued, in a worker thread (XGBoost releases the GIL), while
the event loop goes on reading and parsing the next requests, which make up the next batch. A
request that finds the batcher idle is dispatched at once, so nothing waits for a batch to fill;
and a request that is the only one in the server (`in_flight`) predicts right on the event loop,
with no thread hop, as there is nobody to batch with. "Only one" is checked after yielding once
to the event loop: requests that arrived together (as a load generator sends them) are tasks
queued behind the first, counted only once they start, and would otherwise each predict alone.

Requests are grouped by the model they took, so a model swap never mixes two models in one call,
and every request gets the predictions of its own rows, in order.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tasador.serving.model_holder import ServedModel

_Pending = tuple["ServedModel", np.ndarray, "asyncio.Future[np.ndarray]"]


class PredictionBatcher:
    """Runs the booster for all requests waiting at once, in one worker thread."""

    def __init__(self) -> None:
        self._pending: list[_Pending] = []
        self._draining = False
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")
        self.calls = 0  # booster calls made (for tests and metrics)
        self.in_flight = 0  # /predict requests in the server now (the app counts them)

    async def predict(self, model: ServedModel, x: np.ndarray) -> np.ndarray:
        """The model's raw predictions (log price) for the rows of `x`."""
        if self.in_flight <= 1 and not self._draining:
            # Requests that came in together are tasks queued behind this one, not yet counted:
            # let them run up to here first, so that they join a batch instead of each
            # predicting alone on the event loop, one after the other.
            await asyncio.sleep(0)
        if self.in_flight <= 1 and not self._draining:  # alone: no batch to join or make
            self.calls += 1
            return model.predict(x)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        self._pending.append((model, x, future))
        if not self._draining:
            self._draining = True
            self._task = loop.create_task(self._drain())  # kept: a task nobody holds may vanish
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                for model, requests in _by_model(batch):
                    try:
                        rows = [r[1] for r in requests]
                        x = rows[0] if len(rows) == 1 else np.vstack(rows)
                        predicted = await loop.run_in_executor(self._executor, model.predict, x)
                    except Exception as err:  # each waiting request fails with it, none hangs
                        for _, _, future in requests:
                            if not future.done():
                                future.set_exception(err)
                        continue
                    finally:
                        self.calls += 1
                    _hand_out(predicted, requests)
        finally:
            self._draining = False

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _by_model(batch: list[_Pending]) -> list[tuple[ServedModel, list[_Pending]]]:
    """The batch's requests grouped by the model they took, in order of first appearance."""
    groups: dict[int, tuple[ServedModel, list[_Pending]]] = {}
    for item in batch:
        groups.setdefault(id(item[0]), (item[0], []))[1].append(item)
    return list(groups.values())


def _hand_out(predicted: np.ndarray, requests: list[_Pending]) -> None:
    """Each request's share of the predictions, by its number of rows."""
    start = 0
    for _, x, future in requests:
        end = start + len(x)
        if not future.done():  # a request cancelled meanwhile (client gone) just drops its share
            future.set_result(predicted[start:end])
        start = end
