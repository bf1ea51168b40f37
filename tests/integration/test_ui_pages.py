"""The UI's pages, run by Streamlit's AppTest against real inference APIs: the finished loop's, one
with no model and an empty history, and none at all.

The entry script `tasador/ui/app.py` reads the API's URL through `get_settings()`, so its tests set
`TASADOR_UI_API_URL` and clear the settings cache. Each page is also driven on its own through a
small script that renders the view named in `session_state["view"]` (the navigation's pages are
callables, which AppTest cannot switch to), so one session can price a home and then explain it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mlflow import MlflowClient
from streamlit.testing.v1 import AppTest

from fixtures.history import HistoryWorld
from fixtures.http import running_server, unused_url
from fixtures.serving import complete, listings_of
from tasador.platform.postgres import EmbeddedPostgres
from tasador.serving.app import create_app
from tasador.serving.history import HistoryReader
from tasador.serving.model_holder import ModelHolder
from tasador.settings import get_settings
from tasador.storage import clean_store
from tasador.storage.engine import make_engine
from tasador.storage.migrate import migrate
from tasador.ui import app as ui_app
from tasador.ui.client import ApiClient

APP = Path(ui_app.__file__)
TIMEOUT = 120  # pages call a real API (the first /explain loads the explainer)


def view_script(url: str) -> None:
    """One page of the UI, chosen by `session_state["view"]`, against the API at `url`."""
    import streamlit as st

    from tasador.ui.client import ApiClient
    from tasador.ui.views import compare, drift, explain, live, models, price, retrained

    views = {
        "price": price,
        "explain": explain,
        "compare": compare,
        "models": models,
        "drift": drift,
        "retrained": retrained,
        "live": live,
    }
    with ApiClient(url, timeout=60) as client:
        views[st.session_state.get("view", "price")].render(client)


def open_view(url: str, view: str) -> AppTest:
    at = AppTest.from_function(view_script, args=(url,), default_timeout=TIMEOUT)
    return show(at, view)


def show(at: AppTest, view: str) -> AppTest:
    at.session_state["view"] = view
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts_of(at: AppTest) -> list[dict[str, Any]]:
    """The Vega-Lite specs of the charts drawn (the element's name changed across versions)."""
    found = [*at.get("vega_lite_chart"), *at.get("arrow_vega_lite_chart")]
    return [json.loads(element.proto.spec) for element in found]


def texts(elements: Any) -> str:
    return "\n".join(str(e.value) for e in elements)


def submit_price(at: AppTest) -> AppTest:
    button = next(b for b in at.button if b.label == "Price this home")
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def app_for(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], AppTest]]:
    """The entry script, run against the API at a URL given through the environment."""

    def run(url: str) -> AppTest:
        monkeypatch.setenv("TASADOR_UI_API_URL", url)
        get_settings.cache_clear()
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    yield run
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def empty_api(postgres: EmbeddedPostgres, mlflow_server: Any) -> Iterator[str]:
    """An API whose model name nothing registered (no model is ever served) over an empty CLEAN
    DATA, without an inference log."""
    suffix = uuid.uuid4().hex[:8]
    database = f"ui_empty_{suffix}"
    postgres.create_database(database)
    url = postgres.url(database)
    migrate(url, "clean")
    engine = make_engine(url)
    mlflow = MlflowClient(tracking_uri=mlflow_server.url)
    name = f"tasador-ui-nothing-{suffix}"
    app = create_app(
        holder=ModelHolder(mlflow, name, poll_seconds=0.5, explain_threads=1),
        inference_log=None,
        model_name=name,
        reload_token=None,
        max_batch=100,
        max_body_bytes=1_000_000,
        history=HistoryReader(engine, mlflow, name),
    )
    with running_server(app) as api:
        yield api
    engine.dispose()
    postgres.drop_database(database)


# --- the entry script ----------------------------------------------------------------------


def test_app_shows_its_api_and_prices_a_home(
    history_api: str, app_for: Callable[[str], AppTest]
) -> None:
    at = app_for(history_api)
    assert f"Inference API: {history_api}" in texts(at.sidebar.caption)
    assert [t.value for t in at.title] == ["Price a home"]
    version = ApiClient(history_api).model().version
    assert f"serving model version {version}" in texts(at.sidebar.caption)
    submit_price(at)
    [price] = at.metric
    assert price.label == "Estimated price"
    assert price.value.startswith("$")
    assert f"model version {version}" in texts(at.caption)


