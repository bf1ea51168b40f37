"""The prediction router (/predict, /explain) against a real MLflow server and real uvicorn servers.

Models are trained small and registered for real; the API finds the `production` version itself.
"""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mlflow import MlflowClient

from fixtures.http import running_server
from fixtures.serving import (
    LISTING,
    MAX_BATCH,
    MAX_BODY,
    assert_answers_as,
    complete,
    is_ready,
    listings_of,
    make_app,
    wait_until,
)
from tasador.registry.models import load_model_version
from tasador.serving.api_models import (
    BatchPredictionOut,
    ExplanationOut,
    PredictionOut,
)
from tasador.serving.app import create_app
from tasador.serving.inference_log import InferenceLog
from tasador.serving.model_holder import ModelHolder
from tasador.storage.engine import make_engine
from tasador.storage.migrate import migrate
from tasador.storage.raw_store import load_inference_records
from tasador.training.train import predict_price

pytestmark = pytest.mark.integration


# ------------------------------------------------------------------------------------------------
# Predictions and explanations


def test_predictions_equal_the_production_models_own(
    api: str, client: MlflowClient, production: str, data: pd.DataFrame
) -> None:
    loaded = load_model_version(client, production, "1")
    rows = complete(data[data["is_holdout"]]).head(MAX_BATCH)
    expected = predict_price(loaded.booster, loaded.spec, rows)
    bodies = listings_of(rows)

    answer = httpx.post(f"{api}/predict", json=bodies)
    assert answer.status_code == 200
    batch = answer.json()
    assert batch["model_version"] == "1"
    assert len(batch["predictions"]) == len(bodies)
    np.testing.assert_array_equal([p["price"] for p in batch["predictions"]], expected)

    singles = [httpx.post(f"{api}/predict", json=body).json() for body in bodies[:5]]
    np.testing.assert_array_equal([s["price"] for s in singles], expected[:5])
    assert {s["model_version"] for s in singles} == {"1"}
    assert len({s["request_id"] for s in singles} | {batch["request_id"]}) == 6
    assert np.log(singles[0]["price"]) == pytest.approx(singles[0]["log_price"], abs=1e-9)


def test_concurrent_requests_share_booster_calls_and_each_gets_its_own_rows(
    client: MlflowClient, production: str, data: pd.DataFrame
) -> None:
    loaded = load_model_version(client, production, "1")
    rows = complete(data[data["is_holdout"]]).head(60)
    expected = predict_price(loaded.booster, loaded.spec, rows)
    bodies = listings_of(rows)
    # single listings and lists of different lengths, all at once
    requests: list[tuple[Any, np.ndarray]] = []
    start = 0
    for size in [1] * 20 + [2, 3, 5, 10, 20]:
        part = bodies[start : start + size]
        requests.append((part[0] if size == 1 else part, expected[start : start + size]))
        start += size
    app = make_app(client, production)
    with running_server(app) as url:
        wait_until(lambda: is_ready(url))
        calls_before = app.state.serving.batcher.calls

        async def send_all() -> list[httpx.Response]:
            limits = httpx.Limits(max_connections=len(requests))
            async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
                return await asyncio.gather(*(http.post("/predict", json=b) for b, _ in requests))

        for _ in range(3):
            answers = asyncio.run(send_all())
            for answer, (_, want) in zip(answers, requests, strict=True):
                assert answer.status_code == 200
                got = answer.json()
                items = got.get("predictions", [got])
                prices = [item["price"] for item in items]
                np.testing.assert_array_equal(prices, want)
        calls = app.state.serving.batcher.calls - calls_before
    assert calls < 3 * len(requests)  # requests waiting together shared a booster call


