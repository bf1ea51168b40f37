"""Drift on live traffic: the listings priced lately against the served model's training data.

The loop checks each new batch for drift before it decides to retrain; nothing checked what the
API is actually asked. Every `interval_seconds` a daemon thread reads the newest priced listings
from the inference log (RAW DATA, at most `sample` of them, newest first: bounded work however
long the log is), and runs the loop's own `detect_drift` with the loop's thresholds against the
training profile the served model was registered with. The price is left out: requests have none.

Each check is kept as a `LiveDriftCheck`; the metrics and `/model` read the latest one. A check
that cannot run (no model yet, too few listings, RAW DATA down) is recorded with its reason and
leaves the last verdict as it was: an outage of the log does not clear an alert.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import pandas as pd
import sqlalchemy as sa
from pydantic import ValidationError

from tasador import schema
from tasador.drift.profile import DataProfile
from tasador.drift.report import DriftReport, detect_drift
from tasador.serving.api_models import ListingIn
from tasador.serving.model_holder import ModelHolder
from tasador.serving.periodic import Periodic
from tasador.storage.raw_store import iter_priced_inputs

logger = logging.getLogger(__name__)

#: The endpoints whose bodies are listings the model priced.
PRICED_ENDPOINTS: Final[tuple[str, ...]] = ("/predict", "/batch_predict", "/explain")


@dataclass(frozen=True, slots=True)
class DriftThresholds:
    """The loop's drift rule (`tasador.drift.report`), as configured by TASADOR_DECISION_DRIFT_*."""

    alpha: float = 0.05
    ks_threshold: float = 0.1
    psi_threshold: float = 0.2
    min_features: int = 1


@dataclass(frozen=True, slots=True)
class LiveDriftCheck:
    """One check: when, against which model, on how many listings, and its report if it ran."""

    checked_at: datetime
    model_version: str | None
    listings: int
    report: DriftReport | None
    skipped: str | None = None  # why no report: no model, too few listings, a failure


def serving_profile(training: DataProfile) -> DataProfile:
    """The training profile less the target, which a request does not carry."""
    return DataProfile(
        rows=training.rows,
        numeric={k: v for k, v in training.numeric.items() if k != schema.TARGET},
        categorical=dict(training.categorical),
    )


def listings_frame(bodies: Iterable[Any], features: Iterable[str], limit: int) -> pd.DataFrame:
    """The first `limit` valid listings of request bodies (one listing or a list), as a frame of
    `features`, normalised by the request model as when they were priced.

    Items that do not validate are left out: they were refused, not priced (a list priced item by
    item keeps its refused items in the body).
    """
    columns = list(features)
    rows: list[dict[str, Any]] = []
    for listing in _listings(bodies):
        if len(rows) >= limit:
            break
        rows.append({name: getattr(listing, name, None) for name in columns})
    return pd.DataFrame(rows, columns=columns)


def _listings(bodies: Iterable[Any]) -> Iterator[Any]:
    for body in bodies:
        for item in body if isinstance(body, list) else (body,):
            try:
                yield ListingIn.model_validate(item)
            except ValidationError:
                continue


class LiveDriftMonitor:
    """Checks recent traffic for drift every `interval_seconds` in a daemon thread."""

    def __init__(
        self,
        holder: ModelHolder,
        raw: sa.Engine,
        *,
        interval_seconds: float,
        sample: int,
        min_listings: int,
        thresholds: DriftThresholds | None = None,
    ) -> None:
        if sample < 1 or min_listings < 1:
            raise ValueError("sample and min_listings must be at least 1")
        self.holder = holder
        self.raw = raw
        self.interval_seconds = interval_seconds
        self.sample = sample
        self.min_listings = min_listings
        self.thresholds = thresholds or DriftThresholds()
        self._latest: LiveDriftCheck | None = None  # the last check, whatever its outcome
        self._verdict: LiveDriftCheck | None = None  # the last check that produced a report
        self._checker = Periodic(
            self._check_safely, interval_seconds, "live-drift", first_at_once=False
        )

    @property
    def latest(self) -> LiveDriftCheck | None:
        return self._latest

    @property
    def last_report(self) -> LiveDriftCheck | None:
        """The last check that ran to a verdict (the metrics show this one)."""
        return self._verdict

    def describe(self) -> dict[str, Any]:
        """Plain values for `/model`: the last check, and the last verdict with its reason."""
        latest, verdict = self._latest, self._verdict
        report = verdict.report if verdict is not None else None
        return {
            "interval_seconds": self.interval_seconds,
            "last_check_at": latest.checked_at if latest else None,
            "last_check_skipped": latest.skipped if latest else None,
            "checked_at": verdict.checked_at if verdict else None,
            "model_version": verdict.model_version if verdict else None,
            "listings": verdict.listings if verdict else 0,
            "verdict": report.verdict if report else None,
            "reason": report.reason if report else None,
            "drifted_features": list(report.drifted_features) if report else [],
        }

    def check(self) -> LiveDriftCheck:
        """Compare the newest priced listings with the served model's training data."""
        now = datetime.now(UTC)
        model = self.holder.current()
        if model is None or model.profile is None:
            why = "no model served yet" if model is None else "the model has no training profile"
            return self._record(LiveDriftCheck(now, None, 0, None, why))
        reference = serving_profile(model.profile)
        try:
            bodies = iter_priced_inputs(self.raw, PRICED_ENDPOINTS)
            frame = listings_frame(bodies, reference.features, self.sample)
        except Exception as err:  # RAW DATA down: try again next time, keep the last verdict
            logger.warning("live drift check could not read the inference log: %s", err)
            why = f"the inference log could not be read ({type(err).__name__})"
            return self._record(LiveDriftCheck(now, model.version, 0, None, why))
        if len(frame) < self.min_listings:
            why = f"{len(frame)} listings priced so far, fewer than the {self.min_listings} needed"
            return self._record(LiveDriftCheck(now, model.version, len(frame), None, why))
        t = self.thresholds
        report = detect_drift(
            reference,
            frame,
            alpha=t.alpha,
            ks_threshold=t.ks_threshold,
            psi_threshold=t.psi_threshold,
            min_drifted=t.min_features,
        )
        if report.verdict:
            logger.warning("serving traffic has drifted from the training data: %s", report.reason)
        return self._record(LiveDriftCheck(now, model.version, len(frame), report))

    def _record(self, check: LiveDriftCheck) -> LiveDriftCheck:
        self._latest = check
        if check.report is not None:
            self._verdict = check
        return check

    def start(self) -> None:
        """Check every `interval_seconds` (the first check after one interval), in a thread."""
        self._checker.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._checker.stop(timeout)

    def _check_safely(self) -> None:
        try:
            self.check()
        except Exception:  # a bug in one check must not end the monitor
            logger.exception("live drift check failed")