def test_app_with_the_api_down_says_so(app_for: Callable[[str], AppTest]) -> None:
    url = unused_url()
    at = app_for(url)
    assert "cannot be reached" in texts(at.error)
    assert url in texts(at.error)
    assert "unreachable" in texts(at.sidebar.caption)


def test_app_without_a_model_says_so(empty_api: str, app_for: Callable[[str], AppTest]) -> None:
    at = app_for(empty_api)
    assert "No model is served yet" in texts(at.info)
    assert not at.error
    assert not at.number_input
    assert "degraded" in texts(at.sidebar.caption)


# --- each page against the finished loop ---------------------------------------------------


def test_price_form_gives_a_price_and_its_fallbacks(history_api: str) -> None:
    at = open_view(history_api, "price")
    statuses = at.selectbox(key="price-status").options
    assert statuses == ["for sale", "sold", "ready to build"]
    assert "Connecticut" in at.selectbox(key="price-state").options
    bath = at.number_input(key="price-bath")
    assert (bath.min, bath.max) == (0.5, 20.0)
    at.text_input(key="price-city").input("Nowhereville")
    submit_price(at)
    assert at.metric[0].value.startswith("$")
    assert "Likely between **$" in texts(at.markdown)  # the model's 80% price range
    assert "holds 80% of true prices" in texts(at.markdown)
    assert "city (not seen in training" in texts(at.info)
    assert "last sale date (not given)" in texts(at.info)
    listing = at.session_state["tasador.listing"]
    assert listing["city"] == "Nowhereville"
    assert "zip_code" not in listing


def test_a_refused_form_shows_the_message_under_the_field(history_api: str) -> None:
    at = open_view(history_api, "price")
    at.text_input(key="price-zip_code").input("12x45")
    submit_price(at)
    assert "refused" in texts(at.warning)
    [form] = at.form
    assert texts(form.error).startswith("ZIP code: a ZIP code is 1 to 5 digits")
    assert not at.metric  # nothing priced, nothing kept
    assert "tasador.price" not in at.session_state


def test_why_this_price_after_pricing(history_api: str) -> None:
    at = open_view(history_api, "explain")
    assert "Price a home" in texts(at.info)
    assert not charts_of(at)
    show(at, "price")
    submit_price(at)
    priced = at.metric[0].value
    show(at, "explain")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Price of this home"] == priced
    assert metrics["Base price"].startswith("$")
    [waterfall] = charts_of(at)
    order = waterfall["layer"][0]["encoding"]["y"]["sort"]
    assert order[0] == "base price"
    assert order[-1] == "price"
    assert {"house size", "state", "lot size (acres)"} <= set(order)
    assert waterfall["layer"][0]["encoding"]["x"]["axis"]["format"] == "$,.0f"


def test_compare_locations_prices_every_state_and_chosen_cities(history_api: str) -> None:
    client = ApiClient(history_api)
    at = open_view(history_api, "price")
    at.text_input(key="price-city").input("Hartford")
    submit_price(at)
    deadline = time.monotonic() + 30  # the inference log writes off the request path
    while not any(
        p.listing.get("city") == "Hartford"
        for p in client.predictions_history(state="Connecticut").predictions
    ):
        assert time.monotonic() < deadline, "the priced listing never reached the log"
        time.sleep(0.2)
    show(at, "compare")
    assert "Hartford" in at.text_input(key="compare-cities-Connecticut").value
    states, cities = charts_of(at)
    assert states["encoding"]["y"]["title"] == "state"
    assert states["encoding"]["x"]["axis"]["format"] == "$,.0f"
    assert cities["encoding"]["y"]["title"] == "city in Connecticut"
    at.text_input(key="compare-cities-Connecticut").input("Hartford, New Haven, hartford").run()
    assert not at.exception
    assert len(charts_of(at)) == 2


def test_compare_without_cities_gives_a_hint(history_api: str) -> None:
    at = open_view(history_api, "compare")
    assert "example home" in texts(at.caption)
    at.selectbox(key="compare-state").select("Wyoming").run()
    assert not at.exception
    if not at.text_input(key="compare-cities-Wyoming").value:
        assert "type a few city names" in texts(at.caption)
        assert len(charts_of(at)) == 1


def test_model_history_table_and_chart(history_api: str) -> None:
    versions = ApiClient(history_api).models()
    at = open_view(history_api, "models")
    [table] = at.dataframe
    assert list(table.value["version"]) == [m.version for m in versions.items]
    assert list(table.value.columns) == [
        "version",
        "batch",
        "status",
        "RMSE (log price)",
        "R² (log price)",
        "training rows",
        "reason",
    ]
    [chart] = charts_of(at)
    line, points = chart["layer"]
    assert line["encoding"]["y"]["title"].startswith("RMSE of log price")
    assert points["encoding"]["shape"]["field"] == "status"


