"""End to end: the example authorization server issues JWT access tokens, another server verifies them.

The authorization server is the example project in JWT mode on pytest-django's ``live_server``.
The resource server is the example project too, in a separate process with its own settings
(``DPOP_DEMO_JWT_ISSUER``, ``DPOP_DEMO_JWKS_URI``, ``DPOP_DEMO_AUDIENCE``) and its own SQLite
database: it has no row of the tokens, it verifies them through the JWKS fetched over HTTP.
The client is ``django_dpop.client.DPoPAuth`` over httpx. Nothing is faked.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from oauth2_provider.models import get_application_model

from django_dpop.client import DPoPAuth, DPoPKey, create_proof
from example_project import settings as example_settings
from tests.contrib.oauth2_provider.flows import REDIRECT_URI, App, authorize, code_exchange


pytestmark = [pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[3]
CLIENT_ID = "jwt-live-client"
SECRET = "jwt-live-client-secret"
SERVICE_ID = "jwt-live-service"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def authorization_server(
    live_server: Any, settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The example project's authorization server with ``DPOP_DEMO_JWT_ACCESS_TOKENS=1``."""
    from example_project.demo_keys import demo_rsa_private_key

    key_file = tmp_path_factory.getbasetemp() / "as-oidc-key.pem"
    oauth2 = {
        **example_settings.OAUTH2_PROVIDER,
        "ALWAYS_RELOAD_OAUTHLIB_CORE": True,
        "ACCESS_TOKEN_GENERATOR": "django_dpop.contrib.oauth2_provider.jwt_tokens.generate_access_token",
        "REFRESH_TOKEN_GENERATOR": "django_dpop.contrib.oauth2_provider.jwt_tokens.generate_refresh_token",
        "OIDC_ENABLED": True,
        "OIDC_RSA_PRIVATE_KEY": demo_rsa_private_key(str(key_file)),
    }
    user = get_user_model().objects.create_user("alice")
    application = get_application_model()
    for client_id, grant in (
        (CLIENT_ID, application.GRANT_AUTHORIZATION_CODE),
        (SERVICE_ID, application.GRANT_CLIENT_CREDENTIALS),
    ):
        application.objects.create(
            name=client_id,
            client_id=client_id,
            client_secret=SECRET,
            client_type=application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=grant,
            redirect_uris=REDIRECT_URI,
            skip_authorization=True,
            user=user,
        )
    with override_settings(
        ROOT_URLCONF="example_project.urls",
        OAUTH2_PROVIDER=oauth2,
        DPOP_JWT_ACCESS_TOKEN_AUDIENCE="https://unused.example/",
        DPOP_ALLOW_BEARER_TOKENS=True,  # so that the issuer hands out an unbound token on request
    ):
        yield live_server.url


