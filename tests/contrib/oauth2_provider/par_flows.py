"""Drive the PAR endpoint (RFC 9126) and ``/o/authorize/?request_uri=`` through DOT's real views."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

from django.test import Client

from tests.contrib.oauth2_provider.flows import AUTHORIZE_URL, App, authorize_params, code_from, pkce_pair
from tests.factories import TestKey, make_proof


PAR_URL = "/o/par/"
PAR_HTU = "http://testserver/o/par/"
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"


def par_proof(key: TestKey, **kwargs: Any) -> str:
    """A proof for the PAR endpoint (RFC 9449 §10.1: htm POST, htu the PAR endpoint)."""
    return make_proof(key, "POST", PAR_HTU, **kwargs)


def push(
    client: Client,
    app: App,
    params: dict[str, str],
    *,
    key: TestKey | None = None,
    proof: str | None = None,
    nonce: str | None = None,
    authenticate: bool = True,
    secret: str | None = None,
) -> Any:
    """POST ``params`` to the PAR endpoint, authenticated as at the token endpoint."""
    headers: dict[str, str] = {}
    if authenticate and not app.public:
        pair = f"{app.client_id}:{secret or app.secret}".encode()
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(pair).decode()
    if key is not None and proof is None:
        proof = par_proof(key, nonce=nonce)
    if proof is not None:
        headers["HTTP_DPOP"] = proof
    return client.post(
        PAR_URL, urlencode(params), content_type="application/x-www-form-urlencoded", **headers
    )


def pushed(response: Any) -> str:
    """The ``request_uri`` of a successful push (RFC 9126 §2.2)."""
    assert response.status_code == 201, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = json.loads(response.content)
    assert body["request_uri"].startswith(REQUEST_URI_PREFIX)
    return body["request_uri"]


def push_params(app: App, **extra: str) -> tuple[dict[str, str], str]:
    """Authorization request parameters with PKCE; returns them and the code verifier."""
    verifier, challenge = pkce_pair()
    return authorize_params(app, challenge, **extra), verifier


def authorize_url(app: App, request_uri: str, **extra: str) -> str:
    return f"{AUTHORIZE_URL}?{urlencode({'client_id': app.client_id, 'request_uri': request_uri, **extra})}"


def authorize_pushed(
    browser: Client, app: App, request_uri: str, *, consent: bool = True, **extra: str
) -> str:
    """``/o/authorize/`` with ``client_id`` + ``request_uri`` (RFC 9126 §4); returns the code."""
    url = authorize_url(app, request_uri, **extra)
    response = browser.get(url)
    if not consent:
        return code_from(response)
    assert response.status_code == 200, response.content
    form = response.context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    data["allow"] = "Authorize"
    return code_from(browser.post(url, data))


def page_error(response: Any, status: int = 400) -> str:
    """The error of a non-redirected authorization refusal (DOT renders it, RFC 6749 §4.1.2.1)."""
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert not response.has_header("Location")
    return response.context["error"].error


def json_error(response: Any, status: int = 400) -> str:
    assert response.status_code == status, response.content
    assert response["Cache-Control"] == "no-store"
    return json.loads(response.content)["error"]
