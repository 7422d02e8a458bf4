"""DOT's own resource surfaces with DPoP: the downgrade guard (RFC 9449 §7.2) and the DPoP scheme.

ProtectedResourceView, DRF with DOT's OAuth2Authentication and OIDC UserInfo all go through the
configured backend and validator.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client

from tests.contrib.oauth2_provider.flows import App, post_token
from tests.factories import TestKey, make_proof


pytestmark = pytest.mark.urls("tests.contrib.oauth2_provider.resource_urls")


def _token(client: Client, app: App, key: TestKey | None) -> str:
    response = post_token(client, app, {"grant_type": "client_credentials"}, key=key)
    assert response.status_code == 200, response.content
    return json.loads(response.content)["access_token"]


def _get(client: Client, path: str, scheme: str, token: str, proof: str | None = None) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"{scheme} {token}"}
    if proof is not None:
        headers["HTTP_DPOP"] = proof
    return client.get(path, **headers)


@pytest.fixture
def app(app_factory: Any) -> App:
    return app_factory("client-credentials")


@pytest.mark.parametrize("path", ["/dot/", "/drf/"])
def test_dpop_token_with_proof_is_accepted(client: Client, app: App, key: TestKey, path: str) -> None:
    token = _token(client, app, key)
    proof = make_proof(key, "GET", f"http://testserver{path}", access_token=token)
    response = _get(client, path, "DPoP", token, proof)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("path", ["/dot/", "/drf/"])
def test_bound_token_as_bearer_is_refused(client: Client, app: App, key: TestKey, path: str) -> None:
    token = _token(client, app, key)
    response = _get(client, path, "Bearer", token)
    assert response.status_code in (401, 403)
    if path == "/drf/":
        assert 'error="invalid_token"' in response["WWW-Authenticate"]


@pytest.mark.parametrize("path", ["/dot/", "/drf/"])
def test_unbound_bearer_token_still_works(client: Client, app: App, path: str) -> None:
    assert _get(client, path, "Bearer", _token(client, app, None)).status_code == 200


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda key, other, token: make_proof(other, "GET", "http://testserver/dot/", access_token=token),
            id="other-key",
        ),
        pytest.param(lambda key, other, token: make_proof(key, "GET", "http://testserver/dot/"), id="no-ath"),
        pytest.param(
            lambda key, other, token: make_proof(key, "GET", "http://testserver/dot/", access_token="x"),
            id="wrong-ath",
        ),
        pytest.param(
            lambda key, other, token: make_proof(key, "POST", "http://testserver/dot/", access_token=token),
            id="htm",
        ),
        pytest.param(lambda key, other, token: None, id="no-proof"),
    ],
)
def test_bad_dpop_requests_are_refused(
    client: Client, app: App, key: TestKey, other_key: TestKey, make: Any
) -> None:
    token = _token(client, app, key)
    assert _get(client, "/dot/", "DPoP", token, make(key, other_key, token)).status_code == 403


def test_unbound_token_with_dpop_scheme_is_refused(client: Client, app: App, key: TestKey) -> None:
    token = _token(client, app, None)
    proof = make_proof(key, "GET", "http://testserver/dot/", access_token=token)
    assert _get(client, "/dot/", "DPoP", token, proof).status_code == 403


def test_replayed_resource_proof_is_refused(client: Client, app: App, key: TestKey) -> None:
    token = _token(client, app, key)
    proof = make_proof(key, "GET", "http://testserver/dot/", access_token=token)
    assert _get(client, "/dot/", "DPoP", token, proof).status_code == 200
    assert _get(client, "/dot/", "DPoP", token, proof).status_code == 403


def test_dpop_resource_costs_no_second_token_query(
    client: Client, app: App, key: TestKey, django_assert_max_num_queries: Any
) -> None:
    token = _token(client, app, key)
    proof = make_proof(key, "GET", "http://testserver/dot/", access_token=token)
    with django_assert_max_num_queries(2) as captured:  # the replay insert and one token query
        assert _get(client, "/dot/", "DPoP", token, proof).status_code == 200
    assert sum("oauth2_provider_accesstoken" in q["sql"] for q in captured.captured_queries) == 1


# -- OIDC UserInfo --------------------------------------------------------------------------------


@pytest.fixture
def oidc(dot_settings: Any) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    dot_settings(OIDC_ENABLED=True, OIDC_RSA_PRIVATE_KEY=pem, SCOPES={"openid": "OpenID", "read": "Read"})


@pytest.fixture
def user_token(oidc: None, client: Client, app_factory: Any, dot_settings: Any, key: TestKey) -> str:
    dot_settings(COMPLIANT_BCP_RFC9700_PASSWORD_GRANT=False)
    app = app_factory("password")
    data = {"grant_type": "password", "username": "alice", "password": "wonderland", "scope": "openid"}
    response = post_token(client, app, data, key=key)
    assert response.status_code == 200, response.content
    return json.loads(response.content)["access_token"]


USERINFO = "http://testserver/o/userinfo/"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_userinfo_with_dpop(client: Client, user_token: str, key: TestKey) -> None:
    proof = make_proof(key, "GET", USERINFO, access_token=user_token)
    response = _get(client, "/o/userinfo/", "DPoP", user_token, proof)
    assert response.status_code == 200, response.content
    assert json.loads(response.content)["sub"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_userinfo_refuses_bound_token_as_bearer(client: Client, user_token: str) -> None:
    response = _get(client, "/o/userinfo/", "Bearer", user_token)
    assert response.status_code == 401
    assert "invalid_token" in response["WWW-Authenticate"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_userinfo_refuses_bad_proof(client: Client, user_token: str, other_key: TestKey) -> None:
    proof = make_proof(other_key, "GET", USERINFO, access_token=user_token)
    response = _get(client, "/o/userinfo/", "DPoP", user_token, proof)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("DPoP ")
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_userinfo_nonce(client: Client, user_token: str, key: TestKey, settings: Any) -> None:
    settings.DPOP_NONCE_REQUIRED = True
    proof = make_proof(key, "GET", USERINFO, access_token=user_token)
    response = _get(client, "/o/userinfo/", "DPoP", user_token, proof)
    assert response.status_code == 401
    assert 'error="use_dpop_nonce"' in response["WWW-Authenticate"]
    nonce = response["DPoP-Nonce"]
    proof = make_proof(key, "GET", USERINFO, access_token=user_token, nonce=nonce)
    assert _get(client, "/o/userinfo/", "DPoP", user_token, proof).status_code == 200


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(
    ("authorization", "proof"),
    [
        pytest.param("DPoP", "ok", id="no-token"),
        pytest.param("DPoP ", "ok", id="empty-token"),
        pytest.param("DPoP ü", "ok", id="non-ascii-token"),
        pytest.param("DPoP a b", "ok", id="two-tokens"),
        pytest.param("DPoP " + "x" * 100_000, "ok", id="huge-token"),
        pytest.param("DPoP {token}", "x" * 100_000, id="huge-proof"),
        pytest.param("DPoP {token}", "ü.ü.ü", id="non-ascii-proof"),
        pytest.param("DPoP {token}", "{proof}, {proof}", id="two-proofs"),
        pytest.param("DPoP {token}", None, id="no-proof"),
        pytest.param("DPoP {token}, Bearer {token}", "ok", id="two-schemes"),
    ],
)
def test_userinfo_refuses_hostile_input(
    client: Client, user_token: str, key: TestKey, authorization: str, proof: str | None
) -> None:
    good = make_proof(key, "GET", USERINFO, access_token=user_token)
    headers = {"HTTP_AUTHORIZATION": authorization.format(token=user_token)}
    if proof is not None:
        headers["HTTP_DPOP"] = good if proof == "ok" else proof.format(proof=good)
    response = client.get("/o/userinfo/", **headers)
    assert response.status_code in (400, 401), response.content
    assert "sub" not in json.loads(response.content or b"{}")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_userinfo_store_failure_is_503_with_retry_after(
    client: Client, user_token: str, key: TestKey, settings: Any
) -> None:
    settings.DPOP_REPLAY_STORE = "tests.contrib.rest_framework.conftest.FailingStore"
    settings.DPOP_RETRY_AFTER = 9
    proof = make_proof(key, "GET", USERINFO, access_token=user_token)
    response = _get(client, "/o/userinfo/", "DPoP", user_token, proof)
    assert response.status_code == 503
    assert response["Retry-After"] == "9"


@pytest.mark.parametrize("path", ["/dot/", "/drf/"])
def test_dot_surfaces_use_the_dot_validator_whatever_the_setting(
    client: Client, app: App, key: TestKey, settings: Any, path: str
) -> None:
    # DOT's own views need DOT's AccessToken: DPOP_TOKEN_VALIDATORS is for DRF and plain views.
    settings.DPOP_TOKEN_VALIDATORS = ["tests.seam.validators.StaticValidator"]
    token = _token(client, app, key)
    proof = make_proof(key, "GET", f"http://testserver{path}", access_token=token)
    assert _get(client, path, "DPoP", token, proof).status_code == 200
