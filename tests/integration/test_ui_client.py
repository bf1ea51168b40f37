"""The UI's API client against a real inference API over a finished loop: every method answers
the API's own validated models, and failures are the client's exceptions in words."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fixtures.http import unused_url
from fixtures.serving import LISTING
from tasador.serving.api_models import (
    BatchPredictionOut,
    ExplanationOut,
    HealthOut,
    ListingPrediction,
    ModelInfoOut,
    PredictionOut,
    StatesOut,
)
from tasador.serving.history_models import (
    BatchDetailOut,
    BatchesPage,
    ImportanceOut,
    ModelsPage,
    PredictionHistoryOut,
    RequestsSummaryOut,
)
from tasador.ui.client import ApiClient, ApiError, ApiUnavailable, ListingRefused


@pytest.fixture
def client(history_api: str) -> Iterator[ApiClient]:
    with ApiClient(history_api, timeout=60) as api:
        yield api


def test_model_endpoints(client: ApiClient) -> None:
    health = client.health()
    assert isinstance(health, HealthOut)
    assert health.status == "healthy"
    model = client.model()
    assert isinstance(model, ModelInfoOut)
    assert model.version == health.model_version
    states = client.states()
    assert isinstance(states, StatesOut)
    assert states.states == sorted(model.categories["state"])
    assert set(model.categories["status"]) <= {"for_sale", "sold", "ready_to_build"}


def test_pricing_and_explaining(client: ApiClient) -> None:
    one = client.predict(LISTING)
    assert isinstance(one, PredictionOut)
    assert one.price > 0
    many = client.predict_many([LISTING, {**LISTING, "state": "Texas"}])
    assert isinstance(many, BatchPredictionOut)
    assert len(many.predictions) == 2
    first = many.predictions[0]
    assert isinstance(first, ListingPrediction)
    assert first.price == pytest.approx(one.price)
    explanation = client.explain(LISTING)
    assert isinstance(explanation, ExplanationOut)
    total = explanation.base_price + sum(c.dollars for c in explanation.inputs.values())
    assert total == pytest.approx(explanation.price, rel=1e-6)


def test_history_follows_every_page(client: ApiClient) -> None:
    everything = client.models()
    assert isinstance(everything, ModelsPage)
    assert len(everything.items) == everything.total >= 2
    paged = client.models(limit=1)  # one request per version, put together
    assert [m.version for m in paged.items] == [m.version for m in everything.items]
    assert paged.production_version == everything.production_version
    batches = client.batches(limit=2)
    assert isinstance(batches, BatchesPage)
    assert len(batches.items) == batches.total >= 2
    assert [b.id for b in batches.items] == [b.id for b in client.batches().items]


def test_batch_detail_and_importance(client: ApiClient) -> None:
    checked = next(b for b in client.batches().items if b.drift and b.drift.checked)
    detail = client.batch(checked.id)
    assert isinstance(detail, BatchDetailOut)
    assert detail.drift is not None
    assert all(f.bins is not None for f in detail.drift.features)
    production = client.models().production_version
    assert production is not None
    found = client.importance(production)
    assert isinstance(found, ImportanceOut)
    assert found.version == production
    assert client.importance("999999") is None


def test_requests_summary_and_prediction_history(client: ApiClient) -> None:
    since = datetime.now(UTC) - timedelta(minutes=15)
    client.predict({**LISTING, "city": "Springfield"})
    deadline = time.monotonic() + 30  # the inference log writes off the request path
    while not any(
        p.listing.get("city") == "Springfield"
        for p in client.predictions_history(state=LISTING["state"], limit=5).predictions
    ):
        assert time.monotonic() < deadline, "the priced listing never reached the log"
        time.sleep(0.2)
    history = client.predictions_history(state=LISTING["state"], limit=5)
    assert isinstance(history, PredictionHistoryOut)
    summary = client.requests_summary(since=since)
    assert isinstance(summary, RequestsSummaryOut)
    assert summary.since == since
    assert summary.total >= 1
    assert summary.by_endpoint.get("/predict", 0) >= 1


def test_a_refused_listing_names_its_fields(client: ApiClient) -> None:
    with pytest.raises(ListingRefused) as refused:
        client.predict({**LISTING, "bed": -1, "zip_code": "12x45"})
    assert set(refused.value.fields) == {"bed", "zip_code"}
    assert "greater than or equal to 1" in refused.value.fields["bed"]
    assert refused.value.fields["zip_code"].startswith("a ZIP code is")
    with pytest.raises(ListingRefused) as in_a_list:
        client.predict_many([LISTING, {**LISTING, "bed": -1}])
    assert set(in_a_list.value.fields) == {"1.bed"}


def test_an_unknown_batch_is_an_api_error(client: ApiClient) -> None:
    with pytest.raises(ApiError) as missing:
        client.batch(999_999)
    assert missing.value.status_code == 404
    assert "no batch 999999" in str(missing.value)


def test_an_api_that_is_not_there_is_unavailable() -> None:
    url = unused_url()
    with ApiClient(url, timeout=5) as client:
        for call in (client.health, client.model, client.models):
            with pytest.raises(ApiUnavailable, match="cannot be reached"):
                call()
        with pytest.raises(ApiUnavailable) as down:
            client.predict(LISTING)
    assert url in str(down.value)


def test_a_handed_in_httpx_client_is_used_and_left_open(history_api: str) -> None:
    with httpx.Client() as http:
        client = ApiClient(history_api + "/", http=http)
        assert client.base_url == history_api
        assert client.health().status == "healthy"
        client.close()
        assert not http.is_closed
