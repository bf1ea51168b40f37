"""The shapes of the read-only history endpoints: models, batches, importance, request summaries.

They are what the UI reads (`tasador.ui.client` validates every answer with these very models), so
a field changed here is changed for both sides at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class ModelVersionOut(BaseModel):
    """One registered version: what it was trained on, how it did, and what was decided."""

    version: str
    batch_id: int | None = Field(description="the batch whose round trained it")
    batch_number: int | None
    created_at: datetime
    training_rows: int | None
    training_window: str | None
    evaluation_rows: int | None
    metrics: dict[str, float] = Field(
        description="on the evaluation set of its round (rmse_log, r2_log, mae, mape...)"
    )
    status: Literal["production", "promoted", "rejected", "pending"] = Field(
        description="production: holds the alias now; promoted: held it, since replaced; "
        "rejected: never held it; pending: trained, not decided yet"
    )
    reason: str | None = Field(
        description="the promotion rule's verdict in words, with its numbers"
    )
    champion_version: str | None = Field(description="the production version it was compared with")
    champion_metrics: dict[str, float] | None = Field(
        description="the champion's metrics on the same evaluation set"
    )
    trigger: str | None = Field(
        description="why its round trained: first_model, drift, champion_degraded"
    )
    trigger_reason: str | None
    superseded_by: str | None


class ModelsPage(BaseModel):
    """A page of versions, newest first."""

    items: list[ModelVersionOut]
    total: int
    limit: int
    offset: int
    production_version: str | None


class ImportanceTerm(BaseModel):
    name: str
    mean_abs_log: float = Field(description="mean |SHAP| on the evaluation set, in log price")


class ImportanceOut(BaseModel):
    """Global importance of one version, computed when it was trained."""

    version: str
    rows: int = Field(description="evaluation rows it was measured on")
    inputs: list[ImportanceTerm] = Field(description="per listing field, largest first")
    features: list[ImportanceTerm] = Field(description="per model feature, largest first")


class FeatureDriftSummary(BaseModel):
    """One feature's verdict in a batch (the whole test in `/batches/{id}`)."""

    feature: str
    drifted: bool
    effect_size: float
    effect_threshold: float
    psi: float
    psi_threshold: float


class DistributionBinsOut(BaseModel):
    """The reference (the champion's training data) and the batch, as shares of the same bins."""

    labels: list[str]
    reference: list[float]
    current: list[float]
    edges: list[float] | None = Field(None, description="numeric features: the bin edges")


class FeatureDriftOut(FeatureDriftSummary):
    """One feature's test, effect size, PSI and thresholds, and both distributions."""

    kind: Literal["numeric", "categorical"]
    test: Literal["ks", "chi2"]
    statistic: float
    p_value: float
    alpha_corrected: float
    missing_share_reference: float
    missing_share_current: float
    bins: DistributionBinsOut | None


class DriftOut(BaseModel):
    checked: bool = Field(description="false for the first batch: no model to compare with")
    verdict: bool | None
    reason: str
    reference_model_version: str | None
    drifted_features: list[str]
    features: list[FeatureDriftSummary]


class DriftDetailOut(DriftOut):
    features: list[FeatureDriftOut]  # type: ignore[assignment]
    alpha: float | None
    reference_rows: int | None
    current_rows: int | None


class DecisionOut(BaseModel):
    """Train or skip, why, and for a training, the promotion verdict."""

    action: Literal["skip", "train"]
    trigger: str
    reason: str
    model_version: str | None
    promoted: bool | None
    promotion_reason: str | None
    champion_version: str | None
    champion_batch_rmse_log: float | None = Field(
        description="the champion's error on this batch's rows, when there was a champion"
    )


class BatchOut(BaseModel):
    """One batch: rows received, kept, rejected by reason; drift; the decision."""

    id: int
    batch_number: int
    source: str
    group_number: int
    day: str | None
    status: str
    received: int
    kept: int
    rejected: int
    rejected_by_reason: dict[str, int]
    error: str | None
    received_at: datetime | None
    drift: DriftOut | None
    decision: DecisionOut | None


class BatchDetailOut(BatchOut):
    drift: DriftDetailOut | None


class BatchesPage(BaseModel):
    """A page of batches, newest first."""

    items: list[BatchOut]
    total: int
    limit: int
    offset: int


class LatencyOut(BaseModel):
    mean: float | None
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None


class TimeBucketOut(BaseModel):
    start: datetime
    requests: int
    errors: int
    p95_ms: float | None


class PriceDistributionOut(BaseModel):
    """Predicted prices of the most recent answered requests: read newest first until
    `sample_limit` requests or `sample_limit` prices (bounded work, whatever the traffic)."""

    count: int = Field(description="prices in the sample")
    requests_sampled: int
    sample_limit: int
    p10: float | None
    p25: float | None
    p50: float | None
    p75: float | None
    p90: float | None
    histogram_edges: list[float] = Field(description="bin edges in dollars (log-spaced)")
    histogram_counts: list[int]


class RequestsSummaryOut(BaseModel):
    """What the inference log holds for [since, until): counts, latency, predicted prices."""

    since: datetime
    until: datetime
    total: int
    errors: int
    by_endpoint: dict[str, int]
    by_status: dict[str, int]
    by_model_version: dict[str, int]
    latency_ms: LatencyOut
    bucket_seconds: int
    over_time: list[TimeBucketOut]
    prices: PriceDistributionOut


class PredictionRecordOut(BaseModel):
    """One priced listing from the inference log."""

    request_id: str
    received_at: datetime
    endpoint: str
    model_version: str | None
    latency_ms: float | None
    listing: dict[str, object]
    price: float


class PredictionHistoryOut(BaseModel):
    """The most recent priced listings, newest first."""

    predictions: list[PredictionRecordOut]
    count: int
    scanned_requests: int = Field(description="how many recent requests were read to find them")
