"""Compare locations: the same home priced in every state the model knows, and across cities of
one state, each in one POST /predict with a list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import streamlit as st

from tasador.serving.api_models import ListingPrediction
from tasador.ui import charts
from tasador.ui.client import ApiClient, HistoryOff
from tasador.ui.views.common import LAST_LISTING, at_the_edge
from tasador.ui.words import example_listing, listing_words

#: Cities offered from recent predictions, at most.
SUGGESTED_CITIES: Final[int] = 6
#: Fields tied to one place: left out when the same home is priced elsewhere.
_PLACE_FIELDS: Final[tuple[str, ...]] = ("state", "city", "zip_code")


def the_home(listing: Mapping[str, Any]) -> dict[str, Any]:
    """The listing without its place, to be priced in other places."""
    return {k: v for k, v in listing.items() if k not in _PLACE_FIELDS}


def parse_cities(text: str) -> list[str]:
    """Comma-separated city names, trimmed, empty and repeated ones left out."""
    seen: dict[str, None] = {}
    for part in text.split(","):
        city = " ".join(part.split())
        if city and city.lower() not in {c.lower() for c in seen}:
            seen[city] = None
    return list(seen)


def recent_cities(client: ApiClient, state: str) -> list[str]:
    """Cities of `state` in recent predictions, most recent first (none without a log)."""
    try:
        history = client.predictions_history(state=state, limit=200)
    except HistoryOff:
        return []
    cities = [str(p.listing["city"]) for p in history.predictions if p.listing.get("city")]
    return parse_cities(", ".join(cities))[:SUGGESTED_CITIES]


def priced_bars(
    places: Sequence[str],
    predictions: Sequence[ListingPrediction | Any],
    note: Any,
) -> list[charts.PriceBar]:
    """One bar per priced place (`note(place, prediction)` colours it)."""
    return [
        charts.PriceBar(place, p.price, note(place, p))
        for place, p in zip(places, predictions, strict=True)
        if isinstance(p, ListingPrediction)
    ]


@at_the_edge
def render(client: ApiClient) -> None:
    """Both comparisons of the last priced home (or the schema's example home)."""
    st.title("Compare locations")
    listing = st.session_state.get(LAST_LISTING)
    if listing:
        st.caption(f"The home priced on **Price a home**: {listing_words(the_home(listing))}.")
    else:
        listing = example_listing()
        st.caption(
            f"An example home: {listing_words(the_home(listing))}. Price yours on **Price a home** "
            "to compare it instead."
        )
    home = the_home(listing)
    states = client.states().states
    st.subheader("In every state the model knows")
    answer = client.predict_many([{**home, "state": state} for state in states], what_if=True)
    own = listing.get("state")
    bars = priced_bars(
        states,
        answer.predictions,
        lambda place, _: "the home's state" if place == own else "other states",
    )
    st.altair_chart(charts.price_bars(bars, place_title="state"), width="stretch")
    st.caption(f"Priced by model version {answer.model_version}, without a city or ZIP code.")

    st.subheader("Across cities of one state")
    state = st.selectbox(
        "state", states, index=states.index(own) if own in states else 0, key="compare-state"
    )
    suggested = recent_cities(client, state)
    text = st.text_input(
        "cities, separated by commas",
        value=", ".join(suggested),
        key=f"compare-cities-{state}",
        placeholder="e.g. Springfield, Riverside, Franklin",
    )
    if not suggested:
        st.caption(f"No recent prediction names a city in {state}: type a few city names.")
    cities = parse_cities(text or "")
    if not cities:
        return
    answer = client.predict_many(
        [{**home, "state": state, "city": city} for city in cities], what_if=True
    )
    bars = priced_bars(
        cities,
        answer.predictions,
        lambda _, p: (
            "not seen in training: priced at the average" if "city" in p.fallbacks else "known city"
        ),
    )
    st.altair_chart(charts.price_bars(bars, place_title=f"city in {state}"), width="stretch")
