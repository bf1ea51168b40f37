"""The loop over a real sample of the public file (Kaggle format), served as the course API does."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasador.datasource.dataset import complete_rows, load_dataset, split_batches
from tasador.datasource.simulator import create_simulator_app
from tasador.pipeline import run_loop
from tasador.storage import clean_store
from tasador.storage.records import BatchStatus

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "realtor"


def test_loop_over_the_real_random_sample(make_world) -> None:
    path = SAMPLES / "realtor_random5k_2024.csv"
    if not path.exists():
        pytest.skip(f"realtor samples not found at {SAMPLES.resolve()}")
    frame = load_dataset(path)
    batches = split_batches(frame)
    world = make_world(app=create_simulator_app(batches))
    stores = world.stores()
    with world.client() as client:
        results = run_loop(client, stores, world.config)

    served = len(complete_rows(frame))
    assert sum(r.received for r in results) == served
    records = clean_store.list_batches(stores.clean)
    assert all(b.status == BatchStatus.DONE for b in records)
    received = sum(b.received for b in records)
    rejected = sum(b.rejected for b in records)
    # complete rows of a real file: a few $1 prices and absurd sizes, nothing like half the file
    assert 0 < rejected < 0.10 * received
    reasons = {reason for b in records for reason in (b.rejected_by_reason or {})}
    assert reasons
    assert reasons <= {
        "price_out_of_range",
        "implausible_price_per_sqft",
        "house_size_out_of_range",
        "acre_lot_out_of_range",
        "bed_out_of_range",
        "bath_out_of_range",
        "relisted_duplicate",
        "duplicate_row",
        "duplicate_of_earlier_batch",
        "prev_sold_date_out_of_range",
    }
    decisions = clean_store.list_decisions(stores.clean)
    assert len(decisions) == len(batches)
    assert any(d.promoted for d in decisions)
