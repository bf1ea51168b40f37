"""Drift on live traffic: a real API logging to a real RAW DATA checks its recent requests against
the served model's training data, and says so in /model and /metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from mlflow import MlflowClient
from prometheus_client.parser import text_string_to_metric_families

from fixtures.http import running_server
from fixtures.prometheus import PrometheusServer, needs_prometheus
from fixtures.serving import MAX_BATCH, MAX_BODY, complete, is_ready, listings_of, wait_until
from tasador.serving.app import create_app
from tasador.serving.inference_log import InferenceLog
from tasador.serving.live_drift import LiveDriftMonitor
from tasador.serving.model_holder import ModelHolder
from tasador.storage.engine import make_engine
from tasador.storage.migrate import migrate
from tasador.storage.raw_store import load_inference_records
from tasador.training.synthetic import make_listings

SAMPLE = 300
ALERT = "TasadorServingTrafficDrifted"


def live_drift(url: str) -> dict[str, Any]:
    answer = httpx.get(f"{url}/model", timeout=30)
    assert answer.status_code == 200, answer.text
    state: dict[str, Any] = answer.json()["live_drift"]
    return state


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("tasador_live_drift")
    }


def send(url: str, listings: list[dict[str, Any]], *, what_if: bool = False) -> None:
    params = {"what_if": "true"} if what_if else {}
    for start in range(0, len(listings), MAX_BATCH):
        part = listings[start : start + MAX_BATCH]
        answer = httpx.post(f"{url}/predict", json=part, params=params, timeout=60)
        assert answer.status_code == 200, answer.text


def shifted(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Only one state, homes three times as large with two more bedrooms."""
    return [
        {**body, "state": "Alaska", "house_size": body["house_size"] * 3, "bed": body["bed"] + 2}
        for body in listings_of(frame)
    ]


@contextmanager
def drift_api(client: MlflowClient, production: str, raw_url: str, spill: Path) -> Iterator[str]:
    """A real server of the API on `production`, logging to RAW DATA at `raw_url`, its drift
    monitor checking the newest SAMPLE listings every 0.2 s (from 100)."""
    migrate(raw_url, "raw")
    engine = make_engine(raw_url)
    holder = ModelHolder(client, production, poll_seconds=60)
    monitor = LiveDriftMonitor(
        holder, engine, interval_seconds=0.2, sample=SAMPLE, min_listings=100
    )
    app = create_app(
        holder=holder,
        inference_log=InferenceLog(engine, spill_path=spill),
        model_name=production,
        reload_token=None,
        max_batch=MAX_BATCH,
        max_body_bytes=MAX_BODY,
        live_drift=monitor,
    )
    try:
        with running_server(app) as api:
            wait_until(lambda: is_ready(api))
            yield api
    finally:
        engine.dispose()


def last_evaluation(prometheus: PrometheusServer) -> str:
    """When Prometheus last evaluated the drift alert's rule (changes every evaluation)."""
    (rule,) = [
        r for group in prometheus.rule_groups() for r in group["rules"] if r["name"] == ALERT
    ]
    assert rule["health"] == "ok", rule
    return str(rule["lastEvaluation"])


def live_requests(raw_url: str) -> int:
    """Priced requests in RAW DATA that are not what-if."""
    reader = make_engine(raw_url)
    try:
        records = load_inference_records(reader, endpoints=["/predict"], status_code=200)
    finally:
        reader.dispose()
    return sum(not r["what_if"] for r in records)


def like_training() -> pd.DataFrame:
    """Listings drawn like the training data: other rows of the same generator."""
    return complete(make_listings(2 * SAMPLE, seed=77)).head(SAMPLE)


