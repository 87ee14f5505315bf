"""API-key authentication for the integration API (``Authorization: Bearer <key>``)."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status


def require_api_key(request: Request) -> str:
    """FastAPI dependency: the caller's key if it is one of ``SIPAS_API_KEYS``; 401 otherwise.

    Keys are compared in constant time; neither the key nor the header is logged.
    """
    keys = request.app.state.sipas.settings.api_key_list
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    given = given.strip()
    if scheme.lower() == "bearer" and given:
        for key in keys:
            if hmac.compare_digest(given.encode(), key.encode()):
                return key
    raise HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="missing or unknown API key",
        headers={"WWW-Authenticate": "Bearer"},
    )
