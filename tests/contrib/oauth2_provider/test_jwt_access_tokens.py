"""RFC 9068 JWT access tokens issued by DOT (``jwt_tokens.generate_access_token``), DPoP-bound.

Through DOT's real token endpoint: the header and claims exactly, ``cnf.jkt`` of the proof key,
no ``cnf`` without a proof, opaque refresh tokens, refresh, RFC 8707 ``aud``, introspection, the
DOT resource validator, a resource server verifying locally against DOT's JWKS document, key
rotation, and the system checks.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.checks import run_checks
from django.test import Client
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from django_dpop.contrib.oauth2_provider import jwt_tokens
from django_dpop.contrib.oauth2_provider.models import AccessTokenBinding
from tests.contrib.oauth2_provider.flows import App, authorize, code_exchange, post_token
from tests.factories import TestKey, make_proof


pytestmark = [pytest.mark.urls("tests.contrib.oauth2_provider.jwt_urls"), pytest.mark.django_db]

AUDIENCE = "https://api.test"
ISSUER = "http://testserver/o"
LIFETIME = 600
#: The DPOP_* settings whose checks are tested here (tests/test_checks.py counts them).
TESTED_SETTINGS = {"DPOP_JWT_ACCESS_TOKEN_AUDIENCE"}
GENERATOR = "django_dpop.contrib.oauth2_provider.jwt_tokens.generate_access_token"
REFRESH_GENERATOR = "django_dpop.contrib.oauth2_provider.jwt_tokens.generate_refresh_token"


def _rsa_pem() -> str:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="session")
def pem_a() -> str:
    return _rsa_pem()


@pytest.fixture(scope="session")
def pem_b() -> str:
    return _rsa_pem()


def _kid(pem: str) -> str:
    return jwt_tokens.jwk_from_pem(pem).thumbprint()


@pytest.fixture
def jwt_mode(dot_settings: Callable[..., None], settings: Any, pem_a: str) -> Callable[..., None]:
    """DOT issuing JWT access tokens signed by key A; call it again to change DOT settings."""
    settings.DPOP_JWT_ACCESS_TOKEN_AUDIENCE = AUDIENCE

    def configure(**values: Any) -> None:
        base = {
            "ACCESS_TOKEN_GENERATOR": GENERATOR,
            "REFRESH_TOKEN_GENERATOR": REFRESH_GENERATOR,
            "OIDC_ENABLED": True,
            "OIDC_RSA_PRIVATE_KEY": pem_a,
            "ACCESS_TOKEN_EXPIRE_SECONDS": LIFETIME,
        }
        dot_settings(**{**base, **values})

    configure()
    return configure


@pytest.fixture
def cc_app(app_factory: Any) -> App:
    return app_factory("client-credentials")


@pytest.fixture
def code_app(app_factory: Any) -> App:
    return app_factory("authorization-code", public=True, skip_authorization=True)


def _issue(client: Client, app: App, key: TestKey | None, **data: str) -> dict[str, Any]:
    response = post_token(client, app, {"grant_type": "client_credentials", **data}, key=key)
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def _jwks(client: Client) -> dict[str, Any]:
    response = client.get("/o/.well-known/jwks.json")
    assert response.status_code == 200
    return json.loads(response.content)


def _verify(client: Client, token: str) -> dict[str, Any]:
    """Verify ``token`` with the key DOT's JWKS document publishes under its ``kid``."""
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = [entry for entry in _jwks(client)["keys"] if entry["kid"] == kid]
    return jwt.decode(
        token, jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=AUDIENCE, options={"verify_aud": False}
    )


def _trust_jwks(settings: Any, client: Client) -> None:
    """A resource server trusting this issuer with the keys its JWKS document publishes now."""
    settings.DPOP_JWT_ISSUERS = [{"issuer": ISSUER, "keys": _jwks(client)["keys"]}]
    settings.DPOP_JWT_AUDIENCE = AUDIENCE


def _get(client: Client, path: str, token: str, key: TestKey | None, scheme: str = "DPoP") -> Any:
    headers: dict[str, str] = {"HTTP_AUTHORIZATION": f"{scheme} {token}"}
    if key is not None:
        headers["HTTP_DPOP"] = make_proof(key, "GET", f"http://testserver{path}", access_token=token)
    return client.get(path, **headers)


