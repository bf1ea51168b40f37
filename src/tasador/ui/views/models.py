"""Model history: every registered version, its metrics and verdict, and RMSE(log) over the
batches (GET /models)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from tasador.serving.history_models import ModelVersionOut
from tasador.ui import charts
from tasador.ui.client import ApiClient
from tasador.ui.views.common import at_the_edge


def versions_table(models: Sequence[ModelVersionOut]) -> pd.DataFrame:
    """One row per version, newest first, the columns named in words."""
    return pd.DataFrame(
        [
            {
                "version": m.version,
                "batch": m.batch_number,
                "status": m.status,
                "RMSE (log price)": m.metrics.get("rmse_log"),
                "R² (log price)": m.metrics.get("r2_log"),
                "training rows": m.training_rows,
                "reason": m.reason or "",
            }
            for m in models
        ]
    )


@at_the_edge
def render(client: ApiClient) -> None:
    """The versions' chart and table, or a message while there are none."""
    st.title("Model history")
    page = client.models()
    if not page.items:
        st.info(
            "No model has been trained yet: versions appear here as the loop trains them.",
            icon=":material/model_training:",
        )
        return
    serving = (
        f"version {page.production_version} serves in production"
        if page.production_version
        else "none serves in production yet"
    )
    st.caption(f"{page.total} versions; {serving}.")
    st.altair_chart(charts.rmse_history_chart(page.items), width="stretch")
    st.caption(
        "Each point is a version, at the batch whose round trained it, measured on that round's "
        "evaluation set. Hover for the promotion rule's reason."
    )
    st.dataframe(
        versions_table(page.items),
        hide_index=True,
        column_config={
            "RMSE (log price)": st.column_config.NumberColumn(format="%.4f"),
            "R² (log price)": st.column_config.NumberColumn(format="%.4f"),
            "training rows": st.column_config.NumberColumn(format="%d"),
        },
    )
