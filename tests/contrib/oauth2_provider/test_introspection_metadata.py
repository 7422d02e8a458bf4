"""RFC 9449 §6.2 introspection (served, and consumed by DOT's remote introspection) and §5.1 metadata."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client
from oauth2_provider.models import get_access_token_model

from django_dpop.conf import conf
from django_dpop.contrib.oauth2_provider import validators
from django_dpop.contrib.oauth2_provider.models import AccessTokenBinding
from django_dpop.contrib.oauth2_provider.tokens import token_checksum
from tests.contrib.oauth2_provider.flows import App, post_token
from tests.factories import TestKey, make_proof


def _token(client: Client, app: App, key: TestKey | None) -> str:
    response = post_token(client, app, {"grant_type": "client_credentials"}, key=key)
    assert response.status_code == 200, response.content
    return json.loads(response.content)["access_token"]


def _introspect(client: Client, app: App, token: str) -> Any:
    basic = base64.b64encode(f"{app.client_id}:{app.secret}".encode()).decode()
    return client.post("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=f"Basic {basic}")


@pytest.fixture
def app(app_factory: Any) -> App:
    return app_factory("client-credentials")


def test_introspection_of_a_bound_token(client: Client, app: App, key: TestKey) -> None:
    response = _introspect(client, app, _token(client, app, key))
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["active"] is True
    assert body["token_type"] == "DPoP"
    assert body["cnf"] == {"jkt": key.jkt}
    assert body["client_id"] == app.client_id


def test_introspection_of_a_bearer_token(client: Client, app: App) -> None:
    body = json.loads(_introspect(client, app, _token(client, app, None)).content)
    assert body["active"] is True
    assert body["token_type"] == "Bearer"
    assert "cnf" not in body


def test_introspection_of_unknown_and_missing_tokens(client: Client, app: App) -> None:
    assert json.loads(_introspect(client, app, "nope").content) == {"active": False}
    basic = base64.b64encode(f"{app.client_id}:{app.secret}".encode()).decode()
    assert client.post("/o/introspect/", {}, HTTP_AUTHORIZATION=f"Basic {basic}").status_code == 400


# -- DOT's remote introspection on a resource server (RESOURCE_SERVER_INTROSPECTION_URL) ------------


class Transport:
    """Stands in for the network only: answers ``requests.post`` with a recorded AS response."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.calls: list[dict[str, Any]] = []

    def __call__(
        self, url: str, data: dict[str, str], headers: dict[str, str], timeout: float
    ) -> requests.Response:
        self.calls.append({"url": url, "data": data, "headers": headers})
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(self.payload).encode()
        response.headers["Content-Type"] = "application/json"
        return response


@pytest.fixture
def remote(client: Client, app: App, key: TestKey, dot_settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A DPoP token introspected by our AS view; then the RS forgets it and must introspect it."""
    token = _token(client, app, key)
    payload = json.loads(_introspect(client, app, token).content)
    get_access_token_model().objects.all().delete()  # the resource server does not share the AS's rows
    dot_settings(
        RESOURCE_SERVER_INTROSPECTION_URL="https://as.example.org/o/introspect/",
        RESOURCE_SERVER_INTROSPECTION_CREDENTIALS=("rs", "rs-secret"),
    )
    transport = Transport(payload)
    monkeypatch.setattr(validators.requests, "post", transport)
    return token, transport


@pytest.mark.urls("tests.contrib.oauth2_provider.resource_urls")
def test_remote_introspection_keeps_the_binding(client: Client, remote: Any, key: TestKey) -> None:
    token, transport = remote
    for _ in range(2):
        proof = make_proof(key, "GET", "http://testserver/dot/", access_token=token)
        response = client.get("/dot/", HTTP_AUTHORIZATION=f"DPoP {token}", HTTP_DPOP=proof)
        assert response.status_code == 200, response.content
    assert len(transport.calls) == 1  # the second request used the cached token...
    cached = get_access_token_model().objects.get()
    assert AccessTokenBinding.objects.get(access_token=cached).jkt == key.jkt  # ...with its binding
    assert transport.calls[0]["headers"]["Authorization"].startswith("Basic ")
    # So the cached copy is no Bearer token.
    assert client.get("/dot/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 403


@pytest.mark.urls("tests.contrib.oauth2_provider.resource_urls")
def test_remote_dpop_token_without_cnf_is_refused(client: Client, remote: Any, key: TestKey) -> None:
    token, transport = remote
    del transport.payload["cnf"]
    proof = make_proof(key, "GET", "http://testserver/dot/", access_token=token)
    assert client.get("/dot/", HTTP_AUTHORIZATION=f"DPoP {token}", HTTP_DPOP=proof).status_code == 403
    assert client.get("/dot/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 403
    assert not get_access_token_model().objects.exists()


@pytest.mark.urls("tests.contrib.oauth2_provider.resource_urls")
@pytest.mark.parametrize("jkt", ["short", 42, None])
def test_remote_malformed_cnf_is_refused(client: Client, remote: Any, jkt: Any) -> None:
    token, transport = remote
    transport.payload["cnf"] = {"jkt": jkt} if jkt is not None else "not-an-object"
    assert client.get("/dot/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 403
    assert not get_access_token_model().objects.exists()


@pytest.mark.urls("tests.contrib.oauth2_provider.resource_urls")
def test_remote_unbinding_is_cached(client: Client, remote: Any) -> None:
    # The AS now says Bearer (e.g. reissued): a stale cached binding must not survive.
    token, transport = remote
    transport.payload = {k: v for k, v in transport.payload.items() if k != "cnf"} | {"token_type": "Bearer"}
    validator = validators.DPoPOAuth2Validator()
    access_token = get_access_token_model().objects.create(
        token=token, token_checksum=token_checksum(token), scope="", expires="2000-01-01T00:00:00Z"
    )
    AccessTokenBinding.objects.create(access_token=access_token, jkt="a" * 43)
    cached = validator._get_token_from_authentication_server(
        token, "https://as.example.org/", None, ("rs", "x")
    )
    assert cached.pk == access_token.pk
    assert not AccessTokenBinding.objects.exists()
    assert client.get("/dot/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


# -- metadata (RFC 9449 §5.1) -----------------------------------------------------------------------


def test_server_metadata(client: Client, settings: Any) -> None:
    body = json.loads(client.get("/o/.well-known/oauth-authorization-server").content)
    assert body["dpop_signing_alg_values_supported"] == list(conf.DPOP_ALLOWED_ALGORITHMS)
    assert {"Ed25519", "Ed448", "EdDSA"} <= set(body["dpop_signing_alg_values_supported"])  # RFC 9864
    assert body["token_endpoint"] == "http://testserver/o/token/"
    settings.DPOP_ALLOWED_ALGORITHMS = ["ES256", "EdDSA"]
    response = client.get("/o/.well-known/oauth-authorization-server")
    assert json.loads(response.content)["dpop_signing_alg_values_supported"] == ["ES256", "EdDSA"]
    assert response["Access-Control-Allow-Origin"] == "*"


def test_oidc_discovery(client: Client, dot_settings: Any) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    dot_settings(OIDC_ENABLED=True, OIDC_RSA_PRIVATE_KEY=pem)
    response = client.get("/o/.well-known/openid-configuration")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["dpop_signing_alg_values_supported"] == list(conf.DPOP_ALLOWED_ALGORITHMS)
    assert body["userinfo_endpoint"] == "http://testserver/o/userinfo/"
    assert response["Access-Control-Allow-Origin"] == "*"
