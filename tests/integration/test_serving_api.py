"""The inference API against a real MLflow server and real uvicorn servers.

Models are trained small and registered for real; the API finds the `production` version itself.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mlflow import MlflowClient

from fixtures.http import running_server, unused_url
from tasador.platform.mlflow_server import MlflowServer
from tasador.registry.aliases import PRODUCTION
from tasador.registry.models import load_model_version, log_and_register
from tasador.serving.app import create_app
from tasador.serving.inference_log import InferenceLog
from tasador.serving.model_holder import ModelHolder, serve_model
from tasador.storage.engine import make_engine
from tasador.storage.migrate import migrate
from tasador.storage.raw_store import load_inference_records
from tasador.training.metrics import evaluate
from tasador.training.synthetic import make_listings
from tasador.training.train import TrainedModel, predict_price, tune_and_train

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"
MAX_BATCH = 40
MAX_BODY = 64_000
LISTING: dict[str, Any] = {
    "bed": 3,
    "bath": 2,
    "acre_lot": 0.25,
    "house_size": 1600,
    "state": "Alabama",
    "status": "for_sale",
}


# ------------------------------------------------------------------------------------------------
# Models and apps


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return make_listings(1_000, seed=31)


@pytest.fixture(scope="module")
def trained(data: pd.DataFrame) -> tuple[TrainedModel, TrainedModel]:
    """Two different models of the same listings (two versions to swap between)."""
    train = data[~data["is_holdout"]]
    first = tune_and_train(train, n_trials=1, timeout_seconds=60, seed=1)
    second = tune_and_train(train.iloc[: len(train) // 2], n_trials=1, timeout_seconds=60, seed=2)
    return first, second


@pytest.fixture(scope="module")
def client(mlflow_server: MlflowServer) -> MlflowClient:
    return MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)


def register(client: MlflowClient, name: str, model: TrainedModel, data: pd.DataFrame) -> str:
    holdout = data[data["is_holdout"]]
    ref = log_and_register(
        client,
        model_name=name,
        experiment=f"{name}-exp",
        trained=model,
        evaluation=evaluate(
            holdout["price"].to_numpy(), predict_price(model.booster, model.spec, holdout)
        ),
        training_profile={},
        batch_id=1,
        training_window="batches 1..1",
        extra_tags={},
        example_frame=data,
    )
    return ref.version


@pytest.fixture(scope="module")
def production(
    client: MlflowClient, trained: tuple[TrainedModel, TrainedModel], data: pd.DataFrame
) -> str:
    """A registered model whose version 1 holds `production` (never moved in this module)."""
    name = f"tasador-serving-{time.time_ns()}"
    version = register(client, name, trained[0], data)
    client.set_registered_model_alias(name, PRODUCTION, version)
    return name


def make_app(
    client: MlflowClient,
    name: str,
    *,
    inference_log: InferenceLog | None = None,
    token: str | None = TOKEN,
    poll_seconds: float = 0.2,
    holder: ModelHolder | None = None,
) -> FastAPI:
    return create_app(
        # two explain threads: /explain splits the trees between them (explain.TreeSplit)
        holder=holder or ModelHolder(client, name, poll_seconds=poll_seconds, explain_threads=2),
        inference_log=inference_log,
        model_name=name,
        reload_token=token,
        max_batch=MAX_BATCH,
        max_body_bytes=MAX_BODY,
    )


def wait_until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.05)


def is_ready(url: str) -> bool:
    return httpx.get(f"{url}/ready").status_code == 200


@pytest.fixture(scope="module")
def api(client: MlflowClient, production: str) -> Iterator[str]:
    """One served API on the `production` model for the read-only tests."""
    with running_server(make_app(client, production)) as url:
        wait_until(lambda: is_ready(url))
        yield url


def listings_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Request bodies for the rows of a clean frame (optional values left out when missing)."""
    out = []
    for row in frame.to_dict("records"):
        body = {k: row[k] for k in ("bed", "bath", "acre_lot", "house_size", "state", "status")}
        for key in ("city", "zip_code"):
            if not pd.isna(row[key]):
                body[key] = row[key]
        if not pd.isna(row["prev_sold_date"]):
            body["prev_sold_date"] = row["prev_sold_date"].date().isoformat()
        out.append(body)
    return out


