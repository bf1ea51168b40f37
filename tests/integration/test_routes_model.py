"""The model router (/model, /reload) and following the registry, against a real MLflow server."""

from __future__ import annotations

import threading

import httpx
import pandas as pd
import pytest
from mlflow import MlflowClient

from fixtures.http import running_server, unused_url
from fixtures.serving import (
    LISTING,
    TOKEN,
    assert_answers_as,
    is_ready,
    make_app,
    register,
    wait_until,
)
from tasador.registry.aliases import PRODUCTION
from tasador.registry.models import load_model_version
from tasador.serving.api_models import ModelInfoOut, ReloadOut, StatesOut
from tasador.serving.model_holder import PUBLIC_RELOAD_ERROR, ModelHolder, serve_model
from tasador.training.train import TrainedModel, predict_price

pytestmark = pytest.mark.integration


def test_model_reports_what_is_served(api: str, client: MlflowClient, production: str) -> None:
    answer = httpx.get(f"{api}/model")
    assert answer.status_code == 200
    info = answer.json()
    loaded = load_model_version(client, production, "1")
    assert (info["name"], info["version"], info["alias"]) == (production, "1", "production")
    assert info["model_version"] == info["version"]
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


def test_states_are_the_ones_the_model_knows(
    api: str, client: MlflowClient, production: str
) -> None:
    answer = httpx.get(f"{api}/states").json()
    assert_answers_as(StatesOut, answer)
    loaded = load_model_version(client, production, "1")
    assert answer == {
        "model_version": "1",
        "states": sorted(loaded.spec.encodings["state"].categories),
    }


def test_model_and_reload_answers_are_the_documented_response_models(api: str) -> None:
    assert_answers_as(ModelInfoOut, httpx.get(f"{api}/model").json())
    answer = httpx.post(f"{api}/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert_answers_as(ReloadOut, answer.json())


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
        # the public endpoint says that it failed, not the registry's URL or exception text
        assert info["reload"]["last_error"] == PUBLIC_RELOAD_ERROR
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
