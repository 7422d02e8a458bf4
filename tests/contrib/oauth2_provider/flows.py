"""Drive DOT's real endpoints with Django's test client, with or without a DPoP proof."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from django.test import Client
from oauth2_provider.models import get_application_model

from tests.factories import TestKey, make_proof


TOKEN_URL = "/o/token/"
TOKEN_HTU = "http://testserver/o/token/"
AUTHORIZE_URL = "/o/authorize/"
REDIRECT_URI = "https://client.example.org/cb"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class App:
    """A DOT application and the cleartext secret of a confidential one."""

    application: Any
    secret: str | None

    @property
    def client_id(self) -> str:
        return self.application.client_id

    @property
    def public(self) -> bool:
        return self.secret is None


def make_app(user: Any, grant_type: str, *, public: bool = False, **fields: Any) -> App:
    secret = None if public else secrets.token_urlsafe(24)
    application = get_application_model().objects.create(
        name=f"{grant_type} client",
        user=user,
        client_type="public" if public else "confidential",
        authorization_grant_type=grant_type,
        redirect_uris=REDIRECT_URI,
        client_secret=secret or "",
        **fields,
    )
    return App(application, secret)


def token_proof(key: TestKey, **kwargs: Any) -> str:
    """A proof for the token endpoint (RFC 9449 §4.2: htm POST, htu the token endpoint)."""
    return make_proof(key, "POST", TOKEN_HTU, **kwargs)


def post_token(
    client: Client,
    app: App,
    data: dict[str, str],
    *,
    key: TestKey | None = None,
    proof: str | None = None,
    nonce: str | None = None,
) -> Any:
    """POST to the token endpoint; a ``key`` signs a fresh proof, ``proof`` sends exactly that."""
    body = dict(data)
    headers: dict[str, str] = {}
    if app.public:
        body["client_id"] = app.client_id
    else:
        pair = f"{app.client_id}:{app.secret}".encode()
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(pair).decode()
    if key is not None and proof is None:
        proof = token_proof(key, nonce=nonce)
    if proof is not None:
        headers["HTTP_DPOP"] = proof
    return client.post(
        TOKEN_URL, urlencode(body), content_type="application/x-www-form-urlencoded", **headers
    )


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(app: App, challenge: str, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "read",
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return params


def code_from(response: Any) -> str:
    assert response.status_code == 302, response.content
    query = parse_qs(urlsplit(response["Location"]).query)
    assert "code" in query, response["Location"]
    return query["code"][0]


def authorize(
    client: Client, app: App, *, dpop_jkt: str | None = None, consent: bool = True
) -> tuple[str, str]:
    """Run the authorization request of a logged-in ``client``; return ``(code, verifier)``.

    With ``consent`` the user goes through DOT's consent form (GET, then POST of the form's
    initial values); without it the application must skip authorization.
    """
    verifier, challenge = pkce_pair()
    extra = {"dpop_jkt": dpop_jkt} if dpop_jkt else {}
    params = authorize_params(app, challenge, **extra)
    url = f"{AUTHORIZE_URL}?{urlencode(params)}"
    response = client.get(url)
    if not consent:
        return code_from(response), verifier
    assert response.status_code == 200, response.content
    form = response.context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    data["allow"] = "Authorize"
    return code_from(client.post(url, data)), verifier


def code_exchange(code: str, verifier: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }


def authorize_device(client: Client, browser: Client, app: App) -> str:
    """RFC 8628 through DOT's views: device authorization, then the user enters the code and accepts."""
    response = client.post(
        "/o/device-authorization/",
        urlencode({"client_id": app.client_id, "scope": "read"}),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.content
    data = json.loads(response.content)
    user_code = data["user_code"]
    response = browser.post("/o/device/", {"user_code": user_code})
    assert response.status_code == 302, response.content
    response = browser.post(f"/o/device-confirm/{app.client_id}/{user_code}", {"action": "accept"})
    assert response.status_code == 302, response.content
    return data["device_code"]