# -- issuance --------------------------------------------------------------------------------------


def test_header_and_claims_exactly(
    client: Client, jwt_mode: Any, cc_app: App, key: TestKey, pem_a: str
) -> None:
    body = _issue(client, cc_app, key)
    token = body["access_token"]
    assert body["token_type"] == "DPoP"
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "typ": "at+jwt", "kid": _kid(pem_a)}
    claims = _verify(client, token)
    assert set(claims) == {"iss", "sub", "aud", "client_id", "scope", "jti", "iat", "exp", "cnf"}
    assert claims["iss"] == ISSUER
    assert claims["aud"] == AUDIENCE
    # RFC 9068 §2.2: no resource owner, so sub is the client.
    assert claims["sub"] == claims["client_id"] == cc_app.client_id
    assert claims["scope"] == "read write"
    assert claims["exp"] - claims["iat"] == LIFETIME
    assert claims["cnf"] == {"jkt": key.jkt}
    # DOT stores it like any token: the row's token is the JWT, bound to the proof key.
    row = get_access_token_model().objects.get(token=token)
    assert AccessTokenBinding.objects.get(access_token=row).jkt == key.jkt
    assert body["expires_in"] == LIFETIME


def test_every_token_has_its_own_jti(client: Client, jwt_mode: Any, cc_app: App, key: TestKey) -> None:
    first, second = (_verify(client, _issue(client, cc_app, key)["access_token"]) for _ in range(2))
    assert first["jti"] != second["jti"]


def test_no_proof_no_cnf(client: Client, jwt_mode: Any, cc_app: App) -> None:
    body = _issue(client, cc_app, None)
    assert body["token_type"] == "Bearer"
    claims = _verify(client, body["access_token"])
    assert "cnf" not in claims
    assert not AccessTokenBinding.objects.exists()


def test_resource_parameter_is_the_audience(client: Client, jwt_mode: Any, cc_app: App, key: TestKey) -> None:
    token = _issue(client, cc_app, key, resource="https://billing.test/")["access_token"]
    assert _verify(client, token)["aud"] == "https://billing.test/"
    assert get_access_token_model().objects.get(token=token).resource == ["https://billing.test/"]


def test_invalid_resource_issues_nothing(client: Client, jwt_mode: Any, cc_app: App, key: TestKey) -> None:
    response = post_token(
        client, cc_app, {"grant_type": "client_credentials", "resource": "not-a-uri"}, key=key
    )
    assert response.status_code == 400
    assert json.loads(response.content)["error"] == "invalid_target"
    assert not get_access_token_model().objects.exists()


@pytest.mark.parametrize("broken", ["key", "audience"])
def test_no_key_or_audience_issues_nothing(
    client: Client, settings: Any, jwt_mode: Any, cc_app: App, key: TestKey, broken: str
) -> None:
    if broken == "key":
        jwt_mode(OIDC_RSA_PRIVATE_KEY="")
    else:
        settings.DPOP_JWT_ACCESS_TOKEN_AUDIENCE = None
    response = post_token(client, cc_app, {"grant_type": "client_credentials"}, key=key)
    # oauthlib's ServerError: 400 server_error (RFC 6749 §5.2 has no 5xx for the token endpoint).
    assert response.status_code == 400
    assert json.loads(response.content)["error"] == "server_error"
    assert not get_access_token_model().objects.exists()


def test_user_token_refresh_token_opaque_and_refresh(
    client: Client, browser: Client, jwt_mode: Any, code_app: App, key: TestKey, user: Any
) -> None:
    code, verifier = authorize(browser, code_app, consent=False)
    response = post_token(client, code_app, code_exchange(code, verifier), key=key)
    assert response.status_code == 200, response.content
    body = json.loads(response.content)
    claims = _verify(client, body["access_token"])
    assert claims["sub"] == str(user.pk)
    assert claims["client_id"] == code_app.client_id
    assert claims["cnf"] == {"jkt": key.jkt}
    refresh_token = body["refresh_token"]
    with pytest.raises(jwt.DecodeError):
        jwt.get_unverified_header(refresh_token)
    assert "." not in refresh_token
    # A refresh (proof by the same key: a public client's refresh token is bound) gives a new JWT.
    refreshed = post_token(
        client, code_app, {"grant_type": "refresh_token", "refresh_token": refresh_token}, key=key
    )
    assert refreshed.status_code == 200, refreshed.content
    new = json.loads(refreshed.content)
    new_claims = _verify(client, new["access_token"])
    assert new["access_token"] != body["access_token"]
    assert new_claims["cnf"] == {"jkt": key.jkt}
    assert new_claims["sub"] == str(user.pk)
    assert new_claims["jti"] != claims["jti"]
    assert "." not in new["refresh_token"]
    assert get_refresh_token_model().objects.filter(token=new["refresh_token"]).exists()


