"""DPoP-bound JWT access tokens through the real views (DRF, @dpop_required, the mixin).

The pipeline verifies the proof, JWTTokenValidator the token, the pipeline the binding
(RFC 9449 §7.1, §7.2); JWKS failures are 503 with Retry-After, never 500, never accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from django_dpop.client import DPoPKey
from django_dpop.test import DPoPAPIClient, TestIssuer
from tests.tokens.conftest import AUDIENCE, FakeClock, JWKSServer


pytestmark = [pytest.mark.urls("tests.tokens.urls_jwt"), pytest.mark.django_db]

JWT_VALIDATOR = "django_dpop.tokens.jwt.JWTTokenValidator"
DOT_VALIDATOR = "django_dpop.contrib.oauth2_provider.tokens.DOTTokenValidator"
SURFACES = ["/drf/", "/plain/", "/mixin/"]


@pytest.fixture
def jwt_only(trust: Any, issuer: TestIssuer, settings: Any) -> None:
    trust(issuer, DPOP_TOKEN_VALIDATORS=[JWT_VALIDATOR])


def error_of(response: Any) -> str:
    return response.headers.get("WWW-Authenticate", "")


@pytest.mark.parametrize("surface", SURFACES)
def test_dpop_bound_jwt_accepted(jwt_only: None, issuer: TestIssuer, surface: str) -> None:
    client = DPoPAPIClient()
    client.obtain_jwt_token(issuer, audience=AUDIENCE, scope="read", sub="alice", client_id="app")
    response = client.get(surface)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "sub": "alice",
        "client_id": "app",
        "iss": issuer.issuer,
        "scope": "read",
        "user": None,
    }
    assert client.get(surface).status_code == 200  # a second request, the same token


@pytest.mark.parametrize("surface", SURFACES)
def test_cnf_of_another_key(jwt_only: None, issuer: TestIssuer, surface: str) -> None:
    owner = DPoPAPIClient()
    token = owner.obtain_jwt_token(issuer, audience=AUDIENCE, scope="read")
    thief = DPoPAPIClient()  # another key signs the proof
    thief.credentials(token)
    response = thief.get(surface)
    assert response.status_code == 401
    assert 'error="invalid_token"' in error_of(response)
    assert owner.get(surface).status_code == 200


@pytest.mark.parametrize("surface", SURFACES)
def test_no_cnf_on_the_dpop_scheme(jwt_only: None, issuer: TestIssuer, surface: str) -> None:
    client = DPoPAPIClient()
    client.obtain_jwt_token(issuer, audience=AUDIENCE, scope="read", claims={"cnf": None})
    response = client.get(surface)
    assert response.status_code == 401
    assert 'error="invalid_token"' in error_of(response)


@pytest.mark.parametrize("surface", SURFACES)
def test_cnf_token_sent_as_bearer(jwt_only: None, issuer: TestIssuer, surface: str) -> None:
    token = DPoPAPIClient().obtain_jwt_token(issuer, audience=AUDIENCE, scope="read")
    response = APIClient().get(surface, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert "invalid_token" in error_of(response)
    # The same claims without cnf are a plain Bearer JWT, accepted while Bearer is allowed.
    unbound = issuer.mint(audience=AUDIENCE, scope="read")
    assert APIClient().get(surface, HTTP_AUTHORIZATION=f"Bearer {unbound}").status_code == 200


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        ({"aud": "https://other.example.com"}, 401),
        ({"exp": int(time.time()) - 3600}, 401),
        ({"nbf": int(time.time()) + 3600}, 401),
        ({"iss": "https://untrusted.example.com"}, 401),
        ({"scope": "write"}, 403),
    ],
    ids=["aud", "exp", "nbf", "iss", "scope"],
)
@pytest.mark.parametrize("surface", SURFACES)
def test_refused_claims(
    jwt_only: None, issuer: TestIssuer, surface: str, claims: dict[str, Any], status: int
) -> None:
    client = DPoPAPIClient()
    client.obtain_jwt_token(issuer, audience=AUDIENCE, scope="read", claims=claims)
    response = client.get(surface)
    assert response.status_code == status, response.content
    if status == 401:
        assert 'error="invalid_token"' in error_of(response)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("surface", SURFACES)
def test_forged_tokens(jwt_only: None, issuer: TestIssuer, surface: str) -> None:
    client = DPoPAPIClient()
    now = int(time.time())
    claims = {
        "iss": issuer.issuer,
        "aud": AUDIENCE,
        "exp": now + 600,
        "scope": "read",
        "cnf": {"jkt": client.dpop_key.thumbprint},
    }
    body = b64(json.dumps(claims).encode())
    none = b64(json.dumps({"alg": "none", "typ": "at+jwt"}).encode()) + "." + body + "."
    hs_head = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": issuer.kid}).encode())
    mac = hmac.new(issuer.key.public_pem(), f"{hs_head}.{body}".encode(), hashlib.sha256).digest()
    for token in (none, f"{hs_head}.{body}.{b64(mac)}"):
        client.credentials(token)
        response = client.get(surface)
        assert response.status_code == 401, token
        assert 'error="invalid_token"' in error_of(response)


@pytest.mark.parametrize("surface", SURFACES)
def test_typ_other_than_at_jwt(jwt_only: None, issuer: TestIssuer, surface: str) -> None:
    client = DPoPAPIClient()
    client.credentials(
        issuer.mint(
            audience=AUDIENCE,
            scope="read",
            claims={"cnf": {"jkt": client.dpop_key.thumbprint}},
            headers={"typ": "JWT"},
        )
    )
    assert client.get(surface).status_code == 401


def test_user_mapped_from_sub(trust: Any, issuer: TestIssuer) -> None:
    get_user_model().objects.create_user("alice")
    trust(issuer.settings_entry(user_field="username"), DPOP_TOKEN_VALIDATORS=[JWT_VALIDATOR])
    client = DPoPAPIClient()
    client.obtain_jwt_token(issuer, audience=AUDIENCE, scope="read", sub="alice")
    for surface in SURFACES:
        assert client.get(surface).json()["user"] == "alice"
    client.obtain_jwt_token(issuer, audience=AUDIENCE, scope="read", sub="nobody")
    for surface in SURFACES:
        response = client.get(surface)
        assert response.status_code == 200 and response.json()["user"] is None


def test_several_issuers_and_dot_in_one_deployment(
    trust: Any, issuer: TestIssuer, other_issuer: TestIssuer, application: Any, make_token: Any
) -> None:
    trust(issuer, other_issuer, DPOP_TOKEN_VALIDATORS=[JWT_VALIDATOR, DOT_VALIDATOR])
    client = DPoPAPIClient()
    for surface in SURFACES:
        for source in (issuer, other_issuer):
            client.obtain_jwt_token(source, audience=AUDIENCE, scope="read")
            response = client.get(surface)
            assert response.status_code == 200, response.content
            assert response.json()["iss"] == source.issuer
    # A DOT token of the same deployment (opaque: "not mine" for the JWT validator).
    dot = DPoPAPIClient()
    make_token(jkt=dot.dpop_key.thumbprint, scope="read", token="opaque-dot-token-123")
    dot.credentials("opaque-dot-token-123")
    assert dot.get("/drf/").status_code == 200


# -- remote keys: 503 when they cannot be had ------------------------------------------------------


@pytest.fixture
def remote(settings: Any, jwks_server: JWKSServer, clock: FakeClock) -> TestIssuer:
    issuer = TestIssuer("https://remote.example.com")
    settings.DPOP_JWT_ISSUERS = [{"issuer": issuer.issuer, "jwks_uri": jwks_server.url("/jwks")}]
    settings.DPOP_JWT_AUDIENCE = AUDIENCE
    settings.DPOP_JWKS_ALLOW_HTTP = True
    settings.DPOP_JWKS_TIMEOUT = 0.3
    settings.DPOP_TOKEN_VALIDATORS = [JWT_VALIDATOR]
    settings.DPOP_RETRY_AFTER = 7
    return issuer


@pytest.mark.parametrize(
    "route",
    [
        {"status": 500, "body": b"oops"},
        {"body": b"garbage"},
        {"body": b"x" * 200000},
        {"body": b"{}", "delay": 1.0},
    ],
    ids=["down", "garbage", "too-large", "slow"],
)
def test_jwks_failure_is_503_never_accepted(
    remote: TestIssuer, jwks_server: JWKSServer, clock: FakeClock, route: dict[str, Any]
) -> None:
    jwks_server.serve("/jwks", **route)
    client = DPoPAPIClient()
    client.obtain_jwt_token(remote, audience=AUDIENCE, scope="read")
    for surface in SURFACES * 2:
        response = client.get(surface)
        assert response.status_code == 503, (surface, response.content)
        assert response.headers["Retry-After"] == "7"
    assert jwks_server.counts["/jwks"] == 1  # one fetch, not one per request
    # Back up after the refetch interval: accepted, and fetched once more only.
    jwks_server.serve("/jwks", remote.jwks)
    clock.advance(31)
    for surface in SURFACES:
        assert client.get(surface).status_code == 200
    assert jwks_server.counts["/jwks"] == 2


def test_unknown_kid_through_the_views(remote: TestIssuer, jwks_server: JWKSServer, clock: FakeClock) -> None:
    jwks_server.serve("/jwks", remote.jwks)
    client = DPoPAPIClient()
    client.obtain_jwt_token(remote, audience=AUDIENCE, scope="read")
    assert client.get("/drf/").status_code == 200
    clock.advance(31)
    forger = TestIssuer(remote.issuer, kid="forged")
    for number, surface in enumerate(SURFACES * 5):
        forged = TestIssuer(remote.issuer, kid=f"forged-{number}") if number % 2 else forger
        client.obtain_jwt_token(forged, audience=AUDIENCE, scope="read")
        response = client.get(surface)
        assert response.status_code == 401
        assert 'error="invalid_token"' in error_of(response)
    assert jwks_server.counts["/jwks"] == 2  # the first fetch and one refetch


def test_proof_checked_before_any_fetch(remote: TestIssuer, jwks_server: JWKSServer) -> None:
    # A request with a broken proof never reaches the validator: no JWKS fetch.
    jwks_server.serve("/jwks", remote.jwks)
    client = DPoPAPIClient(key=DPoPKey.generate())
    client.obtain_jwt_token(remote, audience=AUDIENCE, scope="read")
    for surface in SURFACES:
        assert client.get(surface, HTTP_DPOP="not-a-proof").status_code in (400, 401)
    assert jwks_server.counts["/jwks"] == 0
