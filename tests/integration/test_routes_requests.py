"""The requests router (/requests/summary, /metrics/summary, /predictions/history): what the
inference log in RAW DATA says the service answered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest

from fixtures.serving import LISTING, assert_answers_as, wait_until
from tasador import schema
from tasador.serving.history import HistoryReader
from tasador.serving.history_models import PredictionHistoryOut, RequestsSummaryOut
from tasador.storage.engine import make_engine
from tasador.storage.migrate import migrate
from tasador.storage.raw_store import write_inference_records

TEXAS = {**LISTING, "state": "TX", "city": "Austin"}


def summary(url: str, path: str = "/requests/summary", **params: Any) -> dict[str, Any]:
    answer = httpx.get(f"{url}{path}", params=params, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture(scope="module")
def traffic(history_api: str) -> dict[str, Any]:
    """Requests sent before the checks, and the time just before them (the server stamps
    requests with the same clock; other tests' requests to this shared API came before)."""
    start = datetime.now(UTC)
    prices = [httpx.post(f"{history_api}/predict", json=TEXAS).json()["price"] for _ in range(3)]
    listed = httpx.post(f"{history_api}/batch_predict", json=[LISTING, TEXAS]).json()
    prices += [p["price"] for p in listed["predictions"]]
    httpx.post(f"{history_api}/predict", json={**LISTING, "bed": -1})  # a 422
    # the log writes off the request path: wait until all five requests are in RAW DATA
    wait_until(lambda: summary(history_api, since=start.isoformat())["total"] >= 5)
    texas = [*prices[:3], prices[4]]
    return {"start": start, "prices": prices, "texas": texas}


def test_summary_counts_latency_and_prices(history_api: str, traffic: dict[str, Any]) -> None:
    answer = summary(history_api, since=traffic["start"].isoformat())
    assert_answers_as(RequestsSummaryOut, answer)
    assert answer["total"] == 5
    assert answer["errors"] == 1
    assert answer["by_endpoint"] == {"/predict": 4, "/batch_predict": 1}
    assert answer["by_status"] == {"200": 4, "422": 1}
    latency = answer["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"]
    assert sum(b["requests"] for b in answer["over_time"]) == 5
    assert sum(b["errors"] for b in answer["over_time"]) == 1
    prices = answer["prices"]
    assert prices["count"] == len(traffic["prices"]) == 5
    assert prices["requests_sampled"] == 4
    assert sum(prices["histogram_counts"]) == 5
    assert prices["p50"] == pytest.approx(sorted(traffic["prices"])[2])
    assert prices["histogram_edges"][0] == pytest.approx(min(traffic["prices"]))


def test_metrics_summary_is_the_same_answer(history_api: str, traffic: dict[str, Any]) -> None:
    until = datetime.now(UTC).isoformat()
    params = {"since": traffic["start"].isoformat(), "until": until}
    assert summary(history_api, "/metrics/summary", **params) == summary(history_api, **params)


def test_summary_window_is_checked(history_api: str) -> None:
    now = datetime.now(UTC)
    answer = httpx.get(
        f"{history_api}/requests/summary",
        params={"since": now.isoformat(), "until": (now - timedelta(hours=1)).isoformat()},
    )
    assert answer.status_code == 422
    empty = summary(history_api, since="2001-01-01T00:00:00", until="2001-01-02T00:00:00")
    assert empty["total"] == 0
    assert empty["prices"]["count"] == 0
    assert empty["latency_ms"]["p50"] is None
    ever = summary(history_api, since="0001-01-01T00:00:00Z")  # before anything: everything
    assert ever["total"] >= summary(history_api, since="1970-01-01T00:00:00Z")["total"] > 0
    assert httpx.get(f"{history_api}/requests/summary", params={"since": "soon"}).status_code == 422


def test_prediction_history_newest_first_and_by_state(
    history_api: str, traffic: dict[str, Any]
) -> None:
    answer = httpx.get(f"{history_api}/predictions/history", params={"limit": 4}).json()
    assert_answers_as(PredictionHistoryOut, answer)
    assert answer["count"] == 4
    received = [p["received_at"] for p in answer["predictions"]]
    assert received == sorted(received, reverse=True)
    texas = httpx.get(
        f"{history_api}/predictions/history", params={"state": "Texas", "limit": 1000}
    ).json()["predictions"]
    assert len(texas) >= 4
    # other tests share this API: any spelling of Texas, found by its one name
    assert {schema.STATE_NAMES[p["listing"]["state"].lower()] for p in texas} == {"Texas"}
    assert sorted(p["price"] for p in texas[:4]) == sorted(traffic["texas"])  # the newest
    too_many = httpx.get(f"{history_api}/predictions/history", params={"limit": 5000})
    assert too_many.status_code == 422


def test_history_reads_the_log_a_page_at_a_time(make_database: Any) -> None:
    """More requests than one page: all are found, newest first, and the scan bound holds."""
    url = make_database("raw")
    migrate(url, "raw")
    engine = make_engine(url)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    records = [
        {
            "request_id": uuid.uuid4(),
            "received_at": start + timedelta(seconds=i),
            "endpoint": "/batch_predict" if i % 2 else "/predict",
            "model_version": "1",
            "inputs": [TEXAS, LISTING] if i % 2 else TEXAS,
            "outputs": [{"price": 2.0 * i}, {"price": 2.0 * i + 1}]
            if i % 2
            else {"price": 2.0 * i},
            "latency_ms": 1.0,
            "status_code": 200,
        }
        for i in range(450)
    ]
    write_inference_records(engine, records)
    try:
        reader = HistoryReader(engine, cast(Any, None), "unused", raw=engine)
        found = reader.predictions(1000, None, 5000)
        assert found["scanned_requests"] == 450
        assert found["count"] == 675  # 225 single listings and 225 lists of two
        prices = [p["price"] for p in found["predictions"]]
        assert prices[:3] == [898.0, 899.0, 896.0]  # newest first, a list's items in order
        texas = reader.predictions(1000, "tx", 250)
        assert texas["scanned_requests"] == 250
        assert {p["listing"]["state"] for p in texas["predictions"]} == {"TX"}
        summary = reader.requests_summary(start, start + timedelta(hours=1))
        assert summary["total"] == 450
        assert summary["prices"]["count"] == 674  # a price of 0 (the first) is no price
        assert summary["prices"]["requests_sampled"] == 450
    finally:
        engine.dispose()
