"""The history router (/models, /models/{v}/importance, /batches, /batches/{id}) over a loop that
ran all its rounds on real PostgreSQL and MLflow."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fixtures.history import HistoryWorld, history_app
from fixtures.http import running_server
from fixtures.serving import assert_answers_as, wait_until
from tasador.registry.history import list_versions
from tasador.serving.history_models import (
    BatchDetailOut,
    BatchesPage,
    BatchOut,
    ImportanceOut,
    ModelsPage,
    ModelVersionOut,
)
from tasador.storage import clean_store


def get(url: str, path: str, **params: Any) -> Any:
    response = httpx.get(f"{url}{path}", params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_models_lists_every_version_with_its_verdict(
    history_api: str, history_world: HistoryWorld
) -> None:
    page = get(history_api, "/models")
    assert_answers_as(ModelsPage, page)
    stores, name = history_world.stores, history_world.config.model_name
    versions = list_versions(stores.mlflow, name)
    assert page["total"] == len(versions) >= 2
    assert [m["version"] for m in page["items"]] == [v.version for v in reversed(versions)]
    production = [m for m in page["items"] if m["status"] == "production"]
    assert [m["version"] for m in production] == [page["production_version"]]
    decisions = {d.model_version: d for d in clean_store.list_decisions(stores.clean)}
    for item in page["items"]:
        assert_answers_as(ModelVersionOut, item)
        decision = decisions[item["version"]]
        assert item["batch_id"] == decision.batch_id
        assert item["reason"] == decision.promotion_reason
        assert item["trigger"] == decision.trigger
        assert item["champion_version"] == decision.champion_version
        assert item["metrics"]["rmse_log"] == pytest.approx(decision.challenger_metrics["rmse_log"])
        assert item["status"] in (
            ("production", "promoted") if decision.promoted else ("rejected",)
        )
        assert item["training_rows"] > 0
        assert item["evaluation_rows"] > 0
    first = page["items"][-1]
    assert first["trigger"] == "first_model"
    assert first["champion_version"] is None


def test_models_pages(history_api: str) -> None:
    everything = get(history_api, "/models")["items"]
    page = get(history_api, "/models", limit=1, offset=1)
    assert page["items"] == everything[1:2]
    assert (page["limit"], page["offset"]) == (1, 1)
    assert httpx.get(f"{history_api}/models", params={"limit": 0}).status_code == 422


def test_batches_hold_rows_drift_and_decision(
    history_api: str, history_world: HistoryWorld
) -> None:
    page = get(history_api, "/batches")
    assert_answers_as(BatchesPage, page)
    stored = clean_store.list_batches(history_world.stores.clean)
    assert page["total"] == len(stored) == len(history_world.results)
    assert [b["id"] for b in page["items"]] == sorted((b.batch_id for b in stored), reverse=True)
    for item in page["items"]:
        assert_answers_as(BatchOut, item)
        assert item["kept"] + item["rejected"] <= item["received"]
        assert sum(item["rejected_by_reason"].values()) == item["rejected"]
        assert item["decision"]["action"] in ("train", "skip")
    first = page["items"][-1]
    assert first["drift"]["checked"] is False
    assert first["decision"]["trigger"] == "first_model"
    later = [b for b in page["items"] if b["drift"]["checked"]]
    assert later
    assert all(b["drift"]["features"] for b in later)


def test_batch_detail_has_each_test_and_both_distributions(
    history_api: str, history_world: HistoryWorld
) -> None:
    checked = next(b for b in get(history_api, "/batches")["items"] if b["drift"]["checked"])
    detail = get(history_api, f"/batches/{checked['id']}")
    assert_answers_as(BatchDetailOut, detail)
    report = clean_store.get_drift_report(history_world.stores.clean, checked["id"])
    assert report is not None
    features = detail["drift"]["features"]
    assert [f["feature"] for f in features] == [f["feature"] for f in report.report["features"]]
    for feature in features:
        assert feature["test"] == ("ks" if feature["kind"] == "numeric" else "chi2")
        bins = feature["bins"]
        assert bins is not None
        assert len(bins["labels"]) == len(bins["reference"])
        assert sum(bins["reference"]) == pytest.approx(1.0)
        assert sum(bins["current"]) == pytest.approx(1.0)
    assert httpx.get(f"{history_api}/batches/999999").status_code == 404
    assert httpx.get(f"{history_api}/batches/zero").status_code == 422


def test_importance_was_logged_at_training(history_api: str) -> None:
    version = get(history_api, "/models")["production_version"]
    importance = get(history_api, f"/models/{version}/importance")
    assert_answers_as(ImportanceOut, importance)
    values = [term["mean_abs_log"] for term in importance["inputs"]]
    assert values == sorted(values, reverse=True)
    assert values[0] > 0
    assert {"house_size", "state"} <= {term["name"] for term in importance["inputs"]}
    assert importance["rows"] > 0
    assert httpx.get(f"{history_api}/models/9999/importance").status_code == 404


def test_history_follows_new_decisions(
    history_world: HistoryWorld, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A decision stored after the first read is in the next answer (the cache is refreshed)."""
    spill = tmp_path_factory.mktemp("history-refresh") / "spill.jsonl"
    clean = history_world.stores.clean
    with running_server(history_app(history_world, spill)) as url:
        before = get(url, "/batches")["items"][0]
        stored = clean_store.get_decision(clean, before["id"])
        assert stored is not None
        changed = stored.reason + " (annotated)"
        clean_store.store_decision(clean, _with_reason(stored, changed))
        try:
            # answered from the previous read until a thread has read the new one
            wait_until(lambda: get(url, "/batches")["items"][0]["decision"]["reason"] == changed)
            assert get(url, f"/batches/{before['id']}")["decision"]["reason"] == changed
        finally:
            clean_store.store_decision(clean, stored)


