"""Live service: what the API answered lately, from its inference log (GET /requests/summary),
and whether its recent requests drifted from the served model's training data (GET /model)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import streamlit as st

from tasador.serving.api_models import LiveDriftOut
from tasador.ui import charts
from tasador.ui.client import ApiClient, NoModelYet
from tasador.ui.views.common import at_the_edge
from tasador.ui.words import SINCE_CHOICES, dollars, milliseconds


@at_the_edge
def render(client: ApiClient) -> None:
    """Requests over time, latency, errors, predicted prices and endpoints of the chosen span."""
    st.title("Live service")
    # with no model served there is nothing to compare with; the summary below still shows
    with contextlib.suppress(NoModelYet):
        _live_drift(client.model().live_drift)
    span = st.selectbox("span", list(SINCE_CHOICES), index=1, key="live-span")
    until = datetime.now(UTC)
    summary = client.requests_summary(since=until - SINCE_CHOICES[str(span)], until=until)
    if summary.total == 0:
        st.info(f"No requests in the {span}.", icon=":material/schedule:")
        return
    cols = st.columns(5)
    cols[0].metric("requests", f"{summary.total:,}")
    cols[1].metric("errors", f"{summary.errors:,} ({summary.errors / summary.total:.1%})")
    cols[2].metric("p50 latency", milliseconds(summary.latency_ms.p50))
    cols[3].metric("p95 latency", milliseconds(summary.latency_ms.p95))
    cols[4].metric("p99 latency", milliseconds(summary.latency_ms.p99))

    st.subheader("Requests over time")
    st.altair_chart(charts.requests_chart(summary), width="stretch")

    left, right = st.columns(2)
    with left:
        st.subheader("Predicted prices")
        prices = summary.prices
        if prices.count:
            st.altair_chart(charts.price_histogram(prices), width="stretch")
            median = dollars(prices.p50) if prices.p50 is not None else "n/a"
            st.caption(
                f"{prices.count:,} prices from the last {prices.requests_sampled:,} answered "
                f"requests (at most {prices.sample_limit:,}); median {median}."
            )
        else:
            st.info("No price was answered in this span.")
    with right:
        st.subheader("Requests by endpoint")
        st.altair_chart(charts.endpoint_chart(summary.by_endpoint), width="stretch")
        versions = ", ".join(f"v{v}: {n:,}" for v, n in sorted(summary.by_model_version.items()))
        if versions:
            st.caption(f"By model version: {versions}.")


def _live_drift(drift: LiveDriftOut | None) -> None:
    """The last check of recent requests against the training data, in one line."""
    if drift is None:
        off = "TASADOR_SERVING_DRIFT_INTERVAL_SECONDS is 0"
        st.caption(f"Recent requests are not checked for drift ({off}).")
        return
    if drift.verdict is None or drift.checked_at is None:
        why = drift.last_check_skipped or "not checked yet"
        st.caption(f"Drift of recent requests: no verdict yet ({why}).")
        return
    checked = drift.checked_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = (
        f"The latest {drift.listings:,} priced listings, checked {checked} against the training "
        f"data of v{drift.model_version}: {drift.reason}."
    )
    if drift.verdict:
        st.warning(f"Recent requests have drifted. {text}", icon=":material/warning:")
    else:
        st.success(f"Recent requests look like the training data. {text}")
