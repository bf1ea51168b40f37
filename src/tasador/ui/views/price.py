"""Price a home: a form of the listing's fields, priced by POST /predict.

The fields come from `schema.MODEL_INPUTS` (a field added there appears here), their ranges from
the listing schema, and the state and status choices from the served model. The API is the one
judge of a listing: its refusals are shown under the fields they name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Final

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from tasador import schema
from tasador.serving.api_models import PredictionOut
from tasador.ui.client import ApiClient, ListingRefused
from tasador.ui.views.common import LAST_LISTING, LAST_PRICE, at_the_edge
from tasador.ui.words import (
    dollars,
    example_listing,
    fallback_words,
    field_label,
    field_words,
    listing_words,
    status_words,
)

#: Step and display format of each number field (presentation only; ranges are the schema's).
_NUMBER_STYLE: Final[dict[str, tuple[float, str]]] = {
    "bed": (1.0, "%.0f"),
    "bath": (0.5, "%.1f"),
    "acre_lot": (0.05, "%.3f"),
    "house_size": (50.0, "%.0f"),
}
FIRST_DAY, LAST_DAY = (date.fromisoformat(d) for d in schema.PREV_SOLD_DATE_RANGE)


def key_of(name: str) -> str:
    """The widget key of a field (tests find the widget by it)."""
    return f"price-{name}"


def choices_of(client: ApiClient) -> dict[str, list[str]]:
    """The values the served model knows for its choice fields: status (and any other choice)
    from /model, states from /states."""
    categories = dict(client.model().categories)
    categories["state"] = client.states().states
    return categories


def field_widget(field: schema.ListingInput, default: Any, choices: Sequence[str] | None) -> Any:
    """The form widget of one listing input, by its kind; returns the widget's value."""
    col, name = field.column, field.name
    label, key = field_label(name), key_of(name)
    note = "" if field.required else " Optional: leave it empty and the model prices without it."
    help_ = f"{col.description}.{note}"
    if choices:
        options: list[Any] = list(choices) if field.required else [None, *choices]
        index = options.index(default) if default in options else 0
        return st.selectbox(
            label,
            options,
            index=index,
            format_func=_choice_words(name),
            key=key,
            help=help_,
        )
    if field.kind is schema.Kind.NUMBER:
        step, number_format = _NUMBER_STYLE.get(name, (1.0, "%.2f"))
        return st.number_input(
            label,
            min_value=_bound(col.minimum),
            max_value=_bound(col.maximum),
            value=None if default is None else float(default),
            step=step,
            format=number_format,
            key=key,
            help=help_,
            placeholder="empty: priced without",
        )
    if field.kind is schema.Kind.DATE:
        return st.date_input(
            label,
            value=date.fromisoformat(default) if isinstance(default, str) else default,
            min_value=FIRST_DAY,
            max_value=LAST_DAY,
            format="YYYY-MM-DD",
            key=key,
            help=help_,
        )
    return st.text_input(
        label,
        value=str(default) if default is not None else "",
        key=key,
        help=help_,
        placeholder="optional" if not field.required else "",
    )


def _bound(value: float | None) -> float | None:
    return None if value is None else float(value)


def _choice_words(name: str) -> Any:
    def words(value: Any) -> str:
        if value is None:
            return "(not given)"
        return status_words(value) if name == "status" else str(value)

    return words


def listing_of(values: Mapping[str, Any]) -> dict[str, Any]:
    """The request body of the form's values: empty fields left out, dates as ISO days."""
    listing: dict[str, Any] = {}
    for name, value in values.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, date):
            listing[name] = value.isoformat()
        elif isinstance(value, str):
            listing[name] = value.strip()
        else:
            listing[name] = value
    return listing


def show_answer(answer: PredictionOut, listing: Mapping[str, Any]) -> None:
    """The price in dollars, the version that priced it, and what it priced without."""
    st.metric("Estimated price", dollars(answer.price))
    if answer.price_low is not None and answer.price_high is not None and answer.coverage:
        st.markdown(
            f"Likely between **{dollars(answer.price_low)}** and **{dollars(answer.price_high)}** "
            f"(a range that holds {answer.coverage:.0%} of true prices)"
        )
    st.caption(f"Priced by model version {answer.model_version} · {listing_words(listing)}")
    fallbacks = fallback_words(answer.fallbacks, listing)
    if fallbacks:
        st.info(fallbacks, icon=":material/info:")
    st.caption(
        "**Why this price** shows what moved it; **Compare locations** prices this home elsewhere."
    )


@at_the_edge
def render(client: ApiClient) -> None:
    """The form, and on submit, the price or the fields the API refused."""
    st.title("Price a home")
    choices = choices_of(client)
    last: Mapping[str, Any] = st.session_state.get(LAST_LISTING) or example_listing()
    values: dict[str, Any] = {}
    slots: dict[str, DeltaGenerator] = {}
    with st.form("price-form"):
        st.caption(
            "State and status are required. Leave any other field empty and the model prices "
            "without it (the answer says which)."
        )
        columns = st.columns(2)
        for i, field in enumerate(schema.MODEL_INPUTS):
            with columns[i % 2]:
                values[field.name] = field_widget(
                    field, last.get(field.name), choices.get(field.name)
                )
                slots[field.name] = st.empty()
        submitted = st.form_submit_button("Price this home", type="primary")
    if submitted:
        listing = listing_of(values)
        try:
            answer = client.predict(listing)
        except ListingRefused as refused:
            st.warning("The API refused this listing: see the fields marked in the form.")
            for name, message in refused.fields.items():
                if name in slots:
                    slots[name].error(f"{field_words(name)}: {message}")
                else:
                    st.error(f"{field_words(name)}: {message}")
            return
        st.session_state[LAST_LISTING] = listing
        st.session_state[LAST_PRICE] = answer.model_dump(mode="json")
    last_price = st.session_state.get(LAST_PRICE)
    if last_price:
        show_answer(PredictionOut.model_validate(last_price), st.session_state[LAST_LISTING])
