"""The loop's history for the read-only endpoints: CLEAN DATA and the registry read once, kept.

Reading every batch, drift report, decision and version takes a few hundred milliseconds with a few
hundred of each; a request must not pay it. `HistoryReader.snapshot` checks at most once a second
whether anything changed (one small query on CLEAN DATA and the `production` alias) and reads it
all again only then. Importance is immutable per version and kept once read. Request summaries
read the inference log in RAW DATA: counts and latency in SQL, prices from a bounded sample.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np
import sqlalchemy as sa
from mlflow import MlflowClient

from tasador import schema
from tasador.registry.aliases import production_version
from tasador.registry.history import VersionRecord, list_versions
from tasador.registry.models import load_importance
from tasador.storage import clean_store
from tasador.storage.raw_store import load_inference_records, summarize_inference
from tasador.storage.records import BatchRecord, DecisionRecord, DriftRecord

logger = logging.getLogger(__name__)

#: Endpoints whose answers hold prices (the inference log names each request by its endpoint).
PRICED_ENDPOINTS: Final[tuple[str, ...]] = ("/predict", "/batch_predict", "/explain")
#: Bucket widths for requests over time, seconds: the smallest giving at most `_MAX_BUCKETS`.
_BUCKETS: Final[tuple[int, ...]] = (10, 30, 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)
_MAX_BUCKETS: Final[int] = 120
_PRICE_BINS: Final[int] = 20
_PAGE: Final[int] = 200  # inference records read from RAW DATA at a time
_SUMMARY_FIELDS: Final[tuple[str, ...]] = (
    "feature", "drifted", "effect_size", "effect_threshold", "psi", "psi_threshold",
)  # fmt: skip


@dataclass(frozen=True)
class History:
    """The models and batches as the endpoints answer them, newest first."""

    models: list[dict[str, Any]]
    batches: list[dict[str, Any]]  # summaries
    batch_details: dict[int, dict[str, Any]]
    production_version: str | None


def _drift(record: DriftRecord | None, detail: bool) -> dict[str, Any] | None:
    if record is None:
        return None
    report = record.report or {}
    features = report.get("features", [])
    return {
        "checked": record.reference_model_version is not None,
        "verdict": record.verdict if record.reference_model_version is not None else None,
        "reason": record.reason,
        "reference_model_version": record.reference_model_version,
        "drifted_features": list(report.get("drifted_features", [])),
        "features": (
            [{"bins": None, **f} for f in features]
            if detail
            else [{k: f[k] for k in _SUMMARY_FIELDS} for f in features]
        ),
        **(
            {k: report.get(k) for k in ("alpha", "reference_rows", "current_rows")}
            if detail
            else {}
        ),
    }


def _decision(record: DecisionRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    champion = record.champion_metrics or {}
    return {
        "action": record.action,
        "trigger": record.trigger,
        "reason": record.reason,
        "model_version": record.model_version,
        "promoted": record.promoted,
        "promotion_reason": record.promotion_reason,
        "champion_version": record.champion_version,
        "champion_batch_rmse_log": champion.get("batch_rmse_log"),
    }


def _batch(
    batch: BatchRecord, drift: DriftRecord | None, decision: DecisionRecord | None, detail: bool
) -> dict[str, Any]:
    return {
        "id": batch.batch_id,
        "batch_number": batch.batch_number,
        "source": batch.source,
        "group_number": batch.group_number,
        "day": batch.day,
        "status": str(batch.status),
        "received": batch.received,
        "kept": batch.kept,
        "rejected": batch.rejected,
        "rejected_by_reason": dict(batch.rejected_by_reason),
        "error": batch.error,
        "received_at": batch.created_at,
        "drift": _drift(drift, detail),
        "decision": _decision(decision),
    }


def _status(version: VersionRecord, decision: DecisionRecord | None) -> str:
    if version.is_production:
        return "production"
    verdict = version.decision or (
        None if decision is None or decision.promoted is None else
        "promoted" if decision.promoted else "rejected"
    )  # fmt: skip
    return verdict if verdict in ("promoted", "rejected") else "pending"


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _model(
    version: VersionRecord,
    batches: Mapping[int, BatchRecord],
    decisions: Mapping[int, DecisionRecord],
) -> dict[str, Any]:
    batch = batches.get(version.batch_id) if version.batch_id is not None else None
    decision = decisions.get(version.batch_id) if version.batch_id is not None else None
    if decision is not None and decision.model_version != version.version:
        decision = None  # another version of the same batch (a re-registered one)
    promoted = decision is not None and decision.promoted is not None
    champion = decision.champion_metrics if decision is not None and promoted else None
    return {
        "version": version.version,
        "batch_id": version.batch_id,
        "batch_number": (
            batch.batch_number if batch else _int(version.tags.get("tasador.batch_number"))
        ),
        "created_at": version.created_at,
        "training_rows": _int(version.params.get("train_rows")),
        "training_window": version.training_window,
        "evaluation_rows": _int(version.tags.get("tasador.evaluation_rows")),
        "metrics": (decision.challenger_metrics if decision and promoted else None)
        or version.metrics,
        "status": _status(version, decision),
        "reason": version.reason or (decision.promotion_reason if decision else None),
        "champion_version": decision.champion_version if decision else None,
        "champion_metrics": champion,
        "trigger": decision.trigger if decision else None,
        "trigger_reason": decision.reason if decision else None,
        "superseded_by": version.superseded_by,
    }


def read_history(clean: sa.Engine, client: MlflowClient, model_name: str) -> History:
    """Everything the history endpoints show, read now."""
    batches = {b.batch_id: b for b in clean_store.list_batches(clean)}
    drifts = {d.batch_id: d for d in clean_store.list_drift_reports(clean)}
    decisions = {d.batch_id: d for d in clean_store.list_decisions(clean)}
    versions = list_versions(client, model_name)
    newest_first = sorted(batches.values(), key=lambda b: b.batch_id, reverse=True)
    return History(
        models=[_model(v, batches, decisions) for v in reversed(versions)],
        batches=[
            _batch(b, drifts.get(b.batch_id), decisions.get(b.batch_id), False)
            for b in newest_first
        ],
        batch_details={
            b.batch_id: _batch(b, drifts.get(b.batch_id), decisions.get(b.batch_id), True)
            for b in newest_first
        },
        production_version=next((v.version for v in versions if v.is_production), None),
    )


def _bucket_seconds(span: timedelta) -> int:
    seconds = span.total_seconds()
    return next((b for b in _BUCKETS if seconds / b <= _MAX_BUCKETS), _BUCKETS[-1])


def _prices(outputs: Any) -> list[float]:
    """The prices an answer holds: one listing's, a list's (refused items hold none)."""
    if isinstance(outputs, Mapping):
        price = outputs.get("price")
        return [float(price)] if isinstance(price, int | float) else []
    if isinstance(outputs, Sequence) and not isinstance(outputs, str):
        return [p for item in outputs for p in _prices(item) if isinstance(item, Mapping)]
    return []


def price_distribution(prices: Sequence[float], requests: int, limit: int) -> dict[str, Any]:
    """Quantiles and a log-spaced histogram of predicted prices."""
    values = np.asarray([p for p in prices if p > 0], dtype=np.float64)
    quantiles: dict[str, float | None] = dict.fromkeys(("p10", "p25", "p50", "p75", "p90"))
    edges: list[float] = []
    counts: list[int] = []
    if values.size:
        cuts = np.quantile(values, [0.1, 0.25, 0.5, 0.75, 0.9])
        quantiles = dict(zip(quantiles, map(float, cuts), strict=True))
        low, high = float(values.min()), float(values.max())
        bins = np.geomspace(low, high if high > low else low * 1.01, _PRICE_BINS + 1)
        histogram, bin_edges = np.histogram(values, bins=bins)
        edges, counts = [float(e) for e in bin_edges], [int(c) for c in histogram]
    return {
        "count": int(values.size),
        "requests_sampled": requests,
        "sample_limit": limit,
        **quantiles,
        "histogram_edges": edges,
        "histogram_counts": counts,
    }


def _listings(inputs: Any) -> list[Any]:
    return list(inputs) if isinstance(inputs, list) else [inputs]


def _outputs(outputs: Any) -> list[Any]:
    if isinstance(outputs, Mapping) and isinstance(outputs.get("predictions"), list):
        return list(outputs["predictions"])
    return list(outputs) if isinstance(outputs, list) else [outputs]


def _state_of(listing: Mapping[str, Any]) -> str | None:
    value = listing.get("state")
    return schema.STATE_NAMES.get(value.strip().lower(), value) if isinstance(value, str) else None


class HistoryReader:
    """The loop's history and the inference log's summaries for the endpoints (thread-safe)."""

    def __init__(
        self,
        clean: sa.Engine,
        client: MlflowClient,
        model_name: str,
        *,
        raw: sa.Engine | None = None,
        check_seconds: float = 1.0,
        price_sample: int = 5_000,
    ) -> None:
        self.clean, self.raw, self.client, self.model_name = clean, raw, client, model_name
        self.check_seconds = check_seconds
        self.price_sample = price_sample
        self._lock = threading.Lock()
        self._history: History | None = None
        self._fingerprint: tuple[Any, ...] | None = None
        self._checked = -float("inf")
        self._refreshing: threading.Thread | None = None
        self._importance: dict[str, dict[str, Any] | None] = {}
        self._done_checked = -float("inf")
        self._done_at: float | None = None

    def snapshot(self) -> History:
        """The history, read again when a batch, decision or the alias changed.

        Only the first read is waited for: after a change, answers come from the previous read
        while a thread reads the new history (under a second with hundreds of batches and
        versions, but too long for every request that follows a round)."""
        with self._lock:
            now = time.monotonic()
            if self._history is not None and now - self._checked < self.check_seconds:
                return self._history
            self._checked = now
            if self._history is not None:
                try:
                    fingerprint = self._current_fingerprint()
                except Exception:  # a store is down: the last read is still the best answer
                    logger.warning("checking the history for changes failed", exc_info=True)
                    return self._history
            else:
                fingerprint = self._current_fingerprint()
            if self._history is None:
                self._history, self._fingerprint = self._read(), fingerprint
            elif fingerprint != self._fingerprint and self._refreshing is None:
                self._refreshing = threading.Thread(
                    target=self._refresh, args=(fingerprint,), name="history", daemon=True
                )
                self._refreshing.start()
            return self._history

    def last_batch_done(self) -> float | None:
        """When the loop last finished a batch, as a Unix time (read at most every 15 s; None
        before the first batch or while CLEAN DATA does not answer)."""
        with self._lock:
            now = time.monotonic()
            if now - self._done_checked >= 15.0:
                self._done_checked = now
                try:
                    done = clean_store.last_batch_done_at(self.clean)
                    self._done_at = done.timestamp() if done is not None else None
                except Exception:
                    logger.warning("reading when the last batch was done failed", exc_info=True)
            return self._done_at

    def _current_fingerprint(self) -> tuple[Any, ...]:
        return (
            *clean_store.history_fingerprint(self.clean),
            production_version(self.client, self.model_name),
        )

    def _read(self) -> History:
        return read_history(self.clean, self.client, self.model_name)

    def _refresh(self, fingerprint: tuple[Any, ...]) -> None:
        try:
            history = self._read()
        except Exception:  # the next check tries again; answers keep the last read meanwhile
            logger.warning("reading the history failed", exc_info=True)
            history = None
        with self._lock:
            if history is not None:
                self._history, self._fingerprint = history, fingerprint
            self._refreshing = None

    def importance(self, version: str) -> dict[str, Any] | None:
        """A version's logged importance (None: it was logged without one); kept once read."""
        if version not in self._importance:
            self._importance[version] = load_importance(self.client, self.model_name, version)
        return self._importance[version]

    def requests_summary(self, since: datetime, until: datetime) -> dict[str, Any]:
        """Counts, latency and predicted prices of the requests received in [since, until)."""
        assert self.raw is not None, "the routes answer 503 without an inference log"
        bucket = _bucket_seconds(until - since)
        summary = summarize_inference(self.raw, since, until, bucket)
        prices: list[float] = []
        requests = 0
        # load_inference_records reads after `since`; timestamps are whole microseconds, so this
        # is the same [since, until) window as the counts
        after = since - timedelta(microseconds=1)
        for record in self._answered(after, until, self.price_sample):
            requests += 1
            prices += _prices(record["outputs"])
            if len(prices) >= self.price_sample:
                break
        quantiles = summary.latency_quantiles_ms
        return {
            "since": since,
            "until": until,
            "total": summary.total,
            "errors": sum(n for code, n in summary.by_status.items() if code >= 400),
            "by_endpoint": summary.by_endpoint,
            "by_status": {str(code): n for code, n in summary.by_status.items()},
            "by_model_version": summary.by_model_version,
            "latency_ms": {
                "mean": summary.latency_mean_ms,
                **{f"p{round(q * 100)}": quantiles.get(q) for q in (0.5, 0.9, 0.95, 0.99)},
            },
            "bucket_seconds": bucket,
            "over_time": [
                {"start": start, "requests": n, "errors": errors, "p95_ms": p95}
                for start, n, errors, p95 in summary.over_time
            ],
            "prices": price_distribution(prices, requests, self.price_sample),
        }

    def _answered(
        self, since: datetime | None, until: datetime | None, most: int
    ) -> Iterator[dict[str, Any]]:
        """Answered pricing requests, newest first, at most `most`, read a page at a time (a list
        request's bodies can hold a thousand listings: never all of them at once)."""
        assert self.raw is not None, "the routes answer 503 without an inference log"
        for offset in range(0, most, _PAGE):
            page = load_inference_records(
                self.raw,
                since=since,
                before=until,
                limit=min(_PAGE, most - offset),
                offset=offset,
                endpoints=PRICED_ENDPOINTS,
                status_code=200,
            )
            yield from page
            if len(page) < _PAGE:
                return

    def predictions(self, limit: int, state: str | None, scan: int) -> dict[str, Any]:
        """The `limit` most recent priced listings (of one state), among the last `scan`
        answered requests."""
        wanted = _state_of({"state": state}) if state else None
        found: list[dict[str, Any]] = []
        scanned = 0
        for record in self._answered(None, datetime.now(UTC), scan):  # a fixed end: stable pages
            scanned += 1
            pairs = zip(_listings(record["inputs"]), _outputs(record["outputs"]), strict=False)
            for listing, output in pairs:
                if not isinstance(listing, Mapping) or not _prices(output):
                    continue
                if wanted is not None and _state_of(listing) != wanted:
                    continue
                found.append(
                    {
                        "request_id": str(record["request_id"]),
                        "received_at": record["received_at"],
                        "endpoint": record["endpoint"],
                        "model_version": record["model_version"],
                        "latency_ms": record["latency_ms"],
                        "listing": dict(listing),
                        "price": _prices(output)[0],
                    }
                )
                if len(found) == limit:
                    break
            if len(found) == limit:
                break
        return {"predictions": found, "count": len(found), "scanned_requests": scanned}
