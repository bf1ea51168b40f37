"""Why it retrained: for each round that trained a model, the trigger, the promotion verdict, and
how the new model differs from the champion it challenged (GET /batches, /models,
/models/{v}/importance)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st

from tasador.serving.history_models import (
    BatchOut,
    DecisionOut,
    ImportanceOut,
    ModelVersionOut,
)
from tasador.ui import charts
from tasador.ui.client import ApiClient
from tasador.ui.views.common import at_the_edge
from tasador.ui.words import (
    metric_changes,
    metric_value,
    metric_words,
    trigger_words,
    verdict_words,
)


def changes_table(challenger: Mapping[str, float], champion: Mapping[str, float]) -> pd.DataFrame:
    """Each compared metric of both models in words, and the change."""
    return pd.DataFrame(
        [
            {
                "metric": metric_words(c.metric),
                "champion": metric_value(c.metric, c.champion),
                "new model": metric_value(c.metric, c.challenger),
                "change": ("+" if c.change > 0 else "") + metric_value(c.metric, c.change),
                "new model is": "better" if c.better else "worse or equal",
            }
            for c in metric_changes(challenger, champion)
        ]
    )


@st.cache_data(ttl=600, show_spinner=False)
def _importance(_client: ApiClient, base_url: str, version: str) -> ImportanceOut | None:
    """A version's importance: fixed once it is trained, so read once per API and version."""
    return _client.importance(version)


def show_training(
    client: ApiClient,
    batch: BatchOut,
    decision: DecisionOut,
    models: Mapping[str, ModelVersionOut],
    *,
    with_importance: bool,
) -> None:
    """One training decision: trigger, verdict, metric changes and, for the training chosen,
    the importance of both models (two reads per training: not for hundreds at once)."""
    champion_version = decision.champion_version
    champion = models.get(champion_version) if champion_version else None
    recorded = champion.metrics.get("rmse_log") if champion else None
    st.markdown(f"**Why it trained.** {trigger_words(decision, batch.drift, recorded)}")
    st.markdown(f"**Verdict.** {verdict_words(decision)}")
    new = models.get(decision.model_version) if decision.model_version else None
    if champion_version is None or decision.model_version is None:
        st.caption("There was no champion to compare with: this round trained a first model.")
        return
    st.markdown(f"**Against the champion, version {champion_version}.**")
    champion_metrics = (new.champion_metrics if new else None) or (
        champion.metrics if champion else None
    )
    if new is not None and champion_metrics:
        same_set = new.champion_metrics is not None
        st.dataframe(changes_table(new.metrics, champion_metrics), hide_index=True)
        st.caption(
            "Both measured on this round's evaluation set."
            if same_set
            else "The champion's metrics as recorded at its own training."
        )
    if not with_importance:
        st.caption("Choose this training above to compare the two models' importance.")
        return
    importances = {
        v: _importance(client, client.base_url, v)
        for v in (decision.model_version, champion_version)
    }
    for version, importance in importances.items():
        if importance is None:
            st.caption(f"No importance recorded for version {version}.")
    new_importance, old_importance = importances.values()
    if new_importance is not None or old_importance is not None:
        st.altair_chart(charts.importance_chart(new_importance, old_importance), width="stretch")


@at_the_edge
def render(client: ApiClient) -> None:
    """Every training decision, newest first, the newest open."""
    st.title("Why it retrained")
    batches = client.batches().items
    trainings = [
        (b, b.decision) for b in batches if b.decision is not None and b.decision.action == "train"
    ]
    if not trainings:
        st.info(
            "No round has trained a model yet: each training decision appears here with its "
            "reasons.",
            icon=":material/model_training:",
        )
        return
    models = {m.version: m for m in client.models().items}
    titles = []
    for batch, decision in trainings:
        verdict = {True: "promoted", False: "not promoted", None: "not decided"}[decision.promoted]
        titles.append(f"Batch {batch.batch_number}: version {decision.model_version}, {verdict}")
    chosen = st.selectbox(
        "Training to compare in detail",
        range(len(trainings)),
        format_func=titles.__getitem__,
        help="Its expander opens, with both models' global importance.",
    )
    for i, ((batch, decision), title) in enumerate(zip(trainings, titles, strict=True)):
        with st.expander(title, expanded=i == chosen):
            show_training(client, batch, decision, models, with_importance=i == chosen)
