"""A small typed client of the inference API: what the UI reads, as the API's own models.

Every answer is validated with the response model the API itself declares, so the UI and the API
cannot disagree on a field silently. Failures become a few exceptions whose messages are plain
words the pages show as they are. No retries beyond httpx's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from tasador.serving.api_models import (
    BatchPredictionOut,
    ExplanationOut,
    HealthOut,
    ModelInfoOut,
    PredictionOut,
    StatesOut,
)
from tasador.serving.history_models import (
    BatchDetailOut,
    BatchesPage,
    ImportanceOut,
    ModelsPage,
    PredictionHistoryOut,
    RequestsSummaryOut,
)

Out = TypeVar("Out", bound=BaseModel)
Paged = TypeVar("Paged", ModelsPage, BatchesPage)

#: The largest page the history endpoints give.
PAGE_LIMIT: Final[int] = 1000


class ApiError(Exception):
    """The API could not give what was asked; the message says why in plain words."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class ApiUnavailable(ApiError):  # noqa: N818 (the names the pages read)
    """The API cannot be reached, timed out, or failed (5xx other than no model yet)."""


class NoModelYet(ApiError):  # noqa: N818 (the names the pages read)
    """The API answers, but no model holds the production alias yet (503 from a model endpoint)."""


class HistoryOff(ApiError):  # noqa: N818 (the names the pages read)
    """The API runs without its history or inference log, or cannot read them (503)."""


class ListingRefused(ApiError):  # noqa: N818 (the names the pages read)
    """The API refused a listing (422); `fields` maps each field named to the API's message."""

    def __init__(self, message: str, fields: Mapping[str, str]) -> None:
        super().__init__(message, status_code=422)
        self.fields = dict(fields)


