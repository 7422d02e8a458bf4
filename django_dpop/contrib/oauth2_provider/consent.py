"""What an authorization request asked for, kept on the server across the consent round trip.

DOT carries the authorization request from the consent page's GET to its POST in hidden form
fields, so the browser could change or drop any of them: a ``dpop_jkt`` edited on the way binds
the code to another key, one dropped (with the query string) yields an unbound code (RFC 9449
§10). Instead the GET stores the request's parameters in the session under a random per-request
id, and the form carries only that id. The POST takes the record back once (a replayed POST
finds nothing), checks it belongs to the same client and redirect URI, and issues the code from
the record, never from the form.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from django.http import HttpRequest


SESSION_KEY = "_django_dpop_authorization_requests"
#: A consent page left open longer than this must be reloaded (the request is asked again).
LIFETIME_SECONDS = 3600
#: Pending consent pages per session (open tabs); the oldest are forgotten first.
MAX_PENDING = 16

#: The authorization parameters the code is issued from (RFC 6749 §4.1.1, RFC 7636 §4.3,
#: OIDC ``nonce``/``claims``, RFC 8707 ``resource``, RFC 9449 §10 ``dpop_jkt``) and the scopes.
PARAMETERS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "claims",
    "resource",
    "dpop_jkt",
    "scopes",
)


def _pending(request: HttpRequest, now: float) -> dict[str, dict[str, Any]]:
    stored = request.session.get(SESSION_KEY)
    if not isinstance(stored, dict):
        return {}
    return {
        key: record
        for key, record in stored.items()
        if isinstance(record, dict)
        and isinstance(record.get("at"), int | float)
        and now - record["at"] < LIFETIME_SECONDS
    }


def remember(request: HttpRequest, parameters: dict[str, Any]) -> str:
    """Store ``parameters`` (JSON values) for this session; return the id the form carries."""
    now = time.time()
    pending = _pending(request, now)
    while len(pending) >= MAX_PENDING:
        del pending[min(pending, key=lambda key: pending[key]["at"])]
    request_id = secrets.token_urlsafe(24)
    pending[request_id] = {"at": now, **{name: parameters.get(name) for name in PARAMETERS}}
    request.session[SESSION_KEY] = pending
    return request_id


def take(request: HttpRequest, request_id: object) -> dict[str, Any] | None:
    """The parameters stored under ``request_id``, removed (once only); None if unknown or expired."""
    pending = _pending(request, time.time())
    record = pending.pop(request_id, None) if isinstance(request_id, str) and request_id else None
    if SESSION_KEY in request.session or pending:
        request.session[SESSION_KEY] = pending
    return record


def forget(request: HttpRequest, request_id: str | None) -> None:
    """Drop a record that will not be used (the request was answered without the form)."""
    if request_id:
        take(request, request_id)
