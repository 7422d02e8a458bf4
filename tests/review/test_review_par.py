"""Review (area 3): pushed authorization requests (RFC 9126) with DPoP (RFC 9449 §10.1).

Attacks through DOT's real views: a request_uri of one client used by another, a consent POST
with changed fields or aimed at another pushed request, proofs for the wrong endpoint or with a
resource nonce, hostile pushes hunting for a 500.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from oauth2_provider.models import get_grant_model

from django_dpop.contrib.oauth2_provider.models import GrantBinding, PushedAuthorizationRequest
from django_dpop.proofs import RESOURCE, TOKEN_ENDPOINT, issue_nonce
from tests.contrib.oauth2_provider.flows import (
    REDIRECT_URI,
    TOKEN_HTU,
    App,
    code_exchange,
    post_token,
)
from tests.contrib.oauth2_provider.par_flows import (
    PAR_URL,
    authorize_pushed,
    authorize_url,
    json_error,
    page_error,
    push,
    push_params,
    pushed,
)
from tests.factories import TestKey, make_proof


pytestmark = pytest.mark.django_db

CODE = "authorization-code"


@pytest.fixture(params=["confidential", "public"])
def app(request: pytest.FixtureRequest, app_factory: Any) -> App:
    return app_factory(CODE, public=request.param == "public")


def _form_data(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.content[:300]
    form = response.context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    data["allow"] = "Authorize"
    return data


# -- a request_uri is its client's, once ---------------------------------------------------------


def test_request_uri_of_one_client_used_by_another(client: Client, browser: Client, app_factory: Any) -> None:
    victim = app_factory(CODE)
    attacker = app_factory(CODE, public=True)
    request_uri = pushed(push(client, victim, push_params(victim)[0]))
    # The attacker's client_id with the victim's request_uri: refused, never redirected, kept.
    assert page_error(browser.get(authorize_url(attacker, request_uri))) == "invalid_request_uri"
    # No client_id at all, or the victim's id repeated with the attacker's.
    url = f"/o/authorize/?{urlencode({'request_uri': request_uri})}"
    assert page_error(browser.get(url)) == "invalid_request_uri"
    assert PushedAuthorizationRequest.objects.filter(request_uri=request_uri).exists()
    authorize_pushed(browser, victim, request_uri)  # the owner still can


def test_consent_post_aimed_at_another_pushed_request(
    client: Client, browser: Client, app: App, key: TestKey, other_key: TestKey
) -> None:
    """Two pushed requests shown in one session: the values of one cannot be posted for the other."""
    first = authorize_url(app, pushed(push(client, app, push_params(app, dpop_jkt=key.jkt)[0])))
    second = authorize_url(app, pushed(push(client, app, push_params(app, dpop_jkt=other_key.jkt)[0])))
    first_data = _form_data(browser.get(first))
    _form_data(browser.get(second))
    assert page_error(browser.post(second, first_data)) == "invalid_request_uri"
    assert not get_grant_model().objects.exists()


def test_consent_post_for_a_request_uri_never_shown(client: Client, browser: Client, app: App) -> None:
    shown = authorize_url(app, pushed(push(client, app, push_params(app)[0])))
    data = _form_data(browser.get(shown))
    hidden = authorize_url(app, pushed(push(client, app, push_params(app)[0])))
    assert page_error(browser.post(hidden, data)) == "invalid_request_uri"
    # Another user's session never saw it either.
    other = Client()
    from django.contrib.auth import get_user_model

    other.force_login(get_user_model().objects.create_user("mallory"))
    assert page_error(other.post(shown, data)) == "invalid_request_uri"
    assert not get_grant_model().objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("state", "another-state"),
        ("nonce", "injected"),
        ("code_challenge_method", "plain"),
        ("response_type", "token"),
        ("resource", "https://attacker.example/"),
        ("claims", '{"userinfo": {"email": null}}'),
    ],
)
def test_consent_post_cannot_change_other_fields(
    client: Client, browser: Client, app: App, key: TestKey, field: str, value: str
) -> None:
    params, _verifier = push_params(app, dpop_jkt=key.jkt)
    url = authorize_url(app, pushed(push(client, app, params)))
    data = _form_data(browser.get(url))
    data[field] = value
    assert page_error(browser.post(url, data)) == "invalid_request_uri"
    assert not get_grant_model().objects.exists()


def test_consent_post_cannot_change_the_client(
    client: Client, browser: Client, app: App, app_factory: Any, key: TestKey
) -> None:
    other = app_factory(CODE)
    url = authorize_url(app, pushed(push(client, app, push_params(app, dpop_jkt=key.jkt)[0])))
    data = _form_data(browser.get(url))
    data["client_id"] = other.client_id
    assert page_error(browser.post(url, data)) == "invalid_request_uri"
    assert not get_grant_model().objects.exists()


def test_consent_post_cannot_drop_or_change_the_pushed_key(
    client: Client, browser: Client, app: App, key: TestKey, other_key: TestKey
) -> None:
    """The push's key stays on the server: the form does not carry it, a posted one is ignored."""
    url = authorize_url(app, pushed(push(client, app, push_params(app)[0], key=key)))
    data = _form_data(browser.get(url))
    assert "dpop_jkt" not in data
    data["dpop_jkt"] = other_key.jkt
    response = browser.post(url, data)
    assert response.status_code == 302 and "code=" in response["Location"], response
    assert GrantBinding.objects.get().jkt == key.jkt


