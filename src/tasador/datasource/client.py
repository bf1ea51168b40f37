"""A client for the course data API (or its simulator, or any API with the same contract).

The API is treated as unreliable. `DataApiClient.fetch_batch` retries, with exponential backoff and
jitter (the `stamina` library), on 5xx answers, 408/429, connection errors, timeouts and bodies that
are not the expected JSON shape; it turns the course's "all data collected" 400 into
`DataApiFinished`, and any other 4xx, or retries running out, into `DataApiError`. Every
`fetch_batch` call appends a `FetchRecord` to `client.outcomes` so the pipeline can report them.

What the client does not do, on purpose (it is the pipeline's job, with what the client exposes):
- Duplicate batches: a batch served twice comes back twice; compare `Batch.batch_number` and
  `Batch.content_hash` with what was already ingested.
- Gaps: the server moves its cursor per request, so a request whose answer was lost (a timeout) or
  garbled (malformed JSON) may already have consumed a batch, and the retry gets the next one. A
  jump in `batch_number` reveals it; call `restart()` and fetch again from batch 0.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, Final, Self

import httpx
import orjson
import stamina

logger = logging.getLogger(__name__)

FINISHED_MARKER: Final[str] = "necesaria"  # the course's "...información mínima necesaria" 400
_RETRYABLE_4XX: Final[frozenset[int]] = frozenset({408, 429})


@dataclass(frozen=True)
class Batch:
    """One batch as received: its rows exactly as the API sent them."""

    group_number: int
    day: str | None
    batch_number: int
    rows: list[dict[str, Any]]
    content_hash: str  # sha256 of the response body bytes
    received_at: datetime


class FetchOutcome(StrEnum):
    """How one `fetch_batch` call ended."""

    OK = "ok"  # first attempt succeeded
    FINISHED = "finished"  # the API said all data was collected
    RETRIED_OK = "retried_ok"  # succeeded after one or more retries
    FAILED = "failed"  # permanent error or retries exhausted


@dataclass(frozen=True)
class FetchRecord:
    """The outcome of one `fetch_batch` call; `error` says what went wrong, if anything."""

    outcome: FetchOutcome
    attempts: int
    batch_number: int | None = None
    error: str | None = None


class DataApiFinished(Exception):  # noqa: N818  (the API's own word for it)
    """The API has served every batch for this group (the "finished" HTTP 400)."""


class DataApiError(Exception):
    """The API failed permanently (a 4xx) or kept failing until the retries ran out."""


class _Transient(Exception):  # noqa: N818
    """A failure worth retrying; its message is the cause as logged."""


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _detail(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.text[:200]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return response.text[:200]


class DataApiClient:
    """Client of one (group, day) stream of a data API. Use as a context manager or call close().

    `http` lets the caller hand in a configured `httpx.Client` (its base URL must be `base_url`);
    otherwise one is made with `timeout_seconds` as connect/read/write timeout. `attempts` counts
    the first try; waits grow from `backoff_initial` to at most `backoff_max` seconds, with jitter.
    """

    def __init__(
        self,
        base_url: str,
        *,
        group_number: int,
        day: str | None,
        timeout_seconds: float = 300,
        attempts: int = 5,
        http: httpx.Client | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 10,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {attempts}")
        self.base_url = base_url.rstrip("/")
        self.group_number = group_number
        self.day = day
        self.attempts = attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.outcomes: list[FetchRecord] = []
        self._health_timeout = timeout_seconds
        self._owns_http = http is None
        self._http = http or httpx.Client(
            base_url=self.base_url, timeout=httpx.Timeout(timeout_seconds)
        )

    # -- context manager -------------------------------------------------------------------------
    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client if this object made it."""
        if self._owns_http:
            self._http.close()

    # -- calls -----------------------------------------------------------------------------------
    @property
    def _params(self) -> dict[str, str | int]:
        params: dict[str, str | int] = {"group_number": self.group_number}
        if self.day is not None:
            params["day"] = self.day
        return params

    def _get(self, path: str, attempt: int) -> httpx.Response:
        """One GET; transient failures raise `_Transient` (logged if another attempt follows)."""
        try:
            response = self._http.get(path, params=self._params)
        except httpx.TransportError as error:  # connection refused/reset, timeouts, protocol
            raise self._transient(path, attempt, _describe(error)) from error
        if response.status_code >= 500 or response.status_code in _RETRYABLE_4XX:
            cause = f"HTTP {response.status_code} {_detail(response)}".rstrip()
            raise self._transient(path, attempt, cause)
        return response

    def _transient(self, path: str, attempt: int, cause: str) -> _Transient:
        if attempt < self.attempts:
            logger.warning(
                "data API GET %s (group %s, day %s) attempt %d/%d failed: %s; retrying",
                path,
                self.group_number,
                self.day,
                attempt,
                self.attempts,
                cause,
            )
        return _Transient(cause)

    def _retrying(self) -> Any:
        return stamina.retry_context(
            on=_Transient,
            attempts=self.attempts,
            timeout=None,
            wait_initial=self.backoff_initial,
            wait_max=self.backoff_max,
            wait_jitter=self.backoff_initial,
        )

    def _parse_batch(self, response: httpx.Response, path: str, attempt: int) -> Batch:
        body = response.content
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise self._transient(path, attempt, f"malformed JSON body ({error})") from error
        problem = None
        if not isinstance(payload, dict):
            problem = f"body is a JSON {type(payload).__name__}, not an object"
        elif not isinstance(payload.get("data"), list):
            problem = "body has no 'data' list"
        elif not all(isinstance(row, dict) for row in payload["data"]):
            problem = "'data' holds items that are not objects"
        elif not _is_integral(payload.get("batch_number")):
            problem = f"body has no integer 'batch_number' (got {payload.get('batch_number')!r})"
        if problem is not None:
            raise self._transient(path, attempt, f"unexpected body shape: {problem}")
        day = payload.get("day", self.day)
        return Batch(
            group_number=int(payload.get("group_number", self.group_number)),
            day=None if day is None else str(day),
            batch_number=int(payload["batch_number"]),
            rows=payload["data"],
            content_hash=hashlib.sha256(body).hexdigest(),
            received_at=datetime.now(UTC),
        )

    def fetch_batch(self) -> Batch:
        """The next batch of this (group, day) stream.

        Raises `DataApiFinished` on the course's "all data collected" 400, `DataApiError` on any
        other 4xx (no retry) or once `attempts` tries all failed transiently. See the module
        docstring for duplicates and gaps, which the caller detects.
        """
        attempt = 0
        try:
            for retry in self._retrying():
                with retry:
                    attempt = retry.num
                    response = self._get("/data", attempt)
                    if response.status_code == 400 and FINISHED_MARKER in _detail(response):
                        self.outcomes.append(FetchRecord(FetchOutcome.FINISHED, attempt))
                        raise DataApiFinished(_detail(response))
                    if response.status_code >= 400:
                        message = (
                            f"GET /data answered HTTP {response.status_code}: {_detail(response)}"
                        )
                        self.outcomes.append(
                            FetchRecord(FetchOutcome.FAILED, attempt, error=message)
                        )
                        raise DataApiError(message)
                    batch = self._parse_batch(response, "/data", attempt)
        except _Transient as error:
            message = f"GET /data failed after {attempt} attempt(s); last error: {error}"
            self.outcomes.append(FetchRecord(FetchOutcome.FAILED, attempt, error=message))
            raise DataApiError(message) from error
        outcome = FetchOutcome.OK if attempt == 1 else FetchOutcome.RETRIED_OK
        self.outcomes.append(FetchRecord(outcome, attempt, batch_number=batch.batch_number))
        if outcome is FetchOutcome.RETRIED_OK:
            logger.info("GET /data succeeded on attempt %d (batch %d)", attempt, batch.batch_number)
        return batch

    def restart(self) -> None:
        """Move this (group, day) stream back to batch 0 (retried like `fetch_batch`)."""
        attempt = 0
        try:
            for retry in self._retrying():
                with retry:
                    attempt = retry.num
                    response = self._get("/restart_data_generation", attempt)
        except _Transient as error:
            raise DataApiError(
                f"GET /restart_data_generation failed after {attempt} attempt(s); "
                f"last error: {error}"
            ) from error
        if response.status_code >= 400:
            raise DataApiError(
                f"GET /restart_data_generation answered HTTP {response.status_code}: "
                f"{_detail(response)}"
            )

    def health(self) -> bool:
        """Whether `GET /health` answers 2xx now (one try, no retry)."""
        try:
            response = self._http.get("/health", timeout=min(self._health_timeout, 10.0))
        except httpx.HTTPError as error:
            logger.info("data API health check failed: %s", _describe(error))
            return False
        return response.is_success


def _is_integral(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value.is_integer()
