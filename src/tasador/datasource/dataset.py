"""Loading a realtor-schema file and cutting it into the batches a data API serves.

`load_dataset` reads CSV, zipped CSV (the public Kaggle `realtor-data.zip.csv` as-is: its name ends
in .csv but it is a zip archive, so the format is told by magic bytes, not by the name) and parquet.
`split_batches` cuts a frame into batches by a named scheme; `"course"` reproduces the PUJ MLOps
course API.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from tasador.schema import COLUMN_NAMES

logger = logging.getLogger(__name__)

_ZIP_MAGIC: Final[bytes] = b"PK\x03\x04"
_PARQUET_MAGIC: Final[bytes] = b"PAR1"
_TEXT_COLUMNS: Final[tuple[str, ...]] = ("status", "city", "state", "zip_code", "prev_sold_date")
_NUMERIC_COLUMNS: Final[tuple[str, ...]] = tuple(c for c in COLUMN_NAMES if c not in _TEXT_COLUMNS)

# Course scheme price bands (USD) and the share of served rows its single-state batch holds
# (4,055 of 1,084,909 rows in the observed 2026 API).
LOW_PRICE_MAX: Final[float] = 300_000
MID_PRICE_MAX: Final[float] = 500_000
SINGLE_STATE_SHARE: Final[float] = 4_055 / 1_084_909


class DatasetError(ValueError):
    """The file cannot be read as a realtor-schema dataset."""


def _read_csv(source: object) -> pd.DataFrame:
    return pd.read_csv(source, dtype={"zip_code": "str"}, keep_default_na=True)  # type: ignore[call-overload]


def _read_zip(path: Path) -> pd.DataFrame:
    with zipfile.ZipFile(path) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        csvs = [m for m in members if m.filename.lower().endswith(".csv")] or members
        if not csvs:
            raise DatasetError(f"{path}: the zip archive holds no file")
        if len(csvs) > 1:
            logger.warning("%s holds %d files; reading %s", path, len(csvs), csvs[0].filename)
        with archive.open(csvs[0]) as handle:
            return _read_csv(handle)


def _normalise_zip(zip_code: pd.Series) -> pd.Series:
    """ZIP codes as 5-character strings; float-formatted codes ('601.0') get their zeros back."""
    text = zip_code.astype("str").str.strip()
    floaty = text.str.fullmatch(r"\d{1,5}\.0+").fillna(False).astype(bool)
    if floaty.any():
        text = text.where(~floaty, text.str.split(".").str[0])
    short = text.str.fullmatch(r"\d{1,4}").fillna(False).astype(bool)
    if short.any():
        text = text.where(~short, text.str.zfill(5))
    return text


def load_dataset(path: Path | str) -> pd.DataFrame:
    """Read a realtor-schema file (CSV, zipped CSV or parquet) into the 12 schema columns.

    The format is told by the file's first bytes. `zip_code` is read as text so leading zeros
    survive (float-formatted codes such as '601.0' are turned back into '00601'); numeric columns
    are float64; extra columns are dropped. Raises `DatasetError` naming any missing column.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic == _ZIP_MAGIC:
        frame = _read_zip(path)
    elif magic == _PARQUET_MAGIC:
        frame = pd.read_parquet(path)
    else:
        frame = _read_csv(path)
    missing = [c for c in COLUMN_NAMES if c not in frame.columns]
    if missing:
        raise DatasetError(
            f"{path}: missing column(s) {', '.join(missing)}; expected the realtor schema "
            f"({', '.join(COLUMN_NAMES)})"
        )
    extra = [c for c in frame.columns if c not in COLUMN_NAMES]
    if extra:
        logger.info("%s: ignoring extra column(s) %s", path, ", ".join(map(str, extra)))
    frame = frame.loc[:, list(COLUMN_NAMES)]
    for column in _NUMERIC_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in _TEXT_COLUMNS:
        frame[column] = frame[column].astype("str")
    frame["zip_code"] = _normalise_zip(frame["zip_code"])
    logger.info("loaded %d rows from %s", len(frame), path)
    return frame.reset_index(drop=True)


def complete_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows with a value in every schema column, in file order (original index kept)."""
    return frame.loc[frame[list(COLUMN_NAMES)].notna().all(axis=1)]


def _single_state(low: pd.DataFrame, served: int) -> str | None:
    """The state whose low-price row count is closest to `SINGLE_STATE_SHARE` of served rows."""
    counts = low["state"].value_counts()
    if counts.empty:
        return None
    gap = (counts - SINGLE_STATE_SHARE * served).abs()
    best = gap[gap == gap.min()]
    return str(sorted(best.index)[0])


def split_batches_course(frame: pd.DataFrame) -> list[pd.DataFrame]:
    """The PUJ MLOps course API's six batches (DATA_API.md), from complete rows in file order.

    0. non-sold rows priced <= $300k, first half (by row count, file order);
    1. the same, second half;
    2. sold rows priced <= $300k;
    3. one small single-state batch: every row <= $300k of the state whose count of such rows is
       closest to 0.37% of all served rows (the observed 4,055 of 1,084,909; ties: first by name).
       Its rows are taken out of batches 0-2;
    4. all rows priced in ($300k, $500k];
    5. all rows priced above $500k.
    Only complete cases are served (the course API served no nulls), so ready_to_build rows, which
    never have a bath, do not appear in real data; any complete non-sold row counts as for_sale.
    Batches are disjoint, cover every complete row once and keep the frame's index; a tiny frame
    may give empty batches, but there are always six.
    """
    served = complete_rows(frame)
    price = served["price"].to_numpy(dtype=np.float64)
    low = served.loc[price <= LOW_PRICE_MAX]
    state = _single_state(low, len(served))
    in_single = (low["state"] == state).to_numpy()
    rest = low.loc[~in_single]
    is_sold = (rest["status"] == "sold").to_numpy()
    listed = rest.loc[~is_sold]
    half = (len(listed) + 1) // 2
    return [
        listed.iloc[:half],
        listed.iloc[half:],
        rest.loc[is_sold],
        low.loc[in_single],
        served.loc[(price > LOW_PRICE_MAX) & (price <= MID_PRICE_MAX)],
        served.loc[price > MID_PRICE_MAX],
    ]


BATCHING_SCHEMES: Final[dict[str, Callable[[pd.DataFrame], list[pd.DataFrame]]]] = {
    "course": split_batches_course,
}


def split_batches(frame: pd.DataFrame, scheme: str = "course") -> list[pd.DataFrame]:
    """Cut `frame` into the batches of the named scheme (see `BATCHING_SCHEMES`)."""
    try:
        split = BATCHING_SCHEMES[scheme]
    except KeyError:
        known = ", ".join(sorted(BATCHING_SCHEMES))
        raise ValueError(f"unknown batching scheme {scheme!r}; known: {known}") from None
    return split(frame)
