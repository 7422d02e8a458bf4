"""Review (area 2): issuer keys (RFC 7518 §3.3): an RSA key under 2048 bits never verifies a token.

Found by breaking the size check on purpose (no test failed): from a JWK Set (skipped), as a
static key (the issuer entry is refused), and through the views (the token is refused).
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm

from django_dpop.client import DPoPKey, create_proof
from django_dpop.test import DPoPAPIClient
from django_dpop.tokens.jwks import KeySet, build_key
from django_dpop.tokens.jwt import parse_issuer
from tests.tokens.conftest import AUDIENCE


ISSUER = "https://weak.example.com"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def weak() -> tuple[Any, dict[str, Any]]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    jwk = {**json.loads(RSAAlgorithm.to_jwk(private.public_key())), "kid": "weak", "alg": "RS256"}
    return private, jwk


def test_weak_rsa_key_is_not_a_key(weak: tuple[Any, dict[str, Any]], issuer: Any) -> None:
    _private, jwk = weak
    with pytest.raises(ValueError, match="1024 bits"):
        build_key(jwk)
    keys = KeySet.from_jwks({"keys": [jwk, issuer.public_jwk]})
    assert [key.kid for key in keys.keys] == [issuer.kid]
    with pytest.raises(ValueError):
        KeySet.from_jwks({"keys": [jwk]})
    with pytest.raises(ValueError, match="unusable"):
        parse_issuer(
            {"issuer": ISSUER, "keys": [jwk]}, audience=AUDIENCE, algorithms=["RS256"], allow_http=False
        )


@pytest.mark.django_db
@pytest.mark.urls("tests.tokens.urls_jwt")
@pytest.mark.parametrize("surface", ["/drf/", "/plain/", "/mixin/"])
def test_token_signed_by_a_weak_rsa_key_is_refused(
    weak: tuple[Any, dict[str, Any]], settings: Any, surface: str
) -> None:
    private, jwk = weak
    settings.DPOP_JWT_ISSUERS = [{"issuer": ISSUER, "keys": [jwk]}]
    settings.DPOP_JWT_AUDIENCE = AUDIENCE
    settings.DPOP_TOKEN_VALIDATORS = ["django_dpop.tokens.jwt.JWTTokenValidator"]
    key = DPoPKey.generate()
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": int(time.time()) + 600,
        "scope": "read",
        "cnf": {"jkt": key.thumbprint},
    }
    signing_input = (
        b64(json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": "weak"}).encode())
        + "."
        + b64(json.dumps(claims).encode())
    )
    signature = private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    token = signing_input + "." + b64(signature)
    proof = create_proof(key, "GET", "http://testserver" + surface, access_token=token)
    response = DPoPAPIClient().get(surface, HTTP_AUTHORIZATION=f"DPoP {token}", HTTP_DPOP=proof)
    assert response.status_code == 401, response.content
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
