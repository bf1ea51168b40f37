"""The local profile: starts and stops the embedded services."""

from typing import Final

# Files and folders that tasador's commands create are readable by their owner only: 0600, 0700.
PRIVATE_UMASK: Final[int] = 0o077


class PlatformStartError(RuntimeError):
    """A service of the local platform did not start; the message says which, why, and its log.

    `tasador up` reports it as one message, not a traceback.
    """
