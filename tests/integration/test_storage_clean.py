"""CLEAN DATA: forward-only batch states, exact re-runs, typed listings, drift, decisions."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from tasador import schema
from tasador.storage.clean_store import (
    advance_batch,
    find_seen_listing_keys,
    get_batch,
    get_decision,
    get_drift_report,
    list_batches,
    list_decisions,
    list_fetch_events,
    load_listings,
    max_fetched_batch_number,
    record_batch_error,
    record_fetch_event,
    register_batch,
    store_clean_rows,
    store_decision,
    store_drift_report,
    unfinished_batches,
)
from tasador.storage.engine import make_engine
from tasador.storage.migrate import migrate
from tasador.storage.records import BatchStatus, DecisionRecord, IllegalTransitionError

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(make_database: Callable[[str], str]) -> Iterator[sa.Engine]:
    url = make_database("clean")
    migrate(url, "clean")
    engine = make_engine(url)
    yield engine
    engine.dispose()


def clean_frame(row_numbers: list[int], keys: list[int], holdout: list[bool]) -> pd.DataFrame:
    """A CLEAN frame by hand, with the contract's dtypes and some missing values."""
    n = len(row_numbers)
    cycle = np.arange(n) % 3
    data: dict[str, object] = {
        "brokered_by": pd.array([[101, None, 2**40][i] for i in cycle]),
        "status": pd.array([["sold", "for_sale", "ready_to_build"][i] for i in cycle]),
        "price": np.array([250_000.0, 0.1 + 0.2, 1e8])[cycle],
        "bed": np.array([3.0, np.nan, 1.0])[cycle],
        "bath": np.array([2.5, 1.0, np.nan])[cycle],
        "acre_lot": np.array([0.12, 1 / 3, np.nan])[cycle],
        "street": pd.array([[None, 7, 123456789012][i] for i in cycle]),
        "city": pd.array([['Quote "Q" City', None, "tab\tnew\nline"][i] for i in cycle]),
        "state": pd.array([["Ohio", "Puerto Rico", "Texas"][i] for i in cycle]),
        "zip_code": pd.array([["00501", "", None][i] for i in cycle]),
        "house_size": np.array([1500.0, 2222.5, np.nan])[cycle],
        "prev_sold_date": pd.to_datetime(
            np.array(["1999-12-31", "NaT", "2021-02-28"], dtype="datetime64[s]")[cycle]
        ),
    }
    frame = pd.DataFrame(data)
    for column in schema.COLUMNS:
        frame[column.name] = frame[column.name].astype(column.dtype)
    frame["row_number"] = np.array(row_numbers, dtype=np.int64)
    frame["property_key"] = np.array(keys, dtype=np.int64) * 7
    frame["listing_key"] = np.array(keys, dtype=np.int64)
    frame["is_holdout"] = np.array(holdout, dtype=bool)
    return frame


def rejected_frame(row_numbers: list[int], reasons: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row_number": np.array(row_numbers, dtype=np.int64),
            "reason": pd.array(reasons, dtype="string"),
        }
    )


def register(engine: sa.Engine, batch_id: int, received: int = 5) -> None:
    register_batch(
        engine,
        batch_id=batch_id,
        source="api",
        group_number=1,
        day="Tuesday",
        batch_number=batch_id - 1,
        received=received,
    )


def fill(engine: sa.Engine, batch_id: int, keys: list[int], holdout: list[bool]) -> pd.DataFrame:
    register(engine, batch_id, received=len(keys) + 1)
    clean = clean_frame(list(range(len(keys))), keys, holdout)
    store_clean_rows(
        engine,
        batch_id,
        clean=clean,
        rejected=rejected_frame([len(keys)], ["missing price"]),
        counts_by_reason={"missing price": 1},
    )
    return clean


