"""HTTP pieces shared by both dialects: Problem Details errors, JSON bodies, authentication."""

from __future__ import annotations

import base64
import binascii
from hmac import compare_digest
from http import HTTPStatus
import json
from typing import Any

from aiohttp import web

from .model import BasicAuth, BearerAuth, Security

PROBLEM_TYPE = "application/problem+json"
REALM = "ThingBridge simulator"
_ERRORS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    401: web.HTTPUnauthorized,
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
    503: web.HTTPServiceUnavailable,
}


def _problem_text(status: int, detail: str) -> str:
    return json.dumps(
        {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
        }
    )


def problem(
    status: int, detail: str, *, headers: dict[str, str] | None = None
) -> web.HTTPException:
    """An HTTP error whose body is an RFC 7807 Problem Details object naming what was wrong."""
    return _ERRORS[status](
        text=_problem_text(status, detail), content_type=PROBLEM_TYPE, headers=headers
    )


def method_not_allowed(method: str, allowed: list[str], detail: str) -> web.HTTPException:
    """405 with an ``Allow`` header and a Problem Details body."""
    return web.HTTPMethodNotAllowed(
        method,
        allowed,
        text=_problem_text(405, f"{method} not allowed: {detail}"),
        content_type=PROBLEM_TYPE,
    )


async def json_body(request: web.Request, *, optional: bool = False) -> Any:
    """The request body decoded as JSON; ``None`` for an empty body when ``optional``."""
    raw = await request.read()
    if not raw.strip():
        if optional:
            return None
        raise problem(400, "the request body is empty; expected JSON")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise problem(400, f"the request body is not JSON: {err}") from err


def wants_event_stream(request: web.Request) -> bool:
    """Whether the client explicitly asked for ``text/event-stream`` (not just ``*/*``)."""
    return "text/event-stream" in request.headers.get("Accept", "").lower()


def _basic_ok(header: str, expected: BasicAuth) -> bool:
    scheme, _, param = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(param.strip(), validate=True).decode("utf-8")
    except binascii.Error, UnicodeDecodeError:
        return False
    user, sep, password = decoded.partition(":")
    # Compare both in constant time, whatever the first comparison says.
    user_ok = compare_digest(user.encode(), expected.username.encode())
    password_ok = compare_digest(password.encode(), expected.password.encode())
    return bool(sep) and user_ok and password_ok


def authorize(request: web.Request, security: Security) -> None:
    """Raise 401 (with ``WWW-Authenticate``) unless the request carries the right credentials.

    The answer never says which part was wrong, and credentials are never logged.
    """
    if security is None:
        return
    header = request.headers.get("Authorization", "")
    if isinstance(security, BasicAuth):
        if _basic_ok(header, security):
            return
        raise problem(
            401,
            "valid HTTP Basic credentials are required",
            headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'},
        )
    assert isinstance(security, BearerAuth)
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and compare_digest(
        token.strip().encode(), security.token.encode()
    ):
        return
    challenge = f'Bearer realm="{REALM}"'
    if scheme.lower() == "bearer":
        challenge += ', error="invalid_token"'
    raise problem(401, "a valid bearer token is required", headers={"WWW-Authenticate": challenge})