def test_like_training_traffic_is_quiet_and_shifted_traffic_drifts(
    client: MlflowClient,
    production: str,
    make_database: Callable[[str], str],
    tmp_path: Path,
) -> None:
    raw_url = make_database("raw")
    with drift_api(client, production, raw_url, tmp_path / "spill.jsonl") as api:
        # before any traffic: checks run, and say why they give no verdict
        wait_until(lambda: "listings" in (live_drift(api)["last_check_skipped"] or ""))
        state = live_drift(api)
        assert state["verdict"] is None
        assert state["last_check_skipped"] == "0 listings priced so far, fewer than the 100 needed"
        assert state["interval_seconds"] == 0.2
        assert not any(name == "tasador_live_drift_detected" for name, _ in samples(api))

        # what-if requests (the UI's comparisons), however shifted, are not live traffic
        like = like_training()
        send(api, shifted(like), what_if=True)
        # traffic drawn like the training data (other rows of the same generator)
        send(api, listings_of(like))
        wait_until(lambda: live_drift(api)["listings"] == SAMPLE, timeout=120)
        reader = make_engine(raw_url)
        logged = load_inference_records(reader, endpoints=["/predict"])
        reader.dispose()
        assert sum(r["what_if"] for r in logged) == SAMPLE // MAX_BATCH + (SAMPLE % MAX_BATCH > 0)
        state = live_drift(api)
        assert state["verdict"] is False, state["reason"]
        assert state["model_version"] == "1"
        assert state["drifted_features"] == []
        assert state["reason"].startswith("no feature drifted")
        version = (("model_version", "1"),)
        assert samples(api)[("tasador_live_drift_detected", version)] == 0.0

        # then only one state and larger homes: the newest SAMPLE listings are all shifted
        send(api, shifted(like))
        # the log writes off the request path: wait for a check after every request is in it
        requests = 2 * -(-SAMPLE // MAX_BATCH)  # like and shifted, as sent (what-if left out)
        wait_until(lambda: live_requests(raw_url) == requests, timeout=120)
        logged = datetime.now(UTC)
        wait_until(lambda: datetime.fromisoformat(live_drift(api)["checked_at"]) > logged)
        state = live_drift(api)
        assert state["verdict"] is True
        assert {"state", "house_size", "bed"} <= set(state["drifted_features"])
        assert "bath" not in state["drifted_features"]
        found = samples(api)
        assert found[("tasador_live_drift_detected", version)] == 1.0
        assert found[("tasador_live_drift_listings", version)] == SAMPLE
        house = (("feature", "house_size"), ("model_version", "1"))
        assert found[("tasador_live_drift_feature_drifted", house)] == 1.0
        assert found[("tasador_live_drift_effect_size", house)] > 0.5
        bath = (("feature", "bath"), ("model_version", "1"))
        assert found[("tasador_live_drift_feature_drifted", bath)] == 0.0
        assert ("tasador_live_drift_last_check_timestamp_seconds", ()) in found


@needs_prometheus
def test_prometheus_raises_the_drift_alert_on_shifted_traffic_only(
    client: MlflowClient,
    production: str,
    make_database: Callable[[str], str],
    tmp_path: Path,
    start_prometheus: Callable[[str], PrometheusServer],
) -> None:
    """Prometheus scraping the API with tasador's rules: quiet on traffic like the training
    data; on shifted traffic the drift series turns 1 and TasadorServingTrafficDrifted goes
    active (pending: it fires after the rule's 10 minutes, which `promtool test rules` proves)."""
    raw_url = make_database("raw")
    with drift_api(client, production, raw_url, tmp_path / "spill.jsonl") as api:
        prometheus = start_prometheus(api.removeprefix("http://"))
        like = like_training()
        send(api, listings_of(like))
        wait_until(lambda: live_drift(api)["listings"] == SAMPLE, timeout=120)
        prometheus.wait_for("tasador_live_drift_detected == 0", timeout=60)
        # two evaluations of the rule after the quiet verdict was scraped
        evaluations = [last_evaluation(prometheus)]
        wait_until(
            lambda: evaluations.append(last_evaluation(prometheus)) or len(set(evaluations)) > 2
        )
        assert not [a for a in prometheus.alerts() if a["labels"]["alertname"] == ALERT]

        send(api, shifted(like))
        found = prometheus.wait_for('tasador_live_drift_detected{model_version="1"} == 1')
        assert len(found) == 1
        active = prometheus.wait_for(f'ALERTS{{alertname="{ALERT}"}}', timeout=60)
        assert active[0]["metric"]["model_version"] == "1"
        assert active[0]["metric"]["alertstate"] in ("pending", "firing")
        (alert,) = [a for a in prometheus.alerts() if a["labels"]["alertname"] == ALERT]
        assert (
            alert["annotations"]["summary"] == "serving traffic has drifted from the training data"
        )
