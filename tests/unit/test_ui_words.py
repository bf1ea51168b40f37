"""The UI's plain words: money, field names, reasons, fallbacks, triggers and verdicts."""

from __future__ import annotations

from typing import Any

import pytest

from tasador import schema
from tasador.ingestion.cleaning import RejectReason
from tasador.serving.history_models import DecisionOut, DriftOut
from tasador.ui.words import (
    MetricChange,
    dollars,
    example_listing,
    fallback_words,
    field_label,
    field_words,
    join_words,
    listing_words,
    metric_changes,
    metric_value,
    milliseconds,
    reason_words,
    signed_dollars,
    status_words,
    trigger_words,
    verdict_words,
)


@pytest.mark.parametrize(
    ("value", "words"),
    [(412_300.4, "$412,300"), (999.6, "$1,000"), (0.0, "$0"), (-1_200.0, "-$1,200")],
)
def test_dollars(value: float, words: str) -> None:
    assert dollars(value) == words


@pytest.mark.parametrize(("value", "words"), [(1_200.0, "+$1,200"), (-350.2, "-$350"), (0.3, "$0")])
def test_signed_dollars(value: float, words: str) -> None:
    assert signed_dollars(value) == words


def test_field_words() -> None:
    assert field_words("house_size") == "house size"
    assert field_words("acre_lot") == "lot size (acres)"
    assert field_words("state") == "state"
    assert field_words("zip_code") == "ZIP code"
    assert field_words("some_new_field") == "some new field"
    assert field_label("house_size") == "house size (sq ft)"
    assert field_label("bed") == "bedrooms"


def test_every_listing_input_has_words() -> None:
    for field in schema.LISTING_INPUTS:
        assert "_" not in field_words(field.name), field.name
    for status in schema.STATUSES:
        assert "_" not in status_words(status)
    assert status_words("ready_to_build") == "ready to build"


@pytest.mark.parametrize(
    ("items", "words"),
    [([], ""), (["a"], "a"), (["a", "b"], "a and b"), (["a", "b", "c"], "a, b and c")],
)
def test_join_words(items: list[str], words: str) -> None:
    assert join_words(items) == words


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("bed_out_of_range", "bedrooms out of range"),
        ("missing_state", "state missing"),
        ("unparseable_zip_code", "ZIP code unreadable"),
        ("unknown_status", "unknown status"),
        ("duplicate_of_earlier_batch", "duplicate of an earlier batch"),
        ("implausible_price_per_sqft", "implausible price per sq ft"),
        ("relisted_duplicate", "relisted duplicate"),
    ],
)
def test_reason_words(reason: str, words: str) -> None:
    assert reason_words(reason) == words


def test_every_cleaning_reason_reads_as_words() -> None:
    for reason in RejectReason:
        assert "_" not in reason_words(reason.value), reason


def test_fallback_words() -> None:
    listing = {"state": "Connecticut", "city": "Hartford", "zip_code": "06106"}
    assert fallback_words([], listing) is None
    assert fallback_words(["city", "zip_code", "prev_sold_date"], listing) == (
        "Priced without last sale date (not given); city and ZIP code "
        "(not seen in training: priced at the average)."
    )
    assert fallback_words(["bed"], {"bed": None}) == "Priced without bedrooms (not given)."


def test_example_listing_and_its_words() -> None:
    listing = example_listing()
    assert listing == {
        "bed": 3,
        "bath": 2,
        "acre_lot": 0.25,
        "house_size": 1600,
        "state": "Connecticut",
        "status": "for_sale",
    }
    assert listing_words(listing) == (
        "3 bedrooms, 2 bathrooms, 1,600 sq ft, 0.25 acres, for sale in Connecticut"
    )
    assert listing_words({"state": "Ohio", "city": "Akron", "bath": 1.5}) == (
        "1.5 bathrooms, Akron, Ohio"
    )