def count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_register_is_idempotent_and_keeps_status(engine: sa.Engine) -> None:
    register(engine, 1)
    advance_batch(engine, 1, BatchStatus.CLEANED)
    register(engine, 1, received=9)
    record = get_batch(engine, 1)
    assert record is not None
    assert (record.status, record.received, record.day, record.batch_number) == (
        BatchStatus.CLEANED, 9, "Tuesday", 0,
    )  # fmt: skip
    assert get_batch(engine, 2) is None
    assert [b.batch_id for b in list_batches(engine)] == [1]


def test_states_move_forward_only(engine: sa.Engine) -> None:
    register(engine, 1)
    advance_batch(engine, 1, BatchStatus.CLEANED)
    advance_batch(engine, 1, BatchStatus.CLEANED)  # staying put is allowed
    advance_batch(engine, 1, BatchStatus.DECIDED)  # skipping forward is allowed
    with pytest.raises(IllegalTransitionError, match="cannot move back"):
        advance_batch(engine, 1, BatchStatus.DRIFT_CHECKED)
    assert get_batch(engine, 1).status is BatchStatus.DECIDED  # type: ignore[union-attr]
    with pytest.raises(IllegalTransitionError, match="not registered"):
        advance_batch(engine, 99, BatchStatus.CLEANED)


def test_advance_joins_the_callers_transaction(engine: sa.Engine) -> None:
    register(engine, 1)

    def crash_after_the_move() -> None:
        with engine.begin() as conn:
            advance_batch(engine, 1, BatchStatus.DONE, conn=conn)
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        crash_after_the_move()
    assert get_batch(engine, 1).status is BatchStatus.RECEIVED  # type: ignore[union-attr]


def test_unfinished_batches_skip_done_ones(engine: sa.Engine) -> None:
    for batch_id in (3, 1, 2):
        register(engine, batch_id)
    advance_batch(engine, 2, BatchStatus.DONE)
    assert [b.batch_id for b in unfinished_batches(engine)] == [1, 3]


def test_store_clean_rows_twice_gives_the_same_rows(engine: sa.Engine) -> None:
    clean = fill(engine, 1, [10, 11, 12, 13], [False, True, False, False])
    store_clean_rows(
        engine,
        1,
        clean=clean,
        rejected=rejected_frame([4], ["missing price"]),
        counts_by_reason={"missing price": 1},
    )
    assert count(engine, "listings") == 4
    assert count(engine, "rejected_rows") == 1
    record = get_batch(engine, 1)
    assert record is not None
    assert (record.status, record.kept, record.rejected, record.rejected_by_reason) == (
        BatchStatus.CLEANED, 4, 1, {"missing price": 1},
    )  # fmt: skip
    with engine.connect() as conn:
        reasons = conn.execute(sa.text("SELECT row_number, reason FROM rejected_rows")).all()
    assert reasons == [(4, "missing price")]


def test_clean_rows_round_trip_with_types(engine: sa.Engine) -> None:
    clean = fill(engine, 1, [10, 11, 12, 13, 14, 15], [False] * 6)
    back = load_listings(engine)
    assert back["batch_id"].tolist() == [1] * 6
    assert back["batch_id"].dtype == np.int64
    for column in schema.COLUMNS:
        assert str(back[column.name].dtype) == str(clean[column.name].dtype), column.name
    for name in ("row_number", "property_key", "listing_key"):
        assert back[name].dtype == np.int64
    assert back["is_holdout"].dtype == bool
    pd.testing.assert_frame_equal(
        back.drop(columns="batch_id"), clean[back.columns[:-1]], check_exact=True
    )


def test_rerun_after_a_later_step_keeps_the_status(engine: sa.Engine) -> None:
    clean = fill(engine, 1, [1, 2], [False, False])
    advance_batch(engine, 1, BatchStatus.DECIDED)
    store_clean_rows(
        engine, 1, clean=clean.head(1), rejected=rejected_frame([], []), counts_by_reason={}
    )
    record = get_batch(engine, 1)
    assert record is not None
    assert (record.status, record.kept, record.rejected) == (BatchStatus.DECIDED, 1, 0)


