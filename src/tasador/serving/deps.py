"""The routes' dependencies: the app's shared state, and the reload token check."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tasador.serving.state import ServingState

_bearer = HTTPBearer(auto_error=False, description="TASADOR_SERVING_RELOAD_TOKEN")


async def serving_state(request: Request) -> ServingState:
    state: ServingState = request.app.state.serving
    return state


State = Annotated[ServingState, Depends(serving_state)]


async def reload_token(
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """404 when no token is configured (the endpoint is off); 401 without the right token."""
    if not state.reload_token:
        raise HTTPException(404, "reload is disabled: no reload token configured")
    if credentials is None or not secrets.compare_digest(
        credentials.credentials.encode(), state.reload_token.encode()
    ):
        raise HTTPException(
            401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
