"""The UI's entry point: `streamlit run src/tasador/ui/app.py` (or the installed module's file).

Reads the inference API's URL and timeout from the settings (`TASADOR_UI_API_URL`, else the local
API at `TASADOR_SERVING_HOST`:`TASADOR_SERVING_PORT`; `TASADOR_UI_TIMEOUT_SECONDS`), builds one
client per URL, and runs the page chosen in the sidebar. Importing it does nothing: Streamlit runs
it as `__main__`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import streamlit as st

from tasador.settings import get_settings
from tasador.ui.client import ApiClient, ApiError
from tasador.ui.views import compare, drift, explain, live, models, price, retrained
from tasador.ui.views.common import Render


@dataclass(frozen=True, slots=True)
class PageSpec:
    title: str
    url_path: str
    icon: str
    render: Render


PAGES: Final[tuple[PageSpec, ...]] = (
    PageSpec("Price a home", "price", ":material/sell:", price.render),
    PageSpec("Why this price", "why", ":material/waterfall_chart:", explain.render),
    PageSpec("Compare locations", "compare", ":material/compare_arrows:", compare.render),
    PageSpec("Model history", "models", ":material/timeline:", models.render),
    PageSpec("Data and drift", "drift", ":material/stacked_bar_chart:", drift.render),
    PageSpec("Why it retrained", "retrained", ":material/model_training:", retrained.render),
    PageSpec("Live service", "live", ":material/monitor_heart:", live.render),
)


@st.cache_resource(show_spinner=False)
def api_client(url: str, timeout: float) -> ApiClient:
    """One client (and its connection pool) per API URL, shared by the sessions."""
    return ApiClient(url, timeout=timeout)


def _bound(render: Render, client: ApiClient) -> Callable[[], None]:
    def page() -> None:
        render(client)

    return page


def show_service(client: ApiClient) -> None:
    """The API's URL and whether it is serving, in the sidebar."""
    st.sidebar.caption(f"Inference API: {client.base_url}")
    try:
        health = client.health()
    except ApiError:
        st.sidebar.caption(":red[unreachable]")
        return
    if health.status == "healthy":
        st.sidebar.caption(f":green[serving model version {health.model_version}]")
    else:
        st.sidebar.caption(f":orange[degraded: {'; '.join(health.problems)}]")


def main() -> None:
    """Build the client from the settings and run the chosen page."""
    st.set_page_config(page_title="tasador", page_icon=":material/home:", layout="wide")
    settings = get_settings()
    client = api_client(settings.ui.resolved_api_url(settings.serving), settings.ui.timeout_seconds)
    navigation = st.navigation(
        [
            st.Page(
                _bound(spec.render, client),
                title=spec.title,
                url_path=spec.url_path,
                icon=spec.icon,
                default=i == 0,
            )
            for i, spec in enumerate(PAGES)
        ]
    )
    show_service(client)
    navigation.run()


if __name__ == "__main__":
    main()
