"""Large requests run side by side on one thread each while requests come concurrently."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import xgboost as xgb

from tasador.serving.batching import SIDE_BY_SIDE_SECONDS, PredictionBatcher
from tasador.serving.model_holder import ONE_BLOCK_ROWS, ServedModel, serve_model
from tasador.training.features import build_features, fit_features
from tasador.training.synthetic import make_listings


@pytest.fixture(scope="module")
def served() -> tuple[ServedModel, np.ndarray]:
    frame = make_listings(400, seed=11)
    spec = fit_features(frame)
    x = build_features(frame, spec)
    booster = xgb.train(
        {"max_depth": 4, "eta": 0.3, "nthread": 2},
        xgb.DMatrix(x, label=np.log(frame["price"].to_numpy())),
        num_boost_round=20,
    )
    return serve_model(name="m", version="1", run_id="r", booster=booster, spec=spec), x


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _request(batcher: PredictionBatcher, model: ServedModel, x: np.ndarray) -> np.ndarray:
    """What the app does around a prediction: count the request in flight while it runs."""
    batcher.in_flight += 1
    try:
        return await batcher.predict(model, x)
    finally:
        batcher.in_flight -= 1


async def _together(
    batcher: PredictionBatcher, model: ServedModel, parts: list[np.ndarray]
) -> list[np.ndarray]:
    return list(await asyncio.gather(*(_request(batcher, model, x) for x in parts)))


def test_a_lone_large_request_runs_on_every_core(served: tuple[ServedModel, np.ndarray]) -> None:
    model, x = served
    batcher = PredictionBatcher(clock=Clock())
    try:
        got = asyncio.run(_request(batcher, model, x))
    finally:
        batcher.close()
    np.testing.assert_array_equal(got, model.booster.inplace_predict(x))
    assert batcher.calls_by_mode == {"alone": 1, "shared": 0, "side_by_side": 0}


def test_concurrent_large_requests_run_side_by_side_with_their_own_predictions(
    served: tuple[ServedModel, np.ndarray],
) -> None:
    model, x = served
    parts = [x[:150], x[150:300], x[300:]]
    assert all(len(p) > ONE_BLOCK_ROWS for p in parts)
    batcher = PredictionBatcher(cores=2, clock=Clock())
    try:
        got = asyncio.run(_together(batcher, model, parts))
    finally:
        batcher.close()
    for part, predicted in zip(parts, got, strict=True):
        np.testing.assert_array_equal(predicted, model.booster.inplace_predict(part))
    assert batcher.calls_by_mode == {"alone": 0, "shared": 0, "side_by_side": 3}  # none waited


def test_side_by_side_lasts_while_requests_keep_coming_concurrently(
    served: tuple[ServedModel, np.ndarray],
) -> None:
    model, x = served
    clock = Clock()
    batcher = PredictionBatcher(clock=clock)

    async def scenario() -> None:
        await _together(batcher, model, [x[:200], x[200:]])
        assert batcher.side_calls == 2
        clock.now += SIDE_BY_SIDE_SECONDS / 2  # a lone request soon after: still side by side
        await _request(batcher, model, x)
        assert batcher.side_calls == 3
        clock.now += SIDE_BY_SIDE_SECONDS * 1.01  # quiet since: back on every core
        await _request(batcher, model, x)
        assert batcher.side_calls == 3

    try:
        asyncio.run(scenario())
    finally:
        batcher.close()
    assert batcher.calls == 4


def test_concurrent_small_requests_still_share_a_call(
    served: tuple[ServedModel, np.ndarray],
) -> None:
    model, x = served
    parts = [x[i : i + 1] for i in range(16)]
    batcher = PredictionBatcher(clock=Clock())
    try:
        got = asyncio.run(_together(batcher, model, parts))
    finally:
        batcher.close()
    np.testing.assert_array_equal(np.concatenate(got), model.booster.inplace_predict(x[:16]))
    assert batcher.side_calls == 0
    assert batcher.calls_by_mode["shared"] >= 1
    assert batcher.calls < 16


def test_a_one_thread_call_gives_the_boosters_own_numbers_for_many_rows(
    served: tuple[ServedModel, np.ndarray],
) -> None:
    model, x = served
    got = model.predict(x, one_thread=True)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, model.booster.inplace_predict(x))