@pytest.fixture(scope="module")
def resource_server(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The example project as a JWT resource server: its own process, settings and database."""
    directory = tmp_path_factory.mktemp("resource-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "EXAMPLE_DB": str(directory / "rs.sqlite3"),
        "DPOP_DEMO_JWT_ISSUER": f"{live_server.url}/o",
        "DPOP_DEMO_JWKS_URI": f"{live_server.url}/o/.well-known/jwks.json",
        "DPOP_DEMO_AUDIENCE": f"{url}/api/",
        "DPOP_DEMO_JWKS_ALLOW_HTTP": "1",
    }
    for name in ("DPOP_DEMO_JWT_ACCESS_TOKENS", "DPOP_NONCE_REQUIRED", "DPOP_DEMO_INTROSPECTION_URL"):
        env.pop(name, None)
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stderr
    log = (directory / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--nothreading"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/api/me/", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((directory / "server.log").read_text()) from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _token(http: httpx.Client, key: DPoPKey | None, resource: str, **form: str) -> httpx.Response:
    """A token request of the confidential web client (``form``: the grant)."""
    data = {"client_id": CLIENT_ID, "client_secret": SECRET, "resource": resource, **form}
    return http.post("/o/token/", data=data, auth=DPoPAuth(key) if key is not None else None)


def _code() -> dict[str, str]:
    """alice authorizes the web client (in-process, logged in): the code exchange form."""
    browser = Client()
    browser.force_login(get_user_model().objects.get(username="alice"))
    app = App(get_application_model().objects.get(client_id=CLIENT_ID), SECRET)
    return code_exchange(*authorize(browser, app, consent=False))


def test_jwt_access_tokens_across_servers(authorization_server: str, resource_server: str) -> None:
    me_url = f"{resource_server}/api/me/"
    audience = f"{resource_server}/api/"
    key = DPoPKey.generate()
    with httpx.Client(base_url=authorization_server, timeout=10) as http, httpx.Client(timeout=10) as api:
        issued = _token(http, key, audience, **_code())
        assert issued.status_code == 200, issued.text
        body = issued.json()
        token = body["access_token"]
        assert body["token_type"] == "DPoP"
        assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["aud"] == audience and claims["cnf"] == {"jkt": key.thumbprint}
        user_pk = claims["sub"]

        # 200 with the token's claims, verified at the resource server (its JWKS fetched over HTTP).
        me = api.get(me_url, auth=DPoPAuth(key, token))
        assert me.status_code == 200, me.text
        answer = me.json()
        assert {name: answer[name] for name in ("client_id", "sub", "scope", "jkt", "source")} == {
            "client_id": CLIENT_ID,
            "sub": user_pk,
            "scope": "read",
            "jkt": key.thumbprint,
            "source": "jwt",
        }

        # A replayed proof is refused (the resource server's own replay store).
        proof = create_proof(key, "GET", me_url, access_token=token)
        headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
        assert api.get(me_url, headers=headers).status_code == 200
        replayed = api.get(me_url, headers=headers)
        assert replayed.status_code == 401
        assert 'error="invalid_dpop_proof"' in replayed.headers["WWW-Authenticate"]

        # The bound token sent as Bearer: refused (RFC 9449 §7.2).
        bearer = api.get(me_url, headers={"Authorization": f"Bearer {token}"})
        assert bearer.status_code == 401
        # A proof by another key: refused.
        assert api.get(me_url, auth=DPoPAuth(DPoPKey.generate(), token)).status_code == 401
        # A token signed by a key the issuer does not publish (same kid, claims, binding): refused.
        foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = jwt.encode(claims, foreign, algorithm="RS256", headers=jwt.get_unverified_header(token))
        assert api.get(me_url, auth=DPoPAuth(key, forged)).status_code == 401

        # Refresh gives a new DPoP-bound JWT, which works.
        refreshed = _token(
            http, key, audience, grant_type="refresh_token", refresh_token=body["refresh_token"]
        )
        assert refreshed.status_code == 200, refreshed.text
        new = refreshed.json()["access_token"]
        assert new != token
        new_claims = jwt.decode(new, options={"verify_signature": False})
        assert new_claims["cnf"] == {"jkt": key.thumbprint}
        assert new_claims["aud"] == audience  # the refresh token's resource
        again = api.get(me_url, auth=DPoPAuth(key, new))
        assert again.status_code == 200, again.text
        assert again.json()["jkt"] == key.thumbprint

        # Revocation at the authorization server does not reach the JWT resource server: the
        # token stays valid there until it expires (the JWT trade-off: keep lifetimes short).
        introspect = {"auth": (CLIENT_ID, SECRET), "headers": {"Accept": "application/json"}}
        active = http.post("/o/introspect/", data={"token": new}, **introspect).json()
        assert active["active"] is True and active["cnf"] == {"jkt": key.thumbprint}
        revoked = http.post(
            "/o/revoke_token/", data={"token": new, "client_id": CLIENT_ID, "client_secret": SECRET}
        )
        assert revoked.status_code == 200
        assert http.post("/o/introspect/", data={"token": new}, **introspect).json() == {"active": False}
        assert api.get(me_url, auth=DPoPAuth(key, new)).status_code == 200

        # Without a proof the issuer hands out an unbound JWT: the DPoP-only API refuses it.
        service = {"grant_type": "client_credentials", "client_id": SERVICE_ID, "client_secret": SECRET}
        unbound = http.post("/o/token/", data={**service, "resource": audience})
        assert unbound.json()["token_type"] == "Bearer"
        assert "cnf" not in jwt.decode(unbound.json()["access_token"], options={"verify_signature": False})
        plain = api.get(me_url, headers={"Authorization": f"Bearer {unbound.json()['access_token']}"})
        assert plain.status_code == 401
