"""The data API client against real, misbehaving HTTP servers."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from fixtures.http import ServerThread, free_port, unused_url
from tasador.datasource.client import (
    Batch,
    DataApiClient,
    DataApiError,
    DataApiFinished,
    FetchOutcome,
    FetchRecord,
)
from tasador.datasource.dataset import split_batches
from tasador.datasource.generator import generate_listings
from tasador.datasource.simulator import FINISHED_DETAIL, create_simulator_app

pytestmark = pytest.mark.integration

ROWS = [{"brokered_by": 1.0, "status": "for_sale", "price": 100000.0, "zip_code": 601.0}]
CLIENT_LOGGER = "tasador.datasource.client"


class FaultyApi:
    """A data API that follows a script: one action per `/data` request, then "finished".

    Actions: "ok" (next batch), "ok:N" (batch N, cursor unchanged), "503", "404", "sleep" (answers
    the next batch after 1.5 s, so a short client timeout fires while the cursor still moves),
    "garbage" (truncated JSON), "shape" (valid JSON without `data`), "finished".
    """

    def __init__(self, script: list[str]) -> None:
        self.script = list(script)
        self.requests = 0
        self.restarts = 0
        self.cursor = 0
        self._lock = threading.Lock()
        self.app = FastAPI()
        self.app.get("/data")(self.data)
        self.app.get("/restart_data_generation")(self.restart)
        self.app.get("/health")(lambda: {"status": "ok"})

    def _batch(self, group: int, number: int) -> Response:
        return JSONResponse(
            {"group_number": group, "day": "Tuesday", "batch_number": number, "data": ROWS}
        )

    async def data(self, request: Request, group_number: int) -> Response:
        with self._lock:
            self.requests += 1
            action = self.script.pop(0) if self.script else "finished"
            number = self.cursor
            if action in ("ok", "sleep"):
                self.cursor += 1
        if action == "ok":
            return self._batch(group_number, number)
        if action.startswith("ok:"):
            return self._batch(group_number, int(action[3:]))
        if action == "sleep":
            await asyncio.sleep(1.5)
            return self._batch(group_number, number)
        if action == "garbage":
            return Response(
                b'{"batch_number": 0, "data": [{"price": 1', media_type="application/json"
            )
        if action == "shape":
            return JSONResponse({"batch_number": 0, "rows": ROWS})
        if action == "finished":
            return JSONResponse({"detail": FINISHED_DETAIL}, status_code=400)
        return JSONResponse({"detail": f"scripted {action}"}, status_code=int(action))

    def restart(self, group_number: int) -> dict[str, bool]:
        with self._lock:
            self.restarts += 1
            self.cursor = 0
        return {"ok": True}


@pytest.fixture
def faulty(serve_app: Callable[..., str]) -> Callable[[list[str]], tuple[FaultyApi, str]]:
    def start(script: list[str]) -> tuple[FaultyApi, str]:
        api = FaultyApi(script)
        return api, serve_app(api.app)

    return start


@pytest.fixture
def client_for() -> Iterator[Callable[..., DataApiClient]]:
    clients: list[DataApiClient] = []

    def make(url: str, **options: object) -> DataApiClient:
        settings: dict[str, object] = {
            "group_number": 9,
            "day": "Tuesday",
            "attempts": 4,
            "timeout_seconds": 10,
            "backoff_initial": 0.01,
            "backoff_max": 0.05,
        }
        settings.update(options)
        client = DataApiClient(url, **settings)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == CLIENT_LOGGER and r.levelno == logging.WARNING
    ]


def test_ok_first_time(faulty, client_for) -> None:  # type: ignore[no-untyped-def]
    _, url = faulty(["ok"])
    batch = client_for(url).fetch_batch()
    assert isinstance(batch, Batch)
    assert (batch.group_number, batch.day, batch.batch_number, batch.rows) == (
        9,
        "Tuesday",
        0,
        ROWS,
    )
    assert len(batch.content_hash) == 64
    assert batch.received_at.tzinfo is not None


def test_503_twice_then_ok_is_retried(faulty, client_for, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.WARNING, logger=CLIENT_LOGGER)
    api, url = faulty(["503", "503", "ok"])
    client = client_for(url)
    batch = client.fetch_batch()
    assert batch.batch_number == 0
    assert api.requests == 3
    assert client.outcomes == [FetchRecord(FetchOutcome.RETRIED_OK, 3, batch_number=0)]
    lines = _warnings(caplog)
    assert len(lines) == 2
    assert "attempt 1/4" in lines[0]
    assert "attempt 2/4" in lines[1]
    assert all("HTTP 503" in line for line in lines)


def test_connection_refused_exhausts_attempts(client_for, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.WARNING, logger=CLIENT_LOGGER)
    client = client_for(unused_url(), attempts=3)
    with pytest.raises(DataApiError, match=r"after 3 attempt\(s\).*ConnectError"):
        client.fetch_batch()
    assert [(r.outcome, r.attempts) for r in client.outcomes] == [(FetchOutcome.FAILED, 3)]
    assert len(_warnings(caplog)) == 2  # no "retrying" line after the last attempt


def test_connection_refused_until_the_server_appears(client_for) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    api = FaultyApi(["ok"])
    server = ServerThread(api.app, port=port)
    timer = threading.Timer(0.3, server.start)
    timer.start()
    try:
        client = client_for(f"http://127.0.0.1:{port}", attempts=100, backoff_max=0.1)
        batch = client.fetch_batch()
    finally:
        timer.join()
        server.stop()
    assert batch.batch_number == 0
    assert client.outcomes[0].outcome is FetchOutcome.RETRIED_OK
    assert client.outcomes[0].attempts > 1


def test_read_timeout_then_ok_shows_the_gap(faulty, client_for, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.WARNING, logger=CLIENT_LOGGER)
    api, url = faulty(["sleep", "ok", "ok"])
    client = client_for(url, timeout_seconds=0.3)
    batch = client.fetch_batch()
    # The timed-out request still moved the server's cursor: batch 0 was lost, batch 1 arrives.
    assert batch.batch_number == 1
    assert client.outcomes[0].outcome is FetchOutcome.RETRIED_OK
    assert "ReadTimeout" in _warnings(caplog)[0]
    client.restart()
    assert api.restarts == 1
    assert client.fetch_batch().batch_number == 0


def test_malformed_json_then_ok(faulty, client_for, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.WARNING, logger=CLIENT_LOGGER)
    _, url = faulty(["garbage", "ok"])
    client = client_for(url)
    assert client.fetch_batch().batch_number == 0
    assert client.outcomes[0].attempts == 2
    assert "malformed JSON" in _warnings(caplog)[0]


def test_wrong_shape_then_ok_and_wrong_shape_forever(faulty, client_for, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.WARNING, logger=CLIENT_LOGGER)
    api, url = faulty(["shape", "ok", "shape", "shape", "shape"])
    client = client_for(url, attempts=3)
    assert client.fetch_batch().batch_number == 0
    assert "no 'data' list" in _warnings(caplog)[0]
    with pytest.raises(DataApiError, match="unexpected body shape"):
        client.fetch_batch()
    assert [r.outcome for r in client.outcomes] == [FetchOutcome.RETRIED_OK, FetchOutcome.FAILED]
    assert api.requests == 5


def test_batch_served_twice_is_returned_twice(faulty, client_for) -> None:  # type: ignore[no-untyped-def]
    _, url = faulty(["ok:0", "ok:0", "ok"])
    client = client_for(url)
    first, second, third = client.fetch_batch(), client.fetch_batch(), client.fetch_batch()
    assert first.batch_number == second.batch_number == 0
    assert first.content_hash == second.content_hash  # dedup is the pipeline's job
    assert third.batch_number == 0
    assert [r.outcome for r in client.outcomes] == [FetchOutcome.OK] * 3


def test_finished_400(faulty, client_for) -> None:  # type: ignore[no-untyped-def]
    api, url = faulty(["ok", "finished"])
    client = client_for(url)
    client.fetch_batch()
    with pytest.raises(DataApiFinished, match="necesaria"):
        client.fetch_batch()
    assert client.outcomes[-1] == FetchRecord(FetchOutcome.FINISHED, 1)
    assert api.requests == 2


@pytest.mark.parametrize("status", ["404", "422"])
def test_other_4xx_is_permanent(faulty, client_for, status: str) -> None:  # type: ignore[no-untyped-def]
    api, url = faulty([status, "ok"])
    client = client_for(url)
    with pytest.raises(DataApiError, match=f"HTTP {status}: scripted {status}"):
        client.fetch_batch()
    assert api.requests == 1  # no retry
    assert client.outcomes[0].outcome is FetchOutcome.FAILED
    assert client.outcomes[0].attempts == 1


def test_health(faulty, client_for) -> None:  # type: ignore[no-untyped-def]
    _, url = faulty([])
    assert client_for(url).health() is True
    assert client_for(unused_url()).health() is False


def test_reads_the_simulator_to_the_end(serve_app: Callable[..., str], client_for) -> None:  # type: ignore[no-untyped-def]
    batches = split_batches(generate_listings(4_000, seed=3))
    url = serve_app(create_simulator_app(batches))
    with client_for(url, day=None) as client:
        received = []
        while True:
            try:
                received.append(client.fetch_batch())
            except DataApiFinished:
                break
        assert [b.batch_number for b in received] == list(range(len(batches)))
        assert [len(b.rows) for b in received] == [len(b) for b in batches]
        assert all(b.day is None for b in received)
        client.restart()
        again = client.fetch_batch()
    assert again.batch_number == 0
    assert again.content_hash == received[0].content_hash  # same batch, same bytes
