"""End to end: this client (httpx, requests, the CLI with curl) against the example project, served live.

DOT's token endpoint with the DPoP backend and the DRF ``/api/me/`` view run in pytest-django's
``live_server``; nothing is faked. With ``DPOP_NONCE_REQUIRED`` both answer ``use_dpop_nonce``
first, and the client must retry exactly once at each.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from django.test import override_settings
from oauth2_provider.models import get_application_model

from django_dpop.client import (
    DPoPAuth,
    DPoPKey,
    DPoPRequestsAuth,
    TokenResponseError,
    check_token_response,
    create_proof,
)


pytestmark = [pytest.mark.django_db(transaction=True)]

CLIENT_ID = "live-client"
SECRET = "live-client-secret"
FORM = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET, "scope": "read"}


@pytest.fixture
def service_client() -> Any:
    application = get_application_model()
    return application.objects.create(
        name="client live tests",
        client_id=CLIENT_ID,
        client_secret=SECRET,
        client_type=application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=application.GRANT_CLIENT_CREDENTIALS,
    )


@pytest.fixture
def example(live_server: Any, service_client: Any, request: pytest.FixtureRequest) -> Any:
    nonce_required = getattr(request, "param", False)
    with override_settings(ROOT_URLCONF="example_project.urls", DPOP_NONCE_REQUIRED=nonce_required):
        yield live_server.url


both = pytest.mark.parametrize("example", [False, True], ids=["no-nonce", "nonce-required"], indirect=True)


def statuses(response: httpx.Response | requests.Response) -> list[int]:
    return [r.status_code for r in response.history] + [response.status_code]


@both
def test_httpx_token_and_resource(example: str, request: pytest.FixtureRequest) -> None:
    nonce_required = "nonce-required" in request.node.callspec.id
    key = DPoPKey.generate()
    with httpx.Client(base_url=example, timeout=10) as http:
        token_auth = DPoPAuth(key)
        token_response = http.post("/o/token/", data=FORM, auth=token_auth)
        assert token_response.status_code == 200, token_response.text
        assert statuses(token_response) == ([400, 200] if nonce_required else [200])
        if nonce_required:
            assert token_response.history[0].json()["error"] == "use_dpop_nonce"
        api_auth = token_auth.for_token_response(token_response.json())

        me = http.get("/api/me/?page=1", auth=api_auth)
        assert me.status_code == 200, me.text
        assert statuses(me) == ([401, 200] if nonce_required else [200])
        assert me.json()["client_id"] == CLIENT_ID and me.json()["jkt"] == key.thumbprint

        # The nonce (when required) is cached now: the next call costs no extra round trip.
        again = http.post("/api/me/", json={"x": 1}, auth=api_auth)
        assert statuses(again) == [200], again.text


@both
def test_requests_token_and_resource(example: str, request: pytest.FixtureRequest) -> None:
    nonce_required = "nonce-required" in request.node.callspec.id
    key = DPoPKey.generate("EdDSA")
    with requests.Session() as session:
        session.auth = DPoPRequestsAuth(key)
        token_response = session.post(f"{example}/o/token/", data=FORM, timeout=10)
        assert token_response.status_code == 200, token_response.text
        assert statuses(token_response) == ([400, 200] if nonce_required else [200])
        session.auth = session.auth.for_token_response(token_response.json())
        me = session.get(f"{example}/api/me/", timeout=10)
        assert me.status_code == 200, me.text
        assert statuses(me) == ([401, 200] if nonce_required else [200])
        assert me.json()["jkt"] == key.thumbprint


@pytest.mark.parametrize("example", [True], ids=["nonce-required"], indirect=True)
def test_async_httpx_with_nonces(example: str) -> None:
    key = DPoPKey.generate("ES384")

    async def run() -> tuple[list[int], list[int], str]:
        async with httpx.AsyncClient(base_url=example, timeout=10) as http:
            token_auth = DPoPAuth(key)
            token_response = await http.post("/o/token/", data=FORM, auth=token_auth)
            me = await http.get("/api/me/", auth=token_auth.for_token_response(token_response.json()))
            return statuses(token_response), statuses(me), me.json()["jkt"]

    token_statuses, me_statuses, jkt = asyncio.run(run())
    assert token_statuses == [400, 200] and me_statuses == [401, 200] and jkt == key.thumbprint


@pytest.mark.parametrize("form", ["jwk", "pem"])
def test_reloaded_key_keeps_the_binding_and_another_key_is_refused(example: str, form: str) -> None:
    key = DPoPKey.generate("RS256")
    with httpx.Client(base_url=example, timeout=10) as http:
        token = check_token_response(http.post("/o/token/", data=FORM, auth=DPoPAuth(key)).json())[
            "access_token"
        ]
        reloaded = (
            DPoPKey.from_jwk(json.dumps(key.to_jwk())) if form == "jwk" else DPoPKey.from_pem(key.to_pem())
        )
        assert reloaded.thumbprint == key.thumbprint
        me = http.get("/api/me/", auth=DPoPAuth(reloaded, token))
        assert me.status_code == 200 and me.json()["jkt"] == key.thumbprint
        stolen = http.get("/api/me/", auth=DPoPAuth(DPoPKey.generate("RS256"), token))
        assert stolen.status_code == 401
        assert stolen.headers["WWW-Authenticate"].startswith("DPoP ")


def test_bearer_token_response_is_refused_by_a_dpop_client(example: str) -> None:
    # No proof sent: the authorization server issues a Bearer token (RFC 9449 §5 lets it); a
    # client that required DPoP must not use it.
    response = requests.post(f"{example}/o/token/", data=FORM, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"].lower() == "bearer"
    with pytest.raises(TokenResponseError, match="not 'DPoP'"):
        check_token_response(response.json())
    with pytest.raises(TokenResponseError):
        DPoPAuth(DPoPKey.generate()).for_token_response(response.json())
    assert check_token_response(response.json(), require_dpop=False)["token_type"].lower() == "bearer"


def cli(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "django_dpop", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def curl(*args: str) -> tuple[int, dict[str, str], str]:
    """Run curl; return (status, lower-cased headers, body)."""
    result = subprocess.run(
        ["curl", "-sS", "-D", "-", "--max-time", "20", *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    lines = head.splitlines()
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
@both
def test_cli_proofs_work_with_curl(example: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The curl walk-through of docs/client.md, step by step (with nonces: the manual retry it documents)."""
    nonce_required = "nonce-required" in request.node.callspec.id
    key_file = tmp_path / "key.json"
    jkt = cli("keygen", "--out", str(key_file))
    assert cli("thumbprint", "--key", str(key_file)) == jkt
    token_url = f"{example}/o/token/"
    form = [
        "-d",
        "grant_type=client_credentials",
        "-d",
        f"client_id={CLIENT_ID}",
        "-d",
        f"client_secret={SECRET}",
    ]

    proof = cli("proof", "--key", str(key_file), "--method", "POST", "--url", token_url)
    status, headers, body = curl("-H", f"DPoP: {proof}", *form, token_url)
    if nonce_required:
        assert status == 400 and json.loads(body)["error"] == "use_dpop_nonce"
        nonce = headers["dpop-nonce"]
        proof = cli(
            "proof", "--key", str(key_file), "--method", "POST", "--url", token_url, f"--nonce={nonce}"
        )
        status, headers, body = curl("-H", f"DPoP: {proof}", *form, token_url)
    assert status == 200, body
    token = check_token_response(body)["access_token"]

    api_url = f"{example}/api/me/"
    token_file = tmp_path / "token"
    token_file.write_text(token)
    proof = cli(
        "proof", "--key", str(key_file), "--method", "GET", "--url", api_url, "--token-file", str(token_file)
    )
    status, headers, body = curl("-H", f"DPoP: {proof}", "-H", f"Authorization: DPoP {token}", api_url)
    if nonce_required:
        assert status == 401 and 'error="use_dpop_nonce"' in headers["www-authenticate"]
        proof = cli(
            "proof", "--key", str(key_file), "--method", "GET", "--url", api_url, f"--token={token}",
            # "=" form: a nonce (or token) may start with "-", which argparse would take for an option.
            f"--nonce={headers['dpop-nonce']}",
        )  # fmt: skip
        status, headers, body = curl("-H", f"DPoP: {proof}", "-H", f"Authorization: DPoP {token}", api_url)
    assert status == 200, body
    assert json.loads(body)["jkt"] == jkt

    # A proof is single-use: replaying the same curl command is refused.
    status, headers, _ = curl("-H", f"DPoP: {proof}", "-H", f"Authorization: DPoP {token}", api_url)
    assert status == 401 and headers["www-authenticate"].startswith("DPoP ")


def test_proof_for_another_url_is_refused_live(example: str) -> None:
    key = DPoPKey.generate()
    with httpx.Client(base_url=example, timeout=10) as http:
        token_response = http.post("/o/token/", data=FORM, auth=DPoPAuth(key))
        token = check_token_response(token_response.json())["access_token"]
        wrong = create_proof(key, "GET", f"{example}/api/other/", access_token=token)
        response = http.get("/api/me/", headers={"DPoP": wrong, "Authorization": f"DPoP {token}"})
        assert response.status_code == 401
        assert 'error="invalid_dpop_proof"' in response.headers["WWW-Authenticate"]