def test_introspection_answers_active_and_cnf(
    client: Client, jwt_mode: Any, cc_app: App, key: TestKey
) -> None:
    token = _issue(client, cc_app, key)["access_token"]
    basic = base64.b64encode(f"{cc_app.client_id}:{cc_app.secret}".encode()).decode()
    response = client.post("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=f"Basic {basic}")
    body = json.loads(response.content)
    assert body["active"] is True
    assert body["cnf"] == {"jkt": key.jkt}
    assert body["token_type"] == "DPoP"
    assert body["client_id"] == cc_app.client_id


def test_dot_resource_validator_accepts_the_stored_jwt(
    client: Client, jwt_mode: Any, cc_app: App, key: TestKey, other_key: TestKey
) -> None:
    token = _issue(client, cc_app, key)["access_token"]
    assert _get(client, "/dot/", token, key).status_code == 200
    assert _get(client, "/dot/", token, other_key).status_code == 403
    assert _get(client, "/dot/", token, None, scheme="Bearer").status_code == 403
    # Looking like a JWT access token is not enough: it must be a stored one.
    header, payload, signature = token.split(".")
    forged = ".".join([header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])
    assert _get(client, "/dot/", forged, key).status_code == 403
    # Revoked at DOT: DOT's own resources refuse it at once.
    get_access_token_model().objects.get(token=token).revoke()
    assert _get(client, "/dot/", token, key).status_code == 403


def test_unbound_jwt_as_bearer_on_dot_resources(
    client: Client, jwt_mode: Any, cc_app: App, key: TestKey
) -> None:
    token = _issue(client, cc_app, None)["access_token"]
    assert _get(client, "/dot/", token, None, scheme="Bearer").status_code == 200
    # An unbound token with the DPoP scheme is refused (RFC 9449 §7.1).
    assert _get(client, "/dot/", token, key).status_code == 403


def test_example_project_settings_in_jwt_mode(tmp_path: Any) -> None:
    """``DPOP_DEMO_JWT_ACCESS_TOKENS=1``: the example's checks pass; its key file is private."""
    root = Path(__file__).resolve().parents[3]
    key_file = tmp_path / "key.pem"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "EXAMPLE_DB": str(tmp_path / "db.sqlite3"),
        "DPOP_DEMO_JWT_ACCESS_TOKENS": "1",
        "DPOP_DEMO_OIDC_KEY_FILE": str(key_file),
        "DPOP_DEMO_JWT_ISSUER": "http://127.0.0.1:8000/o",
        "DPOP_DEMO_JWKS_URI": "http://127.0.0.1:8000/o/.well-known/jwks.json",
        "DPOP_DEMO_JWKS_ALLOW_HTTP": "1",
    }
    script = (
        "from django.core.checks import run_checks; from oauth2_provider.settings import oauth2_settings as o; "
        "from django_dpop.contrib.oauth2_provider import jwt_tokens; "
        "print([m.id for m in run_checks() if m.level >= 30], jwt_tokens.is_enabled())"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[] True"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert jwt_tokens.jwk_from_pem(key_file.read_text()).has_private


def test_metadata_advertises_jwks_uri(client: Client, jwt_mode: Any) -> None:
    response = client.get("/o/.well-known/oauth-authorization-server")
    data = json.loads(response.content)
    assert data["issuer"] == ISSUER
    assert data["jwks_uri"] == "http://testserver/o/.well-known/jwks.json"


def test_oidc_iss_endpoint_is_the_issuer(client: Client, jwt_mode: Any, cc_app: App, key: TestKey) -> None:
    jwt_mode(OIDC_ISS_ENDPOINT="https://as.example.org")
    token = _issue(client, cc_app, key)["access_token"]
    assert _verify(client, token)["iss"] == "https://as.example.org"


# -- a resource server verifying the JWT locally (django_dpop.tokens.jwt) ---------------------------


def test_resource_server_verifies_with_the_jwks(
    client: Client, settings: Any, jwt_mode: Any, cc_app: App, key: TestKey, other_key: TestKey
) -> None:
    token = _issue(client, cc_app, key)["access_token"]
    _trust_jwks(settings, client)
    response = _get(client, "/jwt/", token, key)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "sub": cc_app.client_id,
        "client_id": cc_app.client_id,
        "scope": "read write",
        "jkt": key.jkt,
    }
    assert _get(client, "/jwt/", token, other_key).status_code == 401
    assert _get(client, "/jwt/", token, None, scheme="Bearer").status_code == 401
    # The JWT trade-off: revocation at DOT does not reach a resource server verifying locally.
    get_access_token_model().objects.get(token=token).revoke()
    assert _get(client, "/jwt/", token, key).status_code == 200


