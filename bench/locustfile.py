"""Load test: the client of the system tasador replaces, as it calls the inference API.

Each simulated user is one instance of that client (the real one runs 50 of them): mostly single
listings to price (`POST /predict`), now and then a list of 10-50 (`POST /batch_predict`) or an
explanation (`POST /explain`), and between them the reads of its dashboard: `/health`, `/model`,
`/`, `/states`, `/predictions/history` (latest, and for one state) and `/metrics/summary`. Every
answer is checked for the fields that client reads; a missing or wrong one marks the request
failed, with a message saying which.

The listings are random but valid: 1-6 bedrooms, half baths (0.5, 1.5...) as the old system's
clients send them, a real state, a status, and sometimes a city, a ZIP code and a previous sale.

Run by hand against a running API:

    .venv/bin/locust -f bench/locustfile.py --headless -u 50 -r 10 -t 60s \\
        --host http://127.0.0.1:8000

(without `--headless`, the web UI at http://localhost:8089). `tests/integration/test_load_client.py`
runs it briefly and requires 0 failures.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from locust import HttpUser, between, task

from tasador import schema

STATES: tuple[str, ...] = schema.STATES
STATUSES: tuple[str, ...] = tuple(s for s in ("for_sale", "sold") if s in schema.STATUSES)
BATHS: tuple[float, ...] = (0.5, 0.75, 1, 1.5, 2, 2.5, 3)
# A few real cities, of their own state (others get no city, as many of the client's listings).
CITIES: dict[str, tuple[str, ...]] = {
    "California": ("Los Angeles", "San Diego", "Sacramento"),
    "Connecticut": ("Hartford", "New Haven"),
    "Florida": ("Miami", "Orlando", "Tampa"),
    "Illinois": ("Chicago", "Springfield"),
    "Massachusetts": ("Boston", "Springfield"),
    "New York": ("New York", "Buffalo"),
    "Texas": ("Houston", "Austin", "Dallas"),
    "Washington": ("Seattle", "Spokane"),
}
# Optional fields a listing may leave out; the answer then names them in `fallbacks`.
OPTIONAL = ("city", "zip_code", "prev_sold_date")
HISTORY_STATE = "California"


RNG = random.Random()


def random_listing(rng: random.Random = RNG) -> dict[str, Any]:
    """One listing as the client sends it."""
    state = rng.choice(STATES)
    listing: dict[str, Any] = {
        "bed": rng.randint(1, 6),
        "bath": rng.choice(BATHS),
        "acre_lot": round(rng.uniform(0.05, 2.0), 3),
        "house_size": rng.randint(500, 4500),
        "state": state,
        "status": rng.choice(STATUSES),
    }
    if rng.random() < 0.5:
        listing["city"] = rng.choice(CITIES.get(state, ("Springfield", "Franklin", "Clinton")))
    if rng.random() < 0.5:
        listing["zip_code"] = f"{rng.randint(501, 99950):05d}"
    if rng.random() < 0.4:
        listing["prev_sold_date"] = (
            f"{rng.randint(2000, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        )
    return listing


class WrongAnswerError(Exception):
    """An answer the client cannot use: what is missing or wrong."""


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def need(body: Any, key: str, ok: Callable[[Any], bool], what: str) -> Any:
    """`body[key]`, which must be `what`."""
    if not isinstance(body, dict):
        raise WrongAnswerError(f"expected a JSON object, got {type(body).__name__}")
    if key not in body:
        raise WrongAnswerError(f"`{key}` is missing")
    if not ok(body[key]):
        raise WrongAnswerError(f"`{key}` should be {what}, got {body[key]!r}")
    return body[key]


def positive(value: Any) -> bool:
    return is_number(value) and value > 0


def a_string(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def check_price(body: Any) -> None:
    need(body, "price", positive, "a number > 0")


def check_prediction(body: Any) -> None:
    check_price(body)
    need(body, "model_version", a_string, "a string")


def check_explanation(body: Any) -> None:
    check_price(body)
    shap = need(
        body,
        "shap_values",
        lambda v: isinstance(v, dict) and v and all(is_number(x) for x in v.values()),
        "an object of field name -> number",
    )
    base = need(body, "base_value", is_number, "a number")
    # the client draws base + contributions as a waterfall ending at the price
    if abs(base + sum(shap.values()) - math.log(body["price"])) > 1e-3:
        raise WrongAnswerError(
            f"base_value + sum(shap_values) = {base + sum(shap.values()):.6f} is not "
            f"log(price) = {math.log(body['price']):.6f}"
        )


def check_batch(listings: list[dict[str, Any]]) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        items = need(body, "predictions", lambda v: isinstance(v, list), "a list")
        if len(items) != len(listings):
            raise WrongAnswerError(f"{len(items)} predictions for {len(listings)} listings")
        for i, item in enumerate(items):
            try:
                check_price(item)
            except WrongAnswerError as err:
                raise WrongAnswerError(f"predictions[{i}]: {err}") from None
        check_order(listings, items)

    return check


def check_order(listings: list[dict[str, Any]], items: list[dict[str, Any]]) -> None:
    """The answers are in the order sent: each one's `fallbacks` names the optional fields its own
    listing left out (where the model reads them at all), and never a date its listing gave."""
    tracked = {
        f for item in items if isinstance(item.get("fallbacks"), list) for f in item["fallbacks"]
    }
    for i, (listing, item) in enumerate(zip(listings, items, strict=True)):
        fallbacks = item.get("fallbacks")
        if not isinstance(fallbacks, list):
            continue
        left_out = {f for f in OPTIONAL if f in tracked and f not in listing}
        given_date = "prev_sold_date" in listing and "prev_sold_date" in fallbacks
        if not left_out <= set(fallbacks) or given_date:
            raise WrongAnswerError(
                f"predictions[{i}] is not the answer to listing {i} (out of order?): its "
                f"fallbacks {fallbacks} do not fit the listing {listing}"
            )


def check_health(body: Any) -> None:
    need(body, "status", lambda v: v in ("healthy", "degraded"), '"healthy" or "degraded"')


def check_service(body: Any) -> None:
    need(body, "model_version", lambda v: v is None or isinstance(v, str), "a string or null")


def check_states(body: Any) -> None:
    need(
        body,
        "states",
        lambda v: isinstance(v, list) and v and all(a_string(s) for s in v),
        "a non-empty list of state names",
    )
    need(body, "model_version", a_string, "a string")


def check_history(limit: int, state: str | None = None) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        items = need(body, "predictions", lambda v: isinstance(v, list), "a list")
        if len(items) > limit:
            raise WrongAnswerError(f"{len(items)} predictions, more than limit={limit}")
        for i, item in enumerate(items):
            try:
                check_price(item)
                if state is not None:
                    listing = need(item, "listing", lambda v: isinstance(v, dict), "an object")
                    given = str(listing.get("state", "")).strip().lower()
                    if schema.STATE_NAMES.get(given) != state:
                        raise WrongAnswerError(
                            f"listing of state {listing.get('state')!r}, not {state}"
                        )
            except WrongAnswerError as err:
                raise WrongAnswerError(f"predictions[{i}]: {err}") from None

    return check


def check_summary(body: Any) -> None:
    need(
        body,
        "total",
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "a count",
    )
    need(body, "latency_ms", lambda v: isinstance(v, dict), "an object")
    need(body, "prices", lambda v: isinstance(v, dict), "an object")


class ListingClient(HttpUser):
    """One instance of the client: prices listings, and reads the service's state now and then."""

    wait_time = between(0.2, 1.0)

    def call(
        self,
        method: str,
        path: str,
        check: Callable[[Any], None],
        *,
        name: str | None = None,
        json: Any = None,
    ) -> None:
        """Send one request; mark it failed, saying why, unless it is a 200 whose JSON passes."""
        label = name or path
        with self.client.request(
            method, path, json=json, name=label, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(
                    f"{method} {label}: HTTP {response.status_code}: {response.text[:300]}"
                )
                return
            try:
                check(response.json())
            except ValueError as err:  # includes the JSON decoder's error
                response.failure(f"{method} {label}: not JSON ({err}): {response.text[:300]}")
            except WrongAnswerError as err:
                response.failure(f"{method} {label}: {err}")
            else:
                response.success()

    @task(20)
    def predict(self) -> None:
        self.call("POST", "/predict", check_prediction, json=random_listing())

    @task(4)
    def batch_predict(self) -> None:
        listings = [random_listing() for _ in range(RNG.randint(10, 50))]
        self.call("POST", "/batch_predict", check_batch(listings), json=listings)

    @task(3)
    def explain(self) -> None:
        self.call("POST", "/explain", check_explanation, json=random_listing())

    @task(2)
    def health(self) -> None:
        self.call("GET", "/health", check_health)

    @task(1)
    def model(self) -> None:
        self.call("GET", "/model", lambda body: need(body, "model_version", a_string, "a string"))

    @task(1)
    def service(self) -> None:
        self.call("GET", "/", check_service)

    @task(1)
    def states(self) -> None:
        self.call("GET", "/states", check_states)

    @task(1)
    def latest_predictions(self) -> None:
        self.call("GET", "/predictions/history?limit=20", check_history(20))

    @task(1)
    def state_predictions(self) -> None:
        path = f"/predictions/history?state={HISTORY_STATE}"
        self.call("GET", path, check_history(50, HISTORY_STATE))

    @task(1)
    def metrics_summary(self) -> None:
        self.call("GET", "/metrics/summary", check_summary)
