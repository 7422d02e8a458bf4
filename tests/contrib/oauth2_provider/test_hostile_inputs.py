"""Hostile client input at DOT's endpoints with DPoP: a clear 4xx, never a 500 or an unbound token.

Each case goes through the real views with Django's test client, which re-raises any exception a
view lets escape, so a case that would be a 500 in production fails here.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from oauth2_provider.models import get_access_token_model, get_grant_model

from django_dpop.contrib.oauth2_provider.backends import JKT_HEADER
from django_dpop.contrib.oauth2_provider.models import AccessTokenBinding, GrantBinding
from tests.contrib.oauth2_provider.flows import (
    AUTHORIZE_URL,
    DEVICE_GRANT,
    TOKEN_URL,
    App,
    authorize_params,
    pkce_pair,
    post_token,
    token_proof,
)
from tests.factories import TestKey, make_proof


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _form(client: Client, body: str, **headers: str) -> Any:
    return client.post(TOKEN_URL, body, content_type="application/x-www-form-urlencoded", **headers)


def _client_error(response: Any) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (response.status_code, response.content)
    assert response["Cache-Control"] == "no-store"
    return json.loads(response.content)


def _basic(app: App) -> str:
    return "Basic " + base64.b64encode(f"{app.client_id}:{app.secret}".encode()).decode()


@pytest.fixture
def cc_app(app_factory: Any) -> App:
    return app_factory("client-credentials")


# -- token endpoint ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("x" * 1_000_000, id="huge"),
        pytest.param("\x00", id="nul"),
        pytest.param("ünïcödé.ünïcödé.ünïcödé", id="non-ascii"),
        pytest.param("a" * 50 + "." + "b" * 50 + "." + "c" * 50, id="three-junk-segments"),
        pytest.param("e30.e30.", id="empty-json"),
        pytest.param(" ", id="space"),
    ],
)
def test_junk_proofs_are_invalid_dpop_proof(client: Client, cc_app: App, value: str) -> None:
    response = post_token(client, cc_app, {"grant_type": "client_credentials"}, proof=value)
    assert _client_error(response)["error"] == "invalid_dpop_proof"
    assert not get_access_token_model().objects.exists()


def test_proof_with_non_ascii_claims_is_refused(client: Client, cc_app: App, key: TestKey) -> None:
    proof = token_proof(key, claims={"htu": "http://testserver/o/tökén/", "jti": "ü" * 10})
    response = post_token(client, cc_app, {"grant_type": "client_credentials"}, proof=proof)
    assert _client_error(response)["error"] == "invalid_dpop_proof"


def test_synthetic_jkt_header_cannot_be_injected(client: Client, cc_app: App, key: TestKey) -> None:
    """A client can only send ``HTTP_*`` keys; a same-named one must not bind the token."""
    headers = {"HTTP_X_DJANGO_DPOP_JKT": key.jkt, "HTTP_X-DJANGO-DPOP-JKT": key.jkt}
    body = urlencode({"grant_type": "client_credentials"})
    auth = _basic(cc_app)
    response = _form(client, body, HTTP_AUTHORIZATION=auth, **headers)
    assert response.status_code == 200, response.content
    assert json.loads(response.content)["token_type"] == "Bearer"
    assert not AccessTokenBinding.objects.exists()
    # Even a raw META key of that name (a misbehaving server layer) is dropped.
    response = _form(client, body, HTTP_AUTHORIZATION=auth, **{JKT_HEADER: key.jkt})
    assert json.loads(response.content)["token_type"] == "Bearer"
    assert not AccessTokenBinding.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("grant_type=client_credentials&grant_type=client_credentials", id="repeated-grant"),
        pytest.param("grant_type=client_credentials&scope=r%C3%A9ad", id="non-ascii-scope"),
        pytest.param("grant_type=%FF%FE", id="bad-utf8-grant"),
        pytest.param("grant_type=" + "x" * 100_000, id="huge-grant"),
        pytest.param(f"grant_type={DEVICE_GRANT}", id="device-no-code"),
        pytest.param(f"grant_type={DEVICE_GRANT}&device_code=", id="device-empty-code"),
        pytest.param(f"grant_type={DEVICE_GRANT}&device_code=%C3%BC%00", id="device-junk-code"),
        pytest.param(f"grant_type={DEVICE_GRANT}&device_code=a&device_code=b", id="device-repeated-code"),
        pytest.param("grant_type=refresh_token&refresh_token=%C3%BC", id="refresh-junk"),
        pytest.param("grant_type=authorization_code&code=%C3%BC&redirect_uri=x", id="code-junk"),
    ],
)
def test_junk_token_requests_with_a_proof(client: Client, cc_app: App, key: TestKey, body: str) -> None:
    response = _form(client, body, HTTP_AUTHORIZATION=_basic(cc_app), HTTP_DPOP=token_proof(key))
    if response.status_code == 200:  # a repeated or odd-but-valid parameter: the token is bound
        token = json.loads(response.content)
        assert token["token_type"] == "DPoP"
        assert AccessTokenBinding.objects.get().jkt == key.jkt
    else:
        _client_error(response)
        assert not AccessTokenBinding.objects.exists()


@pytest.mark.parametrize("authorization", ["DPoP", "DPoP ", "Basic ü", "Basic !!!", "Bearer x" * 1000])
def test_junk_client_authentication_with_a_proof(
    client: Client, cc_app: App, key: TestKey, authorization: str
) -> None:
    body = urlencode({"grant_type": "client_credentials"})
    response = _form(client, body, HTTP_AUTHORIZATION=authorization, HTTP_DPOP=token_proof(key))
    _client_error(response)
    assert not get_access_token_model().objects.exists()


# -- authorization endpoint (dpop_jkt, RFC 9449 §10) ------------------------------------------------


@pytest.fixture
def code_app(app_factory: Any) -> App:
    return app_factory("authorization-code", public=True, skip_authorization=True)


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"dpop_jkt": "ü" * 43}, id="non-ascii"),
        pytest.param({"dpop_jkt": "a" * 10_000}, id="huge"),
        pytest.param({"dpop_jkt": "a" * 42 + "\n"}, id="trailing-newline"),
        pytest.param({"dpop_jkt": "a" * 43 + "="}, id="padding"),
        pytest.param({"dpop_jkt": "a" * 42 + "+"}, id="not-base64url"),
        pytest.param({"dpop_jkt": "\x00" * 43}, id="nul"),
    ],
)
def test_junk_dpop_jkt_is_refused(browser: Client, code_app: App, query: dict[str, str]) -> None:
    _verifier, challenge = pkce_pair()
    params = authorize_params(code_app, challenge, **query)
    response = browser.get(f"{AUTHORIZE_URL}?{urlencode(params)}")
    assert response.status_code in (302, 400), response.content
    if response.status_code == 302:
        assert "error=invalid_request" in response["Location"]
        assert "code=" not in response["Location"]
    assert not get_grant_model().objects.exists()
    assert not GrantBinding.objects.exists()


def test_empty_dpop_jkt_is_refused(browser: Client, code_app: App) -> None:
    """An empty ``dpop_jkt`` is a malformed one, never "no binding asked"."""
    _verifier, challenge = pkce_pair()
    params = authorize_params(code_app, challenge, dpop_jkt="")
    response = browser.get(f"{AUTHORIZE_URL}?{urlencode(params)}")
    assert response.status_code == 302
    assert "error=invalid_request" in response["Location"]
    assert not get_grant_model().objects.exists()


def test_junk_dpop_jkt_in_the_consent_form_is_ignored(
    browser: Client, app_factory: Any, key: TestKey
) -> None:
    """The POST's dpop_jkt (junk, empty) is never read: the code is bound as the GET asked."""
    app = app_factory("authorization-code", public=True)
    _verifier, challenge = pkce_pair()
    params = authorize_params(app, challenge, dpop_jkt=key.jkt)
    url = f"{AUTHORIZE_URL}?{urlencode(params)}"
    for junk in ("ü" * 43, "a" * 5000, "a" * 42 + "+", ""):
        form = browser.get(url).context["form"]
        data = {name: value for name, value in form.initial.items() if value is not None}
        response = browser.post(url, {**data, "dpop_jkt": junk, "allow": "Authorize"})
        assert response.status_code == 302, response.content
    assert list(GrantBinding.objects.values_list("jkt", flat=True)) == [key.jkt] * 4


