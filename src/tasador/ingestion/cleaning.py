"""RAW DATA text rows to typed, validated, de-duplicated listings, and why the others were rejected.

Every received row ends up either clean or rejected with exactly one reason: the first rule it
fails, in the order of `RejectReason`. Ranges, statuses, states and the property key come from
`tasador.schema`; nothing here re-declares them. Optional values that are missing stay missing
(XGBoost handles them); only required columns reject a row for being empty.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa

from tasador import schema
from tasador.ingestion import dedup, holdout, parsing
from tasador.ingestion.raw import ROW_NUMBER

logger = logging.getLogger(__name__)

PROPERTY_KEY: Final[str] = "property_key"
LISTING_KEY: Final[str] = "listing_key"
IS_HOLDOUT: Final[str] = "is_holdout"
REASON: Final[str] = "reason"
CLEAN_COLUMNS: Final[tuple[str, ...]] = (
    *schema.COLUMN_NAMES,
    ROW_NUMBER,
    PROPERTY_KEY,
    LISTING_KEY,
    IS_HOLDOUT,
)
REJECTED_COLUMNS: Final[tuple[str, ...]] = (ROW_NUMBER, REASON)

_ZIP: Final[str] = "zip_code"
_DATE: Final[str] = "prev_sold_date"
_SIZE: Final[str] = "house_size"
_SOLD: Final[str] = "sold"


class RejectReason(StrEnum):
    """Why a row was rejected. A row gets the first reason it meets, in this order."""

    MALFORMED_ROW = "malformed_row"  # not a JSON object, or none of the listing's columns
    MISSING_STATUS = "missing_status"  # a required column is empty
    MISSING_PRICE = "missing_price"
    MISSING_STATE = "missing_state"
    UNPARSEABLE_BROKERED_BY = "unparseable_brokered_by"  # text that is not a whole number
    UNPARSEABLE_PRICE = "unparseable_price"  # text that is not a number
    UNPARSEABLE_BED = "unparseable_bed"
    UNPARSEABLE_BATH = "unparseable_bath"
    UNPARSEABLE_ACRE_LOT = "unparseable_acre_lot"
    UNPARSEABLE_STREET = "unparseable_street"
    UNPARSEABLE_ZIP_CODE = "unparseable_zip_code"  # not a whole number from 0 to 99999
    UNPARSEABLE_HOUSE_SIZE = "unparseable_house_size"
    UNPARSEABLE_PREV_SOLD_DATE = "unparseable_prev_sold_date"  # not a real YYYY-MM-DD date
    UNKNOWN_STATUS = "unknown_status"  # not in schema.STATUSES
    UNKNOWN_STATE = "unknown_state"  # not in schema.STATES
    PRICE_OUT_OF_RANGE = "price_out_of_range"  # outside the schema column's minimum/maximum
    BED_OUT_OF_RANGE = "bed_out_of_range"
    BATH_OUT_OF_RANGE = "bath_out_of_range"
    ACRE_LOT_OUT_OF_RANGE = "acre_lot_out_of_range"
    HOUSE_SIZE_OUT_OF_RANGE = "house_size_out_of_range"
    IMPLAUSIBLE_PRICE_PER_SQFT = "implausible_price_per_sqft"  # schema.PRICE_PER_SQFT_RANGE
    PREV_SOLD_DATE_OUT_OF_RANGE = "prev_sold_date_out_of_range"  # schema.PREV_SOLD_DATE_RANGE
    DUPLICATE_ROW = "duplicate_row"  # equal to an earlier row of the same batch
    RELISTED_DUPLICATE = "relisted_duplicate"  # same property and price as a kept row
    DUPLICATE_OF_EARLIER_BATCH = "duplicate_of_earlier_batch"  # listing already in CLEAN DATA

    @classmethod
    def missing(cls, column: str) -> RejectReason:
        """The reason for an empty required `column`."""
        return cls(f"missing_{column}")

    @classmethod
    def unparseable(cls, column: str) -> RejectReason:
        """The reason for unreadable text in `column`."""
        return cls(f"unparseable_{column}")

    @classmethod
    def out_of_range(cls, column: str) -> RejectReason:
        """The reason for a value of `column` outside its schema range."""
        return cls(f"{column}_out_of_range")


_ORDER: Final[dict[RejectReason, int]] = {r: i for i, r in enumerate(RejectReason)}


@dataclass(frozen=True, eq=False)  # frames do not compare to a single bool
class CleaningResult:
    """The clean rows and the rejected ones (`row_number`, `reason`) of one batch.

    Every received row is in exactly one of the two frames.
    """

    clean: pd.DataFrame
    rejected: pd.DataFrame

    @property
    def counts_by_reason(self) -> dict[str, int]:
        """Rejected rows per reason, in the order of `RejectReason`, reasons with none left out."""
        counts = self.rejected[REASON].value_counts()
        present = sorted(counts.index, key=lambda r: _ORDER.get(RejectReason(r), len(_ORDER)))
        return {str(r): int(counts[r]) for r in present}

    @property
    def received(self) -> int:
        """Rows received."""
        return self.kept + self.rejected_count

    @property
    def kept(self) -> int:
        """Clean rows."""
        return len(self.clean)

    @property
    def rejected_count(self) -> int:
        """Rejected rows."""
        return len(self.rejected)


class _Verdicts:
    """Collects rule failures and keeps, per row, the first reason in `RejectReason` order."""

    def __init__(self, size: int) -> None:
        self.rank = np.full(size, len(_ORDER), dtype=np.int16)

    def fail(self, reason: RejectReason, mask: np.ndarray) -> None:
        np.minimum(self.rank, np.where(mask, _ORDER[reason], len(_ORDER)), out=self.rank)

    @property
    def ok(self) -> np.ndarray:
        return self.rank == len(_ORDER)

    def reasons(self, rows: np.ndarray) -> pd.Series:
        names = np.array([str(r) for r in RejectReason], dtype=object)
        return pd.Series(pd.array(names[self.rank[rows]], dtype="string"))


def _outside(values: np.ndarray, low: float | None, high: float | None) -> np.ndarray:
    """Present values below `low` or above `high` (inclusive bounds; NaN is never outside)."""
    with np.errstate(invalid="ignore"):
        below = values < low if low is not None else np.zeros(len(values), dtype=bool)
        above = values > high if high is not None else np.zeros(len(values), dtype=bool)
    return below | above


def _parser(column: schema.Column) -> Callable[[pa.Array], parsing.Parsed] | None:
    """How a column's text is read; None for free text (categories are matched separately)."""
    if column.name == _ZIP:
        return parsing.parse_zip
    if column.role is schema.Role.ID:
        return parsing.parse_code
    if column.role is schema.Role.DATE:
        return parsing.parse_date
    if column.dtype == "float64":
        return parsing.parse_float
    return None


