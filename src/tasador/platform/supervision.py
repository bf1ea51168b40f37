"""Keeping the local platform's services up, and finding what an earlier run left behind.

`Supervisor` checks the services every few seconds and restarts one that stopped (a crash, an
OOM kill), with a backoff that doubles up to `MAX_BACKOFF`, says so in the log, and records each
restart in the state folder (`supervision.json`), where `tasador status` reads it.

Each service a `tasador up` starts as a process writes its pid to `<state>/pids/<name>.pid`;
`stop_leftovers` finds those of a run that was killed before it could stop them (and the state
folder's own PostgreSQL), and stops them, so the next `tasador up` starts clean.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

logger = logging.getLogger(__name__)

CHECK_SECONDS: Final[float] = 2.0
MAX_BACKOFF: Final[float] = 30.0
RECORD: Final[str] = "supervision.json"
PIDS: Final[str] = "pids"


@dataclass
class Service:
    """How to tell whether a service is up, and how to start it again."""

    name: str
    is_up: Callable[[], bool]
    restart: Callable[[], object]


def read_restarts(state: Path) -> dict[str, dict[str, object]]:
    """The restarts recorded in a state folder, by service (empty when there were none)."""
    try:
        found = json.loads((state / RECORD).read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


class Supervisor:
    """Restarts the services that stop, in a daemon thread, until `stop()`."""

    def __init__(self, services: list[Service], state: Path, check_seconds: float = CHECK_SECONDS):
        self.services = services
        self.state = state
        self.check_seconds = check_seconds
        self.restarts: dict[str, dict[str, object]] = read_restarts(state)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (before the services are stopped on purpose)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(60)

    def _watch(self) -> None:
        backoff = dict.fromkeys((s.name for s in self.services), 1.0)
        due = dict.fromkeys((s.name for s in self.services), 0.0)
        while not self._stop.wait(self.check_seconds):
            for service in self.services:
                if self._stop.is_set() or time.monotonic() < due[service.name]:
                    continue
                try:
                    up = service.is_up()
                except Exception:  # a check that cannot answer counts as down
                    up = False
                if up:
                    backoff[service.name] = 1.0
                    continue
                logger.warning("%s stopped; restarting it", service.name)
                error = None
                try:
                    service.restart()
                except Exception as exc:  # retried after the backoff
                    error = f"{type(exc).__name__}: {exc}"[:500]
                    logger.warning("%s did not restart: %s", service.name, error)
                due[service.name] = time.monotonic() + backoff[service.name]
                backoff[service.name] = min(backoff[service.name] * 2, MAX_BACKOFF)
                self._record(service.name, error)

    def _record(self, name: str, error: str | None) -> None:
        entry = self.restarts.setdefault(name, {"restarts": 0})
        entry["restarts"] = int(str(entry.get("restarts", 0))) + 1
        entry["last_restart_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        entry["last_error"] = error
        tmp = self.state / f"{RECORD}.tmp"
        tmp.write_text(json.dumps(self.restarts, indent=2))
        os.replace(tmp, self.state / RECORD)


def write_pid(state: Path, name: str, pid: int) -> None:
    """Write `<name>.pid` whole or not at all (a reader never sees it empty or half written)."""
    folder = state / PIDS
    folder.mkdir(mode=0o700, exist_ok=True)
    partial = folder / f".{name}.pid.{os.getpid()}"
    partial.write_text(str(pid))
    os.replace(partial, folder / f"{name}.pid")


def forget_pid(state: Path, name: str) -> None:
    (state / PIDS / f"{name}.pid").unlink(missing_ok=True)


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def stop_leftovers(state: Path, markers: Mapping[str, str], timeout: float = 20.0) -> list[str]:
    """Stop the processes an earlier run of this state folder left (by its pid files), each only
    if its command line still shows `markers[name]` (a pid may have been reused); returns what
    was stopped, as "name (pid N)"."""
    stopped = []
    for pid_file in sorted((state / PIDS).glob("*.pid")):
        name = pid_file.stem
        with contextlib.suppress(ValueError, OSError):
            pid = int(pid_file.read_text().strip())
            if markers.get(name, "\0") in _command_line(pid):
                _stop_group(pid, timeout)
                stopped.append(f"{name} (pid {pid})")
        pid_file.unlink(missing_ok=True)
    return stopped


def _stop_group(pid: int, timeout: float) -> None:
    """SIGTERM the process group `pid` leads (its own session), SIGKILL after `timeout` s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            os.killpg(pid, 0)  # ProcessLookupError once the group is gone
            time.sleep(0.1)
        os.killpg(pid, signal.SIGKILL)
