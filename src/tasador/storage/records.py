"""Typed records of the stores, as other parts of tasador receive them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final


class BatchStatus(StrEnum):
    """Where a batch is in the loop. Statuses only move forward; a crash leaves the status where
    it was, and re-running the round resumes from there."""

    RECEIVED = "received"
    CLEANED = "cleaned"
    DRIFT_CHECKED = "drift_checked"
    DECIDED = "decided"
    TRAINED = "trained"
    DONE = "done"

    @property
    def rank(self) -> int:
        """Position in the forward order (received is 0)."""
        return STATUS_ORDER.index(self)


STATUS_ORDER: Final[tuple[BatchStatus, ...]] = tuple(BatchStatus)


class BatchConflict(Exception):  # noqa: N818 (name fixed by the contract)
    """A batch with the same identity was already stored with different content."""


class IllegalTransitionError(ValueError):
    """A batch status was asked to move backwards, or the batch does not exist."""


@dataclass(frozen=True, slots=True)
class StoredBatch:
    """The outcome of storing a raw batch: its id, and whether this call wrote it."""

    batch_id: int
    created: bool


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """One batch in CLEAN DATA: identity, status and row counts."""

    batch_id: int
    source: str
    group_number: int
    day: str | None
    batch_number: int
    status: BatchStatus
    received: int
    kept: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DriftRecord:
    """A stored drift report of one batch against a reference model's training data."""

    batch_id: int
    reference_model_version: str | None
    verdict: bool
    reason: str
    report: dict[str, Any]
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """What the loop decided for one batch (skip or train) and, after training, the promotion."""

    batch_id: int
    action: str  # "skip" | "train"
    trigger: str
    reason: str
    model_version: str | None = None
    promoted: bool | None = None
    promotion_reason: str | None = None
    champion_version: str | None = None
    challenger_metrics: dict[str, float] | None = None
    champion_metrics: dict[str, float] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FetchEvent:
    """One attempt to fetch a batch from the data API, as recorded."""

    id: int
    at: datetime
    source: str
    group_number: int
    day: str | None
    outcome: str
    batch_number: int | None
    attempts: int
    error: str | None


@dataclass(frozen=True, slots=True)
class RawBatchRecord:
    """One batch stored in RAW DATA."""

    batch_id: int
    batch_number: int
    row_count: int
    content_hash: str


@dataclass(frozen=True)
class RunBatch:
    """The batch an orchestrator run took; `batch_id` None: the data API had no more."""

    run_key: str
    batch_id: int | None
