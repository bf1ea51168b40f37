"""Work repeated in a daemon thread beside the requests: the model poller, the live drift check."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Periodic:
    """Calls `work` every `seconds` in a daemon thread named `name`: at once and then after each
    interval (`first_at_once`), or first after one interval. `work` must not raise."""

    def __init__(
        self, work: Callable[[], object], seconds: float, name: str, *, first_at_once: bool
    ) -> None:
        self.work = work
        self.seconds = seconds
        self.name = name
        self.first_at_once = first_at_once
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (again after `stop`); nothing when it runs already."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the call in progress, if any; wait up to `timeout` seconds for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        if self.first_at_once:
            self.work()
        while not self._stop.wait(self.seconds):
            self.work()