def complete(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows the API accepts: the four sizes are required there."""
    return frame.dropna(subset=["bed", "bath", "acre_lot", "house_size"])


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
    assert answer.json()["fallbacks"] == ["state", "city", "zip_code"]
    frame = pd.DataFrame([body])
    assert answer.json()["price"] == predict_price(loaded.booster, loaded.spec, frame)[0]
    state = loaded.spec.encodings["state"].categories[0]
    known = httpx.post(f"{api}/predict", json={**LISTING, "state": state}).json()
    assert known["fallbacks"] == ["city", "zip_code"]  # not given: the fallback was used


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
# Model information, metrics, reload


def test_model_reports_what_is_served(api: str, client: MlflowClient, production: str) -> None:
    answer = httpx.get(f"{api}/model")
    assert answer.status_code == 200
    info = answer.json()
    loaded = load_model_version(client, production, "1")
    assert (info["name"], info["version"], info["alias"]) == (production, "1", "production")
    assert info["run_id"] == loaded.run_id
    assert info["training_window"] == "batches 1..1"
    assert info["trained_at"] is not None
    assert info["metrics"]["rmse_log"] == pytest.approx(loaded.metrics.rmse_log)
    assert info["features"] == list(loaded.spec.feature_names)
    assert info["categories"]["status"] == ["for_sale", "sold", "ready_to_build"]
    assert info["categories"]["state"] == list(loaded.spec.encodings["state"].categories)
    assert info["known_categories"]["zip_code"] == len(loaded.spec.encodings["zip_code"].categories)
    assert info["reload"]["successes"] >= 1
    assert info["reload"]["last_error"] is None


def test_metrics_are_exposed(api: str) -> None:
    httpx.post(f"{api}/predict", json=LISTING)
    httpx.post(f"{api}/predict", json={**LISTING, "bed": 0})
    text = httpx.get(f"{api}/metrics").text
    for needle in (
        'tasador_requests_total{endpoint="/predict",status="200"}',
        'tasador_requests_total{endpoint="/predict",status="422"}',
        'tasador_request_seconds_bucket{endpoint="/predict",le="0.005"}',
        'tasador_predictions_total{model_version="1"}',
        "tasador_predicted_price_dollars_count",
        'tasador_model_info{name="',
        'tasador_model_reloads_total{result="success"} 1.0',
        'tasador_model_reloads_total{result="failure"} 0.0',
        'tasador_booster_calls_total{mode="alone"}',
        'tasador_booster_calls_total{mode="shared"}',
        'tasador_booster_calls_total{mode="side_by_side"}',
    ):
        assert needle in text, needle
    alone = next(
        line
        for line in text.splitlines()
        if line.startswith('tasador_booster_calls_total{mode="alone"}')
    )
    assert float(alone.split()[-1]) >= 1  # the valid one, sent alone (the 422 never predicts)


def test_reload_needs_the_bearer_token(api: str) -> None:
    assert httpx.post(f"{api}/reload").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert httpx.post(f"{api}/reload", headers=wrong).status_code == 401
    answer = httpx.post(f"{api}/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.json() == {"version": "1", "changed": False, "error": None}


def test_reload_is_disabled_without_a_token(client: MlflowClient, production: str) -> None:
    with running_server(make_app(client, production, token=None)) as url:
        answer = httpx.post(f"{url}/reload", headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 404


def test_not_ready_before_a_model_is_promoted(
    client: MlflowClient, model_name: str, trained: tuple[TrainedModel, TrainedModel], data: Any
) -> None:
    with running_server(make_app(client, model_name)) as url:
        assert httpx.get(f"{url}/health").status_code == 200
        assert httpx.get(f"{url}/ready").status_code == 503
        assert httpx.post(f"{url}/predict", json=LISTING).status_code == 503
        assert httpx.post(f"{url}/explain", json=LISTING).status_code == 503
        assert httpx.get(f"{url}/model").status_code == 503
        version = register(client, model_name, trained[0], data)
        assert httpx.get(f"{url}/ready").status_code == 503  # registered, not promoted
        client.set_registered_model_alias(model_name, PRODUCTION, version)
        wait_until(lambda: is_ready(url))
        assert httpx.post(f"{url}/predict", json=LISTING).json()["model_version"] == version


# ------------------------------------------------------------------------------------------------
# Following the registry


def test_promotion_under_load_is_picked_up_with_no_failed_request(
    client: MlflowClient,
    model_name: str,
    trained: tuple[TrainedModel, TrainedModel],
    data: pd.DataFrame,
) -> None:
    first = register(client, model_name, trained[0], data)
    second = register(client, model_name, trained[1], data)
    client.set_registered_model_alias(model_name, PRODUCTION, first)
    frame = pd.DataFrame([LISTING])
    expected = {
        first: predict_price(trained[0].booster, trained[0].spec, frame)[0],
        second: predict_price(trained[1].booster, trained[1].spec, frame)[0],
    }
    assert expected[first] != expected[second]
    seen: list[tuple[int, str | None, float | None]] = []
    failures: list[str] = []

    def load(url: str) -> None:
        with httpx.Client(base_url=url) as http:
            for _ in range(5_000):  # bounded: stop after 100 answers from the new version
                try:
                    r = http.post("/predict", json=LISTING)
                    body = r.json() if r.status_code == 200 else {}
                    seen.append((r.status_code, body.get("model_version"), body.get("price")))
                except httpx.HTTPError as err:
                    failures.append(repr(err))
                if sum(1 for _, v, _ in seen[-100:] if v == second) == 100:
                    return

    with running_server(make_app(client, model_name, poll_seconds=0.3)) as url:
        wait_until(lambda: is_ready(url))
        loader = threading.Thread(target=load, args=(url,))
        loader.start()
        wait_until(lambda: len(seen) >= 50)
        client.set_registered_model_alias(model_name, PRODUCTION, second)
        loader.join(120)
        assert not loader.is_alive()

    assert failures == []
    assert {status for status, _, _ in seen} == {200}
    versions = [v for _, v, _ in seen]
    assert versions[0] == first
    assert versions[-1] == second
    switch = versions.index(second)
    assert set(versions[switch:]) == {second}  # never back to the old model
    for _, version, price in seen:
        assert price == expected[version]


def test_registry_down_keeps_serving_and_reports_the_failure(
    client: MlflowClient, production: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    loaded = load_model_version(client, production, "1")
    down = unused_url()
    holder = ModelHolder(
        MlflowClient(tracking_uri=down, registry_uri=down), production, poll_seconds=0.2
    )
    holder.swap(
        serve_model(
            name=production,
            version=loaded.version,
            run_id=loaded.run_id,
            booster=loaded.booster,
            spec=loaded.spec,
        )
    )
    with running_server(make_app(client, production, holder=holder)) as url:
        wait_until(lambda: httpx.get(f"{url}/model").json()["reload"]["failures"] >= 2)
        answer = httpx.post(f"{url}/predict", json=LISTING)
        assert answer.status_code == 200
        assert answer.json()["model_version"] == "1"
        info = httpx.get(f"{url}/model").json()
        assert info["version"] == "1"
        assert info["reload"]["last_error"]
        assert info["reload"]["last_failure_at"] is not None
        reload = httpx.post(f"{url}/reload", headers={"Authorization": f"Bearer {TOKEN}"})
        assert reload.status_code == 502
        assert reload.json()["version"] == "1"
        assert reload.json()["error"]
        metrics = httpx.get(f"{url}/metrics").text
        line = next(
            x
            for x in metrics.splitlines()
            if x.startswith('tasador_model_reloads_total{result="failure"}')
        )
        assert float(line.split()[-1]) >= 2


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
    assert set(single["outputs"]) == {"price", "log_price", "fallbacks"}
    batch = next(r for r in records.values() if isinstance(r["inputs"], list))
    assert batch["inputs"] == [LISTING, {**LISTING, "bed": 5}]
    assert batch["outputs"] == batch_answer
    refused = next(r for r in records.values() if r["status_code"] == 422)
    assert refused["inputs"]["bed"] == -5
    assert refused["outputs"]["detail"][0]["loc"] == ["body", "bed"]


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


def test_openapi_documents_the_listing_body(api: str) -> None:
    document = httpx.get(f"{api}/openapi.json").json()
    listing = document["components"]["schemas"]["ListingIn"]
    assert set(listing["required"]) == {"bed", "bath", "acre_lot", "house_size", "state", "status"}
    assert listing["properties"]["bed"]["minimum"] == 1
    assert listing["additionalProperties"] is False
    body = document["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["oneOf"][1]["maxItems"] == MAX_BATCH
    assert set(document["paths"]) >= {
        "/health", "/ready", "/model", "/predict", "/explain", "/metrics", "/reload",
    }  # fmt: skip
    assert httpx.get(f"{api}/docs").status_code == 200
