"""The inference API keeps the contract its OpenAPI document states, for generated requests.

Schemathesis reads the served document and sends requests generated from it (valid and not) to
every operation of a real server; no answer may be a server error or differ from the documented
status codes, content types and response schemas.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fixtures.serving import TOKEN

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 450  # per operation; the operations without inputs have only a few distinct requests
OPERATIONS = [
    ("GET", "/"), ("GET", "/health"), ("GET", "/ready"), ("GET", "/model"), ("GET", "/states"),
    ("GET", "/metrics"), ("POST", "/predict"), ("POST", "/batch_predict"), ("POST", "/explain"),
    ("POST", "/reload"), ("GET", "/models"), ("GET", "/models/{version}/importance"),
    ("GET", "/batches"), ("GET", "/batches/{batch_id}"), ("GET", "/requests/summary"),
    ("GET", "/metrics/summary"), ("GET", "/predictions/history"),
]  # fmt: skip
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
SENT: dict[str, set[str]] = {}  # per operation, the distinct requests sent (as curl commands)


@pytest.fixture(scope="module")
def api_schema(history_api: str) -> Any:
    """The API over a loop that ran (so the history endpoints answer with data too)."""
    return schemathesis.openapi.from_url(f"{history_api}/openapi.json")


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_operation_keeps_its_documented_contract(
    api_schema: Any, method: str, path: str
) -> None:
    operation = api_schema[path][method]
    sent = SENT.setdefault(f"{method} {path}", set())

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        request = case.as_curl_command(headers=HEADERS)
        if request in sent:  # answered as documented already; so is every case of POST /reload
            return  # after its first: its only input is the token, and the token sent is ours
        case.call_and_validate(headers=HEADERS, checks=CHECKS)
        sent.add(request)

    call()


def test_enough_requests_were_generated() -> None:
    """Runs after the generated tests (file order): they covered every operation, with 1,000+
    distinct requests."""
    counts = {operation: len(requests) for operation, requests in SENT.items()}
    assert {operation for operation, n in counts.items() if n} == {
        f"{method} {path}" for method, path in OPERATIONS
    }, counts
    assert sum(counts.values()) >= 1_000, counts


def test_the_document_lists_no_operation_left_out(api_schema: Any) -> None:
    listed = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert listed == set(OPERATIONS)
