"""The local profile: starts and stops the embedded services."""


class PlatformStartError(RuntimeError):
    """A service of the local platform did not start; the message says which, why, and its log.

    `tasador up` reports it as one message, not a traceback.
    """
