"""``DPOP_NONCE_ON_EVERY_RESPONSE`` at the token endpoint (RFC 9449 §8.2), every grant and answer.

The PAR endpoint's side is in ``test_par.py``; the nonce store is the real (database) one.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from django_dpop.conf import nonce_store
from django_dpop.proofs import TOKEN_ENDPOINT
from tests.contrib.oauth2_provider.flows import DEVICE_GRANT, App, authorize_device, post_token, token_proof
from tests.factories import TestKey


@pytest.fixture
def every_response(settings: Any) -> str:
    settings.DPOP_NONCE_ON_EVERY_RESPONSE = True
    return nonce_store().issue(TOKEN_ENDPOINT)


@pytest.fixture
def service(app_factory: Any) -> App:
    return app_factory("client-credentials")


def test_success_carries_the_current_nonce(
    client: Client, service: App, key: TestKey, every_response: str
) -> None:
    response = post_token(client, service, {"grant_type": "client_credentials"}, key=key)
    assert response.status_code == 200, response.content
    assert response["DPoP-Nonce"] == every_response


def test_refusals_carry_it_too(client: Client, service: App, key: TestKey, every_response: str) -> None:
    bad_proof = post_token(
        client, service, {"grant_type": "client_credentials"}, proof=token_proof(key, iat=1)
    )
    assert json.loads(bad_proof.content)["error"] == "invalid_dpop_proof"
    assert bad_proof["DPoP-Nonce"] == every_response
    bad_grant = post_token(
        client, service, {"grant_type": "password", "username": "x", "password": "y"}, key=key
    )
    assert bad_grant.status_code in (400, 401)
    assert bad_grant["DPoP-Nonce"] == every_response


def test_no_proof_no_nonce(client: Client, service: App, every_response: str) -> None:
    response = post_token(client, service, {"grant_type": "client_credentials"})
    assert response.status_code == 200
    assert not response.has_header("DPoP-Nonce")


def test_without_the_setting_only_challenges_carry_one(client: Client, service: App, key: TestKey) -> None:
    response = post_token(client, service, {"grant_type": "client_credentials"}, key=key)
    assert response.status_code == 200
    assert not response.has_header("DPoP-Nonce")


def test_device_polls_carry_it(
    client: Client, browser: Client, app_factory: Any, key: TestKey, every_response: str, settings: Any
) -> None:
    settings.DPOP_NONCE_REQUIRED = True
    app = app_factory(DEVICE_GRANT, public=True)
    response = client.post(
        "/o/device-authorization/",
        urlencode({"client_id": app.client_id}),
        content_type="application/x-www-form-urlencoded",
    )
    pending_code = json.loads(response.content)["device_code"]
    data = {"grant_type": DEVICE_GRANT, "device_code": pending_code}
    pending = post_token(client, app, data, key=key, nonce=every_response)
    assert json.loads(pending.content)["error"] == "authorization_pending"
    assert pending["DPoP-Nonce"] == every_response

    data["device_code"] = authorize_device(Client(), browser, app)
    issued = post_token(client, app, data, key=key, nonce=every_response)
    assert issued.status_code == 200, issued.content
    assert issued["DPoP-Nonce"] == every_response