# -- introspection and userinfo ---------------------------------------------------------------------


@pytest.fixture
def introspector(client: Client, cc_app: App, dot_settings: Any) -> str:
    """A resource server's token (DOT's introspection endpoint needs the introspection scope)."""
    dot_settings(SCOPES={"read": "Read", "introspection": "Introspect"})
    data = {"grant_type": "client_credentials", "scope": "introspection"}
    response = post_token(client, cc_app, data)
    assert response.status_code == 200, response.content
    return json.loads(response.content)["access_token"]


@pytest.mark.parametrize(
    "token",
    ["ü" * 20, "\x00", "x" * 100_000, "a b", ""],
)
def test_junk_introspection_tokens(client: Client, cc_app: App, token: str) -> None:
    for method in ("get", "post"):
        call = getattr(client, method)
        response = call("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=_basic(cc_app))
        assert response.status_code in (200, 400), response.content
        if response.status_code == 200:
            assert json.loads(response.content) == {"active": False}


@pytest.mark.parametrize(
    "authorization",
    ["DPoP", "DPoP ", "DPoP ü", "DPoP a b", "DPoP " + "x" * 100_000, "dpop x", "DPoP\tx", "DPoP x,DPoP y"],
)
def test_junk_dpop_authorization_at_introspection(
    client: Client, introspector: str, key: TestKey, authorization: str
) -> None:
    proof = make_proof(key, "POST", "http://testserver/o/introspect/", access_token="x")
    response = client.post(
        "/o/introspect/", {"token": introspector}, HTTP_AUTHORIZATION=authorization, HTTP_DPOP=proof
    )
    assert response.status_code in (400, 401, 403), response.content


def test_junk_dpop_jkt_in_the_url_of_a_consent_post_is_ignored(browser: Client, app_factory: Any) -> None:
    """oauthlib exposes every query parameter on its request: the view always sets dpop_jkt
    itself (None for an unbound request), so a junk one in the POST's URL is never read."""
    app = app_factory("authorization-code", public=True)
    _verifier, challenge = pkce_pair()
    params = authorize_params(app, challenge)
    form = browser.get(f"{AUTHORIZE_URL}?{urlencode(params)}").context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    url = f"{AUTHORIZE_URL}?{urlencode({**params, 'dpop_jkt': 'x' * 500})}"
    response = browser.post(url, {**data, "allow": "Authorize"})
    assert response.status_code == 302
    assert "code=" in response["Location"]
    assert get_grant_model().objects.count() == 1
    assert not GrantBinding.objects.exists()
