"""The FAPI 2.0 Security Profile requirements on DPoP, PAR and the code binding, run against the
configuration of ``docs/fapi2.md`` (DOT + django-dpop), through DOT's real views.

Requirements of FAPI 2.0 Security Profile (final, 2025): "AS" marks the authorization server
requirements, "cryptography" the algorithm ones; each test names the requirement it runs.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_grant_model

from django_dpop.checks import check_settings
from django_dpop.contrib.oauth2_provider.checks import check_par
from django_dpop.contrib.oauth2_provider.models import ApplicationPolicy, GrantBinding
from tests.contrib.oauth2_provider.flows import AUTHORIZE_URL, App, code_exchange, post_token, token_proof
from tests.contrib.oauth2_provider.par_flows import (
    authorize_pushed,
    json_error,
    page_error,
    par_proof,
    push,
    push_params,
    pushed,
)
from tests.factories import TestKey, make_key


#: docs/fapi2.md, "Settings": the django-dpop part.
FAPI2_DPOP_SETTINGS: dict[str, Any] = {
    "DPOP_ALLOWED_ALGORITHMS": ("PS256", "ES256", "EdDSA"),
    # Accepted: iat in [now - 60 s, now + 10 s] (window = now - MAX_AGE - SKEW .. now + SKEW).
    "DPOP_CLOCK_SKEW": 10,
    "DPOP_PROOF_MAX_AGE": 50,
    "DPOP_ALLOW_BEARER_TOKENS": False,
}
#: docs/fapi2.md, "Settings": the OAUTH2_PROVIDER part.
FAPI2_OAUTH2_PROVIDER: dict[str, Any] = {
    "REQUIRE_PUSHED_AUTHORIZATION_REQUESTS": True,
    "PAR_REQUEST_URI_LIFETIME_SECONDS": 60,
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ROTATE_REFRESH_TOKEN": False,
}

CODE = "authorization-code"


@pytest.fixture(autouse=True)
def fapi2(settings: Any) -> None:
    for name, value in FAPI2_DPOP_SETTINGS.items():
        setattr(settings, name, value)
    settings.OAUTH2_PROVIDER = {**django_settings.OAUTH2_PROVIDER, **FAPI2_OAUTH2_PROVIDER}


@pytest.fixture
def app(app_factory: Any) -> App:
    """A FAPI 2.0 client: confidential, DPoP-bound access tokens only (AS: sender-constrained)."""
    app = app_factory(CODE, skip_authorization=True)
    ApplicationPolicy.objects.create(application=app.application, dpop_bound_access_tokens=True)
    return app


def test_the_configuration_passes_the_system_checks() -> None:
    assert check_settings() == []
    assert check_par() == []


@pytest.mark.parametrize("alg", ["PS256", "ES256", "EdDSA"])
def test_par_dpop_flow_with_each_fapi_algorithm(client: Client, browser: Client, app: App, alg: str) -> None:
    """cryptography: PS256, ES256 and EdDSA (Ed25519) proofs; AS: PAR, DPoP, code bound to the key."""
    key = make_key(alg)
    params, verifier = push_params(app)
    response = push(client, app, params, key=key)
    code = authorize_pushed(browser, app, pushed(response), consent=False)
    assert GrantBinding.objects.get(grant__code=code).jkt == key.jkt
    token = post_token(client, app, code_exchange(code, verifier), key=key)
    assert token.status_code == 200, token.content
    assert json.loads(token.content)["token_type"] == "DPoP"


@pytest.mark.parametrize("alg", ["RS256", "ES384", "ES512"])
def test_other_algorithms_are_refused(client: Client, app: App, alg: str) -> None:
    """cryptography: only PS256, ES256, EdDSA."""
    key = make_key(alg)
    assert json_error(push(client, app, push_params(app)[0], key=key)) == "invalid_dpop_proof"
    assert (
        json_error(post_token(client, app, {"grant_type": "client_credentials"}, key=key))
        == "invalid_dpop_proof"
    )


def test_authorization_requests_without_par_are_refused(browser: Client, app: App) -> None:
    """AS: shall reject authorization requests sent without PAR."""
    params, _verifier = push_params(app)
    assert page_error(browser.get(f"{AUTHORIZE_URL}?{urlencode(params)}")) == "invalid_request"
    assert not get_grant_model().objects.exists()


def test_request_uri_expires_in_below_600(client: Client, app: App, key: TestKey) -> None:
    """AS, PAR: ``expires_in`` of the request_uri below 600 seconds."""
    body = json.loads(push(client, app, push_params(app)[0], key=key).content)
    assert 0 < body["expires_in"] < 600


def test_pkce_s256_is_required(client: Client, app: App, key: TestKey) -> None:
    """AS: PKCE with S256 is required."""
    params, _verifier = push_params(app)
    without = {k: v for k, v in params.items() if not k.startswith("code_challenge")}
    assert json_error(push(client, app, without, key=key)) == "invalid_request"
    plain = {**params, "code_challenge_method": "plain", "code_challenge": "p" * 43}
    assert json_error(push(client, app, plain, key=key)) == "invalid_request"


def test_client_must_bind_the_code(client: Client, app: App) -> None:
    """AS: sender-constrained tokens only, hence a code bound at PAR (RFC 9449 §10.1)."""
    assert json_error(push(client, app, push_params(app)[0])) == "invalid_dpop_proof"


def test_code_exchange_needs_the_key_of_the_push(
    client: Client, browser: Client, app: App, key: TestKey, other_key: TestKey
) -> None:
    """AS: authorization code binding to the DPoP key (RFC 9449 §10.1)."""
    params, verifier = push_params(app)
    code = authorize_pushed(browser, app, pushed(push(client, app, params, key=key)), consent=False)
    assert json_error(post_token(client, app, code_exchange(code, verifier))) == "invalid_dpop_proof"
    assert (
        json_error(post_token(client, app, code_exchange(code, verifier), key=other_key)) == "invalid_grant"
    )
    assert post_token(client, app, code_exchange(code, verifier), key=key).status_code == 200


def test_proof_and_dpop_jkt_must_agree(client: Client, app: App, key: TestKey, other_key: TestKey) -> None:
    """RFC 9449 §10.1, which AS requires."""
    params, _verifier = push_params(app, dpop_jkt=other_key.jkt)
    assert json_error(push(client, app, params, key=key)) == "invalid_request"


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(10, True), (0, True), (-58, True), (11, False), (61, False), (-62, False)],
    ids=["future-10s", "now", "past-58s", "future-11s", "future-61s", "past-62s"],
)
def test_proof_iat_window(client: Client, app: App, key: TestKey, offset: int, accepted: bool) -> None:
    """AS, clock skew: iat up to 10 s in the future accepted, more than 60 s refused; and
    a proof older than 60 s refused (RFC 9449 §11.1, the window of this configuration)."""
    iat = int(time.time()) + offset
    response = push(client, app, push_params(app)[0], proof=par_proof(key, iat=iat))
    if accepted:
        pushed(response)
    else:
        assert json_error(response) == "invalid_dpop_proof"


def test_codes_live_at_most_60_seconds(client: Client, browser: Client, app: App, key: TestKey) -> None:
    """AS: authorization codes with a maximum lifetime of 60 seconds."""
    code = authorize_pushed(
        browser, app, pushed(push(client, app, push_params(app)[0], key=key)), consent=False
    )
    grant = get_grant_model().objects.get(code=code)
    assert grant.expires - timezone.now() <= timedelta(seconds=60)


def test_refresh_tokens_are_not_rotated(client: Client, browser: Client, app: App, key: TestKey) -> None:
    """AS: no refresh token rotation: a retry with the same refresh token succeeds."""
    params, verifier = push_params(app)
    code = authorize_pushed(browser, app, pushed(push(client, app, params, key=key)), consent=False)
    tokens = json.loads(post_token(client, app, code_exchange(code, verifier), key=key).content)
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    first = post_token(client, app, refresh, key=key)
    assert first.status_code == 200, first.content
    assert json.loads(first.content)["refresh_token"] == tokens["refresh_token"]
    again = post_token(client, app, refresh, key=key)
    assert again.status_code == 200, again.content
    assert json.loads(again.content)["token_type"] == "DPoP"


def test_token_endpoint_proof_window_too(client: Client, app: App, key: TestKey) -> None:
    """The same iat rules at the token endpoint (the settings are server-wide)."""
    proof = token_proof(key, iat=int(time.time()) + 11)
    assert (
        json_error(post_token(client, app, {"grant_type": "client_credentials"}, proof=proof))
        == "invalid_dpop_proof"
    )


def test_authorization_response_carries_iss(client: Client, browser: Client, app: App, key: TestKey) -> None:
    """AS: RFC 9207 ``iss`` in the authorization response, for pushed requests too."""
    from urllib.parse import parse_qs, urlsplit

    from tests.contrib.oauth2_provider.par_flows import authorize_url

    response = browser.get(authorize_url(app, pushed(push(client, app, push_params(app)[0], key=key))))
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["code"] and query["iss"] == ["http://testserver/o"]  # DOT: the issuer is the mount point