def test_clean_rows_of_an_unknown_batch_are_refused(engine: sa.Engine) -> None:
    with pytest.raises(IllegalTransitionError):
        store_clean_rows(
            engine,
            5,
            clean=clean_frame([0], [1], [False]),
            rejected=rejected_frame([], []),
            counts_by_reason={},
        )
    assert count(engine, "listings") == 0


def test_find_seen_listing_keys(engine: sa.Engine) -> None:
    fill(engine, 1, [10, 11, 12], [False] * 3)
    fill(engine, 2, [12, 13], [False] * 2)
    keys = np.array([13, 12, 11, 99, 11], dtype=np.int64)
    assert find_seen_listing_keys(engine, keys, exclude_batch=2).tolist() == [11, 12]
    assert find_seen_listing_keys(engine, keys, exclude_batch=1).tolist() == [12, 13]
    assert find_seen_listing_keys(engine, keys, exclude_batch=3).tolist() == [11, 12, 13]
    empty = find_seen_listing_keys(engine, np.array([], dtype=np.int64), exclude_batch=1)
    assert empty.dtype == np.int64
    assert empty.size == 0


def test_load_listings_filters(engine: sa.Engine) -> None:
    fill(engine, 1, [1, 2, 3], [False, True, False])
    fill(engine, 2, [4, 5], [True, False])
    fill(engine, 3, [6], [False])
    register(engine, 4)  # received, not cleaned: never counts as one of the last batches

    def keys(**filters: object) -> list[int]:
        return load_listings(engine, **filters)["listing_key"].tolist()  # type: ignore[arg-type]

    assert keys() == [1, 2, 3, 4, 5, 6]
    assert keys(holdout=True) == [2, 4]
    assert keys(holdout=False) == [1, 3, 5, 6]
    assert keys(up_to_batch=2) == [1, 2, 3, 4, 5]
    assert keys(batch_ids=[3, 1]) == [1, 2, 3, 6]
    assert keys(last_n_batches=2) == [4, 5, 6]
    assert keys(last_n_batches=1, up_to_batch=2) == [4, 5]
    assert keys(last_n_batches=2, holdout=False, up_to_batch=2) == [1, 3, 5]
    assert keys(batch_ids=[]) == []
    empty = load_listings(engine, batch_ids=[42])
    assert len(empty) == 0
    assert empty["price"].dtype == np.float64
    assert str(empty["prev_sold_date"].dtype) == "datetime64[s]"


def test_drift_report_round_trips_and_advances(engine: sa.Engine) -> None:
    register(engine, 1)
    advance_batch(engine, 1, BatchStatus.CLEANED)
    report = {"features": {"bed": {"ks": np.float64(0.3), "p": 1e-9, "drifted": np.bool_(True)}}}
    store_drift_report(
        engine, 1, reference_model_version="4", verdict=True, reason="bed shifted", report=report
    )
    stored = get_drift_report(engine, 1)
    assert stored is not None
    assert (stored.reference_model_version, stored.verdict, stored.reason) == (
        "4", True, "bed shifted",
    )  # fmt: skip
    assert stored.report == {"features": {"bed": {"ks": 0.3, "p": 1e-9, "drifted": True}}}
    assert get_batch(engine, 1).status is BatchStatus.DRIFT_CHECKED  # type: ignore[union-attr]
    store_drift_report(
        engine, 1, reference_model_version=None, verdict=False, reason="no model", report={}
    )
    assert get_drift_report(engine, 1).reason == "no model"  # type: ignore[union-attr]
    assert count(engine, "drift_reports") == 1
    assert get_drift_report(engine, 2) is None


