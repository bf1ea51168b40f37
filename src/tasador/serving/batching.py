"""Dynamic batching: concurrent /predict requests share one booster call.

A booster call has a fixed cost that dwarfs one row's share of it. `PredictionBatcher.predict`
queues a request's model matrix; one drain task runs the booster on everything queued, in a worker
thread (XGBoost releases the GIL), while the event loop reads the next requests, which make up the
next batch. A request that finds the batcher idle is dispatched at once, so nothing waits for a
batch to fill; a request that is the only one in the server (`in_flight`, checked after yielding
once to the event loop so that requests that arrived together are counted) predicts right on the
event loop, with no thread hop.

Requests are grouped by the model they took, so a model swap never mixes two models in one call,
and every request gets the predictions of its own rows, in order.

Large requests (more than one XGBoost block of rows) gain nothing from sharing a call. While
requests come concurrently (another was in flight within `SIDE_BY_SIDE_SECONDS`), each runs its own
one-thread call in a pool with a worker per core, so calls run side by side while the event loop
decodes the next request; a lone client keeps the call on every core, which answers it sooner.
Measurements: docs/serving-performance.md.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Final

import numpy as np

from tasador.serving.model_holder import ONE_BLOCK_ROWS

if TYPE_CHECKING:
    from tasador.serving.model_holder import ServedModel

_Pending = tuple["ServedModel", np.ndarray, "asyncio.Future[np.ndarray]"]

SIDE_BY_SIDE_SECONDS: Final[float] = 1.0  # how long concurrency keeps large calls side by side

# How a booster call met its requests: one request alone on the event loop; the requests waiting
# together in one call (the worker thread); a large request's own one-thread call in the pool.
ALONE, SHARED, SIDE_BY_SIDE = "alone", "shared", "side_by_side"
MODES: Final[tuple[str, ...]] = (ALONE, SHARED, SIDE_BY_SIDE)


class PredictionBatcher:
    """Runs the booster for the requests waiting at once in one call; large ones side by side."""

    def __init__(
        self, *, cores: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._pending: list[_Pending] = []
        self._draining = False
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")
        self._side = ThreadPoolExecutor(
            max_workers=cores or len(os.sched_getaffinity(0)), thread_name_prefix="predict-side"
        )
        self._clock = clock
        self._concurrent_at = float("-inf")  # when another request was last seen in flight
        # booster calls made, by how requests met them (for tests and metrics)
        self.calls_by_mode: dict[str, int] = dict.fromkeys(MODES, 0)
        self.in_flight = 0  # /predict requests in the server now (the app counts them)

    @property
    def calls(self) -> int:
        """Booster calls made so far."""
        return sum(self.calls_by_mode.values())

    @property
    def side_calls(self) -> int:
        """Of which large requests' one-thread calls side by side."""
        return self.calls_by_mode[SIDE_BY_SIDE]

    async def predict(self, model: ServedModel, x: np.ndarray) -> np.ndarray:
        """The model's raw predictions (log price) for the rows of `x`."""
        if self.in_flight <= 1 and not self._draining:
            # Requests that came in together are tasks queued behind this one, not yet counted:
            # let them run up to here first, so that they join a batch instead of each
            # predicting alone on the event loop, one after the other.
            await asyncio.sleep(0)
        now = self._clock()
        if self.in_flight > 1:
            self._concurrent_at = now
        if len(x) > ONE_BLOCK_ROWS and now - self._concurrent_at < SIDE_BY_SIDE_SECONDS:
            self.calls_by_mode[SIDE_BY_SIDE] += 1
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._side, _one_thread, model, x)
        if self.in_flight <= 1 and not self._draining:  # alone: no batch to join or make
            self.calls_by_mode[ALONE] += 1
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
                        self.calls_by_mode[SHARED] += 1
                    _hand_out(predicted, requests)
        finally:
            self._draining = False

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._side.shutdown(wait=False, cancel_futures=True)


def _one_thread(model: ServedModel, x: np.ndarray) -> np.ndarray:
    return model.predict(x, one_thread=True)


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
