"""SIGKILL `tasador run` during ingest and during training; a re-run ends as if nothing happened."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fixtures.loop import FinishedLoop
from tasador.datasource.simulator import create_simulator_app
from tasador.storage import clean_store
from tasador.storage.records import BatchStatus

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Ingest is killed at batch 2 and training at batch 2 (or 3): the re-run resumes it, then goes on
# to the next batch. The test batches after these would only be more rounds of the same.
BATCHES = 4


class HoldResponse:
    """ASGI wrapper: the `hold_at`-th GET /data advances the cursor, then waits before answering."""

    def __init__(self, app: Any, hold_at: int) -> None:
        self.app, self.hold_at, self.count = app, hold_at, 0
        self.reached, self.release = threading.Event(), threading.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/data":
            self.count += 1
            if self.count == self.hold_at:
                messages: list[Any] = []

                async def capture(message: Any) -> None:
                    messages.append(message)

                await self.app(scope, receive, capture)
                self.reached.set()
                while not self.release.is_set():
                    await asyncio.sleep(0.05)
                for message in messages:
                    await send(message)
                return
        await self.app(scope, receive, send)


def start_run(world: Any, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **world.env(), "TASADOR_STATE_DIR": str(log.parent / "state")}
    return subprocess.Popen(
        [sys.executable, "-m", "tasador", "run"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def wait_until(predicate: Any, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 300
    while not predicate():
        if process.poll() is not None:
            pytest.fail(
                f"`tasador run` exited ({process.returncode}) before {what}:\n"
                f"{log.read_text()[-3000:]}"
            )
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def training_in_progress(world: Any, engine: sa.Engine) -> bool:
    for batch in clean_store.list_batches(engine):
        if batch.batch_number >= 2 and batch.status == BatchStatus.DECIDED:
            decision = clean_store.get_decision(engine, batch.batch_id)
            if decision is not None and decision.action == "train":
                return True
    return False


def outcome(world: Any, batches_below: int | None = None) -> dict[str, Any]:
    """What a finished loop left behind (for its batches numbered below `batches_below`), keyed by
    batch number (ids may differ between worlds)."""
    stores = world.stores()
    listed = clean_store.list_batches(stores.clean)
    versions = stores.mlflow.search_model_versions(f"name = '{world.config.model_name}'")
    if batches_below is not None:
        listed = [b for b in listed if b.batch_number < batches_below]
        versions = [v for v in versions if int(v.tags["tasador.batch_number"]) < batches_below]
    batches = {b.batch_id: b for b in listed}
    decisions = [d for d in clean_store.list_decisions(stores.clean) if d.batch_id in batches]
    with stores.raw.connect() as conn:
        raw_rows = dict(
            conn.execute(
                sa.text("SELECT batch_id, count(*) FROM raw_listings GROUP BY batch_id")
            ).all()
        )
    with stores.clean.connect() as conn:
        clean_rows = dict(
            conn.execute(sa.text("SELECT batch_id, count(*) FROM listings GROUP BY batch_id")).all()
        )
    return {
        "batches": sorted(
            (
                b.batch_number,
                b.status,
                b.received,
                b.kept,
                b.rejected,
                raw_rows.get(b.batch_id),
                clean_rows.get(b.batch_id, 0),
                tuple(sorted((b.rejected_by_reason or {}).items())),
            )
            for b in batches.values()
        ),
        "decisions": sorted(
            (batches[d.batch_id].batch_number, d.action, d.trigger, d.promoted) for d in decisions
        ),
        "versions": len(versions),
        "versions_per_batch": Counter(v.tags.get("tasador.batch_id") for v in versions),
    }


def test_sigkill_during_ingest_and_training_then_rerun(
    finished_loop: FinishedLoop, make_world: Any, test_batches: list[Any], tmp_path: Path
) -> None:
    # the same batches and settings, run once without interruption (and on, over later batches)
    expected = outcome(finished_loop.world, batches_below=BATCHES)

    held = HoldResponse(create_simulator_app(test_batches[:BATCHES]), hold_at=3)
    world = make_world(app=held)
    engine = world.stores().clean
    log = tmp_path / "run.log"

    # 1. killed while batch 2 is being fetched: the API's cursor has moved, nothing is stored
    first = start_run(world, log)
    wait_until(held.reached.is_set, first, log, "the third fetch")
    first.send_signal(signal.SIGKILL)
    first.wait()
    held.release.set()
    assert {b.batch_number for b in clean_store.list_batches(engine)} == {0, 1}

    # 2. killed while a later batch is training
    second = start_run(world, log)
    wait_until(lambda: training_in_progress(world, engine), second, log, "a training")
    second.send_signal(signal.SIGKILL)
    second.wait()
    assert second.returncode == -signal.SIGKILL

    # 3. the re-run finishes the work exactly once
    third = start_run(world, log)
    assert third.wait(timeout=600) == 0, log.read_text()[-3000:]

    got = outcome(world)
    assert got["batches"] == expected["batches"]
    assert got["decisions"] == expected["decisions"]
    assert got["versions"] == expected["versions"]
    assert all(count == 1 for count in got["versions_per_batch"].values())
