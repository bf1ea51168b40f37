"""Data and drift: rows kept and rejected per batch, each feature's drift per batch, and one
feature's reference and batch distributions (GET /batches, /batches/{id})."""

from __future__ import annotations

import streamlit as st

from tasador.serving.history_models import BatchOut, FeatureDriftOut
from tasador.ui import charts
from tasador.ui.client import ApiClient
from tasador.ui.views.common import at_the_edge
from tasador.ui.words import field_words


def checked_batches(batches: list[BatchOut]) -> list[BatchOut]:
    """Batches whose drift was tested (not the first ones: nothing to compare them with)."""
    return [b for b in batches if b.drift is not None and b.drift.checked and b.drift.features]


def show_feature(feature: FeatureDriftOut) -> None:
    """One feature's test in numbers, and its two distributions."""
    verdict = "drifted" if feature.drifted else "no drift"
    cols = st.columns(4)
    cols[0].metric("verdict", verdict)
    cols[1].metric(
        "effect size",
        f"{feature.effect_size:.3f}",
        help=f"threshold {feature.effect_threshold:.3f} "
        f"({'KS statistic' if feature.test == 'ks' else 'Cramér’s V'})",
    )
    cols[2].metric("PSI", f"{feature.psi:.3f}", help=f"threshold {feature.psi_threshold:.3f}")
    cols[3].metric(
        "p-value",
        f"{feature.p_value:.2g}",
        help=f"against {feature.alpha_corrected:.2g} after the Bonferroni correction",
    )
    if feature.bins is None:
        st.info(f"No distribution was stored for {field_words(feature.feature)}.")
        return
    st.altair_chart(charts.distribution_chart(feature.bins, feature.feature), width="stretch")


@at_the_edge
def render(client: ApiClient) -> None:
    """The rows chart, the drift heat map, and the distributions of a chosen batch and feature."""
    st.title("Data and drift")
    batches = client.batches().items
    if not batches:
        st.info(
            "No batch has been read yet: batches appear here as the loop reads them.",
            icon=":material/database:",
        )
        return
    st.subheader("Rows kept and rejected")
    st.altair_chart(charts.rows_by_batch_chart(batches), width="stretch")

    st.subheader("Drift by feature")
    checked = checked_batches(batches)
    if not checked:
        st.info(
            "No batch has been tested for drift yet: the first batches train the first model, "
            "with nothing to compare them with."
        )
        return
    st.altair_chart(charts.drift_heatmap(checked), width="stretch")
    st.caption(
        "Colour: the effect size over its threshold (1 or more is a drift-sized effect). "
        "Marked: the features each batch's test called drifted."
    )
    by_id = {b.id: b for b in checked}
    batch_id = st.selectbox(
        "batch",
        list(by_id),
        format_func=lambda i: f"batch {by_id[i].batch_number}",
        key="drift-batch",
    )
    detail = client.batch(int(batch_id))
    if detail.drift is None or not detail.drift.features:
        st.info("This batch has no drift test stored.")
        return
    st.caption(
        f"Compared with the training data of version {detail.drift.reference_model_version} "
        f"({detail.drift.reference_rows or 0:,} rows against {detail.drift.current_rows or 0:,}): "
        f"{detail.drift.reason}."
    )
    features = {f.feature: f for f in detail.drift.features}
    name = st.selectbox("feature", list(features), format_func=field_words, key="drift-feature")
    show_feature(features[str(name)])