def test_requests_received_together_are_batched_not_predicted_one_by_one(
    client: MlflowClient, production: str
) -> None:
    """As a load generator sends them: whole requests already in the sockets when the server
    looks. Each becomes a task before any runs; they must still meet in the batcher."""
    body = orjson.dumps(LISTING)
    app = make_app(client, production)
    with running_server(app) as url:
        wait_until(lambda: is_ready(url))
        host, port = url.removeprefix("http://").split(":")
        request = (
            f"POST /predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        sockets = [socket.create_connection((host, int(port))) for _ in range(16)]
        try:
            calls_before = app.state.serving.batcher.calls
            for _ in range(5):
                for sock in sockets:
                    sock.sendall(request)
                for sock in sockets:
                    assert _read_response(sock).startswith(b"HTTP/1.1 200")
            calls = app.state.serving.batcher.calls - calls_before
        finally:
            for sock in sockets:
                sock.close()
    assert calls <= 5 * 16 // 2  # one at a time would be 80 calls


def _read_response(sock: socket.socket) -> bytes:
    """One whole HTTP response (head and Content-Length body) from `sock`."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        rest += sock.recv(65536)
    return head


def test_unknown_categories_use_the_fallback_and_say_so(
    api: str, client: MlflowClient, production: str
) -> None:
    loaded = load_model_version(client, production, "1")
    body = {**LISTING, "state": "Atlantis", "city": "Nowhere", "zip_code": "00001"}
    answer = httpx.post(f"{api}/predict", json=body)
    assert answer.status_code == 200
    assert answer.json()["fallbacks"] == ["state", "city", "zip_code", "prev_sold_date"]
    frame = pd.DataFrame([body])
    assert answer.json()["price"] == predict_price(loaded.booster, loaded.spec, frame)[0]
    state = loaded.spec.encodings["state"].categories[0]
    known = httpx.post(f"{api}/predict", json={**LISTING, "state": state}).json()
    assert known["fallbacks"] == ["city", "zip_code", "prev_sold_date"]  # not given


def test_a_price_comes_with_the_models_range(
    api: str, client: MlflowClient, production: str
) -> None:
    loaded = load_model_version(client, production, "1")
    assert loaded.interval is not None  # fitted on the evaluation rows when it was registered
    factor = np.exp(loaded.interval.half_width_log)
    for body in (LISTING, [LISTING, {**LISTING, "bed": 5}]):
        answer = httpx.post(f"{api}/predict", json=body).json()
        for item in answer["predictions"] if isinstance(body, list) else [answer]:
            assert item["coverage"] == loaded.interval.target == 0.8
            assert item["price_low"] == pytest.approx(item["price"] / factor, rel=1e-12)
            assert item["price_high"] == pytest.approx(item["price"] * factor, rel=1e-12)
            assert item["price_low"] < item["price"] < item["price_high"]


@pytest.mark.parametrize(
    "missing",
    [
        ("acre_lot",),
        ("bed", "bath", "house_size"),
        ("city", "zip_code", "prev_sold_date"),  # the seed's six fields only
    ],
)
def test_a_listing_without_optional_fields_is_priced_and_says_so(
    api: str, client: MlflowClient, production: str, missing: tuple[str, ...]
) -> None:
    loaded = load_model_version(client, production, "1")
    body = {k: v for k, v in LISTING.items() if k not in missing}
    for sent in (body, {**body, **dict.fromkeys(missing)}):  # absent, or null
        answer = httpx.post(f"{api}/predict", json=sent)
        assert answer.status_code == 200, answer.text
        assert set(missing) <= set(answer.json()["fallbacks"])
        expected = predict_price(loaded.booster, loaded.spec, pd.DataFrame([body]))[0]
        assert answer.json()["price"] == expected
    explained = httpx.post(f"{api}/explain", json=body)
    assert explained.status_code == 200
    assert set(missing) <= set(explained.json()["fallbacks"])


def test_explanations_sum_to_the_prediction(api: str, data: pd.DataFrame) -> None:
    for body in listings_of(complete(data).head(3)):
        predicted = httpx.post(f"{api}/predict", json=body).json()
        answer = httpx.post(f"{api}/explain", json=body)
        assert answer.status_code == 200
        ex = answer.json()
        assert ex["model_version"] == "1"
        assert ex["log_price"] == pytest.approx(predicted["log_price"], abs=1e-4)
        assert ex["price"] == pytest.approx(predicted["price"], rel=1e-4)
        assert set(ex["inputs"]) == {
            "bed", "bath", "acre_lot", "house_size", "status", "prev_sold_date",
            "state", "city", "zip_code",
        }  # fmt: skip
        for group in ("inputs", "features"):
            terms = ex[group].values()
            log_sum = ex["base_log_price"] + sum(t["log"] for t in terms)
            dollar_sum = ex["base_price"] + sum(t["dollars"] for t in terms)
            assert log_sum == pytest.approx(ex["log_price"], abs=1e-4)
            assert dollar_sum == pytest.approx(ex["price"], rel=1e-9)
        assert ex["base_price"] == pytest.approx(np.exp(ex["base_log_price"]))
        # SHAP's own names, which earlier clients read: the same numbers
        assert ex["base_value"] == ex["base_log_price"]
        assert ex["shap_values"] == {name: t["log"] for name, t in ex["inputs"].items()}


def test_batch_predict_answers_a_list_in_order_as_predict_does(
    api: str, data: pd.DataFrame
) -> None:
    bodies = listings_of(complete(data).head(25))
    batch = httpx.post(f"{api}/batch_predict", json=bodies)
    assert batch.status_code == 200
    assert_answers_as(BatchPredictionOut, batch.json())
    listed = httpx.post(f"{api}/predict", json=bodies).json()
    assert batch.json()["predictions"] == listed["predictions"]
    one = httpx.post(f"{api}/batch_predict", json=LISTING)
    assert one.status_code == 422
    assert one.json()["detail"][0]["msg"] == "a list of listings is expected"
    refused = httpx.post(f"{api}/batch_predict", json=[LISTING, {**LISTING, "bed": -1}])
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", 1, "bed"]
    per_item = httpx.post(
        f"{api}/batch_predict", params={"per_item": "true"}, json=[LISTING, {**LISTING, "bed": -1}]
    ).json()["predictions"]
    assert "price" in per_item[0]
    assert per_item[1]["detail"][0]["loc"] == ["body", 1, "bed"]


@pytest.mark.parametrize("bath", [0.5, 0.75, 1.5])
def test_half_baths_are_priced(api: str, bath: float) -> None:
    answer = httpx.post(f"{api}/predict", json={**LISTING, "bath": bath})
    assert answer.status_code == 200, answer.text
    assert answer.json()["price"] > 0
    assert httpx.post(f"{api}/predict", json={**LISTING, "bath": 0.25}).status_code == 422


def test_answers_are_the_documented_response_models(api: str, data: pd.DataFrame) -> None:
    one = httpx.post(f"{api}/predict", json=LISTING)
    assert_answers_as(PredictionOut, one.json())
    bodies = listings_of(complete(data).head(3))
    many = httpx.post(f"{api}/predict", json=bodies).json()
    assert_answers_as(BatchPredictionOut, many)
    explained = httpx.post(f"{api}/explain", json=LISTING).json()
    assert_answers_as(ExplanationOut, explained)


# ------------------------------------------------------------------------------------------------
# Validation and limits


def detail_locs(answer: httpx.Response) -> list[list[Any]]:
    return [e["loc"] for e in answer.json()["detail"]]


def test_invalid_listings_get_422_naming_the_field(api: str) -> None:
    answer = httpx.post(f"{api}/predict", json={**LISTING, "bed": -1})
    assert answer.status_code == 422
    assert detail_locs(answer) == [["body", "bed"]]
    assert "greater than or equal to 1" in answer.json()["detail"][0]["msg"]

    answer = httpx.post(f"{api}/predict", json=[LISTING, {**LISTING, "status": "rented"}])
    assert answer.status_code == 422
    assert detail_locs(answer) == [["body", 1, "status"]]

    answer = httpx.post(f"{api}/explain", json={**LISTING, "house_size": 10, "price": 5})
    assert answer.status_code == 422
    assert sorted(map(str, detail_locs(answer))) == [
        "['body', 'house_size']",
        "['body', 'price']",
    ]
    answer = httpx.post(
        f"{api}/predict", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422


def test_a_list_priced_item_by_item_prices_the_valid_and_names_each_invalid(api: str) -> None:
    listings = [
        LISTING,
        {**LISTING, "acre_lot": 0.0},  # as real listings have it
        {**LISTING, "bed": 44},
        {**LISTING, "bath": 3},
    ]
    assert httpx.post(f"{api}/predict", json=listings).status_code == 422  # the default
    answer = httpx.post(f"{api}/predict", params={"per_item": "true"}, json=listings)
    assert answer.status_code == 200, answer.text
    assert_answers_as(BatchPredictionOut, answer.json())
    items = answer.json()["predictions"]
    valid = httpx.post(f"{api}/predict", json=[LISTING, {**LISTING, "bath": 3}]).json()
    assert [items[0]["price"], items[3]["price"]] == [p["price"] for p in valid["predictions"]]
    assert [e["loc"] for e in items[1]["detail"]] == [["body", 1, "acre_lot"]]
    assert [e["loc"] for e in items[2]["detail"]] == [["body", 2, "bed"]]
    assert items[2]["error_count"] == 1
    nothing = httpx.post(f"{api}/predict", params={"per_item": "true"}, json=listings[1:3])
    assert nothing.status_code == 200
    assert all("detail" in item for item in nothing.json()["predictions"])
    assert (
        httpx.post(f"{api}/predict", params={"per_item": "true"}, json={"a": 1}).status_code == 422
    )


@pytest.mark.parametrize("endpoint", ["/predict", "/explain"])
def test_only_json_bodies_are_read(api: str, endpoint: str) -> None:
    body = orjson.dumps(LISTING)
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"content-type": content_type} if content_type else {}
        answer = httpx.post(f"{api}{endpoint}", content=body, headers=headers)
        assert answer.status_code == 415, (content_type, answer.text)
        assert "application/json" in answer.json()["detail"]
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        answer = httpx.post(
            f"{api}{endpoint}", content=body, headers={"content-type": content_type}
        )
        assert answer.status_code == 200, (content_type, answer.text)


def test_batch_limits_and_body_size(api: str) -> None:
    assert httpx.post(f"{api}/predict", json=[LISTING] * MAX_BATCH).status_code == 200
    answer = httpx.post(f"{api}/predict", json=[LISTING] * (MAX_BATCH + 1))
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["type"] == "too_long"
    assert httpx.post(f"{api}/predict", json=[]).status_code == 422

    big = {**LISTING, "city": "x" * 150}
    too_big = [big] * (MAX_BODY // 200 + 1)  # declared Content-Length over the limit
    assert httpx.post(f"{api}/predict", json=too_big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the streamed size counts
        yield b"["
        for _ in range(MAX_BODY // 50):  # about 80 kB
            yield b'{"bed": 3, "bath": 2, "acre_lot": 0.25, "house_size": 1600},'
        yield b"{}]"

    answer = httpx.post(
        f"{api}/predict", content=chunks(), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413


# ------------------------------------------------------------------------------------------------
# Inference log


def test_every_request_reaches_raw_data(
    client: MlflowClient,
    production: str,
    make_database: Callable[[str], str],
    tmp_path: Path,
) -> None:
    url_db = make_database("serving")
    migrate(url_db, "raw")
    engine = make_engine(url_db)
    log = InferenceLog(engine, spill_path=tmp_path / "spill.jsonl", flush_seconds=0.05)
    ids: dict[str, tuple[str, int]] = {}
    with running_server(make_app(client, production, inference_log=log)) as url:
        wait_until(lambda: is_ready(url))
        for i in range(10):
            r = httpx.post(f"{url}/predict", json={**LISTING, "bed": 1 + i})
            ids[r.json()["request_id"]] = ("/predict", 200)
        r = httpx.post(f"{url}/predict", json=[LISTING, {**LISTING, "bed": 5}])
        ids[r.json()["request_id"]] = ("/predict", 200)
        batch_answer = r.json()["predictions"]
        r = httpx.post(f"{url}/explain", json=LISTING)
        ids[r.json()["request_id"]] = ("/explain", 200)
        r = httpx.post(f"{url}/predict", json={**LISTING, "bed": -5})
        ids[r.headers["x-request-id"]] = ("/predict", 422)
    # the server has shut down: the log was closed and flushed
    records = {str(r["request_id"]): r for r in load_inference_records(engine)}
    engine.dispose()
    assert set(records) == set(ids)
    for request_id, (endpoint, status) in ids.items():
        record = records[request_id]
        assert (record["endpoint"], record["status_code"]) == (endpoint, status)
        assert record["model_name"] == production
        assert record["model_version"] == "1"
        assert record["latency_ms"] > 0
    single = next(r for r in records.values() if r["inputs"] == {**LISTING, "bed": 4})
    assert set(single["outputs"]) == {
        "price",
        "price_low",
        "price_high",
        "coverage",
        "log_price",
        "fallbacks",
    }
    batch = next(r for r in records.values() if isinstance(r["inputs"], list))
    assert batch["inputs"] == [LISTING, {**LISTING, "bed": 5}]
    assert batch["outputs"] == batch_answer
    refused = next(r for r in records.values() if r["status_code"] == 422)
    assert refused["inputs"]["bed"] == -5
    assert refused["outputs"]["detail"][0]["loc"] == ["body", "bed"]


NUMBERS = ("bed", "bath", "acre_lot", "house_size")
NOT_FINITE = (b"NaN", b"Infinity", b"-Infinity", b"1e999")


def _with(field: str, token: bytes) -> bytes:
    """LISTING as JSON text with `field` set to the raw `token` (not representable in JSON)."""
    return orjson.dumps({**LISTING, field: 12345.0}).replace(b"12345.0", token)


def test_bad_bytes_get_4xx_and_are_logged_with_a_bounded_answer(
    client: MlflowClient,
    production: str,
    make_database: Callable[[str], str],
    tmp_path: Path,
) -> None:
    url_db = make_database("refused")
    migrate(url_db, "raw")
    engine = make_engine(url_db)
    log = InferenceLog(engine, spill_path=tmp_path / "spill.jsonl", flush_seconds=0.05)
    json_type = {"content-type": "application/json"}
    sent: dict[str, tuple[int, bytes]] = {}
    app = create_app(
        holder=ModelHolder(client, production, poll_seconds=0.2),
        inference_log=log,
        model_name=production,
        reload_token=None,
        max_batch=1_000,
        max_body_bytes=2_000_000,
    )
    with running_server(app) as url:
        wait_until(lambda: is_ready(url))
        for endpoint in ("/predict", "/explain"):
            for field in NUMBERS:
                for token in NOT_FINITE:
                    body = _with(field, token)
                    r = httpx.post(f"{url}{endpoint}", content=body, headers=json_type)
                    assert r.status_code == 422, (endpoint, field, token, r.text)
                    assert [e["loc"] for e in r.json()["detail"]] == [["body", field]]
                    sent[r.headers["x-request-id"]] = (422, body)
            body = orjson.dumps(LISTING)[:-1] + b', "city": "' + bytes([0xFF, 0xFE]) + b'"}'
            r = httpx.post(f"{url}{endpoint}", content=body, headers=json_type)
            assert r.status_code == 400, r.text
            assert "UTF-8" in r.json()["detail"]
            sent[r.headers["x-request-id"]] = (400, body)
        # a thousand invalid listings: a bounded answer, not one error echoing each listing
        many = orjson.dumps([{**LISTING, "bed": -1, "city": "x" * 1_000}] * 1_000)
        r = httpx.post(f"{url}/predict", content=many, headers=json_type)
        assert r.status_code == 422
        answer = r.json()
        assert answer["error_count"] == 2_000  # bed and city in every listing
        assert len(answer["detail"]) == 50
        assert all("input" not in e or not isinstance(e["input"], dict) for e in answer["detail"])
        assert len(r.content) < 20_000
        sent[r.headers["x-request-id"]] = (422, many)
    records = {str(r["request_id"]): r for r in load_inference_records(engine)}
    engine.dispose()
    assert set(records) == set(sent)  # every refused request was logged
    for request_id, (status, body) in sent.items():
        record = records[request_id]
        assert record["status_code"] == status
        inputs = record["inputs"]
        kept = base64.b64decode(inputs["body_base64"]) if "body_base64" in inputs else None
        assert kept == body or inputs == orjson.loads(body)  # nothing of the body is lost
    stored = records[next(k for k, v in sent.items() if v[1] == many)]
    assert stored["outputs"] == answer  # the bounded answer, not a giant one


# ------------------------------------------------------------------------------------------------
# Fuzz: no body makes the service fail


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
FIELD_VALUES = st.one_of(
    JSON,
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["for_sale", "sold", "ready_to_build", "Alabama", "06016", "2020-02-30"]),
)
BODY_KEYS = (*LISTING, "city", "zip_code", "brokered_by", "prev_sold_date", "price")
LISTINGISH = st.fixed_dictionaries({}, optional=dict.fromkeys(BODY_KEYS, FIELD_VALUES)).map(
    lambda d: {**LISTING, **d}
)
BODIES = st.one_of(JSON, LISTINGISH, st.lists(LISTINGISH, max_size=3))


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=BODIES, endpoint=st.sampled_from(["/predict", "/explain"]))
def test_no_body_gets_a_server_error(api: str, body: Any, endpoint: str) -> None:
    try:
        answer = httpx.post(f"{api}{endpoint}", json=body)
    except ValueError:  # not representable as JSON (NaN): send it as text instead
        answer = httpx.post(
            f"{api}{endpoint}", content=repr(body), headers={"content-type": "application/json"}
        )
    assert answer.status_code < 500, answer.text