def _with_reason(record: Any, reason: str) -> Any:
    from dataclasses import replace

    return replace(record, reason=reason)


def test_without_clean_data_history_is_503(
    history_world: HistoryWorld, tmp_path_factory: pytest.TempPathFactory
) -> None:
    spill = tmp_path_factory.mktemp("history-off") / "spill.jsonl"
    with running_server(history_app(history_world, spill, with_history=False)) as url:
        for path in ("/models", "/batches", "/batches/1", "/requests/summary"):
            response = httpx.get(f"{url}{path}")
            assert response.status_code == 503, path
            assert "off" in response.json()["detail"]


def test_a_store_that_goes_down_keeps_the_last_read(history_world: HistoryWorld) -> None:
    from fixtures.http import free_port
    from tasador.serving.history import HistoryReader
    from tasador.storage.engine import make_engine

    stores = history_world.stores
    reader = HistoryReader(stores.clean, stores.mlflow, history_world.config.model_name)
    first = reader.snapshot()
    down = make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/nothing")
    reader.clean, reader.check_seconds = down, 0.0
    try:
        assert reader.snapshot() is first  # answered from the last read, no error
    finally:
        down.dispose()
    fresh = HistoryReader(down, stores.mlflow, history_world.config.model_name)
    with pytest.raises(Exception, match=r"(?i)connect"):
        fresh.snapshot()  # nothing read yet: the route turns this into a 503


def test_metrics_say_when_the_loop_last_finished_a_batch(
    history_api: str, history_world: HistoryWorld
) -> None:
    from tasador.storage import clean_store

    done = clean_store.last_batch_done_at(history_world.stores.clean)
    assert done is not None  # the world's loop finished its batches
    text = httpx.get(f"{history_api}/metrics").text
    line = next(
        line for line in text.splitlines()
        if line.startswith("tasador_loop_last_batch_timestamp_seconds ")
    )  # fmt: skip
    assert float(line.split()[1]) == pytest.approx(done.timestamp())
