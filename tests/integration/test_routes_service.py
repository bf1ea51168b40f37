"""The service router (/health, /ready, /metrics) and the app's OpenAPI document."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from mlflow import MlflowClient

from fixtures.http import running_server
from fixtures.serving import (
    LISTING,
    MAX_BATCH,
    assert_answers_as,
    is_ready,
    make_app,
    register,
    wait_until,
)
from tasador.registry.aliases import PRODUCTION
from tasador.serving.api_models import HealthOut, ReadyOut, ServiceInfoOut
from tasador.training.train import TrainedModel

pytestmark = pytest.mark.integration


def test_health_and_ready_answers_are_the_documented_response_models(api: str) -> None:
    health = httpx.get(f"{api}/health").json()
    assert_answers_as(HealthOut, health)
    assert health == {"status": "healthy", "model_version": "1", "problems": []}
    ready = httpx.get(f"{api}/ready").json()
    assert_answers_as(ReadyOut, ready)
    assert ready == {"status": "ok", "model_version": "1"}


def test_root_describes_the_service(api: str, production: str) -> None:
    info = httpx.get(f"{api}/").json()
    assert_answers_as(ServiceInfoOut, info)
    assert (info["model_name"], info["model_version"]) == (production, "1")
    assert {"/predict", "/batch_predict", "/models", "/health"} <= set(info["endpoints"])
    assert "/docs" not in info["endpoints"]


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


def test_not_ready_before_a_model_is_promoted(
    client: MlflowClient, model_name: str, trained: tuple[TrainedModel, TrainedModel], data: Any
) -> None:
    with running_server(make_app(client, model_name)) as url:
        health = httpx.get(f"{url}/health")
        assert health.status_code == 200
        assert health.json()["status"] == "degraded"
        assert "no model loaded" in health.json()["problems"][0]
        assert httpx.get(f"{url}/ready").status_code == 503
        assert httpx.get(f"{url}/states").status_code == 503
        assert httpx.post(f"{url}/predict", json=LISTING).status_code == 503
        assert httpx.post(f"{url}/explain", json=LISTING).status_code == 503
        assert httpx.get(f"{url}/model").status_code == 503
        version = register(client, model_name, trained[0], data)
        assert httpx.get(f"{url}/ready").status_code == 503  # registered, not promoted
        client.set_registered_model_alias(model_name, PRODUCTION, version)
        wait_until(lambda: is_ready(url))
        assert httpx.post(f"{url}/predict", json=LISTING).json()["model_version"] == version
        assert httpx.get(f"{url}/health").json()["status"] == "healthy"


def test_openapi_documents_the_listing_body(api: str) -> None:
    document = httpx.get(f"{api}/openapi.json").json()
    listing = document["components"]["schemas"]["ListingIn"]
    assert set(listing["required"]) == {"state", "status"}
    assert listing["properties"]["bed"]["anyOf"][0]["minimum"] == 1
    assert listing["additionalProperties"] is False
    body = document["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["oneOf"][1]["maxItems"] == MAX_BATCH
    assert set(document["paths"]) >= {
        "/", "/health", "/ready", "/model", "/states", "/predict", "/batch_predict", "/explain",
        "/metrics", "/reload", "/models", "/models/{version}/importance", "/batches",
        "/batches/{batch_id}", "/requests/summary", "/metrics/summary", "/predictions/history",
    }  # fmt: skip
    batch = document["paths"]["/batch_predict"]["post"]["requestBody"]["content"]
    assert batch["application/json"]["schema"]["maxItems"] == MAX_BATCH
    docs = httpx.get(f"{api}/docs")
    assert docs.status_code == 200
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", docs.text)
    assert assets
    assert not [a for a in assets if a.startswith(("http:", "https:", "//"))]  # no CDN
    for asset in assets:
        assert httpx.get(f"{api}{asset}").status_code == 200, asset
