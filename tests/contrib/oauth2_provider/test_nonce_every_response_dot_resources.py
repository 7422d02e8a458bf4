"""``DPOP_NONCE_ON_EVERY_RESPONSE`` on DOT's own protected surfaces (RFC 9449 §8.2, §9): OIDC
UserInfo sends the nonce itself; DOT's ``ProtectedResourceView`` and DRF with DOT's
``OAuth2Authentication`` through ``DPoPNonceMiddleware``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from django_dpop.conf import nonce_store
from django_dpop.proofs import RESOURCE
from tests.contrib.oauth2_provider.flows import App, post_token
from tests.contrib.oauth2_provider.test_resources import oidc, user_token  # noqa: F401 (fixtures)
from tests.factories import TestKey, make_proof


pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.contrib.oauth2_provider.resource_urls")]


@pytest.fixture
def every_response(settings: Any) -> str:
    settings.DPOP_NONCE_ON_EVERY_RESPONSE = True
    settings.MIDDLEWARE = [*django_settings.MIDDLEWARE, "django_dpop.middleware.DPoPNonceMiddleware"]
    return nonce_store().issue(RESOURCE)


def _get(path: str, token: str, key: TestKey, **proof: Any) -> Any:
    headers = {
        "HTTP_AUTHORIZATION": f"DPoP {token}",
        "HTTP_DPOP": make_proof(key, "GET", f"http://testserver{path}", access_token=token, **proof),
    }
    return Client().get(path, **headers)


@pytest.fixture
def service_token(client: Client, app_factory: Any, key: TestKey) -> str:
    app: App = app_factory("client-credentials")
    response = post_token(client, app, {"grant_type": "client_credentials"}, key=key)
    return json.loads(response.content)["access_token"]


@pytest.mark.parametrize("path", ["/dot/", "/drf/"])
def test_dot_views_success_and_refusal(
    service_token: str, key: TestKey, every_response: str, path: str
) -> None:
    ok = _get(path, service_token, key)
    assert ok.status_code == 200, ok.content
    assert ok["DPoP-Nonce"] == every_response
    refused = _get(path, service_token, key, iat=1)
    assert refused.status_code in (401, 403)
    assert refused["DPoP-Nonce"] == every_response


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_userinfo_success_and_refusal(
    request: pytest.FixtureRequest, key: TestKey, other_key: TestKey, every_response: str
) -> None:
    token = request.getfixturevalue("user_token")
    ok = _get("/o/userinfo/", token, key)
    assert ok.status_code == 200, ok.content
    assert ok["DPoP-Nonce"] == every_response
    refused = _get("/o/userinfo/", token, other_key)
    assert refused.status_code == 401
    assert refused["DPoP-Nonce"] == every_response
