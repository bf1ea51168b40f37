"""A server process of the local profile: started in its own session with its output in a log,
waited for until it answers, stopped with its whole process group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path


def spawn_session(command: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`command` in a session of its own (its children stop with it), output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            start_new_session=True,
        )


def await_ready(
    process: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    timeout: float,
    name: str,
    log: Path,
) -> None:
    """Wait until `ready()`; RuntimeError if the process exits first, TimeoutError (the process
    stopped) after `timeout` seconds; both end with the log's tail."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log_tail(log)}")
        if time.monotonic() > deadline:
            stop_group(process)
            raise TimeoutError(f"{name} not ready after {timeout:.0f}s:\n{log_tail(log)}")
        time.sleep(0.25)


def log_tail(log: Path | None, chars: int = 3000) -> str:
    """The end of a log (for error messages); empty when there is none."""
    if log is None or not log.exists():
        return ""
    return log.read_text(errors="replace")[-chars:]


def stop_group(process: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> None:
    """SIGTERM to the process group, SIGKILL if it lingers; then make sure the group is gone."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)
    except ProcessLookupError:
        pass
    # children (uvicorn workers, say) may outlive the leader by a moment
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
