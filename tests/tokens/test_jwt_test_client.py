"""DPoPAPIClient.obtain_jwt_token and TestIssuer: the tokens they mint pass the real validator."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from django.test import RequestFactory

from django_dpop.core.errors import InvalidToken
from django_dpop.test import DPoPAPIClient, TestIssuer
from django_dpop.tokens.jwt import JWTTokenValidator
from tests.tokens.conftest import AUDIENCE


def validate(token: str, scheme: str = "dpop") -> Any:
    return JWTTokenValidator().validate(RequestFactory().get("/"), token, scheme=scheme)


def test_obtain_jwt_token_is_bound_to_the_clients_key(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer)
    client = DPoPAPIClient()
    token = client.obtain_jwt_token(
        issuer, audience=AUDIENCE, scope=["read", "admin"], sub="alice", client_id="app"
    )
    assert client.access_token == token
    header = jwt.get_unverified_header(token)
    assert (header["typ"], header["alg"], header["kid"]) == ("at+jwt", "RS256", issuer.kid)
    result = validate(token)
    assert result.jkt == client.dpop_key.thumbprint
    assert result.scopes == {"read", "admin"}
    assert (result.auth.sub, result.auth.client_id) == ("alice", "app")
    assert result.auth["exp"] - result.auth["iat"] == 3600


def test_obtain_jwt_token_options(trust: Any, issuer: TestIssuer) -> None:
    trust(issuer)
    client = DPoPAPIClient()
    token = client.obtain_jwt_token(
        issuer, audience=[AUDIENCE, "https://b"], claims={"tenant": "t1"}, expires_in=-120
    )
    with pytest.raises(InvalidToken, match="expired"):
        validate(token)
    token = client.obtain_jwt_token(issuer, audience=AUDIENCE, claims={"tenant": "t1", "cnf": None})
    assert validate(token, scheme="bearer").jkt is None
    assert validate(token, scheme="bearer").auth["tenant"] == "t1"


def test_test_issuer_settings_entry_and_jwks(trust: Any) -> None:
    es = TestIssuer("https://es.example.com", alg="ES256", kid="k1")
    assert es.jwks == {"keys": [{**es.key.public_jwk, "kid": "k1", "alg": "ES256", "use": "sig"}]}
    assert "d" not in es.jwks["keys"][0]
    trust(es.settings_entry(audience="https://only.example.com"))
    token = es.mint(audience="https://only.example.com", claims={"cnf": {"jkt": "x"}})
    assert validate(token).jkt == "x"
    with pytest.raises(InvalidToken, match="aud"):
        validate(es.mint(audience=AUDIENCE, claims={"cnf": {"jkt": "x"}}))