# -- proofs at PAR: the endpoint's own URL, an AS nonce ------------------------------------------


def test_proof_for_the_token_endpoint_is_refused_at_par(client: Client, app: App, key: TestKey) -> None:
    for proof in (
        make_proof(key, "POST", TOKEN_HTU),
        make_proof(key, "GET", "http://testserver/o/par/"),
        make_proof(key, "POST", "http://testserver/o/par/", claims={"htu": "http://testserver/o/par"}),
    ):
        response = push(client, app, push_params(app)[0], proof=proof)
        assert json_error(response) == "invalid_dpop_proof", proof
    assert not PushedAuthorizationRequest.objects.exists()


def test_resource_nonce_is_refused_at_par(client: Client, app: App, key: TestKey, settings: Any) -> None:
    settings.DPOP_NONCE_REQUIRED = True
    response = push(client, app, push_params(app)[0], key=key, nonce=issue_nonce(RESOURCE))
    assert json_error(response) == "use_dpop_nonce"
    assert response["DPoP-Nonce"] == issue_nonce(TOKEN_ENDPOINT)
    assert not PushedAuthorizationRequest.objects.exists()
    pushed(push(client, app, push_params(app)[0], key=key, nonce=response["DPoP-Nonce"]))


def test_code_bound_by_the_push_key_refuses_the_dpop_jkt_route_of_another_key(
    client: Client, browser: Client, app: App, key: TestKey, other_key: TestKey
) -> None:
    """The push's proof binds the code; the token request must be signed by that key."""
    params, verifier = push_params(app)
    code = authorize_pushed(browser, app, pushed(push(client, app, params, key=key)))
    assert GrantBinding.objects.get(grant__code=code).jkt == key.jkt
    response = post_token(client, app, code_exchange(code, verifier), key=other_key)
    assert response.status_code == 400, response.content
    assert json.loads(response.content)["error"] in ("invalid_dpop_proof", "invalid_grant")
    response = post_token(client, app, code_exchange(code, verifier), key=key)
    # DOT invalidates a code after a failed use or not; either way no token for the other key.
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert json.loads(response.content)["token_type"] == "DPoP"


def test_dpop_jkt_repeated_or_malformed_at_par(client: Client, app: App, key: TestKey) -> None:
    params, _ = push_params(app)
    base = urlencode(params)
    headers: dict[str, str] = {}
    if not app.public:
        pair = f"{app.client_id}:{app.secret}".encode()
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(pair).decode()
    for extra in (
        urlencode([("dpop_jkt", key.jkt), ("dpop_jkt", key.jkt)]),
        urlencode({"dpop_jkt": key.jkt + "="}),
        urlencode({"dpop_jkt": "\u00e9" * 43}),
        urlencode({"dpop_jkt": ""}),
    ):
        response = client.post(
            PAR_URL, base + "&" + extra, content_type="application/x-www-form-urlencoded", **headers
        )
        assert json_error(response) == "invalid_request", extra
    assert not PushedAuthorizationRequest.objects.exists()


# -- 5xx hunting at PAR ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"scope": "read \u2603"},
        {"redirect_uri": REDIRECT_URI + "/" + "a" * 5000},
        {"redirect_uri": "javascript:alert(1)"},
        {"state": "\ud800".encode("utf-8", "surrogatepass").decode("latin-1")},
        {"resource": "not a uri"},
        {"resource": "https://a.example/#frag"},
        {"code_challenge": "x"},
        {"code_challenge_method": "S512"},
        {"response_type": "code token"},
        {"claims": "{not json"},
        {"max_age": "-1"},
        {"prompt": "none login"},
    ],
)
def test_hostile_pushes_never_500(client: Client, app: App, extra: dict[str, str]) -> None:
    params, _ = push_params(app, **extra)
    response = push(client, app, params)
    assert response.status_code < 500, (extra, response.content[:300])
    assert response["Cache-Control"] == "no-store"


def test_hostile_bodies_never_500(client: Client, app: App) -> None:
    params, _ = push_params(app)
    headers: dict[str, str] = {}
    if not app.public:
        pair = f"{app.client_id}:{app.secret}".encode()
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(pair).decode()
    bodies: list[tuple[bytes, str]] = [
        (urlencode(params).encode() + b"&x=%ff%fe", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00\x01", "application/x-www-form-urlencoded"),
        (urlencode(params).encode(), "application/x-www-form-urlencoded; charset=latin-1"),
        (urlencode(params).encode(), "application/x-www-form-urlencoded; charset=nonsense"),
        (json.dumps(params).encode(), "application/json"),
        (b"&".join(f"p{i}=v".encode() for i in range(900)), "application/x-www-form-urlencoded"),
    ]
    for body, content_type in bodies:
        # generic(): the body goes as is (post() would encode it in the declared charset).
        response = client.generic("POST", PAR_URL, body, content_type=content_type, **headers)
        assert response.status_code < 500, (body[:40], content_type, response.content[:300])