def _parse(raw: pd.DataFrame, verdicts: _Verdicts) -> pd.DataFrame:
    """The typed schema columns; rule failures are recorded in `verdicts`."""
    size = len(raw)
    text = {c: parsing.normalise_text(raw.get(c), size) for c in schema.COLUMN_NAMES}
    present = {c: parsing.present(t) for c, t in text.items()}

    nothing = ~np.logical_or.reduce([present[c] for c in schema.COLUMN_NAMES])
    verdicts.fail(RejectReason.MALFORMED_ROW, nothing)
    for column in schema.COLUMNS:
        if column.required:
            verdicts.fail(RejectReason.missing(column.name), ~present[column.name])

    typed: dict[str, pd.Series] = {}
    for column in schema.COLUMNS:
        parse = _parser(column)
        if parse is None:
            typed[column.name] = parsing.as_string_series(text[column.name])
            continue
        parsed = parse(text[column.name])
        verdicts.fail(RejectReason.unparseable(column.name), parsed.bad)
        typed[column.name] = parsed.values

    status = parsing.parse_choice(text["status"], schema.STATUSES, separators=True)
    verdicts.fail(RejectReason.UNKNOWN_STATUS, status.bad)
    state = parsing.parse_choice(text["state"], schema.STATES)
    verdicts.fail(RejectReason.UNKNOWN_STATE, state.bad)
    typed["status"], typed["state"] = status.values, state.values
    return pd.DataFrame({c: typed[c] for c in schema.COLUMN_NAMES}, copy=False)


def _check_ranges(typed: pd.DataFrame, verdicts: _Verdicts) -> None:
    """Record values outside the schema's ranges."""
    for column in schema.COLUMNS:
        if column.minimum is not None or column.maximum is not None:
            values = typed[column.name].to_numpy(dtype=np.float64)
            outside = _outside(values, column.minimum, column.maximum)
            verdicts.fail(RejectReason.out_of_range(column.name), outside)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_sqft = typed[schema.TARGET].to_numpy() / typed[_SIZE].to_numpy()
    verdicts.fail(
        RejectReason.IMPLAUSIBLE_PRICE_PER_SQFT, _outside(per_sqft, *schema.PRICE_PER_SQFT_RANGE)
    )
    low, high = (pd.Timestamp(d) for d in schema.PREV_SOLD_DATE_RANGE)
    dates = typed[_DATE]
    verdicts.fail(
        RejectReason.PREV_SOLD_DATE_OUT_OF_RANGE,
        (dates.notna() & ((dates < low) | (dates > high))).to_numpy(),
    )


