"""The end-of-run report reads whole in a terminal or log 80 columns wide."""

from __future__ import annotations

import io

import pytest
from rich.console import Console, RenderableType

from tasador.cli import _summary, _urls_table
from tasador.pipeline import RoundResult

LONG_REASON = (
    "data drift: 1 of 7 features drifted: state (Cramér's V=0.413, p=1.73e-263, PSI=2.61) → "
    "beats the champion: challenger v2 rmse_log=0.3200, champion v1 rmse_log=0.3245, "
    "margin 1.00% (needs <= 0.3213)"
)


def _text(renderable: RenderableType, width: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, legacy_windows=False).print(renderable)
    return out.getvalue()


def _results() -> list[RoundResult]:
    return [
        RoundResult(
            batch_id=11,
            batch_number=1,
            received=1_234_567,
            kept=1_230_000,
            rejected=4_567,
            drift=True,
            action="train",
            model_version="12",
            promoted=True,
            reason=LONG_REASON,
        ),
        RoundResult(batch_id=12, batch_number=2, received=227, kept=222, rejected=5, drift=False),
    ]


@pytest.mark.parametrize("width", [80, 200])
def test_the_summary_shows_every_header_figure_and_reason_whole(width: int) -> None:
    text = _text(_summary(_results()), width)

    assert "…" not in text
    for header in ("batch", "received", "kept", "rejected", "drift", "decision", "model"):
        assert header in text
    for figure in ("1,234,567", "1,230,000", "4,567", "v12", "promoted", "no drift"):
        assert figure in text
    words = " ".join(text.split())  # the reason wraps at words, with nothing between them
    assert f"batch 1: {LONG_REASON}" in words
    assert "batch 2: —" in words


@pytest.mark.parametrize("width", [60, 80, 200])
def test_service_urls_are_never_cut(width: int) -> None:
    urls = {
        "inference_api": "http://127.0.0.1:8000",
        "mlflow_db": "postgresql+psycopg://tasador@127.0.0.1:55432/tasador_mlflow_metadata_store",
    }
    text = _text(_urls_table(urls), width)

    assert "…" not in text
    joined = "".join(text.split())  # a URL wider than the terminal folds onto the next line
    for url in urls.values():
        assert url in joined
    assert "MLflow metadata" in text
    assert "inference API" in text


def test_after_a_resume_the_table_says_it_shows_the_whole_history() -> None:
    whole = _text(_summary(_results(), this_run=1), 120)
    assert f"all {len(_results())}; 1 in this run" in whole
    assert "in this run" not in _text(_summary(_results(), this_run=len(_results())), 120)
