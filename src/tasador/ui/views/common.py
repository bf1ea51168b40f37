"""What every page shares: the session keys, and the page edge that turns the client's errors
into a message in words instead of a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Final

import streamlit as st

from tasador.ui.client import ApiClient, ApiError, ApiUnavailable, HistoryOff, NoModelYet

#: The last priced listing (the body sent) and its answer (`PredictionOut` as JSON), for the next
#: pages: plain data, so a reloaded module still reads them.
LAST_LISTING: Final[str] = "tasador.listing"
LAST_PRICE: Final[str] = "tasador.price"

Render = Callable[[ApiClient], None]


def show_problem(err: ApiError) -> None:
    """The client's error as a message in words, with what to do about it."""
    if isinstance(err, ApiUnavailable):
        st.error(
            f"{err.message} Start it with `tasador serve` (or the whole loop with `tasador up`), "
            "then reload this page.",
            icon=":material/cloud_off:",
        )
    elif isinstance(err, NoModelYet):
        st.info(err.message, icon=":material/hourglass_empty:")
    elif isinstance(err, HistoryOff):
        st.warning(
            f"{err.message} The history pages need the API started with its CLEAN DATA and "
            "inference log (as `tasador up` does).",
            icon=":material/history_toggle_off:",
        )
    else:
        st.error(err.message, icon=":material/error:")


def at_the_edge(page: Render) -> Render:
    """A page that shows the client's errors in words (what it drew before them stays)."""

    @functools.wraps(page)
    def render(client: ApiClient) -> None:
        try:
            page(client)
        except ApiError as err:
            show_problem(err)

    return render