class ApiClient:
    """The inference API at `base_url`; `http` lets a caller hand in its own httpx client."""

    def __init__(
        self, base_url: str, *, timeout: float = 30.0, http: httpx.Client | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = http if http is not None else httpx.Client(timeout=timeout)
        self._owned = http is None

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    # --- the served model ----------------------------------------------------------------

    def health(self) -> HealthOut:
        """Whether the API is up and fully serving (always answers while the process runs)."""
        return self._get("/health", HealthOut)

    def model(self) -> ModelInfoOut:
        """The served model: version, metrics, and the categories it accepts."""
        return self._get("/model", ModelInfoOut, model_endpoint=True)

    def states(self) -> StatesOut:
        """The states the served model saw in training, sorted."""
        return self._get("/states", StatesOut, model_endpoint=True)

    def predict(self, listing: Mapping[str, Any]) -> PredictionOut:
        """The price of one listing."""
        return self._post("/predict", dict(listing), PredictionOut)

    def predict_many(
        self, listings: Sequence[Mapping[str, Any]], *, what_if: bool = False
    ) -> BatchPredictionOut:
        """The prices of several listings, in one request, in the order sent; `what_if`:
        hypothetical listings, left out of the API's live drift check."""
        path = "/predict?what_if=true" if what_if else "/predict"
        return self._post(path, [dict(x) for x in listings], BatchPredictionOut)

    def explain(self, listing: Mapping[str, Any]) -> ExplanationOut:
        """The exact SHAP contributions of one listing's price."""
        return self._post("/explain", dict(listing), ExplanationOut)

    # --- the loop's history --------------------------------------------------------------

    def models(self, limit: int = PAGE_LIMIT) -> ModelsPage:
        """Every registered version, newest first (all pages, `limit` at a time)."""
        return self._every_page("/models", ModelsPage, limit)

    def batches(self, limit: int = PAGE_LIMIT) -> BatchesPage:
        """Every batch, newest first (all pages, `limit` at a time)."""
        return self._every_page("/batches", BatchesPage, limit)

    def batch(self, batch_id: int) -> BatchDetailOut:
        """One batch with each feature's whole drift test and both distributions."""
        return self._get(f"/batches/{batch_id}", BatchDetailOut, history=True)

    def importance(self, version: str) -> ImportanceOut | None:
        """Global importance of a version; None when the version is unknown or has none."""
        try:
            return self._get(f"/models/{version}/importance", ImportanceOut, history=True)
        except ApiError as err:
            if err.status_code == 404:
                return None
            raise

    def requests_summary(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> RequestsSummaryOut:
        """What the inference log holds for [since, until) (the API's default: the last hour)."""
        params = {
            key: value.isoformat()
            for key, value in (("since", since), ("until", until))
            if value is not None
        }
        return self._get("/requests/summary", RequestsSummaryOut, history=True, params=params)

    def predictions_history(
        self, state: str | None = None, limit: int = 50
    ) -> PredictionHistoryOut:
        """The most recent priced listings, newest first, optionally of one state."""
        params: dict[str, Any] = {"limit": limit}
        if state:
            params["state"] = state
        return self._get("/predictions/history", PredictionHistoryOut, history=True, params=params)

    # --- the wire ------------------------------------------------------------------------

    def _get(
        self,
        path: str,
        out: type[Out],
        *,
        model_endpoint: bool = False,
        history: bool = False,
        params: Mapping[str, Any] | None = None,
    ) -> Out:
        response = self._send("GET", path, params=dict(params) if params else None)
        return self._read(response, out, model_endpoint=model_endpoint, history=history)

    def _every_page(self, path: str, out: type[Paged], limit: int) -> Paged:
        """One page holding the items of every page of a history list."""
        first = self._get(path, out, history=True, params={"limit": limit})
        items = list(first.items)
        while len(items) < first.total:
            params = {"limit": limit, "offset": len(items)}
            page = self._get(path, out, history=True, params=params)
            if not page.items:  # the list shrank meanwhile
                break
            items.extend(page.items)
        return first.model_copy(update={"items": items, "limit": len(items), "offset": 0})

    def _post(self, path: str, body: Any, out: type[Out]) -> Out:
        response = self._send("POST", path, json=body)
        return self._read(response, out, model_endpoint=True, history=False)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = f"{self.base_url}{path}"
        try:
            return self._http.request(method, url, timeout=self.timeout, **kwargs)
        except httpx.TimeoutException as err:
            raise ApiUnavailable(
                f"The inference API at {self.base_url} did not answer within "
                f"{self.timeout:g} seconds."
            ) from err
        except httpx.TransportError as err:
            raise ApiUnavailable(
                f"The inference API at {self.base_url} cannot be reached ({_cause(err)})."
            ) from err

    def _read(
        self, response: httpx.Response, out: type[Out], *, model_endpoint: bool, history: bool
    ) -> Out:
        status = response.status_code
        if status == 200:
            try:
                return out.model_validate_json(response.content)
            except ValidationError as err:
                raise ApiError(
                    f"The inference API answered {response.request.url.path} in a shape this UI "
                    f"does not know ({err.error_count()} fields differ): are both the same "
                    "version?",
                    status_code=status,
                ) from err
        detail = _detail(response)
        if status == 422 and model_endpoint:
            fields = field_errors(response)
            raise ListingRefused(
                "The API refused the listing: " + "; ".join(f"{k}: {v}" for k, v in fields.items()),
                fields,
            )
        if status == 503 and model_endpoint:
            raise NoModelYet(
                "No model is served yet: nothing holds the production alias. The first model "
                "appears once the loop has trained and promoted one.",
                status_code=status,
            )
        if status == 503 and history:
            raise HistoryOff(
                f"The API cannot show its history: {detail or 'unavailable'}.", status_code=status
            )
        if status >= 500:
            raise ApiUnavailable(
                f"The inference API failed on {response.request.url.path} (HTTP {status}"
                + (f": {detail}" if detail else "")
                + ").",
                status_code=status,
            )
        raise ApiError(
            f"The inference API refused {response.request.url.path} (HTTP {status}"
            + (f": {detail}" if detail else "")
            + ").",
            status_code=status,
        )


def field_errors(response: httpx.Response) -> dict[str, str]:
    """`{field: message}` of a 422: the field is the error's place after "body" ("bed", or
    "0.bed" in a list), its message the API's without pydantic's "Value error, " prefix."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if not isinstance(detail, list):
        return {"body": str(detail or "refused")}
    fields: dict[str, str] = {}
    for error in detail:
        if not isinstance(error, dict):
            continue
        loc = [str(part) for part in error.get("loc", [])]
        place = ".".join(loc[1:] if loc[:1] == ["body"] and len(loc) > 1 else loc) or "body"
        message = str(error.get("msg", "invalid"))
        fields.setdefault(place, message.removeprefix("Value error, "))
    return fields


def _detail(response: httpx.Response) -> str:
    """The `detail` text of an error answer, when it is text."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return ""
    return detail if isinstance(detail, str) else ""


def _cause(err: httpx.TransportError) -> str:
    text = str(err).lower()
    if "refused" in text:
        return "connection refused: is it running?"
    return str(err) or type(err).__name__