def test_decisions_upsert_and_advance(engine: sa.Engine) -> None:
    register(engine, 1)
    register(engine, 2)
    store_decision(
        engine,
        DecisionRecord(batch_id=1, action="train", trigger="drift", reason="bed drifted"),
    )
    assert get_batch(engine, 1).status is BatchStatus.DECIDED  # type: ignore[union-attr]
    trained = DecisionRecord(
        batch_id=1,
        action="train",
        trigger="drift",
        reason="bed drifted",
        model_version="5",
        promoted=False,
        promotion_reason="challenger RMSE 0.41 is not 1% below champion's 0.40",
        champion_version="4",
        challenger_metrics={"rmse_log": np.float64(0.41)},
        champion_metrics={"rmse_log": 0.40},
    )
    store_decision(engine, trained, status=BatchStatus.DONE)
    store_decision(engine, DecisionRecord(batch_id=2, action="skip", trigger="none", reason="ok"))
    got = get_decision(engine, 1)
    assert got is not None
    assert got.model_version == "5"
    assert got.promoted is False
    assert got.challenger_metrics == {"rmse_log": 0.41}
    assert got.created_at is not None
    assert got.updated_at is not None
    assert got.updated_at >= got.created_at
    assert get_batch(engine, 1).status is BatchStatus.DONE  # type: ignore[union-attr]
    assert [d.batch_id for d in list_decisions(engine)] == [1, 2]
    assert get_decision(engine, 3) is None
    with pytest.raises(ValueError, match="action"):
        store_decision(engine, DecisionRecord(batch_id=2, action="maybe", trigger="", reason=""))


def test_batch_error_and_fetch_events(engine: sa.Engine) -> None:
    register(engine, 1)
    record_batch_error(engine, 1, "training timed out")
    assert get_batch(engine, 1).error == "training timed out"  # type: ignore[union-attr]
    record_batch_error(engine, 1, None)
    assert get_batch(engine, 1).error is None  # type: ignore[union-attr]
    key = ("api", 1, "Tuesday")
    assert max_fetched_batch_number(engine, *key) is None
    record_fetch_event(engine, *key, outcome="ok", batch_number=0, attempts=1, error=None)
    record_fetch_event(engine, *key, outcome="retried_ok", batch_number=3, attempts=2, error="503")
    record_fetch_event(engine, "api", 1, None, outcome="ok", batch_number=7, attempts=1, error=None)
    record_fetch_event(engine, *key, outcome="finished", batch_number=None, attempts=2, error="400")
    events = list_fetch_events(engine)
    assert [(e.outcome, e.batch_number, e.attempts, e.error) for e in events] == [
        ("finished", None, 2, "400"),
        ("ok", 7, 1, None),
        ("retried_ok", 3, 2, "503"),
        ("ok", 0, 1, None),
    ]
    assert len(list_fetch_events(engine, limit=1)) == 1
    assert max_fetched_batch_number(engine, *key) == 3
    assert max_fetched_batch_number(engine, "api", 1, None) == 7


def test_rejected_rows_after_concat_with_an_empty_frame_store_exactly(engine: sa.Engine) -> None:
    """pandas' concat of an empty and a non-empty string column must still COPY its real text."""
    register(engine, 1)
    empty = pd.DataFrame(
        {"row_number": np.array([], dtype="int64"), "reason": pd.Series([], dtype="string")}
    )
    moved = pd.DataFrame(
        {
            "row_number": np.array([4], dtype="int64"),
            "reason": pd.Series(["duplicate_of_earlier_batch"], dtype="string"),
        }
    )
    rejected = pd.concat([empty, moved], ignore_index=True)
    store_clean_rows(
        engine,
        1,
        clean=clean_frame([1], [11], [False]),
        rejected=rejected,
        counts_by_reason={"duplicate_of_earlier_batch": 1},
    )
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT row_number, reason FROM rejected_rows")).all()
    assert [tuple(r) for r in rows] == [(4, "duplicate_of_earlier_batch")]
