"""`tasador up` waits for the inference API to serve the production model before saying it is up."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from fixtures.http import running_server, unused_url
from tasador.platform.local import wait_for_served_version

pytestmark = pytest.mark.integration


def _api(versions: list[str | None]) -> FastAPI:
    """An API whose /model answers the given versions in turn (None: 503), then the last one."""
    app = FastAPI()
    calls = {"n": 0}

    @app.get("/model")
    def model() -> JSONResponse:
        version = versions[min(calls["n"], len(versions) - 1)]
        calls["n"] += 1
        if version is None:
            return JSONResponse({"detail": "no model loaded yet"}, status_code=503)
        return JSONResponse({"version": version})

    return app


def test_waits_until_the_new_version_is_served() -> None:
    with running_server(_api([None, "1", "1", "2"])) as url:
        assert wait_for_served_version(url, "2", timeout=30) == "2"


def test_gives_up_after_the_timeout_and_says_what_is_served() -> None:
    with running_server(_api(["1"])) as url:
        assert wait_for_served_version(url, "2", timeout=1) == "1"
    with running_server(_api([None])) as url:
        assert wait_for_served_version(url, "2", timeout=1) is None
    assert wait_for_served_version(unused_url(), "2", timeout=1) is None
