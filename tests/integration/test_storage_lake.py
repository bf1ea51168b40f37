"""The data lake: every batch's RAW and CLEAN rows as one Parquet object each, in a real S3 bucket
(SeaweedFS), written once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pytest
import sqlalchemy as sa

from fixtures.http import free_port
from fixtures.loop import LoopWorld
from tasador.pipeline import export_batch, run_loop
from tasador.platform.seaweedfs import SeaweedS3
from tasador.storage import clean_store
from tasador.storage.lake import DataLake, s3_lake
from tasador.storage.objects import list_keys
from tasador.storage.tables import raw_batches


def test_every_batch_lands_once_in_both_prefixes(
    make_world: Callable[..., LoopWorld], seaweed: SeaweedS3
) -> None:
    world = make_world(n_trials=1)
    lake = s3_lake(seaweed.endpoint_url, seaweed.credentials, seaweed.bucket)
    stores = replace(world.stores(), lake=lake)
    results = run_loop(world.client(), stores, world.config, rounds=3)
    assert len(results) == 3
    batches = clean_store.list_batches(stores.clean)
    ids = [b.batch_id for b in batches]
    assert lake.batches("raw") == lake.batches("clean") == ids
    with stores.raw.connect() as conn:
        received = dict(conn.execute(sa.select(raw_batches.c.id, raw_batches.c.row_count)).all())
    for batch in batches:
        assert lake.rows("raw", batch.batch_id) == received[batch.batch_id] == batch.received
        assert lake.rows("clean", batch.batch_id) == batch.kept
    keys = list_keys(seaweed.endpoint_url, seaweed.credentials, seaweed.bucket)
    assert len([k for k in keys if k.startswith("data-raw/")]) == 3
    assert len([k for k in keys if k.startswith("data-clean/")]) == 3
    # a re-run writes nothing, and changes no object
    before = {k: _etag(seaweed, k) for k in keys}
    assert all(export_batch(stores, b) == [] for b in batches)
    assert {k: _etag(seaweed, k) for k in keys} == before


def _etag(server: SeaweedS3, key: str) -> Any:
    from tasador.storage.objects import s3_client

    head = s3_client(server.endpoint_url, server.credentials).head_object(
        Bucket=server.bucket, Key=key
    )
    return head["ETag"]


def test_a_folder_lake_never_shows_half_an_object(tmp_path: Path) -> None:
    import pandas as pd

    lake = DataLake(pafs.LocalFileSystem(), str(tmp_path / "lake"))
    frame = pd.DataFrame({"price": [1.0, 2.0], "state": ["Ohio", None]})
    assert lake.write("clean", 7, frame) is True
    assert lake.write("clean", 7, frame.head(1)) is False  # written once
    assert lake.rows("clean", 7) == 2
    assert lake.batches("clean") == [7]
    assert lake.batches("raw") == []
    assert sorted(p.name for p in (tmp_path / "lake" / "data-clean").iterdir()) == [
        "batch-000000007.parquet"
    ]


def test_a_lake_that_is_down_fails_the_round_and_the_next_run_finishes_it(
    make_world: Callable[..., LoopWorld], seaweed: SeaweedS3
) -> None:
    world = make_world(n_trials=1)
    down = s3_lake(f"http://127.0.0.1:{free_port()}", seaweed.credentials, seaweed.bucket)
    stores = world.stores()
    with pytest.raises(OSError, match=r"(?i)connect|network|curl"):
        run_loop(world.client(), replace(stores, lake=down), world.config, rounds=1)
    (batch,) = clean_store.list_batches(stores.clean)
    assert batch.status != "done"  # the copy is part of the round: not done without it
    lake = s3_lake(seaweed.endpoint_url, seaweed.credentials, seaweed.bucket)
    results = run_loop(world.client(), replace(stores, lake=lake), world.config, rounds=0)
    assert [r.batch_id for r in results] == [batch.batch_id]  # resumed, not fetched again
    assert lake.batches("raw") == lake.batches("clean") == [batch.batch_id]
    assert clean_store.get_batch(stores.clean, batch.batch_id).status == "done"