def test_key_rotation(
    client: Client, settings: Any, jwt_mode: Any, cc_app: App, key: TestKey, pem_a: str, pem_b: str
) -> None:
    old = _issue(client, cc_app, key)["access_token"]
    # Rotate: B signs, A stays published while the tokens it signed live.
    jwt_mode(OIDC_RSA_PRIVATE_KEY=pem_b, OIDC_RSA_PRIVATE_KEYS_INACTIVE=[pem_a])
    assert {entry["kid"] for entry in _jwks(client)["keys"]} == {_kid(pem_a), _kid(pem_b)}
    new = _issue(client, cc_app, key)["access_token"]
    assert jwt.get_unverified_header(new)["kid"] == _kid(pem_b)
    _trust_jwks(settings, client)
    assert _get(client, "/jwt/", old, key).status_code == 200
    assert _get(client, "/jwt/", new, key).status_code == 200
    # A removed: its tokens are refused, B's still verify.
    jwt_mode(OIDC_RSA_PRIVATE_KEY=pem_b, OIDC_RSA_PRIVATE_KEYS_INACTIVE=[])
    _trust_jwks(settings, client)
    assert [entry["kid"] for entry in _jwks(client)["keys"]] == [_kid(pem_b)]
    assert _get(client, "/jwt/", old, key).status_code == 401
    assert _get(client, "/jwt/", new, key).status_code == 200


# -- system checks ----------------------------------------------------------------------------------


def _ids() -> set[str]:
    return {message.id for message in run_checks() if message.id.startswith("django_dpop_oauth2.")}


def test_checks_pass_in_jwt_mode(jwt_mode: Any) -> None:
    assert not {"E015", "E016", "E017", "W009", "W010"} & {i.split(".")[-1] for i in _ids()}


def test_check_refresh_generator(jwt_mode: Any) -> None:
    jwt_mode(REFRESH_TOKEN_GENERATOR=None)
    assert "django_dpop_oauth2.E015" in _ids()


def test_check_signing_key(jwt_mode: Any) -> None:
    jwt_mode(OIDC_RSA_PRIVATE_KEY="")
    assert "django_dpop_oauth2.E016" in _ids()
    jwt_mode(OIDC_RSA_PRIVATE_KEY="not a pem")
    assert "django_dpop_oauth2.E016" in _ids()


def test_check_audience(jwt_mode: Any, settings: Any) -> None:
    settings.DPOP_JWT_ACCESS_TOKEN_AUDIENCE = None
    assert "django_dpop_oauth2.E017" in _ids()
    settings.DPOP_JWT_ACCESS_TOKEN_AUDIENCE = [""]
    assert "django_dpop_oauth2.E017" in _ids()


def test_check_oidc_disabled_and_lifetime(jwt_mode: Any) -> None:
    jwt_mode(OIDC_ENABLED=False)
    assert "django_dpop_oauth2.W009" in _ids()
    jwt_mode(ACCESS_TOKEN_EXPIRE_SECONDS=36000)
    assert "django_dpop_oauth2.W010" in _ids()


def test_checks_silent_without_jwt_mode() -> None:
    assert not {"E015", "E016", "E017", "W009", "W010"} & {i.split(".")[-1] for i in _ids()}
