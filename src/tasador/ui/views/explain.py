"""Why this price: the last priced listing's exact SHAP contributions, in dollars, as a waterfall
from the model's base price to the price (POST /explain)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from tasador.ui import charts
from tasador.ui.client import ApiClient
from tasador.ui.views.common import LAST_LISTING, LAST_PRICE, at_the_edge
from tasador.ui.words import dollars, listing_words, signed_dollars


@at_the_edge
def render(client: ApiClient) -> None:
    """The waterfall of the listing priced on the Price page, or a pointer to that page."""
    st.title("Why this price")
    listing = st.session_state.get(LAST_LISTING)
    if not listing:
        st.info(
            "No home priced yet: price one on the **Price a home** page, then come back here to "
            "see what moved its price.",
            icon=":material/sell:",
        )
        return
    st.caption(listing_words(listing))
    explanation = client.explain(listing)
    steps = charts.waterfall_steps(
        explanation.base_price,
        {name: term.dollars for name, term in explanation.inputs.items()},
        explanation.price,
    )
    base, price = st.columns(2)
    base.metric(
        "Base price",
        dollars(explanation.base_price),
        help="the model's expected price before it reads this listing's fields",
    )
    price.metric("Price of this home", dollars(explanation.price))
    st.altair_chart(charts.waterfall_chart(steps), width="stretch")
    st.dataframe(
        pd.DataFrame(
            {
                "input": [s.label for s in steps[1:-1]],
                "contribution": [signed_dollars(s.dollars) for s in steps[1:-1]],
            }
        ),
        hide_index=True,
    )
    priced = (st.session_state.get(LAST_PRICE) or {}).get("model_version")
    note = (
        f" (the price page used version {priced}: the served model has changed since)"
        if priced and priced != explanation.model_version
        else ""
    )
    st.caption(
        f"Explained by model version {explanation.model_version}{note}. Exact TreeSHAP "
        "contributions of each field to the log price, shared out in dollars in proportion: they "
        "add up from the base price to the price."
    )