def test_data_and_drift(history_api: str) -> None:
    at = open_view(history_api, "drift")
    rows, heatmap, distribution = charts_of(at)
    assert rows["encoding"]["y"]["title"] == "rows"
    assert heatmap["layer"][0]["encoding"]["y"]["title"] == "feature"
    assert distribution["encoding"]["y"]["axis"]["format"] == ".0%"
    at.selectbox(key="drift-feature").select("state").run()
    assert not at.exception
    assert charts_of(at)[-1]["encoding"]["x"]["title"] == "state"
    batches = at.selectbox(key="drift-batch").options
    at.selectbox(key="drift-batch").select_index(len(batches) - 1).run()
    assert not at.exception
    assert len(charts_of(at)) == 3


def test_why_it_retrained(history_api: str) -> None:
    trainings = [
        b
        for b in ApiClient(history_api).batches().items
        if b.decision is not None and b.decision.action == "train"
    ]
    at = open_view(history_api, "retrained")
    assert len(at.expander) == len(trainings)
    words = texts(at.markdown)
    assert "No model was serving yet, so this batch trained the first one." in words
    challenged = [b for b in trainings if b.decision and b.decision.champion_version]
    if challenged:
        assert at.dataframe  # metric changes against the champion
        assert charts_of(at)  # importance of both versions
        assert "Against the champion, version" in words
    for batch in trainings:
        assert batch.decision is not None
        if batch.decision.trigger == "drift":
            assert "The data drifted in" in words
    # only the chosen training reads importance; choosing another opens and compares it
    assert [e.proto.expanded for e in at.expander].count(True) == 1
    last = len(trainings) - 1
    at.selectbox[0].set_value(last).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.expander[last].proto.expanded
    assert not at.expander[0].proto.expanded


def test_live_service(history_api: str, history_world: HistoryWorld) -> None:
    client = ApiClient(history_api)
    client.predict({"state": "Texas", "status": "sold", "house_size": 2000})
    # enough listings like the training data for the API's drift check (100) to give a verdict
    frame = clean_store.load_listings(history_world.stores.clean, holdout=True)
    answer = httpx.post(f"{history_api}/predict", json=listings_of(complete(frame).head(100)))
    assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 60  # the log writes off the request path; checks run each 1 s
    while (
        client.requests_summary().prices.count == 0
        or client.model().live_drift is None
        or (
            client.model().live_drift.listings < 100  # type: ignore[union-attr]
        )
    ):
        assert time.monotonic() < deadline, "no drift verdict on the priced requests"
        time.sleep(0.2)
    at = open_view(history_api, "live")
    said = [e.value for e in (*at.success, *at.warning)]
    assert len(said) == 1, said
    assert "priced listings, checked" in said[0]
    assert "against the training data of v" in said[0]
    labels = [m.label for m in at.metric]
    assert labels == ["requests", "errors", "p50 latency", "p95 latency", "p99 latency"]
    assert at.metric[2].value.endswith(" ms")
    over_time, prices, endpoints = charts_of(at)
    assert over_time["encoding"]["x"]["title"] == "time (UTC)"
    assert prices["encoding"]["x"]["axis"]["format"] == "$,.0f"
    assert endpoints["encoding"]["y"]["title"] == "endpoint"
    at.selectbox(key="live-span").select("last 7 days").run()
    assert not at.exception
    assert len(charts_of(at)) == 3


# --- friendly states -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "view", ["price", "explain", "compare", "models", "drift", "retrained", "live"]
)
def test_every_page_with_the_api_down(view: str) -> None:
    at = AppTest.from_function(view_script, args=(unused_url(),), default_timeout=TIMEOUT)
    at.session_state["tasador.listing"] = {"state": "Texas", "status": "sold"}  # past the pointer
    show(at, view)
    assert "cannot be reached" in texts(at.error)


def test_pages_without_a_model_or_history(empty_api: str) -> None:
    at = open_view(empty_api, "price")
    assert "No model is served yet" in texts(at.info)
    show(at, "explain")
    assert "Price a home" in texts(at.info)
    show(at, "compare")
    assert "No model is served yet" in texts(at.info)
    show(at, "models")
    assert "No model has been trained yet" in texts(at.info)
    show(at, "drift")
    assert "No batch has been read yet" in texts(at.info)
    show(at, "retrained")
    assert "No round has trained a model yet" in texts(at.info)
    show(at, "live")
    assert "cannot show its history" in texts(at.warning)
    assert not at.error
