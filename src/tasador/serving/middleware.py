"""Pure ASGI middleware: a request id for every request, and its count and latency."""

from __future__ import annotations

import time
import uuid
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tasador.serving.metrics import ServingMetrics

# Paths counted under their own label; anything else is "other" (bounded label values).
ENDPOINTS: Final[frozenset[str]] = frozenset(
    {
        *("/", "/health", "/ready", "/metrics"),
        *("/model", "/states", "/reload"),
        *("/predict", "/batch_predict", "/explain"),
        *("/models", "/batches"),
        *("/requests/summary", "/metrics/summary", "/predictions/history"),
    }
)


class RequestMetrics:
    """Gives each request an id (`request.state.request_id`, `x-request-id`) and counts it."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path = scope["path"]
            endpoint = path if path in ENDPOINTS else "other"
            self.metrics.observe_request(endpoint, status, time.perf_counter() - started)
