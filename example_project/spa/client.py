"""The SPA's public OAuth client: its registration and the rule that accepts its redirect URIs.

DOT compares redirect URIs exactly, plus RFC 8252 §7.3 for loopback IPs (any port for a
registered ``http://127.0.0.1/...`` or ``http://[::1]/...`` URI). The client ``spa`` is
registered with the loopback URIs below, which cover the SPA served from a second origin on this
machine (``http://127.0.0.1:8001/spa/``). The same-origin SPA (``/spa/`` of whatever origin the
server answers on, ``http://localhost:8000/spa/`` or ``https://example.com/spa/``) is accepted by
:func:`is_same_origin_spa_redirect`: its origin is the authorization request's own, as Django
sees it (``request.get_host()``, so only a host of ``ALLOWED_HOSTS``), never a value the client
chooses.
"""

from __future__ import annotations

from typing import Any


CLIENT_ID = "spa"
CLIENT_NAME = "django-dpop example single-page app"
PATH = "/spa/"
#: RFC 8252 §7.3: DOT lets these match with any port (the SPA served by a second local server).
LOOPBACK_REDIRECT_URIS = ("http://127.0.0.1/spa/", "http://[::1]/spa/")


def redirect_uri_for(origin: str) -> str:
    """The SPA's redirect URI when it is served by ``origin`` (scheme://host[:port])."""
    return origin.rstrip("/") + PATH


def is_same_origin_spa_redirect(client_id: str, redirect_uri: str, request_origin: str | None) -> bool:
    """True only for client ``spa`` redirecting to ``/spa/`` of the origin that got the request."""
    return (
        client_id == CLIENT_ID and bool(request_origin) and redirect_uri == redirect_uri_for(request_origin)
    )


def ensure_client(application_model: Any) -> Any:
    """Create the public client ``spa`` unless it exists (used by the data migration); return it.

    Only fields of DOT's first migration are set, so the historical model of any later state works.
    """
    existing = application_model.objects.filter(client_id=CLIENT_ID).first()
    if existing is not None:
        return existing
    return application_model.objects.create(
        name=CLIENT_NAME,
        client_id=CLIENT_ID,
        client_type="public",
        authorization_grant_type="authorization-code",
        redirect_uris=" ".join(LOOPBACK_REDIRECT_URIS),
        # The user sees the consent page (the test clicks "Authorize").
        skip_authorization=False,
    )
