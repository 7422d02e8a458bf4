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


PUBLIC_CLIENT = "interop-public"
REDIRECT_URI = "https://client.example.org/cb"


@pytest.fixture
def public_client(user: object) -> object:
    application = get_application_model()
    return application.objects.create(
        name="interop public",
        client_id=PUBLIC_CLIENT,
        client_type=application.CLIENT_PUBLIC,
        authorization_grant_type=application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=REDIRECT_URI,
        skip_authorization=True,
        user=user,
    )


def _logged_in_browser(base: str, user: object) -> requests.Session:
    """A browser session of the live server's resource owner (Django's login form)."""
    browser = requests.Session()
    login = browser.get(f"{base}/accounts/login/", timeout=10)
    assert login.status_code == 200
    response = browser.post(
        f"{base}/accounts/login/",
        data={
            "username": user.get_username(),  # type: ignore[attr-defined]
            "password": "interop-password",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/accounts/login/"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    return browser


@pytest.mark.parametrize(
    ("nonce_required", "every_response"),
    [(False, False), (True, False), (True, True)],
    ids=["no-nonce", "nonce-required", "nonce-on-every-response"],
)
def test_requests_oauth2client_par_with_dpop(
    live_server, public_client, user, nonce_required, every_response
) -> None:
    """RFC 9126 + RFC 9449 §10.1: requests-oauth2client pushes with a proof (and dpop_jkt), the user
    authorizes the request_uri, the code is exchanged with the same key, and the token works."""
    user.set_password("interop-password")
    user.save()
    base = live_server.url
    with override_settings(
        ROOT_URLCONF="example_project.urls",
        DPOP_NONCE_REQUIRED=nonce_required,
        DPOP_NONCE_ON_EVERY_RESPONSE=every_response,
    ):
        metadata = requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=10).json()
        assert metadata["pushed_authorization_request_endpoint"] == f"{base}/o/par/"
        client = OAuth2Client(
            token_endpoint=metadata["token_endpoint"],
            authorization_endpoint=metadata["authorization_endpoint"],
            pushed_authorization_request_endpoint=metadata["pushed_authorization_request_endpoint"],
            client_id=PUBLIC_CLIENT,
            redirect_uri=REDIRECT_URI,
            dpop_bound_access_tokens=True,
            testing=True,
        )
        authorization_request = client.authorization_request(scope="read")
        assert authorization_request.dpop_key is not None
        par_request = client.pushed_authorization_request(authorization_request)
        assert par_request.request_uri.startswith("urn:ietf:params:oauth:request_uri:")

        browser = _logged_in_browser(base, user)
        redirect = browser.get(str(par_request.uri), allow_redirects=False, timeout=10)
        assert redirect.status_code == 302, redirect.text
        authorization_response = authorization_request.validate_callback(redirect.headers["Location"])

        token = client.authorization_code(authorization_response)
        assert isinstance(token, DPoPToken)
        assert token.dpop_key.dpop_jkt == authorization_request.dpop_key.dpop_jkt
        response = requests.get(f"{base}/api/me/", auth=token, timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["jkt"] == authorization_request.dpop_key.dpop_jkt
        assert ("DPoP-Nonce" in response.headers) is every_response

        # The request_uri was spent by the first authorization request (RFC 9126 §4).
        again = browser.get(str(par_request.uri), allow_redirects=False, timeout=10)
        assert again.status_code == 400
