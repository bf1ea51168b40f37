"""Plain words for what the API answers: money, field names, reasons, triggers and verdicts.

Pure functions of the API's own values, so each page says the same thing the same way and the
wording is tested without Streamlit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from tasador import schema
from tasador.serving.history_models import DecisionOut, DriftOut, FeatureDriftSummary

#: A listing field (or drifted column) as a person says it.
FIELD_WORDS: Final[dict[str, str]] = {
    "bed": "bedrooms",
    "bath": "bathrooms",
    "acre_lot": "lot size (acres)",
    "house_size": "house size",
    "state": "state",
    "status": "status",
    "city": "city",
    "zip_code": "ZIP code",
    "prev_sold_date": "last sale date",
    "brokered_by": "broker code",
    "price": "price",
    "street": "street code",
}
#: The unit a form label adds to a field's words.
_UNITS: Final[dict[str, str]] = {"house_size": "sq ft"}

STATUS_WORDS: Final[dict[str, str]] = {
    "for_sale": "for sale",
    "sold": "sold",
    "ready_to_build": "ready to build",
}

METRIC_WORDS: Final[dict[str, str]] = {
    "rmse_log": "RMSE (log price)",
    "r2_log": "R² (log price)",
    "mae": "mean absolute error ($)",
    "mape": "mean absolute percentage error",
    "rmse": "RMSE ($)",
    "r2": "R² (price)",
}
#: Metrics where a smaller value is the better model.
LOWER_IS_BETTER: Final[frozenset[str]] = frozenset({"rmse_log", "mae", "mape", "rmse"})

_REASON_WORDS: Final[dict[str, str]] = {
    "malformed_row": "malformed row",
    "implausible_price_per_sqft": "implausible price per sq ft",
    "duplicate_row": "duplicate row",
    "relisted_duplicate": "relisted duplicate",
    "duplicate_of_earlier_batch": "duplicate of an earlier batch",
}

#: The spans the Live service page offers, in words.
SINCE_CHOICES: Final[dict[str, timedelta]] = {
    "last 15 minutes": timedelta(minutes=15),
    "last hour": timedelta(hours=1),
    "last 24 hours": timedelta(hours=24),
    "last 7 days": timedelta(days=7),
}


def dollars(value: float) -> str:
    """Whole dollars with thousands separators: 412300.4 -> "$412,300", -1200 -> "-$1,200"."""
    amount = round(value)
    return f"-${-amount:,}" if amount < 0 else f"${amount:,}"


def signed_dollars(value: float) -> str:
    """A change in dollars, always signed: "+$1,200", "-$350", "$0"."""
    amount = round(value)
    return dollars(amount) if amount <= 0 else f"+{dollars(amount)}"


def field_words(name: str) -> str:
    """A field's name in words ("house_size" -> "house size"); unknown names lose underscores."""
    return FIELD_WORDS.get(name, name.replace("_", " "))


def field_label(name: str) -> str:
    """A form label: the field's words and its unit ("house size (sq ft)")."""
    unit = _UNITS.get(name)
    return f"{field_words(name)} ({unit})" if unit else field_words(name)


def status_words(status: str) -> str:
    return STATUS_WORDS.get(status, status.replace("_", " "))


def metric_words(name: str) -> str:
    return METRIC_WORDS.get(name, name.replace("_", " "))


