"""The inference log: every request goes to RAW DATA off the request path, and none is lost.

`submit` only appends to an in-memory queue. One writer thread drains it in batches, one COPY per
batch. An optional `prepare` step (the RAW DATA migrations, for `tasador serve`) runs before the
first write and is retried like a write until it succeeds. While PostgreSQL is unreachable,
failed batches and the oldest records beyond `max_queue` go to a local spill file (JSON lines),
which is replayed when the database is back; the replay is idempotent (the table's key is the
request id), so a crash in the middle never duplicates a record.

Spill files: `spill_path` only ever grows by appends. To replay it, the writer renames it to
`<spill_path>.replay` (new spills start a fresh `spill_path`) and writes that file to the database
chunk by chunk, recording in `<spill_path>.replay.offset` how far it has got; the offset is replaced
atomically after each committed chunk, and both files are removed when the replay is done.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import orjson
import psycopg
import sqlalchemy as sa

from tasador.storage.raw_store import write_inference_records

__all__ = ["InferenceLog"]

logger = logging.getLogger(__name__)

WARN_EVERY_SECONDS: Final[float] = 30.0
_JSON_OPTIONS: Final[int] = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE
# Errors that say a record itself is bad: retrying cannot help, so such a record is dropped (with an
# error log). Any other error (connection refused, server shutting down, missing table) is treated
# as the database being unavailable: the records are kept and retried.
_DATA_ERRORS: Final = (
    psycopg.DataError,
    psycopg.IntegrityError,
    sa.exc.DataError,
    sa.exc.IntegrityError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
)


_FRAGMENT: Final[str] = "__tasador_fragment_base64__"


def record_line(record: Mapping[str, Any]) -> bytes:
    """One record as one JSON line (UUIDs, datetimes and numpy values as JSON).

    A body kept as the bytes received (`orjson.Fragment`) may hold line breaks, or bytes that are
    not UTF-8: it is written in base64, so every record is exactly one line.
    """
    line = {
        key: {_FRAGMENT: base64.b64encode(orjson.dumps(value)).decode("ascii")}
        if isinstance(value, orjson.Fragment)
        else value
        for key, value in record.items()
    }
    return orjson.dumps(line, option=_JSON_OPTIONS, default=str)


def parse_record_line(line: bytes) -> dict[str, Any]:
    """The record of one spill-file line, with `received_at` back as a datetime and bodies back
    as the bytes received."""
    record = orjson.loads(line)
    if not isinstance(record, dict):
        raise ValueError(f"spill line is not a JSON object: {line[:80]!r}")
    received = record.get("received_at")
    if isinstance(received, str):
        record["received_at"] = datetime.fromisoformat(received)
    for key, value in record.items():
        if isinstance(value, dict) and len(value) == 1 and _FRAGMENT in value:
            record[key] = orjson.Fragment(base64.b64decode(value[_FRAGMENT]))
    return record


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _count_lines(path: Path, offset: int = 0) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        f.seek(offset)
        return sum(1 for line in f if line.strip())


class InferenceLog:
    """A never-blocking, bounded, crash-safe queue of inference records in front of RAW DATA.

    Thread-safe: `submit` may be called from any thread or event loop. Records are dicts with the
    `inference_requests` columns; they must not be mutated after `submit`.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        spill_path: Path,
        max_queue: int = 100_000,
        batch_size: int = 2_000,
        flush_seconds: float = 0.5,
        retry_initial: float = 0.5,
        retry_max: float = 10.0,
        prepare: Callable[[], None] | None = None,
    ) -> None:
        if max_queue < 1 or batch_size < 1:
            raise ValueError("max_queue and batch_size must be positive")
        self._engine = engine
        self._spill_path = Path(spill_path)
        self._replay_path = self._spill_path.with_name(self._spill_path.name + ".replay")
        self._offset_path = self._spill_path.with_name(self._spill_path.name + ".replay.offset")
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._prepare = prepare  # run (and retried) before the first write: migrations, say

        self._queue: deque[Mapping[str, Any]] = deque()
        self._cond = threading.Condition(threading.Lock())  # guards _queue, _inflight, _closing
        self._inflight = 0
        self._closing = False
        self._stop = threading.Event()  # interrupts the back-off wait on close
        self._spill_lock = threading.Lock()  # guards the spill files and _spilled
        self._spilled = 0
        self._spill_dirty = False
        self._thread: threading.Thread | None = None

        self._write_failures = 0
        self._written = 0
        self._rejected = 0
        self._lost = 0
        self._last_warning: float | None = None
        self._failing_since: float | None = None

    # -- public ------------------------------------------------------------------------------------

    @property
    def write_failures(self) -> int:
        """Failed attempts to write to the database, since start."""
        return self._write_failures

    @property
    def failing(self) -> bool:
        """The database refuses writes now: records wait in memory or the spill file."""
        return self._failing_since is not None

    @property
    def written(self) -> int:
        """Records committed to the database (or found already there on a replay)."""
        return self._written

    @property
    def rejected(self) -> int:
        """Records the database refused as invalid (logged and dropped)."""
        return self._rejected

    @property
    def lost(self) -> int:
        """Records that could not even be written to the spill file (disk full, say)."""
        return self._lost

    @property
    def queued(self) -> int:
        """Records waiting in memory: at most `max_queue` (plus one batch being written)."""
        with self._cond:
            return len(self._queue)

    def depth(self) -> int:
        """Records not yet in the database: in memory, being written, or in the spill file."""
        with self._cond:
            memory = len(self._queue) + self._inflight
        return memory + self._spilled

    def start(self) -> None:
        """Start the writer thread; it first replays records spilled by a previous run."""
        if self._thread is not None:
            return
        self._recover_spill_files()
        self._thread = threading.Thread(target=self._run, name="inference-log", daemon=True)
        self._thread.start()

    def submit(self, record: Mapping[str, Any]) -> None:
        """Queue one record for the database; never blocks on the database, never raises."""
        try:
            overflow: list[Mapping[str, Any]] = []
            with self._cond:
                if self._closing:
                    overflow.append(record)
                else:
                    self._queue.append(record)
                    excess = len(self._queue) - self._max_queue
                    if excess > 0:
                        # Move a chunk of the oldest at once, so this happens rarely.
                        chunk = max(1, min(self._batch_size, self._max_queue // 10))
                        take = min(len(self._queue), excess + chunk)
                        overflow = [self._queue.popleft() for _ in range(take)]
                    elif len(self._queue) >= self._batch_size:
                        self._cond.notify()
            if overflow:
                self._spill(overflow, fsync=self._closing)
        except Exception:  # pragma: no cover - the request path must not fail because of logging
            self._lost += 1
            logger.exception("could not queue an inference record")

    def close(self, timeout: float = 30) -> None:
        """Stop accepting, write what can be written; what cannot goes to the spill file."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._stop.set()
        if self._thread is None:
            self._recover_spill_files()
            self._run()
        else:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("inference log writer still busy after %.0f s; spilling", timeout)
        with self._cond:
            rest = list(self._queue)
            self._queue.clear()
        if rest:
            self._spill(rest, fsync=True)
        self._sync_spill()
        left = self.depth()
        logger.info(
            "inference log closed: %d written, %d left in %s", self._written, left, self._spill_path
        )

    # -- writer thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self._retry_initial
        while True:
            batch: list[Mapping[str, Any]] = []
            try:
                if self._prepare is not None:
                    self._prepare()
                    self._prepare = None
                self._sync_spill()
                if self._spilled:
                    self._replay()
                batch = self._take()
                if batch:
                    stored = self._write(batch, skip_existing=False)
                    self._done(stored)
                self._recovered()
                delay = self._retry_initial
            except Exception as exc:  # the database is unavailable: keep everything, retry later
                self._write_failures += 1
                self._warn(exc)
                if batch:
                    self._spill(batch, fsync=True)
                    self._done(0)
                if self._closing:
                    return  # close() spills what is left in memory
                self._stop.wait(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            with self._cond:
                if self._closing and not self._queue and not self._spilled:
                    return

    def _take(self) -> list[Mapping[str, Any]]:
        """Up to one batch of the oldest records: a full one, or what came within flush_seconds."""
        with self._cond:
            if not self._closing and len(self._queue) < self._batch_size:
                self._cond.wait_for(
                    lambda: self._closing or len(self._queue) >= self._batch_size,
                    timeout=self._flush_seconds,
                )
            n = min(self._batch_size, len(self._queue))
            batch = [self._queue.popleft() for _ in range(n)]
            self._inflight = n
            return batch

    def _done(self, stored: int) -> None:
        with self._cond:
            self._inflight = 0
        self._written += stored

    def _write(self, records: Sequence[Mapping[str, Any]], *, skip_existing: bool) -> int:
        """Write records in one transaction; if one of them is invalid, write them one by one.

        Returns how many are now stored. Raises only when the database is unavailable; invalid
        records are logged and dropped.
        """
        try:
            write_inference_records(self._engine, records, skip_existing=skip_existing)
            return len(records)
        except _DATA_ERRORS as exc:
            logger.warning("an inference batch was refused (%s); writing it record by record", exc)
        stored = 0
        for record in records:
            try:
                write_inference_records(self._engine, [record], skip_existing=True)
                stored += 1
            except _DATA_ERRORS as exc:
                self._rejected += 1
                logger.error(
                    "dropping invalid inference record %s: %s", record.get("request_id"), exc
                )
        return stored

    def _warn(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        if self._last_warning is None or now - self._last_warning >= WARN_EVERY_SECONDS:
            self._last_warning = now
            logger.warning(
                "inference log cannot write to the database (%d failed attempts, %d records "
                "waiting): %s",
                self._write_failures,
                self.depth(),
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
            )

    def _recovered(self) -> None:
        if self._failing_since is not None:
            logger.info(
                "inference log writes to the database again after %.1f s",
                time.monotonic() - self._failing_since,
            )
            self._failing_since = None
            self._last_warning = None

    # -- spill files -------------------------------------------------------------------------------

    def _spill(self, records: Sequence[Mapping[str, Any]], *, fsync: bool) -> None:
        """Append records to the spill file (fsync'd now, or by the writer's next round)."""
        data = bytearray()
        count = 0
        for record in records:
            try:
                data += record_line(record)
                count += 1
            except Exception as exc:  # not even JSON-able with str() fallbacks
                self._lost += 1
                logger.error("cannot spill inference record: %s", exc)
        try:
            with self._spill_lock:
                self._spill_path.parent.mkdir(parents=True, exist_ok=True)
                with self._spill_path.open("ab") as f:
                    f.write(data)
                    f.flush()
                    if fsync:
                        os.fsync(f.fileno())
                    else:
                        self._spill_dirty = True
                self._spilled += count
        except OSError as exc:
            self._lost += count
            logger.error(
                "cannot spill %d inference records to %s: %s", count, self._spill_path, exc
            )

    def _sync_spill(self) -> None:
        """fsync the spill file if records were appended to it without."""
        if not self._spill_dirty:
            return
        with self._spill_lock:
            self._spill_dirty = False
            with contextlib.suppress(OSError), self._spill_path.open("ab") as f:
                os.fsync(f.fileno())

    def _recover_spill_files(self) -> None:
        """Count what a previous run left, and repair a torn last line or a stale offset."""
        with self._spill_lock:
            if self._offset_path.exists() and not self._replay_path.exists():
                self._offset_path.unlink()
            if self._spill_path.exists() and self._spill_path.stat().st_size:
                with self._spill_path.open("rb+") as f:
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":
                        f.write(b"\n")
            self._spilled = _count_lines(self._replay_path, self._read_offset()) + _count_lines(
                self._spill_path
            )
        if self._spilled:
            logger.info("inference log: %d records left in %s", self._spilled, self._spill_path)

    def _read_offset(self) -> int:
        try:
            return int(self._offset_path.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _write_offset(self, offset: int) -> None:
        tmp = self._offset_path.with_name(self._offset_path.name + ".tmp")
        with tmp.open("w") as f:
            f.write(str(offset))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._offset_path)

    def _replay(self) -> None:
        """Write spilled records to the database in order, idempotently; raises if it is down."""
        with self._spill_lock:
            if not self._replay_path.exists():
                if not self._spill_path.exists():
                    self._spilled = 0
                    return
                self._offset_path.unlink(missing_ok=True)
                if self._spill_dirty:
                    with self._spill_path.open("ab") as f:
                        os.fsync(f.fileno())
                    self._spill_dirty = False
                os.replace(self._spill_path, self._replay_path)
                _fsync_dir(self._spill_path.parent)
        offset = self._read_offset()
        with self._replay_path.open("rb") as f:
            f.seek(offset)
            while True:
                lines = [line for line in (f.readline() for _ in range(self._batch_size)) if line]
                if not lines:
                    break
                records = []
                for line in lines:
                    if not line.strip():
                        continue
                    try:
                        records.append(parse_record_line(line))
                    except (ValueError, orjson.JSONDecodeError) as exc:
                        self._rejected += 1
                        logger.error("skipping unreadable spill line %r: %s", line[:80], exc)
                stored = self._write(records, skip_existing=True)
                self._write_offset(f.tell())
                counted = sum(1 for line in lines if line.strip())
                with self._spill_lock:
                    self._spilled -= counted
                self._written += stored
        with self._spill_lock:
            self._replay_path.unlink()
            self._offset_path.unlink(missing_ok=True)
            _fsync_dir(self._spill_path.parent)
            if not self._spill_path.exists():
                self._spilled = 0  # never wait for records that are nowhere
        logger.info("inference log replayed %s", self._replay_path)