def _check_duplicates(valid: pd.DataFrame, listing_key: np.ndarray) -> tuple[np.ndarray, ...]:
    """Exact duplicates, then relisted duplicates (among the rest), of the valid rows."""
    exact = dedup.mark_exact_duplicates(valid[list(schema.COLUMN_NAMES)])
    rest = np.flatnonzero(~exact)
    is_sold = (valid["status"].iloc[rest] == _SOLD).to_numpy(dtype=bool, na_value=False)
    relisted = _scatter(rest[dedup.mark_relisted(listing_key[rest], is_sold)], len(valid))
    return exact, relisted


def _scatter(rows: np.ndarray, size: int) -> np.ndarray:
    """A boolean mask of `size` that is true at `rows`."""
    mask = np.zeros(size, dtype=bool)
    mask[rows] = True
    return mask


def _row_numbers(raw: pd.DataFrame) -> np.ndarray:
    """The rows' positions in their batch (or in `raw` when it has no `row_number`)."""
    if ROW_NUMBER in raw:
        return raw[ROW_NUMBER].to_numpy(dtype=np.int64)
    return np.arange(len(raw), dtype=np.int64)


def _rejected_frame(row_numbers: np.ndarray, reasons: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {ROW_NUMBER: pd.Series(row_numbers, dtype=np.int64), REASON: reasons.astype("string")}
    )


def clean_listings(raw: pd.DataFrame, *, holdout_fraction: float = 0.2) -> CleaningResult:
    """Type, validate and de-duplicate a batch of raw rows (as from `raw.raw_frame`).

    Text is stripped and null tokens (`''`, `'nan'`, `'null'`...) count as missing; numbers are read
    from any decimal text; ZIP codes are zero-padded; `state` and `status` match their schema values
    ignoring case (and, for status, blanks or hyphens for underscores) and take the canonical form.

    `clean` has the schema columns in their schema dtypes, `row_number`, the stable `property_key`
    and `listing_key` (int64), and `is_holdout`, a pure function of the property. `rejected` has
    `row_number` and the first `RejectReason` each rejected row met.
    """
    if not 0.0 <= holdout_fraction <= 1.0:
        raise ValueError(f"holdout_fraction must be within [0, 1], got {holdout_fraction}")
    size = len(raw)
    verdicts = _Verdicts(size)
    typed = _parse(raw, verdicts)
    _check_ranges(typed, verdicts)

    row_numbers = _row_numbers(raw)
    candidates = np.flatnonzero(verdicts.ok)
    valid = typed.iloc[candidates].reset_index(drop=True)
    valid[ROW_NUMBER] = row_numbers[candidates]
    valid[PROPERTY_KEY] = dedup.property_keys(valid)
    valid[LISTING_KEY] = dedup.listing_keys(valid[PROPERTY_KEY].to_numpy(), valid[schema.TARGET])
    exact, relisted = _check_duplicates(valid, valid[LISTING_KEY].to_numpy())
    verdicts.fail(RejectReason.DUPLICATE_ROW, _scatter(candidates[exact], size))
    verdicts.fail(RejectReason.RELISTED_DUPLICATE, _scatter(candidates[relisted], size))

    clean = valid.loc[~(exact | relisted)].reset_index(drop=True)
    clean[IS_HOLDOUT] = holdout.assign_holdout(clean[PROPERTY_KEY].to_numpy(), holdout_fraction)
    dropped = np.flatnonzero(~verdicts.ok)
    result = CleaningResult(clean, _rejected_frame(row_numbers[dropped], verdicts.reasons(dropped)))
    logger.debug(
        "cleaned %d rows: %d kept, %s", result.received, result.kept, result.counts_by_reason
    )
    return result


def drop_seen(
    result: CleaningResult, seen_listing_keys: Collection[int] | np.ndarray
) -> CleaningResult:
    """Move clean rows whose listing is already in CLEAN DATA to the rejected rows."""
    if isinstance(seen_listing_keys, np.ndarray):
        seen = seen_listing_keys.astype(np.int64, copy=False)
    else:
        seen = np.fromiter(seen_listing_keys, dtype=np.int64, count=len(seen_listing_keys))
    repeated = np.isin(result.clean[LISTING_KEY].to_numpy(), seen)
    if not repeated.any():
        return result
    clean = result.clean.loc[~repeated].reset_index(drop=True)
    moved = result.clean[ROW_NUMBER].to_numpy()[repeated]
    reasons = pd.Series([str(RejectReason.DUPLICATE_OF_EARLIER_BATCH)] * len(moved))
    rejected = pd.concat(
        [result.rejected, _rejected_frame(moved, reasons)], ignore_index=True
    ).sort_values(ROW_NUMBER, kind="stable", ignore_index=True)
    return CleaningResult(clean, rejected)