def join_words(items: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def reason_words(reason: str) -> str:
    """A cleaning rule's rejection reason in words ("bed_out_of_range" -> "bedrooms out of
    range"), from the patterns the cleaning rules name their reasons by."""
    if reason in _REASON_WORDS:
        return _REASON_WORDS[reason]
    for prefix, words in (("missing_", "missing"), ("unparseable_", "unreadable")):
        if reason.startswith(prefix):
            return f"{field_words(reason.removeprefix(prefix))} {words}"
    if reason.startswith("unknown_"):
        return f"unknown {field_words(reason.removeprefix('unknown_'))}"
    if reason.endswith("_out_of_range"):
        return f"{field_words(reason.removesuffix('_out_of_range'))} out of range"
    return reason.replace("_", " ")


def fallback_words(fallbacks: Sequence[str], listing: Mapping[str, Any]) -> str | None:
    """What the model priced without, and why: a field not given, or a state, city or ZIP code
    it never saw in training (priced at the encoding's average). None when it used everything."""
    if not fallbacks:
        return None
    given = [f for f in fallbacks if listing.get(f) not in (None, "")]
    missing = [f for f in fallbacks if f not in given]
    parts = []
    if missing:
        parts.append(f"{join_words([field_words(f) for f in missing])} (not given)")
    if given:
        parts.append(
            f"{join_words([field_words(f) for f in given])} "
            "(not seen in training: priced at the average)"
        )
    return f"Priced without {'; '.join(parts)}."


def listing_words(listing: Mapping[str, Any]) -> str:
    """A listing in one line: "3 bedrooms, 2 bathrooms, 1,600 sq ft, 0.25 acres, for sale in
    Connecticut" (fields not given are left out)."""
    parts = []
    for name, unit in (("bed", "bedrooms"), ("bath", "bathrooms")):
        if listing.get(name) is not None:
            parts.append(f"{listing[name]:g} {unit}")
    if listing.get("house_size") is not None:
        parts.append(f"{listing['house_size']:,.0f} sq ft")
    if listing.get("acre_lot") is not None:
        parts.append(f"{listing['acre_lot']:g} acres")
    place = ", ".join(str(listing[k]) for k in ("city", "state") if listing.get(k))
    status = status_words(str(listing["status"])) if listing.get("status") else ""
    tail = " in ".join(p for p in (status, place) if p)
    return ", ".join([*parts, tail] if tail else parts)


def example_listing() -> dict[str, Any]:
    """The listing schema's own example: what the pages price before anyone filled the form."""
    return {
        f.name: f.example
        for f in schema.LISTING_INPUTS
        if f.is_feature and f.example is not None and (f.required or f.kind is schema.Kind.NUMBER)
    }


def feature_drift_words(feature: FeatureDriftSummary) -> str:
    """One feature's drift and its size: "house size (effect size 0.42 against a threshold of
    0.10; PSI 1.11 against 0.20)"."""
    return (
        f"{field_words(feature.feature)} (effect size {feature.effect_size:.2f} against a "
        f"threshold of {feature.effect_threshold:.2f}; PSI {feature.psi:.2f} against "
        f"{feature.psi_threshold:.2f})"
    )


def trigger_words(
    decision: DecisionOut,
    drift: DriftOut | None,
    champion_recorded_rmse_log: float | None = None,
) -> str:
    """Why a round trained, in words: the first model; drift in which features and by how much;
    or the champion's error on the batch against the one it was promoted with."""
    if decision.trigger == "first_model":
        return "No model was serving yet, so this batch trained the first one."
    if decision.trigger == "drift":
        drifted = [f for f in (drift.features if drift else []) if f.drifted]
        if not drifted or drift is None:
            return f"The data drifted: {decision.reason}."
        return (
            f"The data drifted in {len(drifted)} of {len(drift.features)} features: "
            f"{join_words([feature_drift_words(f) for f in drifted])}."
        )
    if decision.trigger == "champion_degraded":
        champion = f"version {decision.champion_version}" if decision.champion_version else "it"
        on_batch, recorded = decision.champion_batch_rmse_log, champion_recorded_rmse_log
        if on_batch is not None and recorded:
            return (
                f"The champion, {champion}, priced this batch worse than when it was promoted: "
                f"RMSE (log price) {on_batch:.3f} on this batch against {recorded:.3f} "
                f"recorded ({on_batch / recorded - 1.0:+.0%})."
            )
        return f"The champion got worse on this batch: {decision.reason}."
    return decision.reason[:1].upper() + decision.reason[1:] + "."


def verdict_words(decision: DecisionOut) -> str:
    """The promotion verdict and its reason."""
    reason = f": {decision.promotion_reason}" if decision.promotion_reason else ""
    if decision.promoted is True:
        return f"Promoted to production{reason}."
    if decision.promoted is False:
        return f"Not promoted{reason}."
    return "Not decided yet."


@dataclass(frozen=True, slots=True)
class MetricChange:
    """One metric of a challenger against its champion on the same evaluation set."""

    metric: str
    champion: float
    challenger: float
    change: float
    better: bool


def metric_changes(
    challenger: Mapping[str, float],
    champion: Mapping[str, float],
    names: Iterable[str] = ("rmse_log", "r2_log", "mae"),
) -> list[MetricChange]:
    """The change of each metric both models have (challenger minus champion), and whether the
    challenger is the better on it."""
    rows = []
    for name in names:
        if name in challenger and name in champion:
            change = challenger[name] - champion[name]
            better = change < 0 if name in LOWER_IS_BETTER else change > 0
            rows.append(MetricChange(name, champion[name], challenger[name], change, better))
    return rows


def metric_value(name: str, value: float) -> str:
    """A metric as shown: dollars for dollar metrics, three decimals for the others."""
    if name in ("mae", "rmse"):
        return dollars(value)
    if name == "mape":
        return f"{value:.1%}"
    return f"{value:.3f}"


def milliseconds(value: float | None) -> str:
    """A latency: "12.3 ms"; "n/a" when there is none."""
    return "n/a" if value is None else f"{value:,.1f} ms"
