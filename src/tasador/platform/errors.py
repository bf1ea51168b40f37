"""The error `tasador up` reports as one message, not a traceback: the platform could not start."""

from __future__ import annotations


class PlatformStartError(RuntimeError):
    """A service of the local platform did not start; the message says which, why, and its log."""