def decision(**fields: Any) -> DecisionOut:
    base: dict[str, Any] = {
        "action": "train",
        "trigger": "first_model",
        "reason": "no production model yet",
        "model_version": "2",
        "promoted": True,
        "promotion_reason": "first model, passes floors",
        "champion_version": None,
        "champion_batch_rmse_log": None,
    }
    return DecisionOut.model_validate({**base, **fields})


def drift_of(*features: tuple[str, bool, float]) -> DriftOut:
    return DriftOut.model_validate(
        {
            "checked": True,
            "verdict": any(d for _, d, _ in features),
            "reason": "some drifted",
            "reference_model_version": "1",
            "drifted_features": [name for name, d, _ in features if d],
            "features": [
                {
                    "feature": name,
                    "drifted": drifted,
                    "effect_size": effect,
                    "effect_threshold": 0.1,
                    "psi": effect * 2,
                    "psi_threshold": 0.2,
                }
                for name, drifted, effect in features
            ],
        }
    )


def test_trigger_words_first_model() -> None:
    assert trigger_words(decision(), None) == (
        "No model was serving yet, so this batch trained the first one."
    )


def test_trigger_words_drift_names_features_and_sizes() -> None:
    drift = drift_of(("house_size", True, 0.42), ("bed", False, 0.05), ("state", True, 0.3))
    words = trigger_words(decision(trigger="drift", reason="data drift: ..."), drift)
    assert words == (
        "The data drifted in 2 of 3 features: house size (effect size 0.42 against a threshold "
        "of 0.10; PSI 0.84 against 0.20) and state (effect size 0.30 against a threshold of "
        "0.10; PSI 0.60 against 0.20)."
    )
    without = trigger_words(decision(trigger="drift", reason="data drift: 2 of 7"), None)
    assert without == "The data drifted: data drift: 2 of 7."


def test_trigger_words_champion_degraded() -> None:
    degraded = decision(
        trigger="champion_degraded",
        reason="champion v3 RMSE(log) on this batch is 0.4400, above ...",
        champion_version="3",
        champion_batch_rmse_log=0.44,
    )
    assert trigger_words(degraded, None, 0.40) == (
        "The champion, version 3, priced this batch worse than when it was promoted: "
        "RMSE (log price) 0.440 on this batch against 0.400 recorded (+10%)."
    )
    assert trigger_words(degraded, None, None) == (
        "The champion got worse on this batch: champion v3 RMSE(log) on this batch is 0.4400, "
        "above ...."
    )


def test_trigger_words_other() -> None:
    assert trigger_words(decision(trigger="none", reason="no drift"), None) == "No drift."


def test_verdict_words() -> None:
    assert verdict_words(decision(promotion_reason="beats the champion")) == (
        "Promoted to production: beats the champion."
    )
    assert verdict_words(decision(promoted=False, promotion_reason="fails the floor")) == (
        "Not promoted: fails the floor."
    )
    assert verdict_words(decision(promoted=None, promotion_reason=None)) == "Not decided yet."


def test_metric_changes() -> None:
    challenger = {"rmse_log": 0.30, "r2_log": 0.60, "mae": 1_000.0}
    champion = {"rmse_log": 0.40, "r2_log": 0.50, "mae": 900.0, "mape": 0.2}
    changes = metric_changes(challenger, champion)
    assert [c.metric for c in changes] == ["rmse_log", "r2_log", "mae"]
    assert changes[0] == MetricChange("rmse_log", 0.40, 0.30, pytest.approx(-0.10), True)
    assert changes[1] == MetricChange("r2_log", 0.50, 0.60, pytest.approx(0.10), True)
    assert changes[2] == MetricChange("mae", 900.0, 1_000.0, 100.0, False)
    assert metric_changes({"rmse_log": 0.3}, {"r2_log": 0.5}) == []


def test_metric_value_and_milliseconds() -> None:
    assert metric_value("mae", 75_356.9) == "$75,357"
    assert metric_value("rmse_log", 0.38074) == "0.381"
    assert metric_value("mape", 0.328) == "32.8%"
    assert milliseconds(12.345) == "12.3 ms"
    assert milliseconds(None) == "n/a"
