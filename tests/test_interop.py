"""Interoperability: a DPoP client nobody here wrote (requests-oauth2client) against the example project.

The example project is served live (pytest-django's ``live_server``); the client obtains a DPoP token at
DOT's token endpoint and calls the DRF API with it, following nonce challenges on its own.
"""

from __future__ import annotations

import pytest
import requests
from django.test import override_settings
from oauth2_provider.models import get_application_model
from requests_oauth2client import DPoPToken, OAuth2Client


pytestmark = [pytest.mark.django_db(transaction=True)]

SECRET = "interop-client-secret"


@pytest.fixture
def service_client() -> object:
    application = get_application_model()
    return application.objects.create(
        name="interop",
        client_id="interop-client",
        client_secret=SECRET,
        client_type=application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=application.GRANT_CLIENT_CREDENTIALS,
    )


@pytest.mark.parametrize("nonce_required", [False, True], ids=["no-nonce", "nonce-required"])
def test_requests_oauth2client_gets_and_uses_a_dpop_token(
    live_server, service_client, nonce_required
) -> None:
    with override_settings(ROOT_URLCONF="example_project.urls", DPOP_NONCE_REQUIRED=nonce_required):
        client = OAuth2Client(
            token_endpoint=f"{live_server.url}/o/token/",
            client_id="interop-client",
            client_secret=SECRET,
            dpop_bound_access_tokens=True,
            testing=True,  # the live server speaks http on a random port; the client insists on https otherwise
        )
        token = client.client_credentials(scope="read")
        assert isinstance(token, DPoPToken)
        assert token.token_type.lower() == "dpop"

        response = requests.get(f"{live_server.url}/api/me/", auth=token, timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["client_id"] == "interop-client"
        assert response.json()["jkt"] == token.dpop_key.dpop_jkt

        # The same token without its proof (a downgrade to Bearer) is refused.
        downgrade = requests.get(
            f"{live_server.url}/api/me/",
            headers={"Authorization": f"Bearer {token.access_token}"},
            timeout=10,
        )
        assert downgrade.status_code == 401
        assert downgrade.headers["WWW-Authenticate"].startswith("DPoP ")
